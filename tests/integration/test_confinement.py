"""/files/{name} stays inside the directory: .., absolute paths, NUL, symlinks."""

import os
from urllib.parse import unquote

import pytest

from helpers import HELLO, SECRET, build_request, wait_until

REFUSED = [
    "..%2Fsecret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "../secret.txt",
    "..",
    "sub/../../secret.txt",
    "a/../b",
    "sub/..",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    ".ringhttpd-upload-0123456789abcdef",  # uploads in progress are not readable
    "sub/.ringhttpd-upload-x",
]


def outside_listing(files_root):
    return sorted(p for p in os.listdir(files_root)) + sorted(os.listdir(files_root / "outside"))


@pytest.mark.parametrize("name", REFUSED)
def test_get_refused_names_403(server, name):
    with server.conn() as c:  # raw socket: no client-side normalisation of ..
        c.send(f"GET /files/{name} HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert r.status == 403, r
    assert SECRET not in r.body
    assert b"root:" not in r.body


@pytest.mark.parametrize("name", ["..%2Fpwned", "%2e%2e/pwned", "../pwned", "%2Ftmp%2Fpwned-ringhttpd",
                                  "sub/../../pwned", ".ringhttpd-upload-0123456789abcdef"])
def test_post_refused_names_403(server, files_root, name):
    before = outside_listing(files_root)
    with server.conn() as c:
        c.send(f"POST /files/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\npwned")
        r = c.read_response()
    assert r.status == 403, r
    assert outside_listing(files_root) == before
    assert not os.path.exists("/tmp/pwned-ringhttpd")


@pytest.mark.parametrize("name", ["abs-link", "rel-link", "outdir-link/inside-outside.txt"])
def test_get_through_symlink_out_refused(server, name):
    r = server.get("/files/" + name)
    assert r.status in (403, 404), r
    assert SECRET not in r.body


@pytest.mark.parametrize("name", ["abs-link", "rel-link", "outdir-link/new.txt",
                                  "outdir-link/inside-outside.txt"])
def test_post_through_symlink_does_not_write_outside(server, files_root, name):
    before = outside_listing(files_root)
    r = server.request("POST", "/files/" + name, body=b"overwritten!")
    assert (files_root / "secret.txt").read_bytes() == SECRET
    assert (files_root / "outside" / "inside-outside.txt").read_bytes() == SECRET
    assert outside_listing(files_root) == before
    if r.status == 201:
        # Replacing the link itself (rename does not follow it) is harmless;
        # put the fixture back for the other tests.
        d = files_root / "files"
        assert not os.path.islink(d / name) and (d / name).read_bytes() == b"overwritten!"
        os.unlink(d / name)
        target = {"abs-link": str(files_root / "secret.txt"), "rel-link": "../secret.txt"}[name]
        os.symlink(target, d / name)
    else:
        assert r.status in (403, 404, 409), r


CONTROL = ["a%0Ab", "a%0Db", "a%01", "%1F", "a%7Fb", "a%00b", "hello.txt%00.png", "sub/%09x"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("name", CONTROL)
def test_control_characters_in_names_400(server, files_root, files_dir, method, name):
    """A name holding a C0 control byte or DEL after decoding is a bad
    request: before, `POST /files/a%0Ab` created a file whose name held a
    newline. Refused before the body is read, and nothing is created."""
    before = sorted(os.listdir(files_dir)), outside_listing(files_root)
    body = "x" if method == "POST" else None
    with server.conn() as c:
        c.send(build_request(method, f"/files/{name}", body=body))
        r = c.read_response(method)
    assert r.status == 400, r
    assert (sorted(os.listdir(files_dir)), outside_listing(files_root)) == before


@pytest.mark.parametrize("name", ["new%20name.txt", "caf%C3%A9.txt", "tilde%7Eok.txt"])
def test_printable_and_utf8_names_still_work(server, files_dir, name):
    r = server.request("POST", f"/files/{name}", body=b"fine")
    assert r.status == 201, r
    try:
        assert server.get(f"/files/{name}").body == b"fine"
    finally:
        os.unlink(files_dir / unquote(name))


def test_absolute_symlink_is_refused_even_pointing_inside(make_server, tmp_path):
    """Names resolve with RESOLVE_BENEATH: an absolute symlink target is
    refused whatever it names (the README says so); a relative one that
    stays inside is followed."""
    (tmp_path / "real.txt").write_bytes(b"real\n")
    os.symlink(tmp_path / "real.txt", tmp_path / "abs-inside")
    os.symlink("real.txt", tmp_path / "rel-inside")
    s = make_server(directory=tmp_path)
    assert s.get("/files/abs-inside").status == 403
    r = s.get("/files/rel-inside")
    assert (r.status, r.body) == (200, b"real\n")


WALKED = ["hello.txt", "sub/inner.txt", "with%20space.txt", "inside-link", "abs-link", "rel-link",
          "outdir-link", "outdir-link/inside-outside.txt", "nothere.txt", "sub/nothere.txt",
          "hello.txt/x", "sub", "emptydir", "empty.bin"] + REFUSED


def raw_get(s, name):
    with s.conn() as c:  # raw socket: no client-side normalisation of ..
        c.send(f"GET /files/{name} HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    return r.status, r.body


@pytest.mark.engine("threads")
def test_names_resolve_alike_without_openat2(make_server, files_root, files_dir, monkeypatch):
    """Where the kernel has no openat2 (Linux before 5.6, valgrind, a seccomp
    profile older than it) the threads engine resolves /files/ names itself,
    to the rules of RESOLVE_BENEATH: every name gets the answer openat2 gives
    it, symlinks in and out included, and uploads still land inside only."""
    normal = make_server(directory=files_dir)
    monkeypatch.setenv("RINGHTTPD_TEST_NO_OPENAT2", "1")
    walked = make_server(directory=files_dir)
    wait_until(lambda: "openat2 is unavailable" in walked.stderr(), 5.0,
               what="the server to say it resolves names itself")
    for name in WALKED:
        assert raw_get(walked, name) == raw_get(normal, name), name
    assert raw_get(walked, "inside-link") == (200, HELLO)
    before = outside_listing(files_root)
    for name in ["outdir-link/new.txt", "rel-link/x", "../new.txt"]:
        r = walked.request("POST", "/files/" + name, body=b"pwned")
        assert r.status in (403, 404, 409), (name, r)
    assert outside_listing(files_root) == before
    r = walked.request("POST", "/files/sub/walked.txt", body=b"walked\n")
    assert r.status == 201, r
    assert raw_get(normal, "sub/walked.txt") == (200, b"walked\n")
    assert walked.request("DELETE", "/files/sub/walked.txt").status == 204
    assert not (files_dir / "sub" / "walked.txt").exists()
