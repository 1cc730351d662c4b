"""/api: the analyses, the estate card and the token-guarded writes (issue 4,
sections 5, 6 and 7).

The real server runs on a free loopback port over a small database made here with
`estatemap init` and `import`, with a tokens file written here (one token per role).
Expected answers come from the fixture data or from the CLI (`estatemap analyze`),
never from the server itself. Writes are checked in the database file: the row, its
derived links, the audit row with the values before and after, and layer_versions.

Failed authentications are rate-limited per client address, so tests that present
wrong tokens send them from their own loopback address (127.0.0.N) and never reach
the limit by accident; the rate-limit test reaches it on purpose.
"""

import csv
import datetime as dt
import hashlib
import http.client
import io
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import (Response, RunningServer, box_wkt, free_port, init_db, query, run_cli,
                      scalar, write_geojson)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ANALYSES = ["corridors", "density", "hotspots", "eligibility", "tiers", "progress"]

TOKENS = {  # role: (name, token)
    "inspector": ("网格员-07", "insp-Zq3xV9pLr2Kd8sWm"),
    "planner": ("planner.li", "plan-H7tYc4Nq1Bv6Jx0e"),
    "admin": ("admin", "admn-P5gRk2Ld9Fw3Ts8u"),
}
WRONG = "wrong-Aa1Bb2Cc3Dd4Ee5F"
ALL_SECRETS = [t for _, t in TOKENS.values()] + [WRONG]

T1, T2 = "310112001", "310112102"
TOWNS = {T1: ("江川路街道", (121.40, 31.00, 121.45, 31.05)),
         T2: ("莘庄镇", (121.35, 31.10, 121.40, 31.15))}
GRID = {T1 + "001001": (121.40, 31.00, 121.425, 31.05),
        T1 + "001002": (121.425, 31.00, 121.45, 31.05),
        T2 + "001001": (121.35, 31.10, 121.40, 31.15)}


def estate_box(i):
    """E000-E005 in a 3 x 2 block in 江川路街道, E006-E007 in 莘庄镇."""
    if i < 6:
        x0, y0, col, row = 121.402, 31.002, i % 3, i // 3
    else:
        x0, y0, col, row = 121.352, 31.102, i - 6, 0
    x, y = round(x0 + col * 0.011, 6), round(y0 + row * 0.011, 6)
    return (x, y, round(x + 0.008, 6), round(y + 0.008, 6))


def estate_attrs(i):
    return {
        "code": f"E{i:03d}",
        "name": f"测试小区{i}号",
        "address": f"沧源路{100 + i}弄",
        "built_year": 1985 + i,
        "housing_type": "售后公房",
        "households": 200 + i,
        "fee_collection_rate": 0.9 if i % 2 == 0 else 0.6,
        "owners_committee": "operating",
        "owners_cofund": 1,
        "tianyuan_model": 1,
        "four_in_one": 1,
        "elevator_count": 0,
        "rain_sewage_works": "planned" if i == 0 else "none",
        "tier": "示范版" if i == 0 else None,
        "stage": "none",
        "负责人": f"张{i}",
    }


ESTATES = [(estate_attrs(i), estate_box(i)) for i in range(8)]
CARD_ESTATE = "E001"  # the estate with the violations below
E001_BOX = estate_box(1)


def card_violations():
    """Reports inside E001 (west grid cell), 2016, with a gap in the months."""
    spec = [  # category, reported, resolved
        ("违法建筑", "2016-01-05T09:00:00", None),
        ("违法建筑", "2016-01-20T10:30:00", "2016-02-03T16:00:00"),
        ("乱停车", "2016-03-02T08:00:00", None),
        ("乱停车", "2016-06-11T19:45:00", "2016-06-12T09:00:00"),
        ("违法经营", "2016-06-30T23:59:00", "2016-08-01T00:00:00"),
    ]
    out = []
    for i, (cat, rep, res) in enumerate(spec):
        attrs = {"code": f"V{i:03d}", "category": cat, "reported_at": rep,
                 "status": "resolved" if res else "open", "source": "网格巡查",
                 "description": f"第{i}号"}
        if res:
            attrs["resolved_at"] = res
        lon = round(E001_BOX[0] + 0.001 + i * 0.001, 6)
        out.append((attrs, f"POINT({lon} {E001_BOX[1] + 0.004})"))
    return out


VIOLATIONS = card_violations()
INSIDE_E001 = (round(E001_BOX[0] + 0.004, 6), round(E001_BOX[1] + 0.002, 6))


def build_database(bin_path, work, name="api.sqlite"):
    db = init_db(bin_path, work / name)

    def load(layer, features):
        path = work / f"{name}-{layer}.geojson"
        write_geojson(path, features)
        r = run_cli(bin_path, "import", layer, path, "--db", db)
        assert r.rc == 0, r

    load("towns", [({"code": c, "name": n}, box_wkt(*b)) for c, (n, b) in TOWNS.items()])
    load("grid", [({"code": c, "town_code": c[:9]}, box_wkt(*b)) for c, b in GRID.items()])
    load("estates", [(a, box_wkt(*b)) for a, b in ESTATES])
    load("violations", VIOLATIONS)
    load("corridors", [({"type": "railway", "name": "沪杭铁路"},
                        "LINESTRING(121.35 31.0012,121.45 31.0012)"),
                       ({"type": "river", "name": "淀浦河"},
                        "LINESTRING(121.36 31.08,121.44 31.09,121.45 31.12)")])
    load("zones", [({"kind": "key_remediation", "name": "重点整治区域一"},
                    box_wkt(121.40, 31.00, 121.412, 31.012))])
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO estate_renovation(estate_code, item_id, status, budget_yuan,"
                    " owners_share) VALUES (?, ?, ?, ?, ?)",
                    [(CARD_ESTATE, 1, "done", 120000.0, 0.1),
                     (CARD_ESTATE, 9, "planned", None, None)])
    con.commit()
    con.close()
    return db


def write_tokens(path, extra=""):
    lines = ["# estatemap tokens: NAME ROLE SHA256(token)", ""]
    for role, (name, token) in TOKENS.items():
        lines.append(f"{name} {role} {hashlib.sha256(token.encode()).hexdigest()}  # {role}")
    Path(path).write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------- the server


def auth(role):
    return {"Authorization": f"Bearer {TOKENS[role][1]}"}


class Server(RunningServer):
    """The server; call() sends JSON bodies and a role's token, from `source`."""

    def __init__(self, bin_path, db, work, *extra, user=None, **kw):
        super().__init__(bin_path, db, work, *extra, user=user, timeout=120, **kw)

    def call(self, method, path, body=None, role=None, headers=None, source="127.0.0.1"):
        h = dict(headers or {})
        if role:
            h.update(auth(role))
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        return self.request(path, method=method, headers=h, body=body, source=source)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)


def error_of(r, status, parameter="ANY", code=None):
    """Check a JSON error answer: status, shape, parameter and code."""
    assert r.status == status, r
    assert r.headers["Content-Type"] == "application/json", r
    e = r.json()["error"]
    assert set(e) == {"code", "message", "parameter"}, e
    assert isinstance(e["code"], str) and e["code"] and e["message"], e
    if parameter != "ANY":
        assert e["parameter"] == parameter, e
    if code:
        assert e["code"] == code, e
    return e


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def database(bin_path, work):
    return build_database(bin_path, work)


@pytest.fixture(scope="module")
def tokens_file(work):
    return write_tokens(work / "tokens.txt")


@pytest.fixture(scope="module")
def server(bin_path, database, work, tokens_file):
    s = Server(bin_path, database, work, "--tokens", tokens_file)
    yield s
    rc = s.stop()
    assert rc == 0, s.stderr()


def db_state(db):
    """What a failed write must leave untouched."""
    return (query(db, "SELECT layer, version FROM layer_versions ORDER BY layer"),
            scalar(db, "SELECT count(*) FROM audit_log"),
            scalar(db, "SELECT count(*) FROM violations"),
            query(db, "SELECT * FROM estates ORDER BY id"),
            query(db, "SELECT * FROM estate_renovation ORDER BY estate_code, item_id"))


def version(db, layer):
    return scalar(db, "SELECT version FROM layer_versions WHERE layer = ?", (layer,))


def last_audit(db):
    rows = query(db, "SELECT id, at, actor, role, client, method, path, layer, feature_id,"
                     " feature_code, before_json, after_json FROM audit_log ORDER BY id DESC"
                     " LIMIT 1")
    assert rows, "no audit row"
    keys = ["id", "at", "actor", "role", "client", "method", "path", "layer", "feature_id",
            "feature_code", "before", "after"]
    row = dict(zip(keys, rows[0]))
    row["before"] = json.loads(row["before"]) if row["before"] is not None else None
    row["after"] = json.loads(row["after"]) if row["after"] is not None else None
    return row


def estate_id(db, code):
    return scalar(db, "SELECT id FROM estates WHERE code = ?", (code,))


def report(lon, lat, **props):
    props.setdefault("category", "乱堆杂物")
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def shanghai_now():
    return dt.datetime.now(SHANGHAI).replace(tzinfo=None)


def parse_local(text):
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


# ---------------------------------------------------------------- schema


def test_schema_has_the_audit_log(database):
    assert scalar(database, "PRAGMA user_version") == 3
    cols = [r[1] for r in query(database, "PRAGMA table_info(audit_log)")]
    assert cols == ["id", "at", "actor", "role", "client", "method", "path", "layer",
                    "feature_id", "feature_code", "before_json", "after_json"]


def test_server_migrates_an_older_file(bin_path, work, tokens_file):
    old = init_db(bin_path, work / "v2.sqlite", "--schema-version", "2")
    assert scalar(old, "PRAGMA user_version") == 2
    s = Server(bin_path, old, work, "--tokens", tokens_file)
    try:
        assert scalar(old, "PRAGMA user_version") == 3
        assert scalar(old, "SELECT count(*) FROM audit_log") == 0
    finally:
        assert s.stop() == 0, s.stderr()


def test_audit_log_is_append_only(database):
    con = sqlite3.connect(database)
    try:
        con.execute("INSERT INTO audit_log(at, actor, method, path, layer) VALUES "
                    "('2016-11-01T10:00:00+08:00', 'test', 'POST', '/x', 'violations')")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE audit_log SET actor = 'someone else'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM audit_log")
    finally:
        con.rollback()
        con.close()


# ---------------------------------------------------------------- index and analyses


def registered(server):
    r = server.get("/api/analysis")
    assert r.status == 200, r
    return {a["name"]: a for a in r.json()}


def test_index(server):
    r = server.get("/api")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r
    doc = r.json()
    paths = {e["path"]: e["methods"] for e in doc["endpoints"]}
    assert "POST" in paths["/api/violations"]
    assert "PATCH" in paths["/api/estates/{id}"] and "PUT" in paths["/api/estates/{id}/renovation"]
    assert {a["name"] for a in doc["analyses"]} == set(registered(server))
    assert server.get("/api/").json() == doc
    error_of(server.get("/api?x=1"), 400, "x", "unknown_parameter")
    error_of(server.get("/api/nothing"), 404)
    error_of(server.get("/api/estates"), 404)
    error_of(server.get("/api/estates/E001/items"), 404)


# query parameters and the same CLI options, one case per analysis
ANALYSIS_CASES = {
    "corridors": ({"town": T1, "all": "true", "buffer": "railway=200"},
                  ["--town", T1, "--all", "--buffer", "railway=200"]),
    "density": ({"by": "estate", "group": "五违"}, ["--by", "estate", "--group", "五违"]),
    "hotspots": ({"band": "800", "status": "open"}, ["--band", "800", "--status", "open"]),
    "eligibility": ({"town": T1, "failing": "true", "as-of": "2016-12-01"},
                    ["--town", T1, "--failing", "--as-of", "2016-12-01"]),
    "tiers": ({"by": "estate", "as-of": "2016-12-01"}, ["--by", "estate", "--as-of", "2016-12-01"]),
    "progress": ({"as-of": "2017-06-30", "town": T1}, ["--as-of", "2017-06-30", "--town", T1]),
}


def need(server, name):
    a = registered(server).get(name)
    if a is None:
        pytest.skip(f"analysis '{name}' is not registered in src/analysis.c yet")
    return a


def cli_json(bin_path, db, name, args, fmt="json"):
    r = run_cli(bin_path, "analyze", name, *args, "--format", fmt, "--db", db)
    assert r.rc == 0, r
    return json.loads(r.out)


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_default_format(server, name):
    a = need(server, name)
    r = server.get(f"/api/analysis/{name}")
    assert r.status == 200, r
    doc = r.json()
    assert "summary" in doc and isinstance(doc["summary"], dict)
    if a["geometry"]:
        assert r.headers["Content-Type"] == "application/geo+json"
        assert doc["type"] == "FeatureCollection"
        for f in doc["features"]:
            assert f["type"] == "Feature" and "properties" in f
    else:
        assert r.headers["Content-Type"] == "application/json"
        assert {"columns", "rows", "summary"} <= set(doc)


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_takes_the_cli_parameters(server, bin_path, database, name):
    need(server, name)
    params, args = ANALYSIS_CASES[name]
    from urllib.parse import urlencode
    r = server.get(f"/api/analysis/{name}?{urlencode({**params, 'format': 'json'})}")
    assert r.status == 200, r
    assert r.json() == cli_json(bin_path, database, name, args)
    a = registered(server)[name]
    if a["geometry"]:
        r = server.get(f"/api/analysis/{name}?{urlencode(params)}")
        assert r.headers["Content-Type"] == "application/geo+json"
        assert r.json() == cli_json(bin_path, database, name, args, "geojson")


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_csv_and_lang(server, name):
    need(server, name)
    rows = server.get(f"/api/analysis/{name}?format=json").json()["rows"]
    r = server.get(f"/api/analysis/{name}?format=csv")
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(r.text)))
    assert len(table) == len(rows) + 1
    zh = server.get(f"/api/analysis/{name}?format=json&lang=zh").json()
    assert any(c["label"] != c["name"] for c in zh["columns"])


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_parameter_errors(server, name):
    a = need(server, name)
    e = error_of(server.get(f"/api/analysis/{name}?bogus=1"), 400, "bogus", "unknown_parameter")
    assert "bogus" in e["message"]
    # the CLI's own options are not parameters here
    error_of(server.get(f"/api/analysis/{name}?db=/etc/passwd"), 400, "db")
    error_of(server.get(f"/api/analysis/{name}?format=xml"), 400, "format")
    error_of(server.get(f"/api/analysis/{name}?format=table"), 400, "format")
    error_of(server.get(f"/api/analysis/{name}?lang=fr"), 400, "lang")
    if not a["geometry"]:
        error_of(server.get(f"/api/analysis/{name}?format=geojson"), 400, "format")
    bad = {"corridors": "town=12", "density": "by=street", "hotspots": "band=-5",
           "eligibility": "as-of=2016-13-45", "tiers": "by=nothing", "progress": "as-of=yesterday"}
    key = bad[name].split("=")[0]
    error_of(server.get(f"/api/analysis/{name}?{bad[name]}"), 400, key)


def test_unknown_analysis(server):
    e = error_of(server.get("/api/analysis/nothing"), 404)
    for name in registered(server):
        assert name in e["message"]


# ---------------------------------------------------------------- the estate card


def expected_violations():
    by_cat = {}
    for attrs, _ in VIOLATIONS:
        c = by_cat.setdefault(attrs["category"], {"open": 0, "resolved": 0, "total": 0})
        c[attrs["status"]] += 1
        c["total"] += 1
    return by_cat


def test_estate_card(server, database):
    eid = estate_id(database, CARD_ESTATE)
    r = server.get(f"/api/estates/{eid}?as-of=2016-12-01")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r
    card = r.json()
    assert server.get(f"/api/estates/{CARD_ESTATE}?as-of=2016-12-01").json() == card
    assert card["id"] == eid and card["code"] == CARD_ESTATE and card["name"] == "测试小区1号"
    attrs = card["attributes"]
    fixture = estate_attrs(1)
    for k in ["address", "built_year", "housing_type", "households", "fee_collection_rate",
              "owners_committee"]:
        assert attrs[k] == fixture[k], k
    assert attrs["owners_cofund"] is True and attrs["four_in_one"] is True
    assert attrs["extra"] == {"负责人": "张1"}
    assert attrs["town_code"] == T1
    assert card["town"] == {"code": T1, "name": "江川路街道"}
    assert card["bbox"] == pytest.approx(list(E001_BOX), abs=1e-6)

    # the seven prerequisites, as the eligibility analysis judges them
    elig = card["eligibility"]
    assert elig["as_of"] == "2016-12-01"
    pre = elig["prerequisites"]
    assert [p["number"] for p in pre] == list(range(1, 8))
    for p in pre:
        assert isinstance(p["pass"], bool) and p["reason"] and p["reason_zh"], p
        assert p["name_en"] and p["name_zh"] and p["key"]
    by_key = {p["key"]: p for p in pre}
    assert by_key["fee_collection"]["pass"] is False  # 0.6 < 0.8
    assert by_key["no_wuwei"]["pass"] is False  # an open 违法建筑
    assert elig["eligible"] is False and elig["in_scope"] is True
    if "eligibility" in registered(server):
        rows = server.get(f"/api/analysis/eligibility?format=json&town={T1}&as-of=2016-12-01")
        row = next(x for x in rows.json()["rows"] if x["code"] == CARD_ESTATE)
        assert [row[f"p{n}_pass"] for n in range(1, 8)] == [p["pass"] for p in pre]
        assert [row[f"p{n}_reason"] for n in range(1, 8)] == [p["reason"] for p in pre]
        assert row["eligible"] == elig["eligible"]
        prio = card["priority"]
        assert [row[f"prio{n}"] for n in range(1, 4)] == [c["met"] for c in prio["criteria"]]
        assert row["priority_score"] == prio["score"]
    assert len(card["priority"]["criteria"]) == 3

    # violations: by category and status, monthly, latest
    v = card["violations"]
    exp = expected_violations()
    assert v["total"] == len(VIOLATIONS)
    assert {c["category"]: {k: c[k] for k in ("open", "resolved", "total")}
            for c in v["by_category"]} == exp
    assert v["by_status"] == {"open": 2, "resolved": 3}
    assert v["by_group"]["五违"]["total"] == 3 and v["by_group"]["六乱"]["total"] == 2
    months = [m["month"] for m in v["monthly"]]
    assert months == ["2016-01", "2016-02", "2016-03", "2016-04", "2016-05", "2016-06",
                      "2016-07", "2016-08"]
    series = {m["month"]: m for m in v["monthly"]}
    assert series["2016-01"]["reported"] == 2 and series["2016-02"]["resolved"] == 1
    assert series["2016-04"]["reported"] == 0 and series["2016-06"]["reported"] == 2
    assert sum(m["reported"] for m in v["monthly"]) == len(VIOLATIONS)
    assert sum(m["resolved"] for m in v["monthly"]) == 3
    assert v["monthly"][-1]["open_at_end"] == 2
    assert v["latest"]["properties"]["code"] == "V004"
    assert v["latest"]["geometry"]["type"] == "Point"

    # renovation items joined with their names
    ren = card["renovation"]
    assert [i["item_id"] for i in ren["items"]] == [1, 9]
    assert ren["items"][0]["name_zh"] == "房屋修缮" and ren["items"][0]["status"] == "done"
    assert ren["items"][1]["name_en"] == "public greenery"
    assert ren["count"] == 2 and ren["by_status"] == {"done": 1, "planned": 1}
    assert ren["budget_yuan"] == 120000
    links = {l["rel"]: l["href"] for l in card["links"]}
    assert links["feature"].endswith(f"/ogc/collections/estates/items/{eid}")
    assert server.call("HEAD", f"/api/estates/{eid}").status == 200


def test_estate_card_errors(server):
    error_of(server.get("/api/estates/NOPE"), 404)
    error_of(server.get("/api/estates/999999"), 404)
    error_of(server.get("/api/estates/E001?as-of=2016-02-30"), 400, "as-of")
    error_of(server.get("/api/estates/E001?town=1"), 400, "town", "unknown_parameter")
    r = server.get("/api/estates/E001/renovation")
    assert r.status == 200 and [i["item_id"] for i in r.json()["items"]] == [1, 9]


def test_violation_read(server, database):
    vid = scalar(database, "SELECT id FROM violations WHERE code = 'V001'")
    r = server.get(f"/api/violations/{vid}")
    assert r.status == 200 and r.headers["Content-Type"] == "application/geo+json", r
    f = r.json()
    assert f["id"] == vid and f["properties"]["estate_code"] == CARD_ESTATE
    assert f["properties"]["resolved_at"] == "2016-02-03T16:00:00"
    error_of(server.get("/api/violations/0"), 404)
    error_of(server.get("/api/violations/abc"), 404)
    error_of(server.get("/api/violations/99999999"), 404)


# ---------------------------------------------------------------- roles and tokens


def write_cases(database, who="admin"):
    """(name, method, path, body) for each write; each body is valid and, for each
    role, changes something (an unchanged PATCH writes no audit row)."""
    e5 = estate_id(database, "E005")
    vid = scalar(database, "SELECT id FROM violations WHERE code = 'V002'")
    n = list(TOKENS).index(who) + 1 if who in TOKENS else 0
    stage = ["none", "planning", "implementing", "completed"][n]
    return [
        ("post_violation", "POST", "/api/violations", report(*INSIDE_E001, category="乱停车")),
        ("patch_violation", "PATCH", f"/api/violations/{vid}", {"description": f"已核实{n}"}),
        ("patch_estate", "PATCH", f"/api/estates/{e5}", {"stage": stage}),
        ("put_renovation", "PUT", f"/api/estates/{e5}/renovation", [{"item_id": 4 + n}]),
    ]


ALLOWED = {  # write -> roles that may make it
    "post_violation": {"inspector", "planner", "admin"},
    "patch_violation": {"inspector", "planner", "admin"},
    "patch_estate": {"planner", "admin"},
    "put_renovation": {"planner", "admin"},
}
SUCCESS = {"POST": 201, "PATCH": 200, "PUT": 200}


@pytest.mark.parametrize("who", ["none", "wrong", "malformed", "inspector", "planner", "admin"])
def test_role_matrix_for_writes(server, database, who):
    source = "127.0.0.2"  # wrong tokens: 2 x 4 here, under the limit of 10 a minute
    for name, method, path, body in write_cases(database, who):
        headers = {}
        if who == "wrong":
            headers["Authorization"] = f"Bearer {WRONG}"
        elif who == "malformed":
            headers["Authorization"] = f"Basic {WRONG}"
        elif who != "none":
            headers.update(auth(who))
        before = db_state(database)
        r = server.call(method, path, body, headers=headers, source=source)
        if who in ("none", "wrong", "malformed"):
            e = error_of(r, 401, code="unauthorized")
            assert r.headers["WWW-Authenticate"].startswith("Bearer realm=")
            if who != "none":
                assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
            assert WRONG not in r.text
            assert db_state(database) == before, name
        elif who not in ALLOWED[name]:
            e = error_of(r, 403, code="forbidden")
            assert who in e["message"]
            assert db_state(database) == before, name
        else:
            assert r.status == SUCCESS[method], (name, r)
            assert last_audit(database)["actor"] == TOKENS[who][0]
    # reads stay open without --read-token
    assert server.get("/api/estates/E001").status == 200


@pytest.mark.parametrize("who,status", [("none", 401), ("wrong", 401), ("inspector", 403),
                                        ("planner", 403), ("admin", 200)])
def test_audit_endpoint_is_for_admins(server, who, status):
    headers = {} if who == "none" else \
        {"Authorization": f"Bearer {WRONG}"} if who == "wrong" else auth(who)
    r = server.get("/api/audit?limit=5", headers=headers, source="127.0.0.5")
    if status == 200:
        assert r.status == 200, r
        doc = r.json()
        assert doc["numberReturned"] <= 5 and doc["numberMatched"] >= doc["numberReturned"]
    else:
        error_of(r, status)


def test_read_token(bin_path, database, work, tokens_file):
    s = Server(bin_path, database, work, "--tokens", tokens_file, "--read-token",
               "--cors", "https://planner.example.org")
    try:
        reads = ["/api/estates/E001", "/api/analysis", "/api", "/ogc/collections",
                 "/ogc/collections/estates/items?limit=1", "/tiles/estates/14/13720/6704.mvt"]
        for path in reads:
            error_of(s.get(path, source="127.0.0.6"), 401)
            r = s.get(path, headers={"Authorization": f"Bearer {WRONG}"}, source="127.0.0.6")
            error_of(r, 401)
            assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
            for role in TOKENS:
                r = s.get(path, role=role, source="127.0.0.6")
                assert r.status != 401 and r.status != 403, (path, role, r)
                if not path.startswith("/tiles"):  # tiles may still be in the making
                    assert r.status == 200, (path, role, r)
        # liveness, metrics and the web app stay open
        assert s.get("/healthz").status == 200
        # writes: same rules as without --read-token
        e5 = estate_id(database, "E005")
        error_of(s.call("PATCH", f"/api/estates/{e5}", {"stage": "planning"}, role="inspector"),
                 403)
        # CORS preflight for a write: no token needed, methods and Authorization allowed
        r = s.call("OPTIONS", "/api/violations", headers={
            "Origin": "https://planner.example.org", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status == 204, r
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert r.headers["Access-Control-Allow-Origin"] == "https://planner.example.org"
        assert "Location" in s.get("/api/estates/E001", role="admin").headers[
            "Access-Control-Expose-Headers"]
    finally:
        assert s.stop() == 0, s.stderr()
    assert not any(t in s.stderr() for t in ALL_SECRETS)
    log = s.log_path.read_text("utf-8")
    assert not any(t in log for t in ALL_SECRETS)


def test_rate_limit_on_failed_authentication(server, database):
    src, other = "127.0.0.3", "127.0.0.4"
    path = "/api/violations"
    body = report(*INSIDE_E001)
    for i in range(10):
        r = server.call("POST", path, body, headers={"Authorization": f"Bearer {WRONG}{i}"},
                        source=src)
        error_of(r, 401)
    r = server.call("POST", path, body, headers={"Authorization": f"Bearer {WRONG}"}, source=src)
    error_of(r, 429, code="too_many_requests")
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # blocked whatever it presents, even a valid token
    before = db_state(database)
    error_of(server.call("POST", path, body, role="inspector", source=src), 429)
    assert db_state(database) == before
    # a request without a token is not an attempt, and other addresses are not affected
    error_of(server.call("POST", path, body, source=other), 401)
    r = server.call("POST", path, body, role="inspector", source=other)
    assert r.status == 201, r
    assert server.get("/api/estates/E001", source=src).status == 200  # open reads go on


# ---------------------------------------------------------------- POST /api/violations


def test_report_a_violation(server, database):
    v0 = version(database, "violations")
    n0 = scalar(database, "SELECT count(*) FROM violations")
    lon, lat = INSIDE_E001
    r = server.call("POST", "/api/violations",
                    report(lon, lat, category="群租", description="5楼群租", code="WG-2016-0001",
                           extra={"photo": "IMG_0001.jpg"}),
                    role="inspector")
    assert r.status == 201, r
    assert r.headers["Content-Type"] == "application/geo+json"
    f = r.json()
    vid = f["id"]
    assert r.headers["Location"].endswith(f"/api/violations/{vid}")
    p = f["properties"]
    assert p["category"] == "违法居住"  # 群租 is an alias
    assert p["status"] == "open" and p["resolved_at"] is None
    assert p["source"] == "网格巡查" and p["description"] == "5楼群租"
    assert p["extra"] == {"photo": "IMG_0001.jpg"}
    # derived links, computed from the location
    assert p["estate_code"] == CARD_ESTATE
    assert p["grid_code"] == T1 + "001001"
    assert f["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    # reported now, Shanghai time
    assert abs((parse_local(p["reported_at"]) - shanghai_now()).total_seconds()) < 120
    # in the file
    row = query(database, "SELECT category, estate_code, grid_code, status, code FROM violations"
                          " WHERE id = ?", (vid,))[0]
    assert row == ("违法居住", CARD_ESTATE, T1 + "001001", "open", "WG-2016-0001")
    assert scalar(database, "SELECT count(*) FROM violations") == n0 + 1
    assert version(database, "violations") > v0
    # readable at its Location, and through OGC API - Features
    assert server.get(f"/api/violations/{vid}").json() == {k: v for k, v in f.items()
                                                           if k != "links"}
    ogc = server.get(f"/ogc/collections/violations/items/{vid}").json()
    assert ogc["properties"]["estate_code"] == CARD_ESTATE
    # audited
    a = last_audit(database)
    assert a["actor"] == TOKENS["inspector"][0] and a["role"] == "inspector"
    assert a["method"] == "POST" and a["path"] == "/api/violations"
    assert a["layer"] == "violations" and a["feature_id"] == vid
    assert a["feature_code"] == "WG-2016-0001" and a["client"] == "127.0.0.1"
    assert a["before"] is None and a["after"]["properties"]["estate_code"] == CARD_ESTATE
    assert abs((dt.datetime.fromisoformat(a["at"]) - dt.datetime.now(SHANGHAI))
               .total_seconds()) < 120
    # the same code twice is a conflict
    r = server.call("POST", "/api/violations", report(lon, lat, code="WG-2016-0001"),
                    role="inspector")
    error_of(r, 409, "code", "conflict")


def test_report_with_times_and_offsets(server, database):
    lon, lat = INSIDE_E001
    r = server.call("POST", "/api/violations",
                    report(lon, lat, category="违法搭建", reported_at="2016-11-01T02:00:00Z",
                           resolved_at="2016-11-02 09:30", status="resolved"),
                    role="planner")
    assert r.status == 201, r
    p = r.json()["properties"]
    assert p["category"] == "违法建筑"
    assert p["reported_at"] == "2016-11-01T10:00:00"  # UTC to Shanghai
    assert p["resolved_at"] == "2016-11-02T09:30:00" and p["status"] == "resolved"
    # a resolved_at alone resolves it; a "resolved" status alone resolves it now
    r = server.call("POST", "/api/violations",
                    report(lon, lat, reported_at="2016-11-01T08:00:00+08:00",
                           resolved_at="2016-11-01T09:00:00"), role="inspector")
    assert r.json()["properties"]["status"] == "resolved", r
    r = server.call("POST", "/api/violations",
                    report(lon, lat, reported_at="2016-11-01", status="resolved"), role="admin")
    p = r.json()["properties"]
    assert p["reported_at"] == "2016-11-01T00:00:00"
    assert abs((parse_local(p["resolved_at"]) - shanghai_now()).total_seconds()) < 120


def test_report_in_gcj02(server, database):
    """A phone with Amap sends GCJ-02: ?coords=gcj02 stores the WGS84 point."""
    wgs = INSIDE_E001
    # the GCJ-02 offset in Shanghai is some hundreds of metres; compute it as Amap does
    import math
    a, ee = 6378245.0, 0.00669342162296594323

    def tlat(x, y):
        r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
        r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
        return r + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3

    def tlon(x, y):
        r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
        r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
        return r + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3

    lon, lat = wgs
    dlat, dlon = tlat(lon - 105.0, lat - 35.0), tlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sq = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sq) * math.pi)
    dlon = (dlon * 180.0) / (a / sq * math.cos(radlat) * math.pi)
    gcj = (lon + dlon, lat + dlat)
    r = server.call("POST", "/api/violations?coords=gcj02", report(*gcj), role="inspector")
    assert r.status == 201, r
    got = r.json()["geometry"]["coordinates"]
    assert got == pytest.approx(list(wgs), abs=2e-6)
    error_of(server.call("POST", "/api/violations?coords=mars", report(*wgs), role="inspector"),
             400, "coords")
    error_of(server.call("POST", "/api/violations?crs=4326", report(*wgs), role="inspector"),
             400, "crs", "unknown_parameter")


def test_concurrent_reports(server, database):
    n0 = scalar(database, "SELECT count(*) FROM violations")
    results = []

    def post(i):
        r = server.call("POST", "/api/violations",
                        report(INSIDE_E001[0], INSIDE_E001[1], description=f"并发{i}"),
                        role="inspector")
        results.append(r)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == 201 for r in results), results
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 12
    assert scalar(database, "SELECT count(*) FROM violations") == n0 + 12
    assert scalar(database, "SELECT count(*) FROM audit_log WHERE layer = 'violations' AND "
                            f"feature_id IN ({','.join(map(str, ids))})") == 12


BAD_REPORTS = [  # (name, body or raw bytes, status, parameter)
    ("outside the district", report(121.00, 31.30), 422, "geometry"),
    ("latitude first", report(31.004, 121.41), 422, "geometry"),
    ("unknown category", report(*INSIDE_E001, category="乱扔垃圾"), 422, "category"),
    ("no category", report(*INSIDE_E001, category=None), 422, "category"),
    ("future report", report(*INSIDE_E001, reported_at="2099-01-01T00:00:00"), 422,
     "reported_at"),
    ("future resolution", report(*INSIDE_E001, reported_at="2016-11-01T10:00:00",
                                 resolved_at="2099-01-01T00:00:00"), 422, "resolved_at"),
    ("resolved before reported", report(*INSIDE_E001, reported_at="2016-11-02T10:00:00",
                                        resolved_at="2016-11-01T10:00:00"), 422, "resolved_at"),
    ("open with a resolution", report(*INSIDE_E001, status="open",
                                      resolved_at="2016-11-01T10:00:00"), 422, "resolved_at"),
    ("bad status", report(*INSIDE_E001, status="closed"), 422, "status"),
    ("not a date", report(*INSIDE_E001, reported_at="yesterday"), 422, "reported_at"),
    ("Feb 30", report(*INSIDE_E001, reported_at="2016-02-30T10:00:00"), 422, "reported_at"),
    ("derived estate", report(*INSIDE_E001, estate_code="E000"), 400, "estate_code"),
    ("unknown property", report(*INSIDE_E001, colour="red"), 400, "colour"),
    ("number as category", report(*INSIDE_E001, category=5), 400, "category"),
    ("extra not an object", report(*INSIDE_E001, extra=[1]), 400, "extra"),
    ("polygon", {"type": "Feature", "properties": {"category": "乱停车"},
                 "geometry": json.loads('{"type":"Polygon","coordinates":[[[121.41,31.004],'
                                        '[121.42,31.004],[121.42,31.006],[121.41,31.004]]]}')},
     400, "geometry"),
    ("multipoint", {"type": "Feature", "properties": {"category": "乱停车"},
                    "geometry": {"type": "MultiPoint", "coordinates": [list(INSIDE_E001)]}},
     400, "geometry"),
    ("no geometry", {"type": "Feature", "properties": {"category": "乱停车"},
                     "geometry": None}, 400, "geometry"),
    ("string coordinates", {"type": "Feature", "properties": {"category": "乱停车"},
                            "geometry": {"type": "Point", "coordinates": ["121.41", "31.0"]}},
     400, "geometry"),
    ("one coordinate", {"type": "Feature", "properties": {"category": "乱停车"},
                        "geometry": {"type": "Point", "coordinates": [121.41]}}, 400,
     "geometry"),
    ("not degrees", report(400.0, 31.0), 422, "geometry"),
    ("a FeatureCollection", {"type": "FeatureCollection", "features": []}, 400, "type"),
    ("an id", {**report(*INSIDE_E001), "id": 5}, 400, "id"),
    ("an array", [report(*INSIDE_E001)], 400, None),
    ("null", b"null", 400, None),
    ("bad JSON", b'{"type": "Feature", "geometry": ', 400, None),
    ("trailing text", json.dumps(report(*INSIDE_E001)).encode() + b" x", 400, None),
    ("single quotes", b"{'type': 'Feature'}", 400, None),
    ("empty body", b"", 400, None),
    ("invalid UTF-8", b'{"type": "Feature", "properties": {"category": "\xff\xfe"}}', 400,
     None),
    ("deep nesting", b"[" * 200 + b"]" * 200, 400, None),
]


@pytest.mark.parametrize("name,body,status,parameter", BAD_REPORTS,
                         ids=[c[0] for c in BAD_REPORTS])
def test_bad_reports(server, database, name, body, status, parameter):
    before = db_state(database)
    r = server.call("POST", "/api/violations", body, role="inspector")
    error_of(r, status, parameter)
    assert db_state(database) == before


def test_body_limits_and_types(server, database):
    before = db_state(database)
    # declared too large: refused before it is read
    r = server.request("/api/violations", method="POST",
                       headers={**auth("inspector"), "Content-Type": "application/json",
                                "Content-Length": str(5 * 1024 * 1024)}, body=b"{}",
                       source="127.0.0.1")
    error_of(r, 413, code="payload_too_large")
    # a real body over 1 MiB
    huge = json.dumps(report(*INSIDE_E001, description="x" * (1024 * 1024 + 10))).encode()
    try:
        r = server.call("POST", "/api/violations", huge, role="inspector",
                        headers={"Content-Type": "application/json"})
        error_of(r, 413)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server may close before the client has sent it all
    # chunked, without a length, over the limit
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("POST", "/api/violations")
        for k, v in {**auth("inspector"), "Content-Type": "application/json",
                     "Transfer-Encoding": "chunked"}.items():
            conn.putheader(k, v)
        conn.endheaders()
        chunk = b"x" * 65536
        try:
            for _ in range(17):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            pass
        answer = conn.getresponse()
        error_of(Response(answer.status, answer.headers, answer.read()), 413)
    finally:
        conn.close()
    # a description just over its own limit
    error_of(server.call("POST", "/api/violations",
                         report(*INSIDE_E001, description="违" * 1400), role="inspector"),
             422, "description")
    # not JSON
    r = server.call("POST", "/api/violations", b"category=x", role="inspector",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    error_of(r, 415, code="unsupported_media_type")
    # JSON types with parameters are fine
    r = server.call("POST", "/api/violations", json.dumps(report(*INSIDE_E001)).encode(),
                    role="inspector", headers={"Content-Type": "application/geo+json; charset=utf-8"})
    assert r.status == 201, r
    assert db_state(database)[2] == before[2] + 1
    assert server.get("/healthz").status == 200  # still serving


def test_methods(server):
    r = server.call("DELETE", "/api/violations/1", role="admin")
    error_of(r, 405, code="method_not_allowed")
    assert "PATCH" in r.headers["Allow"] and "DELETE" not in r.headers["Allow"]
    r = server.get("/api/violations")
    error_of(r, 405)
    assert r.headers["Allow"] == "POST, OPTIONS"
    error_of(server.call("POST", "/api/estates/E001", {}, role="admin"), 405)
    error_of(server.call("PUT", "/api/analysis/density", {}, role="admin"), 405)
    r = server.call("OPTIONS", "/api/estates/E001")
    assert r.status == 204 and "PATCH" in r.headers["Allow"]
    assert server.get("/ogc").status == 200  # other routes unchanged


# ---------------------------------------------------------------- PATCH /api/violations/{id}


def test_resolve_and_reopen(server, database):
    vid = scalar(database, "SELECT id FROM violations WHERE code = 'V000'")
    v0 = version(database, "violations")
    r = server.call("PATCH", f"/api/violations/{vid}", {"status": "resolved"}, role="inspector")
    assert r.status == 200 and r.headers["Content-Type"] == "application/geo+json", r
    p = r.json()["properties"]
    assert p["status"] == "resolved"
    assert abs((parse_local(p["resolved_at"]) - shanghai_now()).total_seconds()) < 120
    assert version(database, "violations") > v0
    a = last_audit(database)
    assert a["method"] == "PATCH" and a["path"] == f"/api/violations/{vid}"
    assert a["feature_id"] == vid and a["feature_code"] == "V000"
    assert a["before"]["properties"]["status"] == "open"
    assert a["before"]["properties"]["resolved_at"] is None
    assert a["after"]["properties"]["status"] == "resolved"
    # an explicit time, Feature form
    r = server.call("PATCH", f"/api/violations/{vid}",
                    {"type": "Feature", "properties": {"resolved_at": "2016-01-06T12:00:00"}},
                    role="planner")
    assert r.json()["properties"]["resolved_at"] == "2016-01-06T12:00:00", r
    assert query(database, "SELECT status, resolved_at FROM violations WHERE id = ?",
                 (vid,))[0] == ("resolved", "2016-01-06T12:00:00")
    # reopen
    r = server.call("PATCH", f"/api/violations/{vid}", {"status": "open"}, role="inspector")
    p = r.json()["properties"]
    assert p["status"] == "open" and p["resolved_at"] is None
    # correct the category and description, merge extra
    r = server.call("PATCH", f"/api/violations/{vid}",
                    {"category": "违章建筑", "description": "复查", "extra": {"k": 1}},
                    role="inspector")
    p = r.json()["properties"]
    assert p["category"] == "违法建筑" and p["description"] == "复查" and p["extra"] == {"k": 1}
    assert p["estate_code"] == CARD_ESTATE  # links untouched
    # the same again changes nothing and writes no audit row
    n = scalar(database, "SELECT count(*) FROM audit_log")
    r = server.call("PATCH", f"/api/violations/{vid}", {"description": "复查"}, role="inspector")
    assert r.status == 200
    assert scalar(database, "SELECT count(*) FROM audit_log") == n


BAD_PATCHES = [
    ({"resolved_at": "2015-12-31T00:00:00"}, 422, "resolved_at"),  # before reported
    ({"resolved_at": "2099-01-01T00:00:00"}, 422, "resolved_at"),
    ({"status": "resolved", "resolved_at": None}, 422, "resolved_at"),
    ({"status": "done"}, 422, "status"),
    ({"category": "unknown"}, 422, "category"),
    ({"category": None}, 422, "category"),
    ({"reported_at": "2016-01-01T00:00:00"}, 400, "reported_at"),
    ({"estate_code": "E000"}, 400, "estate_code"),
    ({"code": "X"}, 400, "code"),
    ({"nonsense": 1}, 400, "nonsense"),
    ({}, 400, None),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.41, 31.0]},
      "properties": {"status": "open"}}, 400, "geometry"),
    ([], 400, None),
]


@pytest.mark.parametrize("body,status,parameter", BAD_PATCHES)
def test_bad_violation_patches(server, database, body, status, parameter):
    vid = scalar(database, "SELECT id FROM violations WHERE code = 'V000'")
    before = db_state(database)
    error_of(server.call("PATCH", f"/api/violations/{vid}", body, role="inspector"), status,
             parameter)
    assert db_state(database) == before
    error_of(server.call("PATCH", "/api/violations/99999999", {"status": "open"},
                         role="inspector"), 404)


# ---------------------------------------------------------------- PATCH /api/estates/{id}


def test_patch_estate(server, database):
    eid = estate_id(database, "E002")
    v0 = version(database, "estates")
    body = {"tier": "提升版", "stage": "planning", "plan_date": "2016/10/15",
            "fee_collection_rate": "85%", "owners_cofund": "否", "households": 321,
            "satisfaction": 88.5, "four_in_one": False, "extra": {"负责人": "李四", "电话": "123"}}
    r = server.call("PATCH", f"/api/estates/{eid}", body, role="planner")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r
    a = r.json()
    assert a["tier"] == "提升版" and a["stage"] == "planning" and a["plan_date"] == "2016-10-15"
    assert a["fee_collection_rate"] == 0.85 and a["owners_cofund"] is False
    assert a["households"] == 321 and a["satisfaction"] == 88.5 and a["four_in_one"] is False
    assert a["extra"] == {"负责人": "李四", "电话": "123"}
    row = query(database, "SELECT tier, stage, plan_date, fee_collection_rate, owners_cofund,"
                          " extra FROM estates WHERE id = ?", (eid,))[0]
    assert row[:5] == ("提升版", "planning", "2016-10-15", 0.85, 0)
    assert json.loads(row[5]) == {"负责人": "李四", "电话": "123"}
    assert version(database, "estates") > v0
    audit = last_audit(database)
    assert audit["layer"] == "estates" and audit["feature_id"] == eid
    assert audit["feature_code"] == "E002" and audit["actor"] == TOKENS["planner"][0]
    assert audit["method"] == "PATCH" and audit["path"] == f"/api/estates/{eid}"
    assert audit["before"]["tier"] is None and audit["after"]["tier"] == "提升版"
    assert audit["before"]["fee_collection_rate"] == 0.9
    assert audit["before"]["extra"] == {"负责人": "张2"}
    # by code, clearing values and an extra key, admin
    r = server.call("PATCH", "/api/estates/E002",
                    {"tier": None, "satisfaction": None, "extra": {"电话": None}}, role="admin")
    a = r.json()
    assert a["tier"] is None and a["satisfaction"] is None and a["extra"] == {"负责人": "李四"}
    # the card shows it
    card = server.get(f"/api/estates/{eid}").json()
    assert card["attributes"]["stage"] == "planning"
    # nothing to change: no audit row
    n = scalar(database, "SELECT count(*) FROM audit_log")
    assert server.call("PATCH", "/api/estates/E002", {"stage": "planning"},
                       role="planner").status == 200
    assert scalar(database, "SELECT count(*) FROM audit_log") == n


BAD_ESTATE_PATCHES = [
    ({"tier": "黄金版"}, 422, "tier"),
    ({"tier": 1}, 422, "tier"),
    ({"stage": "finished"}, 422, "stage"),
    ({"owners_committee": "maybe"}, 422, "owners_committee"),
    ({"fee_collection_rate": 85}, 422, "fee_collection_rate"),
    ({"fee_collection_rate": "high"}, 422, "fee_collection_rate"),
    ({"satisfaction": 101}, 422, "satisfaction"),
    ({"built_year": "old"}, 422, "built_year"),
    ({"built_year": 1850}, 422, "built_year"),
    ({"households": -3}, 422, "households"),
    ({"households": 2.5}, 422, "households"),
    ({"owners_cofund": "perhaps"}, 422, "owners_cofund"),
    ({"owners_cofund": [1]}, 400, "owners_cofund"),
    ({"plan_date": "2016-13-01"}, 422, "plan_date"),
    ({"plan_date": "2016-11-01", "start_date": "2016-10-01"}, 422, "start_date"),
    ({"completed_date": "2017-05-01", "accepted_date": "2017-04-01"}, 422, "accepted_date"),
    ({"name": None}, 422, "name"),
    ({"name": ""}, 422, "name"),
    ({"code": "E999"}, 400, "code"),
    ({"town_code": T2}, 400, "town_code"),
    ({"geometry": None}, 400, "geometry"),
    ({"colour": "red"}, 400, "colour"),
    ({"extra": "text"}, 400, "extra"),
    ({}, 400, None),
    ("tier", 400, None),
]


@pytest.mark.parametrize("body,status,parameter", BAD_ESTATE_PATCHES)
def test_bad_estate_patches(server, database, body, status, parameter):
    eid = estate_id(database, "E003")
    before = db_state(database)
    error_of(server.call("PATCH", f"/api/estates/{eid}", body, role="planner"), status,
             parameter)
    assert db_state(database) == before
    error_of(server.call("PATCH", "/api/estates/NOPE", {"stage": "planning"}, role="planner"),
             404)


# ---------------------------------------------------------------- PUT renovation


def test_put_renovation(server, database):
    eid = estate_id(database, "E004")
    items = [{"item_id": 3, "status": "in_progress", "budget_yuan": 250000, "owners_share": 0.2},
             {"item_id": 1}, {"item_id": "15", "budget_yuan": "1000"}]
    r = server.call("PUT", f"/api/estates/{eid}/renovation", items, role="planner")
    assert r.status == 200, r
    doc = r.json()
    assert doc["estate_code"] == "E004" and doc["estate_id"] == eid
    assert [(i["item_id"], i["status"]) for i in doc["items"]] == [
        (1, "planned"), (3, "in_progress"), (15, "planned")]
    assert doc["items"][1]["name_zh"] == "老旧电梯安全改造"
    assert query(database, "SELECT item_id, status, budget_yuan, owners_share FROM"
                           " estate_renovation WHERE estate_code = 'E004' ORDER BY item_id") == [
        (1, "planned", None, None), (3, "in_progress", 250000.0, 0.2), (15, "planned", 1000.0,
                                                                        None)]
    a = last_audit(database)
    assert a["layer"] == "renovation" and a["feature_code"] == "E004" and a["method"] == "PUT"
    assert a["before"] == [] and [i["item_id"] for i in a["after"]] == [1, 3, 15]
    assert server.get(f"/api/estates/{eid}/renovation").json() == doc
    assert server.get("/api/estates/E004").json()["renovation"]["count"] == 3
    # replaced as a whole, {"items": [...]} form, by code
    r = server.call("PUT", "/api/estates/E004/renovation", {"items": [{"item_id": 9,
                                                                      "status": "done"}]},
                    role="admin")
    assert [i["item_id"] for i in r.json()["items"]] == [9], r
    a = last_audit(database)
    assert [i["item_id"] for i in a["before"]] == [1, 3, 15]
    # [] removes them all
    r = server.call("PUT", "/api/estates/E004/renovation", [], role="planner")
    assert r.json()["items"] == []
    assert scalar(database, "SELECT count(*) FROM estate_renovation WHERE estate_code = 'E004'") == 0


BAD_RENOVATIONS = [
    ([{"item_id": 16}], 422, "items[0].item_id"),
    ([{"item_id": 0}], 422, "items[0].item_id"),
    ([{"status": "planned"}], 422, "items[0].item_id"),
    ([{"item_id": 2}, {"item_id": 2}], 422, "items[1].item_id"),
    ([{"item_id": i} for i in range(1, 17)], 422, "items"),
    ([{"item_id": 2, "status": "started"}], 422, "items[0].status"),
    ([{"item_id": 2, "owners_share": 1.5}], 422, "items[0].owners_share"),
    ([{"item_id": 2, "budget_yuan": -1}], 422, "items[0].budget_yuan"),
    ([{"item_id": 2, "budget_yuan": "lots"}], 422, "items[0].budget_yuan"),
    ([{"item_id": 2, "colour": "red"}], 400, "items[0].colour"),
    ([3], 400, "items[0]"),
    ({"things": []}, 400, "things"),
    ("items", 400, "items"),
]


@pytest.mark.parametrize("body,status,parameter", BAD_RENOVATIONS)
def test_bad_renovations(server, database, body, status, parameter):
    before = db_state(database)
    error_of(server.call("PUT", "/api/estates/E001/renovation", body, role="planner"), status,
             parameter)
    assert db_state(database) == before
    error_of(server.call("PUT", "/api/estates/NOPE/renovation", [], role="planner"), 404)


# ---------------------------------------------------------------- read-only database


def test_read_only_database(bin_path, database, tokens_file):
    """A file the server cannot write: reads go on, every write is a 503 that says so."""
    tmp = Path(tempfile.mkdtemp(prefix="estatemap-ro-"))
    try:
        os.chmod(tmp, 0o777)  # SQLite's -shm/-wal files for the readers
        db = tmp / "ro.sqlite"
        src = sqlite3.connect(database)
        dst = sqlite3.connect(db)
        src.backup(dst)
        src.close()
        dst.close()
        tokens = shutil.copy(tokens_file, tmp / "tokens.txt")
        os.chmod(db, 0o444)
        os.chmod(tokens, 0o444)
        user = None
        if os.geteuid() == 0:  # root writes anyway: serve as nobody
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv")
            user = 65534
        s = Server(bin_path, db, tmp, "--tokens", tokens, user=user)
        try:
            assert "read-only" in s.stderr()
            before = db_state(db)
            for name, method, path, body in write_cases(db):
                r = s.call(method, path, body, role="admin")
                e = error_of(r, 503, code="unavailable")
                assert "read-only" in e["message"], name
            assert db_state(db) == before
            # an unauthenticated write is still a 401, not a hint about the file
            error_of(s.call("POST", "/api/violations", report(*INSIDE_E001)), 401)
            # reads work
            assert s.get("/api/estates/E001").status == 200
            assert s.get("/api/analysis/progress").status in (200, 404)
            assert s.get("/ogc/collections/violations/items?limit=1").status == 200
        finally:
            assert s.stop() == 0, s.stderr()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- the command line


def test_serve_options(bin_path, work, database):
    r = run_cli(bin_path, "serve", "--help")
    assert r.rc == 0 and "--tokens FILE" in r.out and "--read-token" in r.out
    r = run_cli(bin_path, "serve", "--db", database, "--read-token")
    assert r.rc == 2 and "--tokens" in r.err, r
    r = run_cli(bin_path, "serve", "--db", database, "--tokens", work / "missing.txt",
                "--listen", f"127.0.0.1:{free_port()}")
    assert r.rc == 1 and "missing.txt" in r.err, r
    bad = work / "bad-tokens.txt"
    bad.write_text("alice superuser " + "0" * 64 + "\n", encoding="utf-8")
    r = run_cli(bin_path, "serve", "--db", database, "--tokens", bad,
                "--listen", f"127.0.0.1:{free_port()}")
    assert r.rc == 1 and "line 1" in r.err and "role" in r.err, r
    short = work / "short-tokens.txt"
    short.write_text("alice admin abc\n", encoding="utf-8")
    r = run_cli(bin_path, "serve", "--db", database, "--tokens", short,
                "--listen", f"127.0.0.1:{free_port()}")
    assert r.rc == 1 and "64 hex" in r.err, r


def test_metrics_label_api_routes(server):
    server.get("/api/estates/E001")
    deadline = time.time() + 5
    while True:
        text = server.get("/metrics").text
        if 'route="/api/estates/{id}"' in text or time.time() > deadline:
            break
        time.sleep(0.05)
    assert 'route="/api/estates/{id}"' in text
    assert "E001" not in text


# ---------------------------------------------------------------- last: what was logged


def test_tokens_never_logged(server, database):
    """Run last in this module: every token above has been presented by now."""
    time.sleep(0.2)
    log = server.log_path.read_text("utf-8")
    assert '"POST /api/violations HTTP/1.1" 201 ' in log
    assert '"POST /api/violations HTTP/1.1" 401 ' in log
    for secret in ALL_SECRETS:
        assert secret not in log
        assert secret not in server.stderr()
    dump = "\n".join(repr(r) for r in query(database, "SELECT * FROM audit_log"))
    for secret in ALL_SECRETS:
        assert secret not in dump
    names = {r[0] for r in query(database, "SELECT DISTINCT actor FROM audit_log")}
    assert {n for n, _ in TOKENS.values()} <= names | {"test"}


def test_refused_body_closes_the_connection(server, database):
    """A write refused before its body is read (no token: 401) says Connection: close,
    so a keep-alive client does not send its next request into a closed socket; a
    write whose body was read keeps the connection open."""
    body = json.dumps(report(*INSIDE_E001)).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/api/violations", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        assert r.getheader("Connection", "").lower() == "close"
        conn.close()
        h = {"Content-Type": "application/json", **auth("inspector")}
        conn.request("POST", "/api/violations", body=body, headers=h)
        r = conn.getresponse()
        r.read()
        assert r.status == 201 and r.getheader("Connection") is None
        conn.request("GET", "/healthz")  # the same connection carries on
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    finally:
        conn.close()
