"""/files/{name} stays inside the directory: .., absolute paths, NUL, symlinks."""

import os

import pytest

from helpers import SECRET

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
    "a%00b",
    "hello.txt%00.png",
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
                                  "a%00b", "sub/../../pwned", ".ringhttpd-upload-0123456789abcdef"])
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
