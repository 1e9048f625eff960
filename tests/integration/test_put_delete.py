"""PUT and DELETE on /files/ (issue 11, point 6): PUT stores the body as POST
does (atomic, streamed) and says whether the name was new (201) or replaced
(204); DELETE removes a file (204, 404 if absent); both confined like GET."""

import os
import subprocess
import uuid

import pytest

from helpers import HELLO, RANDOM_1M, assert_error, build_request, chunked, requires_curl


def unique(prefix="pd"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def no_temporaries(d):
    return [n for n in os.listdir(d) if n.startswith(".ringhttpd-upload-")] == []


def test_put_new_is_201_then_replace_is_204(server, files_dir):
    name = unique()
    with server.conn() as c:
        c.send(build_request("PUT", f"/files/{name}", body=b"first"))
        r = c.read_response()
        assert (r.status, r.get("Content-Length"), r.body) == (201, "0", b""), r
        assert r.get("Connection") == "keep-alive"
        c.send(build_request("PUT", f"/files/{name}", body=b"second, longer"))
        r = c.read_response()
        assert r.status == 204, r
        # RFC 9110 8.6: a 204 carries no Content-Length.
        assert r.get("Content-Length") is None and r.get("Transfer-Encoding") is None, r
        assert r.get("Connection") == "keep-alive"
        c.send(build_request("GET", f"/files/{name}"))
        assert c.read_response().body == b"second, longer"
    assert (files_dir / name).read_bytes() == b"second, longer"
    assert no_temporaries(files_dir)
    (files_dir / name).unlink()


def test_put_chunked_and_large(server, files_dir):
    name = unique()
    with server.conn() as c:
        c.send(build_request("PUT", f"/files/{name}", {"Transfer-Encoding": "chunked"},
                             chunked(RANDOM_1M[:300000], RANDOM_1M[300000:])))
        assert c.read_response().status == 201
    assert (files_dir / name).read_bytes() == RANDOM_1M
    (files_dir / name).unlink()


def test_post_still_201_over_an_existing_file(server, files_dir):
    name = unique()
    (files_dir / name).write_bytes(b"old")
    r = server.request("POST", f"/files/{name}", body=b"new")
    assert r.status == 201
    assert (files_dir / name).read_bytes() == b"new"
    (files_dir / name).unlink()


def test_put_into_missing_directory_409(server, files_dir):
    r = server.request("PUT", "/files/no-such-dir/x", body=b"x")
    assert_error(r, 409, "close")  # answered before the body was read
    assert not (files_dir / "no-such-dir").exists()


def test_put_over_a_directory_409(server, files_dir):
    r = server.request("PUT", "/files/emptydir", body=b"x")
    assert_error(r, 409)
    assert (files_dir / "emptydir").is_dir()
    assert no_temporaries(files_dir / "emptydir") and no_temporaries(files_dir)


def test_delete_removes_then_404(server, files_dir):
    name = unique()
    (files_dir / name).write_bytes(b"doomed")
    with server.conn() as c:
        c.send(build_request("DELETE", f"/files/{name}"))
        r = c.read_response()
        assert r.status == 204, r
        assert r.get("Content-Length") is None
        assert r.get("Connection") == "keep-alive"
        assert not (files_dir / name).exists()
        c.send(build_request("GET", f"/files/{name}"))
        assert_error(c.read_response(), 404, "keep-alive")
        c.send(build_request("DELETE", f"/files/{name}"))
        assert_error(c.read_response(), 404, "keep-alive")


def test_delete_in_subdirectory(server, files_dir):
    name = unique()
    (files_dir / "sub" / name).write_bytes(b"x")
    assert server.request("DELETE", f"/files/sub/{name}").status == 204
    assert not (files_dir / "sub" / name).exists()
    assert (files_dir / "sub" / "inner.txt").exists()


@pytest.mark.parametrize("name, status", [
    ("no-such-dir/x", 404),          # no parent: nothing to delete
    ("emptydir", 409),               # a directory is not a file
    ("sub", 409),
    ("..%2Fsecret.txt", 403),        # confined as GET is
    ("abs-link/x", 403),
    ("outdir-link/inside-outside.txt", 403),
    ("a%0Ab", 400),                  # a control character
    (".ringhttpd-upload-0123456789abcdef", 403),
])
def test_delete_refusals(server, files_root, name, status):
    r = server.request("DELETE", f"/files/{name}")
    assert_error(r, status)
    files = files_root / "files"
    assert (files / "emptydir").is_dir() and (files / "sub" / "inner.txt").exists()
    assert (files_root / "secret.txt").exists()
    assert (files_root / "outside" / "inside-outside.txt").exists()


def test_delete_a_symlink_removes_the_link_not_its_target(server, files_dir):
    """unlinkat removes the name: a link inside the directory goes, the file it
    points at stays (as rm does)."""
    name = unique("link")
    target = unique("target")
    (files_dir / target).write_bytes(b"kept")
    os.symlink(target, files_dir / name)
    assert server.request("DELETE", f"/files/{name}").status == 204
    assert not os.path.lexists(files_dir / name)
    assert (files_dir / target).read_bytes() == b"kept"
    (files_dir / target).unlink()


def test_delete_with_a_body_is_read_and_dropped(server, files_dir):
    name = unique()
    (files_dir / name).write_bytes(b"x")
    with server.conn() as c:
        c.send(build_request("DELETE", f"/files/{name}", body=b"ignored body")
               + build_request("GET", "/echo/after"))
        assert c.read_response().status == 204
        assert c.read_response().body == b"after"
    assert not (files_dir / name).exists()


def test_put_and_delete_pipelined(server, files_dir):
    name = unique()
    with server.conn() as c:
        c.send(build_request("PUT", f"/files/{name}", body=b"one")
               + build_request("PUT", f"/files/{name}", body=b"two")
               + build_request("GET", f"/files/{name}")
               + build_request("DELETE", f"/files/{name}")
               + build_request("GET", f"/files/{name}"))
        got = [c.read_response() for _ in range(5)]
    assert [r.status for r in got] == [201, 204, 200, 204, 404]
    assert got[2].body == b"two"
    assert not (files_dir / name).exists()


@requires_curl
def test_curl_upload_file_is_put(server, files_dir, tmp_path):
    """`curl -T file URL` sends PUT: it stores the file (and 100-continue works)."""
    src = tmp_path / "src.bin"
    src.write_bytes(RANDOM_1M)
    name = unique()
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(src),
                        server.url(f"/files/{name}")], capture_output=True, timeout=30)
    assert (p.returncode, p.stdout) == (0, b"201"), p.stderr
    assert (files_dir / name).read_bytes() == RANDOM_1M
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(src),
                        server.url(f"/files/{name}")], capture_output=True, timeout=30)
    assert (p.returncode, p.stdout) == (0, b"204"), p.stderr
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                        server.url(f"/files/{name}")], capture_output=True, timeout=30)
    assert (p.returncode, p.stdout) == (0, b"204"), p.stderr
    assert not (files_dir / name).exists()


def test_allow_lists_put_and_delete(server):
    r = server.request("PATCH", "/files/hello.txt", body=b"")
    assert_error(r, 405)
    assert r.get("Allow") == "GET, HEAD, POST, PUT, DELETE"
    assert server.get("/files/hello.txt").body == HELLO
