"""--mime-types FILE (issue 11, point 7): /files/ Content-Type by extension
from an /etc/mime.types-format file; without it, application/octet-stream."""

import os
import subprocess

import pytest

from helpers import free_port

TYPES = """# a test table
text/html       html htm
text/plain      txt   # a comment
image/svg+xml   svg
application/x-first dup
application/x-second dup
"""


@pytest.fixture
def typed_dir(tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    for name in ["index.html", "PAGE.HTM", "notes.txt", "logo.svg", "x.dup", "README", "data.bin"]:
        (d / name).write_bytes(b"0123456789")
    (tmp_path / "mime.types").write_text(TYPES)
    return d


@pytest.mark.parametrize("name, ctype", [
    ("index.html", "text/html"), ("PAGE.HTM", "text/html"), ("notes.txt", "text/plain"),
    ("logo.svg", "image/svg+xml"), ("x.dup", "application/x-first"),
    ("README", "application/octet-stream"), ("data.bin", "application/octet-stream"),
])
def test_content_type_by_extension(make_server, typed_dir, name, ctype):
    s = make_server("--mime-types", str(typed_dir.parent / "mime.types"), directory=typed_dir)
    r = s.get(f"/files/{name}")
    assert (r.status, r.get("Content-Type"), r.body) == (200, ctype, b"0123456789")
    h = s.request("HEAD", f"/files/{name}")
    assert h.get("Content-Type") == ctype
    r = s.get(f"/files/{name}", {"Range": "bytes=0-1"})
    assert (r.status, r.get("Content-Type")) == (206, ctype)


def test_multipart_parts_carry_the_type(make_server, typed_dir):
    s = make_server("--mime-types", str(typed_dir.parent / "mime.types"), directory=typed_dir)
    r = s.get("/files/index.html", {"Range": "bytes=0-1, 5-6"})
    assert r.status == 206
    assert r.body.count(b"Content-Type: text/html\r\n") == 2


def test_without_the_flag_octet_stream(make_server, typed_dir):
    s = make_server(directory=typed_dir)
    assert s.get("/files/index.html").get("Content-Type") == "application/octet-stream"


@pytest.mark.skipif(not os.path.exists("/etc/mime.types"), reason="no /etc/mime.types")
def test_debian_mime_types(make_server, typed_dir):
    s = make_server("--mime-types", "/etc/mime.types", directory=typed_dir)
    assert s.get("/files/index.html").get("Content-Type") == "text/html"
    assert s.get("/files/logo.svg").get("Content-Type") == "image/svg+xml"


@pytest.mark.parametrize("content", [None, "# only comments\n\n", "not-a-type html\n"])
def test_unusable_file_exits_2(server_bin, tmp_path, content):
    path = tmp_path / "types"
    if content is not None:
        path.write_text(content)
    p = subprocess.run([str(server_bin), "--port", str(free_port()), "--mime-types", str(path)],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p
    assert "--mime-types" in p.stderr and str(path) in p.stderr, p.stderr
