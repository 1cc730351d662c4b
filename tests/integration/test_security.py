"""Security and faults (issue 8, sections 5 and 6): a read-only database, what the
logs hold, failed-authentication limits, CORS and security headers, and TLS.

A read-only database is exercised for real, in ways that hold for root too (the
tests run as root, which ignores file modes):

  - `serve --read-only`: the server never opens the file for writing;
  - a read-only bind mount (`unshare --mount` then `mount --bind -o ro`): the file and
    its folder are on a read-only file system, for the server and for `check`;
  - an immutable file (`chattr +i`): no one may write it, root included;
  - a file and folder with mode 0444/0555, served and checked as the user nobody
    (setpriv), for whom the modes hold.

Each way is skipped, saying why, where the machine cannot set it up (no
CAP_SYS_ADMIN for a mount, a file system without chattr).
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from osgeo import gdal

from conftest import request, run_cli
from test_hostile import checksums
from test_api import (ALL_SECRETS, INSIDE_E001, TOKENS, WRONG, Server, build_database, error_of,
                      report, write_cases, write_tokens)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def database(bin_path, work):
    return build_database(bin_path, work, "security.sqlite")


@pytest.fixture(scope="module")
def tokens_file(work):
    return write_tokens(work / "tokens.txt")


def copy_database(src, folder):
    """A consistent copy of `src` in `folder` (SQLite's backup), as one file: WAL
    checkpointed and switched off-line so no -wal or -shm is needed beside it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "ro.sqlite"
    s, d = sqlite3.connect(src), sqlite3.connect(db)
    s.backup(d)
    s.close()
    d.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    d.close()
    return db


def assert_reads_and_503_writes(s, db):
    """Reads answer, every write (by an admin) is a 503 that says read-only, and the
    file is unchanged."""
    before = checksums(db)
    for name, method, path, body in write_cases(db):
        r = s.call(method, path, body, role="admin")
        e = error_of(r, 503, code="unavailable")
        assert "the database is read-only" in e["message"], (name, e)
        assert r.headers.get("Retry-After"), r
    # an unauthenticated write is still a 401, not a hint about the file
    error_of(s.call("POST", "/api/violations", report(*INSIDE_E001)), 401)
    assert s.get("/healthz").status == 200
    assert s.get("/api/estates/E001").status == 200
    r = s.get("/ogc/collections/estates/items?limit=3")
    assert r.status == 200 and r.json()["numberReturned"] == 3, r
    assert s.get("/tiles/estates/14/13720/6704.mvt").status in (200, 204)
    assert s.get("/api/analysis/eligibility?as-of=2016-12-31").status == 200
    assert checksums(db) == before


def check_passes(bin_path, db, wrapper=(), user=None):
    cmd = [str(bin_path), "check", "--db", str(db), "--json"]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    p = subprocess.run(list(wrapper) + cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    assert doc["integrity_check"] == "ok", doc
    assert all(layer["spatial_index_ok"] for layer in doc["layers"].values()), doc


def ro_mount(folder):
    """A command prefix that runs the rest in a private mount namespace where `folder`
    is bind-mounted read-only; skips when this machine does not allow it."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    probe = subprocess.run(["unshare", "--mount", "sh", "-c",
                            f"mount --bind -o ro '{folder}' '{folder}' && "
                            f"! touch '{folder}/probe' 2>/dev/null"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr!r}")
    return ["unshare", "--mount", "sh", "-c",
            f"mount --bind -o ro '{folder}' '{folder}' && exec \"$@\"", "ro-mount"]


# ---------------------------------------------------------------- read-only database


def test_serve_read_only_flag(bin_path, database, work, tokens_file):
    db = copy_database(database, work / "flag")
    s = Server(bin_path, db, work, "--tokens", tokens_file, "--read-only")
    try:
        assert "--read-only" in s.stderr() and "read-only" in s.stderr()
        assert_reads_and_503_writes(s, db)
    finally:
        assert s.stop() == 0, s.stderr()


def test_serve_on_a_read_only_mount(bin_path, database, work, tokens_file):
    folder = work / "mount"
    db = copy_database(database, folder)
    tokens = shutil.copy(tokens_file, folder / "tokens.txt")
    s = Server(bin_path, db, work, "--tokens", tokens, wrapper=ro_mount(folder))
    try:
        assert "read-only" in s.stderr()
        assert_reads_and_503_writes(s, db)
    finally:
        assert s.stop() == 0, s.stderr()


def test_check_on_a_read_only_mount(bin_path, database, work):
    folder = work / "mount-check"
    db = copy_database(database, folder)
    before = checksums(db)
    check_passes(bin_path, db, wrapper=ro_mount(folder))
    assert checksums(db) == before


def immutable(path):
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {r.stderr!r}")


def test_serve_and_check_an_immutable_file(bin_path, database, work, tokens_file):
    if not shutil.which("chattr"):
        pytest.skip("no chattr(1)")
    folder = work / "immutable"
    db = copy_database(database, folder)
    immutable(db)
    try:
        before = checksums(db)
        check_passes(bin_path, db)
        assert checksums(db) == before
        s = Server(bin_path, db, work, "--tokens", tokens_file)
        try:
            assert "read-only" in s.stderr()
            assert_reads_and_503_writes(s, db)
        finally:
            assert s.stop() == 0, s.stderr()
    finally:
        subprocess.run(["chattr", "-i", str(db)])


def test_check_a_read_only_file_as_nobody(bin_path, database):
    """Modes 0444 and 0555 hold for an ordinary user: check (and serve, in
    test_api.test_read_only_database) as nobody."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    folder = Path(tempfile.mkdtemp(prefix="estatemap-ro-"))
    try:
        os.chmod(folder, 0o755)
        db = copy_database(database, folder / "d")
        os.chmod(db, 0o444)
        os.chmod(db.parent, 0o555)
        before = checksums(db)
        check_passes(bin_path, db, user=65534 if os.geteuid() == 0 else None)
        assert checksums(db) == before
    finally:
        os.chmod(folder / "d", 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_check_still_finds_a_broken_index_read_only(bin_path, database, work):
    """The read-only index check finds what CheckSpatialIndex found: a missing entry,
    a moved box, an entry without its row."""
    for damage in ["DELETE FROM idx_estates_geom WHERE pkid = (SELECT min(id) FROM estates)",
                   "UPDATE idx_estates_geom SET xmin = xmin + 0.001 WHERE pkid = "
                   "(SELECT max(id) FROM estates)",
                   "INSERT INTO idx_estates_geom VALUES (999999, 121.0, 121.1, 31.0, 31.1)"]:
        folder = work / f"broken-{hashlib.sha1(damage.encode()).hexdigest()[:8]}"
        db = copy_database(database, folder)
        con = sqlite3.connect(db)
        con.execute(damage)
        con.commit()
        con.close()
        r = run_cli(bin_path, "check", "--db", db, "--json")
        assert r.rc == 1, (damage, r)
        doc = json.loads(r.out)
        assert doc["layers"]["estates"]["spatial_index_ok"] is False, damage
        assert doc["layers"]["towns"]["spatial_index_ok"] is True, damage


# ---------------------------------------------------------------- logs


def test_access_log_names_the_token_never_the_secret(bin_path, database, work, tokens_file):
    db = copy_database(database, work / "logs")
    s = Server(bin_path, db, work, "--tokens", tokens_file, prefix="logs-")
    try:
        admin = TOKENS["admin"][1]
        r = s.call("POST", "/api/violations", report(*INSIDE_E001, category="乱停车"),
                   role="inspector")
        assert r.status == 201, r
        assert s.get("/api/audit?limit=1", role="admin").status == 200
        error_of(s.call("PATCH", "/api/estates/E005", {"stage": "planning"}, role="inspector"),
                 403)
        error_of(s.call("POST", "/api/violations", report(*INSIDE_E001),
                        headers={"Authorization": f"Bearer {WRONG}"}, source="127.0.0.9"), 401)
        # tokens in the query string are not accepted, and never logged
        for name in ["access_token", "token", "api_key", "Access%5FToken", "X-Auth"]:
            r = s.get(f"/ogc/collections?{name}={admin}&f=json")
            error_of(r, 400, code="unknown_parameter")
            assert admin not in r.text
            r = s.call("POST", f"/api/violations?{name}={admin}", report(*INSIDE_E001))
            assert r.status in (400, 401), r
        error_of(s.get(f"/api/audit?access_token={admin}"), 401)
        time.sleep(0.2)
    finally:
        assert s.stop() == 0, s.stderr()
    log = s.log_path.read_text("utf-8")
    err = s.stderr()
    for secret in ALL_SECRETS:
        assert secret not in log, secret
        assert secret not in err, secret
    lines = log.splitlines()
    user = {}
    for line in lines:
        m = re.match(r'^(\S+) - (\S+) \[[^]]+\] "(\S+) (\S+) HTTP/1\.1" (\d+) ', line)
        assert m, line
        user.setdefault((m.group(3), m.group(4).split("?")[0], m.group(5)), set()).add(
            m.group(2))
    inspector, admin_name = TOKENS["inspector"][0], TOKENS["admin"][0]
    # the CLF user field is %-free text here: names are letters, digits, . _ - @
    # and UTF-8 (escaped as \\xHH in the log, as every byte outside ASCII)
    esc = "".join(f"\\x{b:02x}" if b >= 0x80 else chr(b) for b in inspector.encode())
    assert user[("POST", "/api/violations", "201")] == {esc}
    assert user[("GET", "/api/audit", "200")] == {admin_name}
    assert user[("PATCH", "/api/estates/E005", "403")] == {esc}  # authenticated, not allowed
    assert user[("POST", "/api/violations", "401")] == {"-"}
    assert user[("GET", "/healthz", "200")] == {"-"}
    redacted = [ln for ln in lines if "REDACTED" in ln]
    assert len(redacted) >= 10, redacted
    assert any("access_token=REDACTED&f=json" in ln for ln in redacted)


def test_failed_authentication_is_rate_limited_for_reads_too(bin_path, database, work,
                                                            tokens_file):
    db = copy_database(database, work / "limit")
    s = Server(bin_path, db, work, "--tokens", tokens_file, "--read-token", prefix="limit-")
    try:
        src = "127.0.0.77"
        for i in range(10):
            error_of(s.get("/ogc/collections", headers={"Authorization": f"Bearer bad{i}"},
                           source=src), 401)
        r = s.get("/ogc/collections", headers={"Authorization": "Bearer bad"}, source=src)
        error_of(r, 429, code="too_many_requests")
        assert 0 < int(r.headers["Retry-After"]) <= 60
        # the right token from that address waits too; another address does not
        error_of(s.get("/ogc/collections", role="admin", source=src), 429)
        assert s.get("/ogc/collections", role="admin", source="127.0.0.78").status == 200
    finally:
        assert s.stop() == 0, s.stderr()


def test_cors_off_and_security_headers(bin_path, database, work, tokens_file):
    db = copy_database(database, work / "headers")
    s = Server(bin_path, db, work, "--tokens", tokens_file, prefix="headers-")
    try:
        for path in ["/", "/index.html", "/ogc", "/api/estates/E001", "/healthz",
                     "/tiles/estates.json", "/api/nope", "/../x"]:
            r = s.get(path, headers={"Origin": "https://evil.example"})
            assert r.headers["X-Content-Type-Options"] == "nosniff", path
            assert r.headers["Content-Security-Policy"], path
            assert not any(h.lower().startswith("access-control-") for h in r.headers), path
        csp = s.get("/").headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert s.get("/ogc").headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'")
        r = s.call("OPTIONS", "/api/violations", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert not any(h.lower().startswith("access-control-") for h in r.headers), r.headers
    finally:
        assert s.stop() == 0, s.stderr()


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(work):
    """A self-signed certificate for 127.0.0.1 and localhost, made with openssl."""
    if not shutil.which("openssl"):
        pytest.skip("no openssl(1)")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    both = work / "server.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, both


def test_tls(bin_path, database, work, tokens_file, certificate):
    cert, server_pem = certificate
    context = ssl.create_default_context(cafile=str(cert))  # verifies against our cert
    db = copy_database(database, work / "tls")
    s = Server(bin_path, db, work, "--tokens", tokens_file, "--tls-cert", server_pem,
               context=context)
    try:
        assert "https://" in s.stderr()
        r = s.get("/healthz")
        assert r.status == 200 and r.json()["status"] == "ok"
        r = s.get("/ogc")
        assert r.status == 200, r
        assert all(link["href"].startswith(f"https://127.0.0.1:{s.port}/")
                   for link in r.json()["links"]), r.json()["links"]
        # a write over TLS, with its token
        r = s.call("POST", "/api/violations", report(*INSIDE_E001, category="乱停车"),
                   role="inspector")
        assert r.status == 201, r
        assert r.headers["Location"].startswith("https://")
        # a client that does not trust the certificate is refused by its own check
        with pytest.raises(ssl.SSLCertVerificationError):
            request(s.port, "/healthz", context=ssl.create_default_context())
        # plain HTTP to the TLS port gets no HTTP answer
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            if resp.status:  # CivetWeb may answer 400 in clear text; that is not data
                assert resp.status >= 400
                raise ConnectionError("refused")
        # GDAL's OGC API client over https, trusting our certificate
        gdal.SetConfigOption("CURL_CA_BUNDLE", str(cert))
        try:
            ds = gdal.OpenEx(f"OAPIF:https://127.0.0.1:{s.port}/ogc", gdal.OF_VECTOR)
            names = {ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())}
            assert {"towns", "estates", "violations"} <= names, names
            lyr = ds.GetLayerByName("estates")
            assert lyr.GetFeatureCount() == 8
            ds = None
        finally:
            gdal.SetConfigOption("CURL_CA_BUNDLE", None)
    finally:
        assert s.stop() == 0, s.stderr()


def test_tls_cert_errors(bin_path, database, work, certificate):
    cert, _ = certificate
    for path, words in [(work / "missing.pem", "cannot read"), (cert, "no private key")]:
        r = run_cli(bin_path, "serve", "--db", database, "--tls-cert", path)
        assert r.rc == 2, r
        assert "--tls-cert" in r.err and words in r.err, r
