"""`estatemap serve`: the HTTP server, /healthz, the web app's static files and
OGC API - Features at /ogc (issue 4, sections 1, 2 and 7).

One server runs for the whole module on a free loopback port, over a small database
made with `estatemap init` and `estatemap import` of GeoJSON written here, so every
expected answer is computed from the fixture data, not read back from the server.
GDAL's OAPIF driver (ogrinfo, ogr2ogr) is used as a real client. The server is
stopped with SIGTERM and must exit 0.
"""

import datetime as dt
import http.client
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import quote, urlencode, urlsplit

import pytest
from osgeo import ogr
from pyproj import Transformer

from conftest import (SCHEMA_VERSION, RunningServer, box_wkt, free_port, init_db, run_cli,
                      write_geojson)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS_URIS = [CRS84, EPSG + "4326", EPSG + "4490", EPSG + "4549", EPSG + "3857"]
COLLECTIONS = ["towns", "estates", "grid", "violations", "corridors", "zones"]
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
SECRET = "TOP-SECRET-OUTSIDE-WEB-5f1c"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# ---------------------------------------------------------------- fixture data

TOWNS = {
    "310112001": ("江川路街道", (121.40, 31.00, 121.45, 31.05)),
    "310112102": ("莘庄镇", (121.35, 31.10, 121.40, 31.15)),
}
TIERS = ["示范版", "提升版", "基础版", None]
HOUSING = ["售后公房", "商品房", "动迁安置房", "混合"]
CATEGORIES = ["违法建筑", "违法经营", "乱堆杂物", "无序设摊", "违法居住"]


def estate_box(i):
    """16 estates in a 4 x 4 block in 江川路街道, then 8 in a 4 x 2 block in 莘庄镇."""
    if i < 16:
        x0, y0, col, row = 121.402, 31.002, i % 4, i // 4
    else:
        x0, y0, col, row = 121.352, 31.102, (i - 16) % 4, (i - 16) // 4
    x = round(x0 + col * 0.011, 6)
    y = round(y0 + row * 0.011, 6)
    return (x, y, round(x + 0.008, 6), round(y + 0.008, 6))


def estate_attrs(i):
    return {
        "code": f"E{i:03d}",
        "name": "碧江华苑（一期）" if i == 0 else f"测试小区{i}号",
        "address": f"沧源路{100 + i}弄",
        "built_year": 1980 + i,
        "housing_type": HOUSING[i % 4],
        "households": 100 + i,
        "fee_collection_rate": round(0.5 + i * 0.02, 2),
        "owners_cofund": i % 2,
        "tier": TIERS[i % 4],
        "elevator_valid_until": "2017-06-30",
        # null on the whole first page: the schema, not the sample, must type it
        "satisfaction": None if i < 12 else 70.5 + i,
        "负责人": f"张{i}",
    }


ESTATES = [(estate_attrs(i), estate_box(i)) for i in range(24)]
ESTATE_TOWN = {f"E{i:03d}": ("310112001" if i < 16 else "310112102") for i in range(24)}


def violation(i):
    """40 points across 江川路街道, one a week through 2016 (Shanghai time)."""
    lon = round(121.401 + (i % 8) * 0.006, 6)
    lat = round(31.001 + (i // 8) * 0.009, 6)
    reported = dt.datetime(2016, 1, 1, 9, 0, 0) + dt.timedelta(days=7 * i, hours=i)
    attrs = {
        "code": f"V{i:03d}",
        "category": CATEGORIES[i % 5],
        "reported_at": reported.strftime("%Y-%m-%dT%H:%M:%S"),
        "status": "resolved" if i % 3 == 0 else "open",
        "source": "网格巡查",
        "description": f"第{i}号问题",
    }
    if i % 3 == 0:
        attrs["resolved_at"] = (reported + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    return attrs, (lon, lat)


VIOLATIONS = [violation(i) for i in range(40)]


def build_database(bin_path, work):
    db = init_db(bin_path, work / "serve.sqlite")

    def load(layer, features):
        path = work / f"{layer}.geojson"
        write_geojson(path, features)
        r = run_cli(bin_path, "import", layer, path, "--db", db)
        assert r.rc == 0, r

    load("towns", [({"code": c, "name": n}, box_wkt(*b)) for c, (n, b) in TOWNS.items()])
    load("estates", [(a, box_wkt(*b)) for a, b in ESTATES])
    load("grid", [({"code": c + "01", "town_code": c}, box_wkt(*b))
                  for c, (_, b) in TOWNS.items()])
    load("violations", [(a, f"POINT({x} {y})") for a, (x, y) in VIOLATIONS])
    load("corridors", [({"type": "railway", "name": "沪杭铁路"},
                        "LINESTRING(121.35 31.06,121.45 31.07)"),
                       ({"type": "river", "name": "淀浦河"},
                        "LINESTRING(121.36 31.08,121.44 31.09,121.45 31.12)")])
    load("zones", [({"kind": "key_remediation", "name": "重点整治区域一"},
                    box_wkt(121.40, 31.00, 121.42, 31.02))])
    return db


# ---------------------------------------------------------------- the server


class Server(RunningServer):
    """The server with ESTATEMAP_HOME set to `home` if given."""

    def __init__(self, bin_path, db, work, *extra, home=None):
        super().__init__(bin_path, db, work, *extra,
                         env={"ESTATEMAP_HOME": str(home)} if home else None,
                         ready_timeout=20)

    def json(self, path, status=200, content_type="application/json"):
        r = self.get(path)
        assert r.status == status, r
        assert r.headers["Content-Type"] == content_type, r
        return r.json()

    def error(self, path, status, parameter="ANY", **kw):
        """Expect a JSON error with `status`; check the error's shape and parameter."""
        r = self.get(path, **kw)
        assert r.status == status, (path, r)
        assert r.headers["Content-Type"] == "application/json", r
        e = r.json()["error"]
        assert set(e) == {"code", "message", "parameter"}, e
        assert isinstance(e["code"], str) and e["code"] and e["message"], e
        if parameter != "ANY":
            assert e["parameter"] == parameter, (path, e)
        return e


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def database(bin_path, work):
    return build_database(bin_path, work)


@pytest.fixture(scope="module")
def home(work):
    """ESTATEMAP_HOME with a small web app, a secret next to web/ and a symlink out."""
    home = work / "home"
    web = home / "web"
    (web / "sub").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>美丽家园</title><p>estatemap</p>",
                                    encoding="utf-8")
    (web / "app.js").write_text("console.log('estatemap');\n", encoding="utf-8")
    (web / "style.css").write_text("body { margin: 0 }\n", encoding="utf-8")
    (web / "sub" / "index.html").write_text("<p>sub</p>", encoding="utf-8")
    (web / "vendor" / "leaflet" / "dist").mkdir(parents=True)
    (web / "vendor" / "leaflet" / "dist" / "leaflet.js").write_text("/* leaflet */\n",
                                                                    encoding="utf-8")
    (web / ".hidden").write_text(SECRET, encoding="utf-8")
    (home / "secret.txt").write_text(SECRET, encoding="utf-8")
    os.symlink(home / "secret.txt", web / "link.txt")
    return home


@pytest.fixture(scope="module")
def server(bin_path, database, work, home):
    s = Server(bin_path, database, work, home=home)
    yield s
    rc = s.stop()
    assert rc == 0, s.stderr()


def items(server, layer, **params):
    q = ("?" + urlencode(params)) if params else ""
    return server.json(f"/ogc/collections/{layer}/items{q}", content_type="application/geo+json")


def all_items(server, layer, **params):
    params.setdefault("limit", 10000)
    return items(server, layer, **params)["features"]


def codes(features):
    return sorted(f["properties"]["code"] for f in features)


# ---------------------------------------------------------------- /healthz and headers


def test_healthz(server):
    h = server.json("/healthz")
    assert h["status"] == "ok"
    assert h["schema_version"] == SCHEMA_VERSION
    assert h["layers"]["towns"] == 2
    assert h["layers"]["estates"] == 24
    assert h["layers"]["grid"] == 2
    assert h["layers"]["violations"] == 40
    assert h["layers"]["corridors"] == 2
    assert h["layers"]["zones"] == 1


def test_security_headers_and_no_cors_by_default(server):
    for path in ["/healthz", "/ogc", "/ogc/collections/estates/items", "/", "/nope"]:
        r = server.get(path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert "Content-Security-Policy" in r.headers, path
        assert "Access-Control-Allow-Origin" not in r.headers, path


def test_cors_only_when_asked(bin_path, database, work):
    s = Server(bin_path, database, work, "--cors", "https://planner.example.org")
    try:
        r = s.get("/ogc/collections", headers={"Origin": "https://planner.example.org"})
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "https://planner.example.org"
        assert "Content-Crs" in r.headers["Access-Control-Expose-Headers"]
        r = s.get("/ogc/collections/estates/items", method="OPTIONS",
                  headers={"Origin": "https://planner.example.org",
                           "Access-Control-Request-Method": "GET"})
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://planner.example.org"
        assert "GET" in r.headers["Access-Control-Allow-Methods"]
    finally:
        assert s.stop() == 0, s.stderr()


def log_lines(server, until, timeout=5):
    """The access log's lines, once one of them satisfies `until` (a line is written
    just after its response is sent, so give the server a moment)."""
    deadline = time.time() + timeout
    while True:
        lines = server.log_path.read_text("utf-8").splitlines()
        if any(until(line) for line in lines) or time.time() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_is_common_log_format(server):
    server.get("/healthz")
    server.get("/ogc/collections/nope")
    clf = re.compile(r'^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
                     r'"(\S+) (\S+) HTTP/(1\.[01])" (\d{3}) (\d+|-)$')
    lines = log_lines(server, lambda l: '"GET /ogc/collections/nope HTTP/1.1" 404 ' in l)
    for line in lines:
        assert clf.match(line), line
    assert any('"GET /healthz HTTP/1.1" 200 ' in line for line in lines)
    assert any('"GET /ogc/collections/nope HTTP/1.1" 404 ' in line for line in lines)


def test_access_log_escapes_what_a_client_sends(server):
    server.get('/ogc?x="%0a"&y=\\')
    lines = log_lines(server, lambda l: "/ogc?x=" in l)
    line = next(l for l in lines if "/ogc?x=" in l)
    assert line.count('"') == 2, line
    assert "\\x22" in line and "\\x5c" in line, line


def test_metrics(server):
    server.get("/healthz")
    server.get("/ogc/collections/estates/items?limit=1")
    server.get("/ogc/collections/estates/items?limit=0")
    items_route = 'route="/ogc/collections/{collectionId}/items"'
    # a request is counted just after its response is sent: poll briefly
    deadline = time.time() + 5
    while True:
        r = server.get("/metrics")
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = {}
        for line in r.text.splitlines():
            if line.startswith("#") or not line:
                continue
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
        if f'estatemap_http_requests_total{{{items_route},status="400"}}' in samples or \
                time.time() > deadline:
            break
        time.sleep(0.05)
    assert samples['estatemap_http_requests_total{route="/healthz",status="200"}'] >= 1
    assert samples[f'estatemap_http_requests_total{{{items_route},status="200"}}'] >= 1
    assert samples[f'estatemap_http_requests_total{{{items_route},status="400"}}'] >= 1
    buckets = [(k, v) for k, v in samples.items()
               if k.startswith("estatemap_http_request_duration_seconds_bucket{" + items_route)]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and len(counts) >= 10
    assert buckets[-1][0].endswith('le="+Inf"}')
    assert buckets[-1][1] == samples[
        f"estatemap_http_request_duration_seconds_count{{{items_route}}}"]
    assert samples["estatemap_http_requests_in_flight"] >= 1  # this request
    # raw paths never become labels
    server.get("/ogc/collections/some-random-name-123/items")
    assert "some-random-name-123" not in server.get("/metrics").text
    server.error("/metrics?x=1", 400, "x")


# ---------------------------------------------------------------- web app files


def test_web_app_index_with_caching_and_csp(server):
    r = server.get("/")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/html")
    assert "美丽家园" in r.text
    assert r.headers["Cache-Control"] == "no-cache"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    etag = r.headers["ETag"]
    assert etag and "Last-Modified" in r.headers
    again = server.get("/", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert server.get("/index.html").body == r.body


def test_web_app_assets(server):
    r = server.get("/app.js")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert server.get("/style.css").headers["Content-Type"].startswith("text/css")
    r = server.get("/sub")
    assert r.status == 301 and r.headers["Location"] == "sub/"
    assert server.get("/sub/").text == "<p>sub</p>"
    server.error("/missing.js", 404)


def strong_etag_of(body):
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/style.css", "/sub/"])
def test_the_apps_own_files_are_never_stale(server, home, path):
    """Our files: no-cache (revalidated on every load) with a strong ETag of their
    bytes, so an upgrade shows at once, even one that keeps a file's size and time."""
    r = server.get(path)
    assert r.status == 200
    assert r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    assert etag == strong_etag_of(r.body) and not etag.startswith("W/")
    again = server.get(path, headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "no-cache"
    assert server.get(path, headers={"If-None-Match": f'"x", W/{etag}'}).status == 304
    assert server.get(path, headers={"If-None-Match": '"0123"'}).status == 200


def test_an_upgraded_file_with_the_same_size_and_time_gets_a_new_etag(server, home):
    f = home / "web" / "upgrade.js"
    f.write_text("export const v = 1;\n", encoding="utf-8")
    old = server.get("/upgrade.js")
    st = f.stat()
    f.write_text("export const v = 2;\n", encoding="utf-8")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    r = server.get("/upgrade.js", headers={"If-None-Match": old.headers["ETag"]})
    assert r.status == 200 and r.text == "export const v = 2;\n"
    assert r.headers["ETag"] != old.headers["ETag"]
    assert r.headers["ETag"] == strong_etag_of(r.body)


def test_vendored_npm_files_keep_a_long_max_age(server):
    r = server.get("/vendor/leaflet/dist/leaflet.js")
    assert r.status == 200 and r.text == "/* leaflet */\n"
    assert r.headers["Cache-Control"] == "public, max-age=604800"
    assert r.headers["ETag"] == strong_etag_of(r.body)
    assert server.get("/vendor/leaflet/dist/leaflet.js",
                      headers={"If-None-Match": r.headers["ETag"]}).status == 304


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/.%2e/secret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/sub/..%5c..%5csecret.txt",
    "/index.html%00.js",
    "/.hidden",
    "/%2ehidden",
    "/link.txt",
    "//secret.txt",
    "/" + "../" * 12 + "etc/passwd",
])
def test_no_file_outside_web_is_ever_served(server, path):
    r = server.get(path)
    assert r.status in (400, 403, 404), (path, r)
    assert SECRET not in r.text and "root:" not in r.text
    assert r.headers["Content-Type"] == "application/json"
    assert "error" in r.json()


# ---------------------------------------------------------------- methods and limits


def test_methods(server):
    e = server.error("/ogc/collections", 405, method="POST", body=b"{}")
    assert e["code"] == "method_not_allowed"
    r = server.get("/ogc/collections", method="DELETE")
    assert r.status == 405 and "GET" in r.headers["Allow"]
    r = server.get("/ogc", method="OPTIONS")
    assert r.status == 204 and "GET" in r.headers["Allow"]
    full = server.get("/ogc/collections/estates/items")
    head = server.get("/ogc/collections/estates/items", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Type"] == "application/geo+json"
    assert int(head.headers["Content-Length"]) > 1000
    assert abs(int(head.headers["Content-Length"]) - len(full.body)) < 100  # timeStamp


def test_request_size_limits(server):
    r = server.get("/healthz", headers={"X-Padding": "a" * 20000})
    assert 400 <= r.status < 500, r
    assert r.json()["error"]
    e = server.error("/healthz", 413, headers={"Content-Length": str(5 * 1024 * 1024)},
                     body=b"x" * 100)
    assert e["code"] == "payload_too_large"
    many = "&".join(f"p{i}=1" for i in range(100))
    server.error(f"/ogc/collections/estates/items?{many}", 400)
    server.error("/ogc/collections/estates/items?tier=" + "x" * 9000, 400)
    assert server.get("/healthz").status == 200  # still serving


def test_malformed_queries(server):
    server.error("/ogc/collections/estates/items?limit=5&limit=6", 400, "limit")
    server.error("/ogc/collections/estates/items?tier=%ZZ", 400)
    server.error("/ogc/collections/estates/items?tier=%FF%FE", 400)
    server.error("/ogc/collections/estates/items?tier=%00", 400)
    server.error("/ogc%ZZ", 400)


# ---------------------------------------------------------------- OGC landing page


def test_landing_page(server):
    page = server.json("/ogc")
    assert page["title"]
    links = {(l["rel"], l.get("type")): l["href"] for l in page["links"]}
    base = server.base + "/ogc"
    assert links[("self", "application/json")] == base
    assert links[("service-desc", OPENAPI_TYPE)] == base + "/api"
    assert links[("conformance", "application/json")] == base + "/conformance"
    assert links[("data", "application/json")] == base + "/collections"
    for href in set(links.values()):  # every link answers
        assert server.get(urlsplit(href).path).status == 200, href
    assert server.json("/ogc/") == page
    assert server.json("/ogc?f=json") == page
    server.error("/ogc?f=html", 400, "f")
    server.error("/ogc?foo=bar", 400, "foo")


def test_conformance(server):
    conf = server.json("/ogc/conformance")
    assert sorted(conf["conformsTo"]) == sorted(CONFORMANCE)


# ---------------------------------------------------------------- OpenAPI


def resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def test_openapi_document_describes_the_api(server, database):
    r = server.get("/ogc/api")
    assert r.status == 200
    assert r.headers["Content-Type"] == OPENAPI_TYPE
    doc = r.json()
    assert doc["openapi"].startswith("3.0.")
    assert doc["servers"][0]["url"] == server.base + "/ogc"
    for ref in all_refs(doc):
        resolve(doc, ref)
    paths = doc["paths"]
    for p in ["/", "/conformance", "/api", "/collections"]:
        assert p in paths
    for layer in COLLECTIONS:
        assert f"/collections/{layer}" in paths
        assert f"/collections/{layer}/items/{{featureId}}" in paths
        op = paths[f"/collections/{layer}/items"]["get"]
        params = [resolve(doc, p["$ref"]) if "$ref" in p else p for p in op["parameters"]]
        names = {p["name"] for p in params}
        for std in ["bbox", "bbox-crs", "crs", "limit", "offset", "f"]:
            assert std in names, (layer, std)
        assert ("datetime" in names) == (layer == "violations")
        limit = next(p for p in params if p["name"] == "limit")
        assert limit["schema"]["maximum"] == 10000 and limit["schema"]["default"] == 10
        crs = next(p for p in params if p["name"] == "crs")
        assert crs["schema"]["enum"] == CRS_URIS
        assert "application/geo+json" in op["responses"]["200"]["content"]
        assert "400" in op["responses"]
    # every column of every layer is a documented filter, with its type
    estates = paths["/collections/estates/items"]["get"]["parameters"]
    by_name = {p.get("name"): p for p in estates}
    assert by_name["tier"]["schema"]["enum"] == ["示范版", "提升版", "基础版"]
    assert by_name["built_year"]["schema"]["type"] == "integer"
    assert by_name["fee_collection_rate"]["schema"]["type"] == "number"
    assert by_name["owners_cofund"]["schema"]["type"] == "boolean"
    assert "town_code" in by_name and "satisfaction" in by_name
    # every documented non-template path answers 200; the template paths for one layer too
    for p in paths:
        concrete = p.replace("{featureId}", "1")
        assert server.get("/ogc" + (concrete if concrete != "/" else "")).status == 200, p
    # every parameter the doc declares is accepted (no 400 for unknown parameter)
    for p in params:
        if p["name"] in ("bbox", "bbox-crs", "crs", "limit", "offset", "f", "datetime"):
            continue
        r = server.get(f"/ogc/collections/zones/items?{p['name']}=x")
        if r.status == 400:
            assert r.json()["error"]["code"] != "unknown_parameter"


def test_openapi_document_validates(server, work):
    doc = server.get("/ogc/api").json()
    try:
        from openapi_spec_validator import validate_spec
    except ImportError:
        validate_spec = None
    if validate_spec:
        validate_spec(doc)
        return
    path = work / "openapi.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    for py in {shutil.which("python3"), "/usr/bin/python3"} - {None, sys.executable}:
        probe = subprocess.run([py, "-c", "import openapi_spec_validator"], capture_output=True)
        if probe.returncode == 0:
            r = subprocess.run([py, "-m", "openapi_spec_validator", str(path)],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
            return
    pytest.skip("openapi-spec-validator is not installed")


# ---------------------------------------------------------------- collections


def test_collections(server):
    doc = server.json("/ogc/collections")
    assert [c["id"] for c in doc["collections"]] == COLLECTIONS
    assert any(l["rel"] == "self" for l in doc["links"])
    for c in doc["collections"]:
        assert c["crs"] == CRS_URIS
        assert c["storageCrs"] == CRS84
        assert c["itemType"] == "feature"
        assert c["extent"]["spatial"]["crs"] == CRS84
        rels = {l["rel"]: l for l in c["links"]}
        assert rels["items"]["type"] == "application/geo+json"
        assert rels["items"]["href"] == f"{server.base}/ogc/collections/{c['id']}/items"
        assert rels["self"]["href"] == f"{server.base}/ogc/collections/{c['id']}"
        assert server.json(f"/ogc/collections/{c['id']}") == c


def test_collection_extent_contains_the_data(server):
    boxes = [b for _, b in ESTATES]
    want = (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))
    got = server.json("/ogc/collections/estates")["extent"]["spatial"]["bbox"][0]
    for i in range(2):
        assert want[i] - 1e-4 <= got[i] <= want[i] + 1e-9
    for i in range(2, 4):
        assert want[i] - 1e-9 <= got[i] <= want[i] + 1e-4


def test_violations_temporal_extent(server):
    c = server.json("/ogc/collections/violations")
    times = sorted(a["reported_at"] for a, _ in VIOLATIONS)
    assert c["extent"]["temporal"]["interval"] == [[times[0] + "+08:00", times[-1] + "+08:00"]]
    assert "temporal" not in server.json("/ogc/collections/estates")["extent"]


def test_collection_schema(server):
    r = server.get("/ogc/collections/estates/schema")
    assert r.status == 200 and r.headers["Content-Type"] == "application/schema+json"
    props = r.json()["properties"]["properties"]["properties"]
    assert props["satisfaction"]["type"] == "number"
    assert props["built_year"]["type"] == "integer"
    assert props["owners_cofund"]["type"] == "boolean"
    assert props["elevator_valid_until"]["format"] == "date"


@pytest.mark.parametrize("path", [
    "/ogc/collections/nope",
    "/ogc/collections/nope/items",
    "/ogc/collections/renovation",
    "/ogc/collections/renovation/items",
    "/ogc/collections/estates/items/99999",
    "/ogc/collections/estates/items/abc",
    "/ogc/collections/estates/items/-1",
    "/ogc/collections/estates/items/1/extra",
    "/ogc/nothing",
    "/api/nothing",
])
def test_not_found(server, path):
    e = server.error(path, 404)
    assert e["code"] == "not_found"


# ---------------------------------------------------------------- items and paging


def test_items_default_page(server):
    r = server.get("/ogc/collections/estates/items")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/geo+json"
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == 24 and fc["numberReturned"] == 10
    assert len(fc["features"]) == 10
    stamp = dt.datetime.strptime(fc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((dt.datetime.utcnow() - stamp).total_seconds()) < 120
    ids = [f["id"] for f in fc["features"]]
    assert ids == sorted(ids) and all(isinstance(i, int) for i in ids)


def test_feature_properties(server):
    by_code = {f["properties"]["code"]: f for f in all_items(server, "estates")}
    assert len(by_code) == 24
    for attrs, box in ESTATES:
        f = by_code[attrs["code"]]
        p = f["properties"]
        assert p["name"] == attrs["name"]
        assert p["address"] == attrs["address"]
        assert p["built_year"] == attrs["built_year"]
        assert p["households"] == attrs["households"]
        assert p["fee_collection_rate"] == pytest.approx(attrs["fee_collection_rate"])
        assert p["owners_cofund"] is bool(attrs["owners_cofund"])
        assert p["tier"] == attrs["tier"]
        assert p["housing_type"] == attrs["housing_type"]
        assert p["elevator_valid_until"] == "2017-06-30"
        assert p["satisfaction"] == attrs["satisfaction"]
        assert p["town_code"] == ESTATE_TOWN[attrs["code"]]
        assert p["extra"] == {"负责人": attrs["负责人"]}
        assert f["geometry"]["type"] == "MultiPolygon"
        ring = f["geometry"]["coordinates"][0][0]
        xs, ys = [c[0] for c in ring], [c[1] for c in ring]
        assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx(box, abs=1e-7)
    v = all_items(server, "violations")[0]
    assert v["geometry"]["type"] == "Point"
    assert all_items(server, "corridors")[0]["geometry"]["type"] in ("LineString",
                                                                     "MultiLineString")


def test_paging_follows_next_links_to_the_end(server):
    seen, pages, path = [], 0, "/ogc/collections/estates/items?limit=5"
    while path:
        fc = server.json(path, content_type="application/geo+json")
        pages += 1
        assert fc["numberMatched"] == 24
        assert fc["numberReturned"] == len(fc["features"])
        seen += [f["id"] for f in fc["features"]]
        links = {l["rel"]: l for l in fc["links"]}
        assert links["self"]["type"] == "application/geo+json"
        if pages == 1:
            assert "prev" not in links
        else:
            assert links["prev"]["type"] == "application/geo+json"
        nxt = links.get("next")
        if nxt:
            assert nxt["type"] == "application/geo+json"
            assert nxt["href"].startswith(server.base + "/ogc/collections/estates/items?")
            path = nxt["href"][len(server.base):]
        else:
            path = None
    assert pages == 5
    assert len(seen) == 24 and len(set(seen)) == 24 and seen == sorted(seen)


def test_prev_link_and_offset(server):
    fc = items(server, "estates", limit=5, offset=7)
    assert fc["numberReturned"] == 5
    links = {l["rel"]: l["href"] for l in fc["links"]}
    assert "offset=2" in links["prev"] and "offset=12" in links["next"]
    fc = items(server, "estates", limit=5, offset=3)
    assert "offset=0" in {l["rel"]: l["href"] for l in fc["links"]}["prev"]
    fc = items(server, "estates", offset=24)
    assert fc["numberReturned"] == 0 and fc["numberMatched"] == 24
    assert "next" not in {l["rel"] for l in fc["links"]}


def test_paging_links_keep_the_filters(server):
    fc = items(server, "estates", limit=2, tier="示范版")
    nxt = next(l["href"] for l in fc["links"] if l["rel"] == "next")
    assert "tier=" + quote("示范版") in nxt
    fc2 = server.json(nxt[len(server.base):], content_type="application/geo+json")
    assert all(f["properties"]["tier"] == "示范版" for f in fc2["features"])


def test_limit(server):
    assert items(server, "estates", limit=1)["numberReturned"] == 1
    assert items(server, "estates", limit=10000)["numberReturned"] == 24
    for big in ["10001", "20000", "99999999999999999999999"]:
        fc = items(server, "estates", limit=big)
        assert fc["numberReturned"] == 24
        assert "limit=10000" in next(l["href"] for l in fc["links"] if l["rel"] == "self")
    for bad in ["0", "-1", "abc", "1.5", "", "1e3", " 5"]:
        server.error("/ogc/collections/estates/items?" + urlencode({"limit": bad}), 400,
                     "limit")
    for bad in ["-1", "abc", "1.5", ""]:
        server.error("/ogc/collections/estates/items?" + urlencode({"offset": bad}), 400,
                     "offset")


def test_unknown_parameters_are_named(server):
    for path, name in [("/ogc/collections/estates/items?foo=1", "foo"),
                       ("/ogc/collections/estates/items?limit=5&TIER=x", "TIER"),
                       ("/ogc/collections/estates/items/1?limit=5", "limit"),
                       ("/ogc/collections/estates/items/1?tier=示范版", "tier"),
                       ("/ogc/collections?bbox=1,2,3,4", "bbox"),
                       ("/ogc/conformance?x=1", "x"),
                       ("/ogc/collections/towns/items?category=违法建筑", "category")]:
        e = server.error(quote(path, safe="/?=&,"), 400, name)
        assert e["code"] == "unknown_parameter" and name in e["message"]


# ---------------------------------------------------------------- single features


def test_single_feature(server):
    listed = {f["properties"]["code"]: f for f in all_items(server, "estates")}
    one = listed["E000"]
    r = server.get(f"/ogc/collections/estates/items/{one['id']}")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/geo+json"
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    f = r.json()
    assert f["type"] == "Feature" and f["id"] == one["id"]
    assert f["properties"] == one["properties"]
    assert f["geometry"] == one["geometry"]
    rels = {l["rel"]: l["href"] for l in f["links"]}
    assert rels["self"] == f"{server.base}/ogc/collections/estates/items/{one['id']}"
    assert rels["collection"] == f"{server.base}/ogc/collections/estates"
    assert f["properties"]["name"] == "碧江华苑（一期）"


# ---------------------------------------------------------------- bbox


def intersects(box, q):
    return not (box[2] < q[0] or box[0] > q[2] or box[3] < q[1] or box[1] > q[3])


@pytest.mark.parametrize("q", [
    (121.405, 31.005, 121.425, 31.020),  # a few estates in 江川路街道, some cut by the box
    (121.300, 30.900, 121.500, 31.200),  # everything
    (121.3505, 31.1005, 121.3515, 31.1015),  # nothing: between estates
    (121.359, 31.109, 121.3605, 31.1105),  # the corners of one estate only
    (121.0, 31.0, 121.1, 31.1),  # far away
])
def test_bbox_estates(server, q):
    got = codes(all_items(server, "estates", bbox=",".join(map(str, q))))
    want = sorted(a["code"] for a, b in ESTATES if intersects(b, q))
    assert got == want
    assert items(server, "estates", bbox=",".join(map(str, q)))["numberMatched"] == len(want)


def test_bbox_that_is_a_line_or_a_point(server):
    # no width: a north-south line through the first column of 江川路街道's estates
    assert codes(all_items(server, "estates", bbox="121.405,31.0,121.405,31.05")) == \
        ["E000", "E004", "E008", "E012"]
    # no width and no height: a point inside E005
    assert codes(all_items(server, "estates", bbox="121.417,31.017,121.417,31.017")) == \
        ["E005"]


def test_bbox_points_and_six_numbers(server):
    q = (121.405, 31.005, 121.43, 31.03)
    want = sorted(a["code"] for a, (x, y) in VIOLATIONS if q[0] <= x <= q[2] and q[1] <= y <= q[3])
    assert 0 < len(want) < 40
    assert codes(all_items(server, "violations", bbox="%s,%s,%s,%s" % q)) == want
    six = "%s,%s,-100,%s,%s,100" % q
    assert codes(all_items(server, "violations", bbox=six)) == want


def test_bbox_crs(server):
    q = (121.405, 31.005, 121.425, 31.020)
    want = sorted(a["code"] for a, b in ESTATES if intersects(b, q))
    # EPSG:4326 by the book: latitude first
    latlon = f"{q[1]},{q[0]},{q[3]},{q[2]}"
    got = codes(all_items(server, "estates", bbox=latlon, **{"bbox-crs": EPSG + "4326"}))
    assert got == want
    # Web Mercator maps a lon/lat box onto a box
    t = Transformer.from_crs("OGC:CRS84", "EPSG:3857")
    x0, y0 = t.transform(q[0], q[1])
    x1, y1 = t.transform(q[2], q[3])
    got = codes(all_items(server, "estates", bbox=f"{x0},{y0},{x1},{y1}",
                          **{"bbox-crs": EPSG + "3857"}))
    assert got == want


@pytest.mark.parametrize("bbox", [
    "1,2,3", "1,2,3,4,5", "1,2,3,4,5,6,7", "a,b,c,d", "121.4,31.0,121.5", "121.4,,31.0,121.5",
    "121.4,31.1,121.5,31.0", "121.4,31.0,121.5,95", "200,31,210,32", "1,2,3,4,", " 1,2,3,4",
    "nan,1,2,3", "inf,1,2,3", "",
])
def test_bad_bbox(server, bbox):
    server.error("/ogc/collections/estates/items?" + urlencode({"bbox": bbox}), 400, "bbox")


def test_bad_crs_parameters(server):
    server.error("/ogc/collections/estates/items?crs=EPSG:4326", 400, "crs")
    server.error("/ogc/collections/estates/items?" + urlencode({"crs": EPSG + "2000"}), 400,
                 "crs")
    server.error("/ogc/collections/estates/items?" +
                 urlencode({"bbox": "1,2,3,4", "bbox-crs": "EPSG:3857"}), 400, "bbox-crs")
    server.error("/ogc/collections/estates/items?" +
                 urlencode({"bbox": "31,121,30,122", "bbox-crs": EPSG + "4326"}), 400, "bbox")


# ---------------------------------------------------------------- crs


def first_ring(f):
    g = f["geometry"]
    return g["coordinates"][0][0] if g["type"] == "MultiPolygon" else g["coordinates"][0]


@pytest.mark.parametrize("epsg,tol", [("3857", 0.002), ("4549", 0.002), ("4326", 1e-7),
                                      ("4490", 1e-7)])
def test_crs_output_matches_proj(server, epsg, tol):
    plain = {f["id"]: f for f in all_items(server, "estates")}
    r = server.get("/ogc/collections/estates/items?limit=100&" +
                   urlencode({"crs": EPSG + epsg}))
    assert r.status == 200
    assert r.headers["Content-Crs"] == f"<{EPSG}{epsg}>"
    # pyproj without always_xy: the authority's axis order, as OGC API requires
    t = Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}")
    for f in r.json()["features"]:
        for (a, b), (lon, lat) in zip(first_ring(f), first_ring(plain[f["id"]])):
            ea, eb = t.transform(lon, lat)
            assert a == pytest.approx(ea, abs=tol) and b == pytest.approx(eb, abs=tol)
    one = server.get("/ogc/collections/estates/items/1?" + urlencode({"crs": EPSG + epsg}))
    assert one.headers["Content-Crs"] == f"<{EPSG}{epsg}>"


def test_crs_axis_order(server):
    plain = all_items(server, "violations")[0]["geometry"]["coordinates"]
    latlon = server.json("/ogc/collections/violations/items?limit=1&" +
                         urlencode({"crs": EPSG + "4326"}),
                         content_type="application/geo+json")["features"][0]
    assert latlon["geometry"]["coordinates"] == [plain[1], plain[0]]
    ne = server.json("/ogc/collections/violations/items?limit=1&" +
                     urlencode({"crs": EPSG + "4549"}),
                     content_type="application/geo+json")["features"][0]
    northing, easting = ne["geometry"]["coordinates"]
    assert 3.3e6 < northing < 3.6e6 and 4.0e5 < easting < 7.0e5


# ---------------------------------------------------------------- attribute filters


def test_attribute_filters(server):
    def want(pred):
        return sorted(a["code"] for a, _ in ESTATES if pred(a))

    assert codes(all_items(server, "estates", tier="示范版")) == want(lambda a: a["tier"] == "示范版")
    assert codes(all_items(server, "estates", town_code="310112102")) == \
        sorted(c for c, t in ESTATE_TOWN.items() if t == "310112102")
    got = codes(all_items(server, "estates", town_code="310112001", tier="提升版"))
    assert got == want(lambda a: a["tier"] == "提升版" and ESTATE_TOWN[a["code"]] == "310112001")
    assert got
    assert codes(all_items(server, "estates", built_year="1985")) == ["E005"]
    assert codes(all_items(server, "estates", owners_cofund="true")) == \
        want(lambda a: a["owners_cofund"] == 1)
    assert codes(all_items(server, "estates", owners_cofund="否")) == \
        want(lambda a: a["owners_cofund"] == 0)
    assert codes(all_items(server, "estates", name="碧江华苑（一期）")) == ["E000"]
    assert codes(all_items(server, "violations", category="违法经营")) == \
        sorted(a["code"] for a, _ in VIOLATIONS if a["category"] == "违法经营")
    assert items(server, "estates", tier="基础版", limit=1)["numberMatched"] == 6
    assert all_items(server, "estates", name="no such estate") == []


def test_bad_attribute_filters(server):
    for params, name in [({"tier": "金版"}, "tier"), ({"built_year": "abc"}, "built_year"),
                         ({"owners_cofund": "maybe"}, "owners_cofund"),
                         ({"fee_collection_rate": "lots"}, "fee_collection_rate"),
                         ({"tier": ""}, "tier"), ({"elevator_valid_until": "2017-02-30"},
                                                 "elevator_valid_until")]:
        e = server.error("/ogc/collections/estates/items?" + urlencode(params), 400, name)
        assert e["code"] == "invalid_parameter"


# ---------------------------------------------------------------- datetime


def reported(attrs):
    return dt.datetime.strptime(attrs["reported_at"], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=SHANGHAI)


def when(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("value,pred", [
    ("2016-01-08", lambda t: t.date() == dt.date(2016, 1, 8)),
    ("2016-01-08T10:00:00+08:00", lambda t: t == when("2016-01-08T10:00:00+08:00")),
    ("2016-01-08T02:00:00Z", lambda t: t == when("2016-01-08T10:00:00+08:00")),
    ("2016-01-08T02:00:00.000Z", lambda t: t == when("2016-01-08T10:00:00+08:00")),
    ("2016-02-01T00:00:00Z/2016-03-01T00:00:00Z",
     lambda t: when("2016-02-01T00:00:00Z") <= t <= when("2016-03-01T00:00:00Z")),
    ("2016-02-01/2016-03-01",
     lambda t: dt.date(2016, 2, 1) <= t.date() <= dt.date(2016, 3, 1)),
    ("../2016-01-31", lambda t: t.date() <= dt.date(2016, 1, 31)),
    ("/2016-01-31", lambda t: t.date() <= dt.date(2016, 1, 31)),
    ("2016-06-01T00:00:00Z/..", lambda t: t >= when("2016-06-01T00:00:00Z")),
    ("2016-06-01T00:00:00Z/", lambda t: t >= when("2016-06-01T00:00:00Z")),
    ("../..", lambda t: True),
    ("2016-04-01T00:00:00-05:00/2016-05-01T00:00:00-05:00",
     lambda t: when("2016-04-01T00:00:00-05:00") <= t <= when("2016-05-01T00:00:00-05:00")),
    ("2020-01-01/..", lambda t: False),
])
def test_datetime_on_violations(server, value, pred):
    want = sorted(a["code"] for a, _ in VIOLATIONS if pred(reported(a)))
    fc = items(server, "violations", datetime=value, limit=100)
    assert codes(fc["features"]) == want, value
    assert fc["numberMatched"] == len(want)


@pytest.mark.parametrize("value", [
    "2016-02-30", "yesterday", "2016-03-01/2016-02-01", "2016-01-01T25:00:00Z", "..",
    "2016-01-01/2016-02-01/2016-03-01", "2016-1-1", "2016-01-01T10:00Z", "",
])
def test_bad_datetime(server, value):
    server.error("/ogc/collections/violations/items?" + urlencode({"datetime": value}), 400,
                 "datetime")


def test_datetime_on_a_layer_without_time_is_400(server):
    e = server.error("/ogc/collections/estates/items?datetime=2016-01-01", 400, "datetime")
    assert "violations" in e["message"]


def test_datetime_with_bbox_and_filter(server):
    q = (121.40, 31.00, 121.43, 31.02)
    want = sorted(a["code"] for a, (x, y) in VIOLATIONS
                  if q[0] <= x <= q[2] and q[1] <= y <= q[3] and a["status"] == "open"
                  and reported(a) >= when("2016-03-01T00:00:00+08:00"))
    got = codes(all_items(server, "violations", bbox="%s,%s,%s,%s" % q, status="open",
                          datetime="2016-03-01T00:00:00+08:00/.."))
    assert got == want and want


# ---------------------------------------------------------------- GDAL as a client


def ogr_env():
    return dict(os.environ, CPL_DEBUG="OFF", GDAL_HTTP_TIMEOUT="60", LC_ALL="C.UTF-8")


@pytest.mark.skipif(not shutil.which("ogrinfo"), reason="gdal-bin not installed")
def test_ogrinfo_lists_the_six_layers(server):
    r = subprocess.run(["ogrinfo", "-ro", f"OAPIF:{server.base}/ogc"], capture_output=True,
                       text=True, env=ogr_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^\d+: (\S+)", r.stdout, re.M)
    assert names == COLLECTIONS, r.stdout


@pytest.mark.skipif(not shutil.which("ogr2ogr"), reason="gdal-bin not installed")
def test_ogr2ogr_copies_every_estate_with_its_attributes(server, work):
    out = work / "estates_copy.geojson"
    r = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server.base}/ogc",
                        "estates"], capture_output=True, text=True, env=ogr_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    ds = ogr.Open(str(out))
    lyr = ds.GetLayer(0)
    assert lyr.GetFeatureCount() == 24
    defn = lyr.GetLayerDefn()
    types = {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetType()
             for i in range(defn.GetFieldCount())}
    assert types["satisfaction"] == ogr.OFTReal  # typed by the schema, null on page 1
    assert types["built_year"] in (ogr.OFTInteger, ogr.OFTInteger64)
    copied = {}
    for f in lyr:
        copied[f.GetField("code")] = (f.items(), f.GetGeometryRef().GetEnvelope())
    assert sorted(copied) == sorted(a["code"] for a, _ in ESTATES)
    for attrs, box in ESTATES:
        got, env = copied[attrs["code"]]
        assert got["name"] == attrs["name"]
        assert got["address"] == attrs["address"]
        assert got["tier"] == attrs["tier"]
        assert got["housing_type"] == attrs["housing_type"]
        assert got["built_year"] == attrs["built_year"]
        assert got["fee_collection_rate"] == pytest.approx(attrs["fee_collection_rate"])
        assert bool(got["owners_cofund"]) == bool(attrs["owners_cofund"])
        assert got["satisfaction"] == attrs["satisfaction"]
        assert got["town_code"] == ESTATE_TOWN[attrs["code"]]
        assert json.loads(got["extra"]) == {"负责人": attrs["负责人"]} \
            if isinstance(got["extra"], str) else got["extra"] == {"负责人": attrs["负责人"]}
        assert (env[0], env[2], env[1], env[3]) == pytest.approx(box, abs=1e-7)


@pytest.mark.skipif(not shutil.which("ogr2ogr"), reason="gdal-bin not installed")
def test_ogr2ogr_copies_violations_with_times_and_filters(server, work):
    out = work / "violations_copy.geojson"
    r = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server.base}/ogc",
                        "violations", "-oo", "PAGE_SIZE=7"], capture_output=True, text=True,
                       env=ogr_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    ds = ogr.Open(str(out))
    lyr = ds.GetLayer(0)
    got = {f.GetField("code"): f for f in lyr}
    assert len(got) == 40
    for attrs, (x, y) in VIOLATIONS:
        f = got[attrs["code"]]
        assert f.GetField("category") == attrs["category"]
        assert f.GetField("description") == attrs["description"]
        assert f.GetFieldAsString("reported_at").replace("/", "-").replace(" ", "T") == \
            attrs["reported_at"]
        pt = f.GetGeometryRef()
        assert (pt.GetX(), pt.GetY()) == pytest.approx((x, y), abs=1e-7)
    # a spatial and an attribute filter, pushed to the server or evaluated by GDAL
    r = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{server.base}/ogc", "violations",
                        "-spat", "121.405", "31.005", "121.43", "31.03",
                        "-where", "category = '违法经营'"],
                       capture_output=True, text=True, env=ogr_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    want = sum(1 for a, (x, y) in VIOLATIONS if a["category"] == "违法经营"
               and 121.405 <= x <= 121.43 and 31.005 <= y <= 31.03)
    assert f"Feature Count: {want}" in r.stdout, r.stdout


# ---------------------------------------------------------------- the command line


def test_serve_help(cli):
    r = cli("serve", "--help")
    assert r.rc == 0, r
    for opt in ["--db", "--listen", "--threads", "--cors", "--access-log", "--help",
                "127.0.0.1:8080", "SIGTERM"]:
        assert opt in r.out, opt


@pytest.mark.parametrize("args", [
    ["--threads", "0"], ["--threads", "abc"], ["--threads", "100000"],
    ["--listen", "abc"], ["--listen", "1.2.3:80"], ["--listen", "127.0.0.1:70000"],
    ["--listen", "example.org:80"], ["--cors", "example.org"], ["--cors", "https://a.b/path"],
    ["--bogus"], ["extra-argument"], ["--listen"],
])
def test_serve_usage_errors(cli, database, args):
    r = cli("serve", "--db", database, *args, timeout=30)
    assert r.rc == 2, r
    assert r.err


def test_serve_without_database_fails(cli, tmp_path):
    r = cli("serve", "--db", tmp_path / "missing.sqlite", "--listen", str(free_port()),
            timeout=30)
    assert r.rc == 1, r
    assert "missing.sqlite" in r.err


def test_serve_port_in_use_fails(cli, server, database):
    r = cli("serve", "--db", database, "--listen", f"127.0.0.1:{server.port}", timeout=30)
    assert r.rc == 1, r


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown(bin_path, database, work, sig):
    s = Server(bin_path, database, work)
    assert s.get("/ogc/collections/estates/items?limit=100").status == 200
    # a keep-alive connection left open must not hold the shutdown
    idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    idle.request("GET", "/healthz")
    idle.getresponse().read()
    start = time.time()
    rc = s.stop(sig)
    assert rc == 0, s.stderr()
    assert time.time() - start < 10
    assert "stopped" in s.stderr()
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
