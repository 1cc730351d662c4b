"""GET /api/export (issue 6, over HTTP): the same exports as `estatemap export`, from
the same library calls, streamed as attachments.

The real server runs on a free loopback port over the demo database, with TMPDIR set
to a folder of this module's own, so that the tests can see that every request --
a download, a refused one, a failed one, a client that hangs up half way -- leaves
that folder as it found it. What the server sends is checked against GDAL (every
format opens) and against the CLI: the same options give the same files, byte for
byte (zips are compared member by member: their timestamps differ).
"""

import hashlib
import io
import json
import socket
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest
from osgeo import gdal, ogr, osr

from conftest import (RunningServer, import_estate_gbk_cannot_hold, init_db, query, run_cli,
                      scalar)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

CONTENT_TYPES = {
    "shp": "application/zip",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "kml": "application/vnd.google-earth.kml+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS = {"shp": ".zip", "gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv",
              "kml": ".kml", "xlsx": ".xlsx"}
TOKEN = "read-Vb8nQ2xL5kR7tW1z"


# ---------------------------------------------------------------- the server


class Server(RunningServer):
    """The server with TMPDIR set to `tmpdir`."""

    def __init__(self, bin_path, db, work, tmpdir, *extra):
        super().__init__(bin_path, db, work, *extra, env={"TMPDIR": str(tmpdir)},
                         timeout=120)

    def export(self, params, method="GET", headers=None):
        return self.request("/api/export?" + urlencode(params), method=method,
                            headers=headers)


def error_of(r, status, parameter, code=None):
    assert r.status == status, r
    assert r.headers["Content-Type"] == "application/json", r
    e = r.json()["error"]
    assert set(e) == {"code", "message", "parameter"}, e
    assert e["parameter"] == parameter, e
    if code:
        assert e["code"] == code, e
    assert "--" not in e["message"], e  # query parameters, not the CLI's options
    return e


def entries(folder):
    """Everything under folder, hidden files and subfolders included."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("api_export")


@pytest.fixture(scope="module")
def demo_db(bin_path, work):
    path = work / "demo.sqlite"
    r = run_cli(bin_path, "demo", "--db", path, "--quiet", timeout=300)
    assert r.rc == 0, r
    return path


@pytest.fixture(scope="module")
def server_tmp(work):
    """The server's TMPDIR, with a file of its own that must stay."""
    folder = work / "server-tmp"
    folder.mkdir()
    (folder / "unrelated.txt").write_text("not the server's")
    return folder


@pytest.fixture(scope="module")
def server(bin_path, demo_db, work, server_tmp):
    s = Server(bin_path, demo_db, work, server_tmp)
    yield s
    assert s.stop() == 0, s.stderr()


@pytest.fixture
def clean_tmp(server_tmp):
    """Every test leaves the server's TMPDIR as it found it."""
    before = entries(server_tmp)
    yield server_tmp
    assert entries(server_tmp) == before


def cli_export(bin_path, db, out, params):
    """`estatemap export` with the same options as the query `params`."""
    args = []
    for k, v in params.items():
        if k == "source":
            args.insert(0, v)
        else:
            args += [f"--{k}", v]
    r = run_cli(bin_path, "export", *args, "--db", db, "-o", out)
    assert r.rc == 0, r
    return Path(out).read_bytes()


def zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def open_bytes(tmp_path, data, fmt, name="download"):
    """The downloaded file opened by GDAL (a shapefile zip through /vsizip/)."""
    path = tmp_path / (name + EXTENSIONS[fmt])
    path.write_bytes(data)
    if fmt == "shp":
        return gdal.OpenEx(f"/vsizip/{path}", gdal.OF_VECTOR)
    return gdal.OpenEx(str(path), gdal.OF_VECTOR)


def epsg_of_prj(text):
    """The EPSG code GDAL identifies an ESRI .prj as (as test_export.py does)."""
    srs = osr.SpatialReference()
    srs.SetFromUserInput(text)
    try:
        srs.AutoIdentifyEPSG()
        code = srs.GetAuthorityCode(None)
        if code:
            return int(code)
    except RuntimeError:
        pass
    best = [m.GetAuthorityCode(None) for m, conf in srs.FindMatches() if conf == 100]
    return int(best[0]) if best and best[0] else None


def feature_count(ds):
    return sum(ds.GetLayer(i).GetFeatureCount() for i in range(ds.GetLayerCount()))


# ---------------------------------------------------------------- downloads


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "geojson", "csv", "kml", "xlsx"])
def test_every_format_downloads_and_gdal_opens_it(server, demo_db, tmp_path, clean_tmp, fmt):
    r = server.export({"source": "estates", "format": fmt})
    assert r.status == 200, r
    assert r.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert r.headers["Content-Disposition"] == f'attachment; filename="estates{EXTENSIONS[fmt]}"'
    assert int(r.headers["Content-Length"]) == len(r.body) > 0
    assert r.headers["Cache-Control"] == "no-store"
    ds = open_bytes(tmp_path, r.body, fmt)
    assert ds is not None
    lyr = ds.GetLayerByName("estates") or ds.GetLayer(0)  # a GeoPackage has layer_styles
    assert lyr.GetFeatureCount() == scalar(demo_db, "SELECT count(*) FROM estates")
    if fmt == "shp":
        members = zip_members(r.body)
        for ext in ["shp", "shx", "dbf", "prj", "cpg", "qml"]:
            assert f"estates.{ext}" in members, ext
        assert "fields.csv" in members


def test_several_layers_in_one_file(server, demo_db, tmp_path, clean_tmp):
    r = server.export({"source": "estates,violations", "format": "gpkg"})
    assert r.status == 200, r
    assert r.headers["Content-Disposition"] == 'attachment; filename="estates_violations.gpkg"'
    ds = open_bytes(tmp_path, r.body, "gpkg")
    names = {ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())}
    assert {"estates", "violations"} <= names
    assert ds.GetLayerByName("violations").GetFeatureCount() == scalar(
        demo_db, "SELECT count(*) FROM violations")


def test_head_has_the_headers_and_no_body(server, clean_tmp):
    get = server.export({"source": "towns", "format": "shp"})
    head = server.export({"source": "towns", "format": "shp"}, method="HEAD")
    assert head.status == 200 and head.body == b""
    for h in ["Content-Type", "Content-Disposition", "Content-Length"]:
        assert head.headers[h] == get.headers[h], h


# ---------------------------------------------------------------- the same as the CLI


def town_code(db):
    return scalar(db, "SELECT code FROM towns ORDER BY code LIMIT 1 OFFSET 3")


CASES = {
    "shp": {"source": "estates", "format": "shp"},
    "shp-gbk-4549-zh": {"source": "estates", "format": "shp", "crs": "EPSG:4549",
                        "encoding": "GBK", "lang": "zh"},
    "shp-filters": {"source": "estates", "format": "shp", "tier": "示范版",
                    "built-before": "2000", "crs": "EPSG:4490"},
    "shp-two-layers": {"source": "violations,renovation", "format": "shp", "lang": "zh"},
    "shp-corridors": {"source": "analysis:corridors", "format": "shp", "built-before": "2000"},
    "shp-eligibility": {"source": "eligibility", "format": "shp", "encoding": "GBK"},
    "geojson": {"source": "violations", "format": "geojson", "crs": "EPSG:3857"},
    "csv": {"source": "estates", "format": "csv", "lang": "zh"},
    "kml": {"source": "zones", "format": "kml"},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_http_export_matches_the_cli(server, bin_path, demo_db, tmp_path, clean_tmp, case):
    params = dict(CASES[case])
    if case == "shp-filters":
        params["town"] = town_code(demo_db)
    r = server.export(params)
    assert r.status == 200, r
    cli = cli_export(bin_path, demo_db, tmp_path / ("cli" + EXTENSIONS[params["format"]]),
                     params)
    if params["format"] != "shp":
        assert r.body == cli
        return
    http_members, cli_members = zip_members(r.body), zip_members(cli)
    assert sorted(http_members) == sorted(cli_members)
    dbfs = [n for n in cli_members if n.endswith(".dbf")]
    assert dbfs
    for name in dbfs:  # the requirement: the .dbf byte for byte
        assert hashlib.sha256(http_members[name]).hexdigest() == \
            hashlib.sha256(cli_members[name]).hexdigest(), name
    for name in cli_members:  # and, as it happens, every other member too
        assert http_members[name] == cli_members[name], name


def test_gbk_cgcs2000_gauss_kruger_chinese_names(server, demo_db, tmp_path, clean_tmp):
    r = server.export({"source": "estates", "format": "shp", "crs": "EPSG:4549",
                       "encoding": "GBK", "lang": "zh"})
    assert r.status == 200, r
    m = zip_members(r.body)
    assert m["estates.cpg"].decode().strip() == "936"
    assert epsg_of_prj(m["estates.prj"].decode()) == 4549
    # DBF field names: Chinese, at most 10 bytes of GBK, unique
    dbf = m["estates.dbf"]
    header_len = int.from_bytes(dbf[8:10], "little")
    raw = [dbf[o:o + 11].split(b"\0", 1)[0] for o in range(32, header_len - 1, 32)
           if dbf[o] != 0x0D]
    names = [n.decode("gbk") for n in raw]
    assert all(len(n) <= 10 for n in raw)
    assert len(set(names)) == len(names)
    assert {"小区编码", "小区名称", "建成年份"} <= set(names)
    # GDAL reads the .cpg: the text is the database's
    ds = open_bytes(tmp_path, r.body, "shp")
    db_names = dict(query(demo_db, "SELECT code, name FROM estates"))
    feats = list(ds.GetLayer(0))
    assert len(feats) == len(db_names)
    assert all(f["小区名称"] == db_names[f["小区编码"]] for f in feats)
    # and it really is GBK on disk
    first = db_names[feats[0]["小区编码"]]
    assert first.encode("gbk") in dbf and first.encode("utf-8") not in dbf


def test_analysis_source(server, bin_path, demo_db, tmp_path, clean_tmp):
    r = server.export({"source": "analysis:corridors", "built-before": "2000",
                       "format": "shp"})
    assert r.status == 200, r
    assert r.headers["Content-Disposition"] == 'attachment; filename="corridors.zip"'
    expect = run_cli(bin_path, "analyze", "corridors", "--built-before", "2000",
                     "--format", "json", "--db", demo_db)
    assert expect.rc == 0, expect
    doc = json.loads(expect.out)
    rows = doc["rows"] if isinstance(doc, dict) and "rows" in doc else doc
    ds = open_bytes(tmp_path, r.body, "shp")
    assert feature_count(ds) == len(rows) > 0
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    fields = {defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())}
    assert {"RAIL_DIST", "ALONG"} <= fields


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("params,parameter,code", [
    ({"source": "estates", "format": "xyz"}, "format", "invalid_parameter"),
    ({"source": "estates"}, "format", "invalid_parameter"),
    ({"format": "shp"}, "source", "invalid_parameter"),
    ({"source": "nowhere", "format": "shp"}, "source", "invalid_parameter"),
    ({"source": "analysis:nothing", "format": "shp"}, "source", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "crs": "EPSG:abc"}, "crs", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "crs": "EPSG:999999"}, "crs", "invalid_parameter"),
    ({"source": "estates", "format": "kml", "crs": "EPSG:4549"}, "crs", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "encoding": "latin1"}, "encoding",
     "invalid_parameter"),
    ({"source": "estates", "format": "gpkg", "encoding": "GBK"}, "encoding",
     "invalid_parameter"),
    ({"source": "estates", "format": "shp", "lang": "fr"}, "lang", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "town": "310112999"}, "town", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "tier": "金牌版"}, "tier", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "built-before": "soon"}, "built-before",
     "invalid_parameter"),
    ({"source": "estates", "format": "shp", "built_before": "soon"}, "built_before",
     "invalid_parameter"),
    ({"source": "estates", "format": "shp", "bbox": "121,31,120"}, "bbox", "invalid_parameter"),
    ({"source": "estates,violations", "format": "geojson"}, "format", "invalid_parameter"),
    ({"source": "estates", "format": "shp", "colour": "red"}, "colour", "unknown_parameter"),
    ({"source": "corridors", "format": "shp", "buffer": "railway=50"}, "buffer",
     "unknown_parameter"),
    ({"source": "analysis:corridors", "format": "shp", "colour": "red"}, "colour",
     "unknown_parameter"),
    ({"source": "analysis:corridors", "format": "shp", "built-before": "soon"}, "built-before",
     "invalid_parameter"),
])
def test_bad_parameters_are_400s_naming_them(server, clean_tmp, params, parameter, code):
    error_of(server.export(params), 400, parameter, code)


def test_a_parameter_given_twice(server, clean_tmp):
    r = server.request("/api/export?source=estates&format=shp&format=gpkg")
    error_of(r, 400, "format")


def test_only_get_head_and_options(server, clean_tmp):
    r = server.request("/api/export?source=estates&format=shp", method="POST",
                       headers={"Content-Length": "0"})
    assert r.status in (401, 405), r  # writes need a token before anything else
    r = server.request("/api/export", method="OPTIONS")
    assert r.status == 204 and "GET" in r.headers["Allow"], r
    index = server.request("/api").json()
    assert any(e["path"] == "/api/export" for e in index["endpoints"])


# ---------------------------------------------------------------- temporary files


def test_no_temporary_files_left_behind(server, server_tmp, clean_tmp):
    """Downloads, refusals and a client that hangs up: TMPDIR as it was."""
    before = entries(server_tmp)
    assert server.export({"source": "estates", "format": "shp"}).status == 200
    assert server.export({"source": "estates", "format": "gpkg"}).status == 200
    assert server.export({"source": "estates", "format": "shp", "crs": "EPSG:1"}).status == 400
    assert server.export({"source": "estates", "format": "shp", "x": "1"}).status == 400
    assert entries(server_tmp) == before

    # A client that reads the headers and a little of a 12 MB body, then hangs up.
    path = "/api/export?" + urlencode({"source": "violations", "format": "geojson"})
    logged = f'"GET {path} HTTP/1.1"'

    def log_lines():
        return [l for l in server.log_path.read_text().splitlines() if logged in l]

    earlier = len(log_lines())
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        head = got.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith("HTTP/1.1 200"), head
        length = int([l.split(":", 1)[1] for l in head.split("\r\n")
                      if l.lower().startswith("content-length:")][0])
        assert length > 8_000_000
    # The server notices when it writes: wait for the request's log line.
    deadline = time.time() + 60
    line = None
    while time.time() < deadline and line is None:
        lines = log_lines()
        line = lines[-1] if len(lines) > earlier else None
        time.sleep(0.1)
    assert line, "the interrupted download was never logged"
    assert int(line.split()[-1]) < length  # it really was cut off
    assert entries(server_tmp) == before
    # and the server goes on serving
    assert server.request("/healthz").status == 200
    assert server.export({"source": "towns", "format": "csv"}).status == 200


def test_concurrent_exports(server, bin_path, demo_db, tmp_path, clean_tmp):
    """Workers export at the same time, each on its own connection and thread."""
    cases = [{"source": "estates", "format": "shp", "encoding": "GBK", "lang": "zh"},
             {"source": "violations", "format": "csv"},
             {"source": "analysis:corridors", "format": "geojson", "built-before": "2000"},
             {"source": "towns", "format": "kml"}] * 2
    results = [None] * len(cases)

    def fetch(i):
        results[i] = server.export(cases[i])

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for i, params in enumerate(cases[:4]):
        assert results[i].status == 200, results[i]
        assert results[i + 4].status == 200, results[i + 4]
        if params["format"] == "shp":
            a, b = zip_members(results[i].body), zip_members(results[i + 4].body)
            assert a["estates.dbf"] == b["estates.dbf"]
        else:
            assert results[i].body == results[i + 4].body
            cli = cli_export(bin_path, demo_db, tmp_path / f"c{i}{EXTENSIONS[params['format']]}",
                             params)
            assert results[i].body == cli


def test_an_export_that_fails_half_way(bin_path, work, tmp_path):
    """Text GBK cannot hold is found while writing: a 400 naming encoding, and the
    half-written files are gone."""
    db = init_db(bin_path, tmp_path / "small.sqlite")
    import_estate_gbk_cannot_hold(bin_path, db, tmp_path)
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    s = Server(bin_path, db, tmp_path, tmp)
    try:
        e = error_of(s.export({"source": "estates", "format": "shp", "encoding": "GBK"}), 400,
                     "encoding")
        assert "E2" in e["message"] and "GBK" in e["message"]
        assert entries(tmp) == []
        r = s.export({"source": "estates", "format": "shp"})
        assert r.status == 200, r
        assert entries(tmp) == []
    finally:
        assert s.stop() == 0, s.stderr()


# ---------------------------------------------------------------- --read-token


def test_read_token_guards_exports(bin_path, demo_db, work, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"viewer planner {hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    s = Server(bin_path, demo_db, tmp_path, tmp, "--tokens", tokens, "--read-token")
    try:
        params = {"source": "towns", "format": "geojson"}
        r = s.export(params)
        assert r.status == 401 and "WWW-Authenticate" in r.headers, r
        r = s.export(params, headers={"Authorization": "Bearer not-the-token"})
        assert r.status == 401, r
        r = s.export(params, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200, r
        assert r.headers["Content-Disposition"] == 'attachment; filename="towns.geojson"'
        assert entries(tmp) == []
    finally:
        assert s.stop() == 0, s.stderr()
    assert TOKEN not in s.stderr()
