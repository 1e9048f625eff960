"""Validators and conditional requests on /files/ (issue 11, points 1-2):
ETag, Last-Modified and Accept-Ranges on every 200/304; If-None-Match and
If-Modified-Since give 304; If-Match and If-Unmodified-Since give 412, also on
PUT, POST and DELETE, where a failed precondition stores or removes nothing."""

import email.utils
import os
import re
import subprocess
import time
import uuid

import pytest

from helpers import IMF_FIXDATE, assert_error, build_request, check_common_headers, requires_curl

ETAG = re.compile(r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"')


def unique(prefix="cond"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def a_file(files_dir):
    """A fresh file, its mtime set an hour back (so Last-Modified is strong)."""
    name = unique()
    path = files_dir / name
    path.write_bytes(b"version one\n")
    t = time.time() - 3600
    os.utime(path, (t, t))
    yield name, path
    if path.exists():
        path.unlink()


def validators(server, name):
    r = server.get(f"/files/{name}")
    assert r.status == 200, r
    return r.get("ETag"), r.get("Last-Modified")


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def test_200_carries_validators_and_head_matches_get(server, a_file):
    name, path = a_file
    r = server.get(f"/files/{name}")
    assert r.status == 200 and r.body == b"version one\n"
    assert ETAG.fullmatch(r.get("ETag")), r
    assert IMF_FIXDATE.match(r.get("Last-Modified")), r
    lm = email.utils.parsedate_to_datetime(r.get("Last-Modified")).timestamp()
    assert lm == int(os.stat(path).st_mtime)
    assert r.get("Accept-Ranges") == "bytes"
    h = server.request("HEAD", f"/files/{name}")
    assert h.status == 200 and h.body == b""
    skip = {"date"}
    assert ({k.lower(): v for k, v in h.headers if k.lower() not in skip}
            == {k.lower(): v for k, v in r.headers if k.lower() not in skip})


def test_file_written_this_instant_is_dated_by_its_mtime(server, files_dir):
    """Written just after the second turns and fetched at once: Last-Modified
    is the mtime's own second and Date is not before it. The kernel stamps
    files from a fine clock; a server dating responses by the coarse one
    (a tick behind) clamped Last-Modified a second early, then changed it."""
    with server.conn() as c:
        for _ in range(5):
            path = files_dir / unique()
            time.sleep(1 - time.time() % 1 + 0.0002)
            path.write_bytes(b"now")
            c.send(build_request("GET", f"/files/{path.name}"))
            r = c.read_response()
            assert r.status == 200 and r.body == b"now", r
            mtime = int(os.stat(path).st_mtime)
            path.unlink()
            lm = email.utils.parsedate_to_datetime(r.get("Last-Modified")).timestamp()
            date = email.utils.parsedate_to_datetime(r.get("Date")).timestamp()
            assert (lm, date >= lm) == (mtime, True), (r.get("Last-Modified"), r.get("Date"))


def new_etag(server, name, seen):
    """The file's ETag once it is not one of seen: a change behind the
    server's back shows within a second (the file cache's promise)."""
    deadline = time.monotonic() + 1.5
    while True:
        etag = validators(server, name)[0]
        if etag not in seen:
            return etag
        assert time.monotonic() < deadline, f"ETag still {etag} after 1.5 s"
        time.sleep(0.02)


def test_etag_changes_with_every_change(server, a_file, files_dir):
    name, path = a_file
    seen = {validators(server, name)[0]}
    # Rewritten in place, same size: the modification time changes.
    with open(path, "r+b") as f:
        f.write(b"VERSION ONE\n")
    seen.add(new_etag(server, name, seen))
    # Appended to.
    with open(path, "ab") as f:
        f.write(b"more")
    seen.add(new_etag(server, name, seen))
    # Replaced by another file (a new inode), mtime forced equal to before.
    st = os.stat(path)
    tmp = files_dir / (name + ".new")
    tmp.write_bytes(b"VERSION ONE\nmore")
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(tmp, path)
    seen.add(new_etag(server, name, seen))
    assert len(seen) == 4, seen


def test_if_none_match_304(server, a_file):
    name, _ = a_file
    etag, lm = validators(server, name)
    for value in [etag, f'"x", {etag}', f"W/{etag}", "*", f' {etag} , "y"']:
        with server.conn() as c:
            c.send(build_request("GET", f"/files/{name}", {"If-None-Match": value}))
            r = c.read_response()
            assert r.status == 304, (value, r)
            assert r.body == b"" and r.get("Content-Length") is None
            assert (r.get("ETag"), r.get("Last-Modified")) == (etag, lm)
            check_common_headers(r)
            assert r.get("Connection") == "keep-alive"
            c.send(build_request("GET", "/echo/after"))
            assert c.read_response().body == b"after"
    for value in ['"other"', 'W/"other"', "garbage", '"unterminated', etag[:-1]]:
        r = server.get(f"/files/{name}", {"If-None-Match": value})
        assert (r.status, r.body) == (200, b"version one\n"), (value, r)


def test_if_none_match_split_over_two_lines(server, a_file):
    name, _ = a_file
    etag, _ = validators(server, name)
    r = server.get(f"/files/{name}", [("If-None-Match", '"a"'), ("If-None-Match", etag)])
    assert r.status == 304


def test_head_with_if_none_match_304(server, a_file):
    name, _ = a_file
    etag, _ = validators(server, name)
    r = server.request("HEAD", f"/files/{name}", {"If-None-Match": etag})
    assert r.status == 304 and r.get("ETag") == etag


@pytest.mark.parametrize("form", ["imf", "rfc850", "asctime"])
def test_if_modified_since_304_in_every_date_form(server, a_file, form):
    name, path = a_file
    t = int(os.stat(path).st_mtime)
    tm = time.gmtime(t)
    value = {
        "imf": http_date(t),
        "rfc850": time.strftime("%A, %d-%b-%y %H:%M:%S GMT", tm),
        "asctime": time.strftime("%a %b ", tm) + f"{tm.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", tm),
    }[form]
    r = server.get(f"/files/{name}", {"If-Modified-Since": value})
    assert r.status == 304, (value, r)
    r = server.get(f"/files/{name}", {"If-Modified-Since": http_date(t - 1)})
    assert r.status == 200


@pytest.mark.parametrize("value", ["yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
                                   "Mon, 30 Feb 2026 00:00:00 GMT", ""])
def test_invalid_if_modified_since_ignored(server, a_file, value):
    name, _ = a_file
    assert server.get(f"/files/{name}", {"If-Modified-Since": value}).status == 200


def test_if_modified_since_ignored_with_if_none_match(server, a_file):
    """RFC 9110 13.1.3: If-None-Match decides; a matching date does not."""
    name, _ = a_file
    future = http_date(time.time() + 86400)
    r = server.get(f"/files/{name}", {"If-None-Match": '"other"', "If-Modified-Since": future})
    assert r.status == 200


def test_if_match_and_if_unmodified_since_412(server, a_file):
    name, path = a_file
    etag, _ = validators(server, name)
    t = int(os.stat(path).st_mtime)
    cases = [
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": f"W/{etag}"}, 412),          # If-Match compares strongly
        ({"If-Match": etag}, 200),
        ({"If-Match": f'"a", {etag}'}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Unmodified-Since": http_date(t - 10)}, 412),
        ({"If-Unmodified-Since": http_date(t)}, 200),
        ({"If-Unmodified-Since": "not a date"}, 200),
        # If-Match present: If-Unmodified-Since is not evaluated.
        ({"If-Match": etag, "If-Unmodified-Since": http_date(t - 10)}, 200),
        # 412 comes before 304 (step 1 before step 3).
        ({"If-Match": '"other"', "If-None-Match": etag}, 412),
    ]
    for headers, status in cases:
        with server.conn() as c:
            c.send(build_request("GET", f"/files/{name}", headers))
            r = c.read_response()
            assert r.status == status, (headers, r)
            if status == 412:
                assert_error(r, 412, "keep-alive")
                c.send(build_request("GET", "/echo/after"))
                assert c.read_response().body == b"after"


def test_missing_file_is_404_whatever_the_conditions(server):
    r = server.get("/files/no-such-file", {"If-None-Match": "*", "If-Match": "*"})
    assert_error(r, 404)


def test_pipelined_revalidations(server, a_file):
    name, _ = a_file
    etag, _ = validators(server, name)
    req = build_request("GET", f"/files/{name}", {"If-None-Match": etag})
    with server.conn() as c:
        c.send(req * 5 + build_request("GET", f"/files/{name}"))
        got = [c.read_response() for _ in range(6)]
    assert [r.status for r in got] == [304] * 5 + [200]
    assert got[5].body == b"version one\n"


# -- preconditions on uploads and deletes -----------------------------------------

def put(server, name, body, headers=(), method="PUT"):
    return server.request(method, f"/files/{name}", headers, body)


def test_put_if_match(server, a_file):
    name, path = a_file
    etag, _ = validators(server, name)
    r = put(server, name, b"lost update", {"If-Match": '"stale"'})
    assert_error(r, 412, "close")  # refused before the body was read
    assert path.read_bytes() == b"version one\n"
    r = put(server, name, b"version two\n", {"If-Match": etag})
    assert r.status == 204
    assert path.read_bytes() == b"version two\n"
    # The old tag is stale now.
    r = put(server, name, b"version three\n", {"If-Match": etag})
    assert r.status == 412
    assert path.read_bytes() == b"version two\n"
    assert not [n for n in os.listdir(path.parent) if n.startswith(".ringhttpd-upload-")]


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_if_none_match_star_creates_only(server, files_dir, method):
    name = unique()
    r = put(server, name, b"first", {"If-None-Match": "*"}, method)
    assert r.status == 201
    r = put(server, name, b"second", {"If-None-Match": "*"}, method)
    assert_error(r, 412)
    assert (files_dir / name).read_bytes() == b"first"
    (files_dir / name).unlink()


def test_if_match_star_on_absent_name_412(server, files_dir):
    name = unique()
    assert put(server, name, b"x", {"If-Match": "*"}).status == 412
    assert not (files_dir / name).exists()


def test_put_if_unmodified_since(server, a_file):
    name, path = a_file
    t = int(os.stat(path).st_mtime)
    assert put(server, name, b"no", {"If-Unmodified-Since": http_date(t - 60)}).status == 412
    assert path.read_bytes() == b"version one\n"
    assert put(server, name, b"yes", {"If-Unmodified-Since": http_date(t)}).status == 204
    assert path.read_bytes() == b"yes"


def test_put_precondition_with_expect_gets_no_100(server, a_file):
    name, path = a_file
    with server.conn() as c:
        c.send(build_request("PUT", f"/files/{name}",
                             {"If-Match": '"stale"', "Expect": "100-continue",
                              "Content-Length": "1000000"}))
        r = c.read_response()
        assert_error(r, 412, "close")
    assert path.read_bytes() == b"version one\n"


def test_delete_if_match(server, a_file):
    name, path = a_file
    etag, _ = validators(server, name)
    assert_error(server.request("DELETE", f"/files/{name}", {"If-Match": '"x"'}), 412)
    assert path.exists()
    assert server.request("DELETE", f"/files/{name}", {"If-Match": etag}).status == 204
    assert not path.exists()


# -- with curl ----------------------------------------------------------------------

@requires_curl
def test_curl_time_condition_and_etag_compare(server, a_file, tmp_path):
    name, path = a_file
    url = server.url(f"/files/{name}")
    local = tmp_path / "copy"
    local.write_bytes(b"")
    os.utime(local, (time.time(), time.time()))  # newer than the file
    p = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "z"), "-w", "%{http_code}",
                        "-z", str(local), url], capture_output=True, timeout=20)
    assert p.stdout == b"304", p
    etags = tmp_path / "etags"
    p = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "body"), "-w", "%{http_code}",
                        "--etag-save", str(etags), url], capture_output=True, timeout=20)
    assert p.stdout == b"200" and (tmp_path / "body").read_bytes() == b"version one\n"
    p = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "body2"), "-w", "%{http_code}",
                        "--etag-compare", str(etags), url], capture_output=True, timeout=20)
    assert p.stdout == b"304", p
    path.write_bytes(b"changed\n")
    new_etag(server, name, {etags.read_text().strip()})
    time.sleep(1.05)  # every thread's copy is checked again by now
    p = subprocess.run(["curl", "-sS", "-o", str(tmp_path / "body3"), "-w", "%{http_code}",
                        "--etag-compare", str(etags), url], capture_output=True, timeout=20)
    assert p.stdout == b"200" and (tmp_path / "body3").read_bytes() == b"changed\n"


def test_put_if_match_checked_again_before_the_rename(server, a_file):
    """The name changes while the body is still arriving: the second check,
    just before the rename, refuses (412), the other writer's file stays,
    and no temporary file is left behind."""
    name, path = a_file
    etag, _ = validators(server, name)
    with server.conn() as c:
        c.send(build_request("PUT", f"/files/{name}",
                             {"If-Match": etag, "Content-Length": "10"}))
        c.send(b"12345")
        # the precheck has passed (the temporary file exists) ...
        deadline = time.monotonic() + 5
        while not [n for n in os.listdir(path.parent) if n.startswith(".ringhttpd-upload-")]:
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.01)
        path.write_bytes(b"another writer\n")  # ... then someone else writes
        c.send(b"67890")
        r = c.read_response()
        assert_error(r, 412, "keep-alive")  # the body was read
    assert path.read_bytes() == b"another writer\n"
    assert not [n for n in os.listdir(path.parent) if n.startswith(".ringhttpd-upload-")]
