# -*- coding: utf-8 -*-
"""Checks on the committed demo data in geodata/ (written by scripts/gen-demo).

Run with:  /usr/bin/python3 -m pytest tests/integration/test_geodata.py
Set ESTATEMAP_SKIP_SLOW=1 to skip the determinism test (it re-runs the
generator, about a minute).
"""

import csv
import filecmp
import json
import math
import os
import re
import subprocess
import sys
import warnings
from datetime import date, datetime

import pytest

shapely = pytest.importorskip("shapely")
pyproj = pytest.importorskip("pyproj")

from shapely.geometry import Point, shape  # noqa: E402
from shapely.ops import transform, unary_union  # noqa: E402
from shapely.prepared import prep  # noqa: E402
from shapely.strtree import STRtree  # noqa: E402

try:
    from shapely.errors import ShapelyDeprecationWarning
    warnings.filterwarnings("ignore", category=ShapelyDeprecationWarning)
except ImportError:  # shapely 2
    pass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEO = os.path.join(ROOT, "geodata")
GEN = os.path.join(ROOT, "scripts", "gen-demo")

TOWN_CODES = {
    "310112001": "江川路街道", "310112006": "古美路街道", "310112008": "新虹街道", "310112009": "浦锦街道",
    "310112101": "莘庄镇", "310112102": "七宝镇", "310112103": "颛桥镇", "310112106": "华漕镇",
    "310112107": "虹桥镇", "310112108": "梅陇镇", "310112110": "吴泾镇", "310112112": "马桥镇",
    "310112114": "浦江镇",
}
FIVE = ["违法用地", "违法建筑", "违法经营", "违法排污", "违法居住"]
CATEGORIES = FIVE + ["违法使用房屋", "黑色小广告", "无序设摊", "乱堆杂物", "乱停车", "乱晾晒", "乱抛物"]
SOURCES = {"网格巡查", "12345热线", "居民举报", "联合执法"}
DEFAULT_BUFFERS = {"railway": 20.0, "expressway": 30.0, "river": 30.0, "rail_transit": 30.0}
HOUSING = {"售后公房", "系统公房", "直管公房", "动迁安置房", "商品房", "混合"}
WORKS = {"none", "planned", "in_progress", "done"}
STAGES = ["none", "planning", "implementing", "completed", "accepted"]
TIERS = {"示范版", "提升版", "基础版", None}
ESTATE_FIELDS = ["code", "name", "address", "town_code", "built_year", "housing_type", "households",
                 "buildings", "floor_area_m2", "property_company", "fee_collection_rate", "owners_committee",
                 "owners_cofund", "tianyuan_model", "four_in_one", "elevator_count", "elevator_valid_until",
                 "rain_sewage_works", "water_supply_works", "roof_works", "tier", "stage", "plan_date",
                 "start_date", "completed_date", "accepted_date", "satisfaction"]
OUTPUTS = ["towns.geojson", "corridors.geojson", "estates.geojson", "grid.geojson", "zones.geojson",
           "violations.csv", "renovation.csv", "README.md"]

pytestmark = pytest.mark.filterwarnings("ignore:STRtree will be changed")

_UTM = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)


def utm(g):
    return transform(_UTM.transform, g)


def load_fc(name):
    with open(os.path.join(GEO, name), encoding="utf-8") as f:
        return json.load(f)["features"]


def tree_query(tree, geoms, g):
    """Indices of geoms whose envelope meets g (shapely 1.8 and 2.x)."""
    res = tree.query(g)
    if len(res) and not hasattr(res[0], "geom_type"):
        return sorted(int(i) for i in res)
    ids = {id(x): i for i, x in enumerate(geoms)}
    return sorted(ids[id(x)] for x in res)


def ymd(s):
    return date.fromisoformat(s) if s else None


@pytest.fixture(scope="module")
def towns():
    fs = load_fc("towns.geojson")
    return {f["properties"]["code"]: (f["properties"], shape(f["geometry"])) for f in fs}


@pytest.fixture(scope="module")
def estates():
    fs = load_fc("estates.geojson")
    return [(f["properties"], shape(f["geometry"])) for f in fs]


@pytest.fixture(scope="module")
def estates_utm(estates):
    return [utm(g) for _, g in estates]


@pytest.fixture(scope="module")
def grid():
    fs = load_fc("grid.geojson")
    return [(f["properties"], shape(f["geometry"]), f["geometry"]["type"]) for f in fs]


@pytest.fixture(scope="module")
def corridors():
    fs = load_fc("corridors.geojson")
    return [(f["properties"], shape(f["geometry"])) for f in fs]


@pytest.fixture(scope="module")
def violations():
    with open(os.path.join(GEO, "violations.csv"), encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = [dict(zip(header, row)) for row in r]
    return header, rows


@pytest.fixture(scope="module")
def zones():
    return [(f["properties"], shape(f["geometry"]), f["geometry"]["type"]) for f in load_fc("zones.geojson")]


# --- counts and basic shape ---------------------------------------------------


def test_files_present():
    for name in OUTPUTS:
        assert os.path.getsize(os.path.join(GEO, name)) > 0, name
    total = sum(os.path.getsize(os.path.join(GEO, n)) for n in OUTPUTS)
    assert total < 25e6
    for name in ["SOURCES.md", "minhang_townships_wgs84.geojson", "minhang_district_datav_wgs84.geojson"]:
        assert os.path.exists(os.path.join(GEO, "real", name))


def test_counts(towns, estates, grid, violations, zones):
    assert len(towns) == 13
    assert 1300 <= len(estates) <= 1700
    assert len(grid) > 30000
    assert 28000 <= len(violations[1]) <= 32000
    kinds = [p["kind"] for p, _, _ in zones]
    assert 3 <= kinds.count("key_remediation") <= 6
    assert 3 <= kinds.count("civilised_key") <= 6


def test_towns(towns):
    assert set(towns) == set(TOWN_CODES)
    for code, (p, g) in towns.items():
        assert re.fullmatch(r"310112\d{3}", code)
        assert p["name"] == TOWN_CODES[code]
        assert g.geom_type == "MultiPolygon" and g.is_valid
        assert p["area_km2"] > 0


# --- estates ----------------------------------------------------------------


def test_estate_fields(estates, towns):
    codes, names = set(), set()
    for p, g in estates:
        assert list(p) == ESTATE_FIELDS
        assert re.fullmatch(r"310112\d{3}-\d{4}", p["code"]), p["code"]
        assert p["code"].startswith(p["town_code"] + "-")
        assert p["town_code"] in towns
        codes.add(p["code"])
        names.add(p["name"])
        assert re.fullmatch(r".+\d+弄", p["address"])
        assert 1978 <= p["built_year"] <= 2015
        assert p["housing_type"] in HOUSING
        if p["housing_type"] == "商品房":
            assert p["built_year"] >= 1998
        assert isinstance(p["households"], int) and p["households"] > 0
        assert isinstance(p["buildings"], int) and p["buildings"] > 0
        assert p["floor_area_m2"] > 0
        assert p["property_company"]
        assert 0 <= p["fee_collection_rate"] <= 1
        assert round(p["fee_collection_rate"], 2) == p["fee_collection_rate"]
        assert p["owners_committee"] in ("none", "formed", "operating")
        for k in ("owners_cofund", "tianyuan_model", "four_in_one"):
            assert p[k] in (0, 1)
        assert p["elevator_count"] >= 0
        if p["elevator_count"] == 0:
            assert p["elevator_valid_until"] is None
        else:
            ymd(p["elevator_valid_until"])
        for k in ("rain_sewage_works", "water_supply_works", "roof_works"):
            assert p[k] in WORKS
        assert p["tier"] in TIERS
        assert p["stage"] in STAGES
        assert p["satisfaction"] is None or 0 <= p["satisfaction"] <= 100
    assert len(codes) == len(estates)
    assert len(names) == len(estates)
    companies = {p["property_company"] for p, _ in estates}
    assert 10 <= len(companies) <= 30


def test_estate_geometry(estates, towns):
    for p, g in estates:
        assert g.geom_type == "MultiPolygon"
        assert g.is_valid, p["code"]
    tp = {c: prep(g) for c, (_, g) in towns.items()}
    for p, g in estates:
        assert tp[p["town_code"]].contains(g), p["code"]
        others = [c for c in towns if c != p["town_code"] and tp[c].intersects(g)]
        assert not others, (p["code"], others)


def test_estate_sizes(estates_utm):
    areas = sorted(g.area / 1e4 for g in estates_utm)
    assert areas[0] >= 0.45 and areas[-1] <= 20.5
    mid = sum(1 for a in areas if 2 <= a <= 8)
    assert mid / len(areas) > 0.5
    # not squares: a good share have more than 4 corners
    assert sum(1 for g in estates_utm if len(g.geoms[0].exterior.coords) > 5) / len(estates_utm) > 0.3


def test_estates_do_not_overlap(estates, estates_utm):
    geoms = estates_utm
    tree = STRtree(geoms)
    for i, g in enumerate(geoms):
        for j in tree_query(tree, geoms, g.buffer(5.0)):
            if j <= i:
                continue
            d = g.distance(geoms[j])
            assert d >= 4.5, (estates[i][0]["code"], estates[j][0]["code"], d)


def test_built_before_2000(estates):
    old = sum(1 for p, _ in estates if p["built_year"] < 2000)
    assert 0.35 <= old / len(estates) <= 0.45


def test_estates_off_water_and_rail(estates_utm):
    with open(os.path.join(GEO, "real", "osm_geofabrik_20250318_water_a_minhang_bbox.geojson"),
              encoding="utf-8") as f:
        water = [utm(shape(ft["geometry"])) for ft in json.load(f)["features"]]
    with open(os.path.join(GEO, "real", "osm_geofabrik_20250318_railways_minhang_bbox.geojson"),
              encoding="utf-8") as f:
        rail = [utm(shape(ft["geometry"])) for ft in json.load(f)["features"]
                if ft["properties"].get("fclass") == "rail" and ft["properties"].get("tunnel") != "T"]
    water = [w if w.is_valid else w.buffer(0) for w in water]
    for obstacles, gap in ((water, 1.0), (rail, 10.0)):
        tree = STRtree(obstacles)
        for g in estates_utm:
            for k in tree_query(tree, obstacles, g.buffer(gap)):
                assert obstacles[k].distance(g) >= gap


def test_estate_density_by_town(estates, towns):
    per_km2 = {}
    for code, (p, g) in towns.items():
        n = sum(1 for e, _ in estates if e["town_code"] == code)
        per_km2[p["name"]] = n / p["area_km2"]
    for urban in ("莘庄镇", "七宝镇", "古美路街道", "梅陇镇", "虹桥镇", "江川路街道"):
        for rural in ("浦江镇", "华漕镇", "马桥镇"):
            assert per_km2[urban] > per_km2[rural], (urban, rural)


def test_tiers_and_stages(estates):
    by_town = {}
    for p, _ in estates:
        by_town.setdefault(p["town_code"], []).append(p)
        if p["tier"]:
            assert p["built_year"] < 2000
        st = p["stage"]
        dates = [ymd(p[k]) for k in ("plan_date", "start_date", "completed_date", "accepted_date")]
        n_set = STAGES.index(st)
        assert all(d is not None for d in dates[:n_set]), p["code"]
        assert all(d is None for d in dates[n_set:]), p["code"]
        got = [d for d in dates if d]
        assert got == sorted(got), p["code"]
        if dates[0]:
            assert date(2016, 9, 1) <= dates[0] <= date(2017, 12, 31)
        if dates[1]:
            assert dates[1] >= date(2016, 11, 1)
        if dates[2]:
            assert dates[2] <= date(2017, 12, 31)
        if dates[3]:
            assert date(2017, 4, 1) <= dates[3] <= date(2017, 12, 31)
    old_all = [p for p, _ in estates if p["built_year"] < 2000]
    tiered = [p for p in old_all if p["tier"]]
    # 应建尽建: by the end of 2017 nearly every estate in scope has a tier
    assert 0.85 <= len(tiered) / len(old_all) <= 1.0
    demo = [p for p in tiered if p["tier"] == "示范版"]
    assert sum(1 for p in demo if p["completed_date"] and p["completed_date"] < "2017-01-01") >= 5
    short = 0
    for code, ps in by_town.items():
        in_scope = [p for p in ps if p["built_year"] < 2000]
        if not in_scope:
            continue
        # the quotas are shares of the estates in scope (§五(二))
        if sum(1 for p in in_scope if p["tier"] == "示范版") < 0.1 * len(in_scope) or \
                sum(1 for p in in_scope if p["tier"] == "提升版") < 0.4 * len(in_scope):
            short += 1
    assert 1 <= short <= 6


# --- grid -------------------------------------------------------------------


def test_grid_codes(grid, towns):
    codes = set()
    for p, g, gtype in grid:
        assert gtype == "Polygon"
        assert re.fullmatch(r"\d{15}", p["code"])
        assert p["code"].startswith(p["town_code"])
        assert p["town_code"] in towns
        assert str(p["community"]).startswith(p["town_code"])
        assert p["code"].startswith(str(p["community"]))
        codes.add(p["code"])
    assert len(codes) == len(grid)
    comm = {}
    for p, _, _ in grid:
        comm[p["community"]] = comm.get(p["community"], 0) + 1
    sizes = sorted(comm.values())
    assert sizes[len(sizes) // 2] >= 80 and sizes[-1] <= 260


def test_grid_geometry(grid, towns):
    tp = {c: prep(g.buffer(1e-6)) for c, (_, g) in towns.items()}
    lat0 = 31.1
    for p, g, _ in grid:
        assert g.is_valid, p["code"]
        m2 = g.area * 111320.0 ** 2 * math.cos(math.radians(lat0))
        assert 150 <= m2 <= 20000, (p["code"], m2)
        assert tp[p["town_code"]].contains(g), p["code"]


def test_some_estates_not_fully_covered(estates, grid):
    cells = [g for _, g, _ in grid]
    tree = STRtree(cells)
    uncovered = 0
    for p, g in estates:
        hits = [cells[k] for k in tree_query(tree, cells, g)]
        rest = g.difference(unary_union(hits)) if hits else g
        m2 = rest.area * 111320.0 ** 2 * math.cos(math.radians(g.centroid.y))
        if m2 >= 1.0:
            uncovered += 1
    assert 0.01 * len(estates) <= uncovered <= 0.06 * len(estates), uncovered


# --- corridors --------------------------------------------------------------


def test_corridor_types(corridors):
    types = {}
    for p, g in corridors:
        assert set(p) == {"type", "name"}
        assert p["type"] in DEFAULT_BUFFERS
        assert g.geom_type in ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
        assert g.is_valid
        types[p["type"]] = types.get(p["type"], 0) + 1
    assert set(types) == set(DEFAULT_BUFFERS)
    names = {p["name"] for p, _ in corridors if p["type"] == "river"}
    assert "黄浦江" in names


def test_estates_along_corridors(corridors, estates_utm):
    bbox = unary_union([g.envelope for g in estates_utm]).envelope.buffer(2000)
    counts = {}
    for typ, buf in DEFAULT_BUFFERS.items():
        gs = [utm(g) for p, g in corridors if p["type"] == typ]
        gs = [g.intersection(bbox) for g in gs if g.intersects(bbox)]
        zone = prep(unary_union([g.buffer(buf, resolution=8) for g in gs]))
        zone50 = prep(unary_union([g.buffer(50, resolution=8) for g in gs]))
        n = sum(1 for e in estates_utm if zone.intersects(e))
        n50 = sum(1 for e in estates_utm if zone50.intersects(e))
        counts[typ] = (n, n50)
        assert n >= 8, (typ, n)
        assert n50 > n or n50 >= 50, (typ, n, n50)
    assert counts


# --- violations -------------------------------------------------------------


def test_violations(violations, towns):
    header, rows = violations
    assert header == ["code", "category", "reported_at", "resolved_at", "status", "source", "description",
                      "lon", "lat"]
    codes = set()
    inside = prep(unary_union([g for _, g in towns.values()]))
    cats = {}
    years = {}
    for r in rows:
        assert re.fullmatch(r"V20(15|16|17)-\d{6}", r["code"]), r["code"]
        codes.add(r["code"])
        assert r["category"] in CATEGORIES
        cats[r["category"]] = cats.get(r["category"], 0) + 1
        rep = datetime.strptime(r["reported_at"], "%Y-%m-%dT%H:%M:%S")
        assert datetime(2015, 1, 1) <= rep <= datetime(2017, 12, 31, 23, 59, 59)
        assert r["code"][1:5] == str(rep.year)
        years[rep.year] = years.get(rep.year, 0) + 1
        if r["resolved_at"]:
            res = datetime.strptime(r["resolved_at"], "%Y-%m-%dT%H:%M:%S")
            assert res >= rep, r["code"]
            assert r["status"] == "resolved"
        else:
            assert r["status"] == "open"
        assert r["source"] in SOURCES
        assert r["description"]
        lon, lat = float(r["lon"]), float(r["lat"])
        assert inside.contains(Point(lon, lat)), r["code"]
    assert len(codes) == len(rows)
    assert set(cats) == set(CATEGORIES)
    six = sum(cats[c] for c in CATEGORIES[6:])
    assert six > len(rows) / 2
    assert years[2017] > years[2016] > years[2015]


def test_violations_cluster_in_old_estates(violations, estates):
    _, rows = violations
    geoms = [g for _, g in estates]
    tree = STRtree(geoms)
    in_old = in_any = 0
    open5 = [0] * len(estates)
    for r in rows:
        pt = Point(float(r["lon"]), float(r["lat"]))
        for k in tree_query(tree, geoms, pt):
            if geoms[k].contains(pt):
                in_any += 1
                if estates[k][0]["built_year"] < 2000:
                    in_old += 1
                if r["status"] == "open" and r["category"] in FIVE:
                    open5[k] += 1
                break
    assert in_any > 0.5 * len(rows)
    assert in_old > 0.6 * in_any
    assert sum(1 for n in open5 if n == 0) > 0.3 * len(estates)
    assert sum(1 for n in open5 if n >= 3) >= 10


# --- zones and renovation ---------------------------------------------------


def test_zones(zones, estates):
    eg = [g for _, g in estates]
    for p, g, gtype in zones:
        assert gtype == "MultiPolygon" and g.is_valid
        assert p["kind"] in ("key_remediation", "civilised_key")
        assert p["name"].endswith("区域")
        assert sum(1 for e in eg if g.contains(e)) >= 2, p["name"]


def test_renovation(estates):
    tiers = {p["code"]: p for p, _ in estates}
    with open(os.path.join(GEO, "renovation.csv"), encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        assert next(r) == ["estate_code", "item_id", "status", "budget_yuan", "owners_share"]
        rows = list(r)
    assert rows
    seen = set()
    for code, item, status, budget, share in rows:
        assert code in tiers and tiers[code]["tier"], code
        assert 1 <= int(item) <= 15
        assert (code, item) not in seen
        seen.add((code, item))
        assert status in ("planned", "in_progress", "done", "cancelled")
        assert int(budget) > 0
        assert 0 <= float(share) <= 1
    assert {c for c, *_ in rows} == {c for c, p in tiers.items() if p["tier"]}


# --- determinism ------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("ESTATEMAP_SKIP_SLOW") == "1", reason="ESTATEMAP_SKIP_SLOW=1")
def test_generator_is_deterministic(tmp_path):
    out = tmp_path / "geodata"
    subprocess.run([sys.executable, GEN, "--out", str(out), "--quiet"], check=True, timeout=900)
    for name in OUTPUTS:
        assert filecmp.cmp(os.path.join(GEO, name), str(out / name), shallow=False), name
