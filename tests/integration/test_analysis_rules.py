"""The programme's rules: `estatemap analyze eligibility`, `tiers` and `progress`
(issue 3, sections 4-7).

Small hand-made databases (written here as GeoJSON and loaded with `estatemap import`)
give known answers for every prerequisite, priority criterion, tier rule and milestone.
Spatial answers (grid coverage, corridor distances) are checked against an independent
oracle: the stored geometry read back without SpatiaLite, projected with pyproj to
EPSG:4549 and measured with shapely. When the demo data exists, all three analyses run
on it and are checked for internal consistency and against the same oracle.
"""

import json
import math
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.ops import transform, unary_union
from shapely.strtree import STRtree

from conftest import REPO, estatemap_bin, init_db, rows, run_cli, write_csv, write_geojson

TO_M = Transformer.from_crs(4326, 4549, always_xy=True)
TO_LL = Transformer.from_crs(4549, 4326, always_xy=True)


def to_metric(g):
    return transform(TO_M.transform, g)


class Index:
    """An STRtree over `geoms` whose query gives indices, under shapely 1.8 (which
    returns the geometries) and 2.x (which returns indices) alike."""

    def __init__(self, geoms):
        import warnings
        self.geoms = list(geoms)
        self.where = {id(g): i for i, g in enumerate(self.geoms)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tree = STRtree(self.geoms)

    def query(self, g):
        return [int(x) if not hasattr(x, "geom_type") else self.where[id(x)]
                for x in self.tree.query(g)]


# ---------------------------------------------------------------- building fixtures

TOWNS = {
    "310112001": ("江川路街道", (121.30, 31.00, 121.40, 31.20)),
    "310112006": ("古美路街道", (121.40, 31.00, 121.50, 31.20)),
    "310112008": ("新虹街道", (121.50, 31.00, 121.60, 31.20)),  # no estates at all
}
TOWN_A, TOWN_B, TOWN_C = "310112001", "310112006", "310112008"


def ll_box(lon0, lat0, lon1, lat1):
    return Polygon([(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)])


def m_origin(lon, lat):
    return TO_M.transform(lon, lat)


def m_poly(origin, coords):
    """A polygon given in metres east/north of `origin` (a lon/lat pair), returned in
    lon/lat rounded to 1e-8 degrees (about 1 mm)."""
    ox, oy = m_origin(*origin)
    pts = []
    for dx, dy in coords:
        lon, lat = TO_LL.transform(ox + dx, oy + dy)
        pts.append((round(lon, 8), round(lat, 8)))
    return Polygon(pts)


def m_rect(origin, x0, y0, x1, y1):
    return m_poly(origin, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def m_line(origin, coords):
    from shapely.geometry import LineString
    ox, oy = m_origin(*origin)
    return LineString([tuple(round(v, 8) for v in TO_LL.transform(ox + dx, oy + dy))
                       for dx, dy in coords])


def m_point(origin, dx, dy):
    ox, oy = m_origin(*origin)
    lon, lat = TO_LL.transform(ox + dx, oy + dy)
    return f"POINT({round(lon, 8)} {round(lat, 8)})"


GOOD = {"built_year": 1990, "fee_collection_rate": 0.9, "owners_committee": "operating",
        "owners_cofund": 1, "tianyuan_model": 1, "four_in_one": 1, "elevator_count": 0,
        "rain_sewage_works": "none", "water_supply_works": "none", "roof_works": "none",
        "satisfaction": 80.0}


def estate(code, geom, **attrs):
    props = dict(GOOD)
    props.update(attrs)
    props["code"] = code
    props["name"] = props.get("name", f"小区{code}")
    for k in [k for k, v in props.items() if v is None]:
        del props[k]
    return (props, geom.wkt)


def cli_ok(*args, timeout=120):
    r = run_cli(estatemap_bin(), *args, timeout=timeout)
    assert r.rc == 0, r
    return r


def import_layer(db, layer, features, workdir, *extra):
    path = Path(workdir) / f"{layer}.geojson"
    write_geojson(path, features)
    cli_ok("import", layer, path, "--db", db, *extra)


def analyze(db, name, *args, fmt="json"):
    r = run_cli(estatemap_bin(), "analyze", name, "--db", db, "--format", fmt, *args)
    assert r.rc == 0, r
    return json.loads(r.out) if fmt in ("json", "geojson") else r.out


def by_code(doc, key="code"):
    return {row[key]: row for row in doc["rows"]}


# Layout, all in EPSG:4549 metres from an origin in town A:
#   row y=0     prerequisite estates, 300 m apart
#   row y=2000  corridor, zone and works estates
#   row y=9000  grid coverage estates (their own grid cells, outside the big cell)
ORIGIN_A = (121.32, 31.03)
ORIGIN_B = (121.42, 31.03)
RAIL_X = 1000.0    # railway: a north-south line at x = 1000, y 1500..2600
RIVER_X = 1225.0   # river: a north-south line
SIDE = 100.0       # estates are 100 m squares unless noted


def prereq_estates():
    """(code, attrs, violations) for the prerequisite row."""
    return [
        ("A01", {}),
        ("A02", {"fee_collection_rate": 0.72}),
        ("A03", {"fee_collection_rate": 0.80}),
        ("A04", {"fee_collection_rate": None}),
        ("A05", {"owners_cofund": 0}),
        ("A06", {"tianyuan_model": 0}),
        ("A07", {"four_in_one": 0}),
        ("A08", {"owners_cofund": None, "tianyuan_model": None, "four_in_one": None}),
        ("A09", {"elevator_count": 2, "elevator_valid_until": "2016-08-31"}),
        ("A10", {"elevator_count": 3}),
        ("A11", {"elevator_count": None}),
        ("A12", {}),   # three open 违法建筑
        ("A13", {}),   # one 违法建筑, resolved 2017-02-15
        ("A14", {}),   # only 六乱
        ("A15", {}),   # two 五违 categories open
        ("A16", {"built_year": 2005}),
        ("A17", {"built_year": None}),
    ]


def prereq_geom(i):
    x = i * 300.0
    return m_rect(ORIGIN_A, x, 0, x + SIDE, SIDE)


VIOLATION_ROWS = [
    # estate, category, reported, resolved
    ("A12", "违法建筑", "2017-01-10T08:00:00", None),
    ("A12", "违法建筑", "2017-03-05T08:00:00", None),
    ("A12", "违法建筑", "2017-05-02T16:30:00", None),
    ("A12", "违法建筑", "2015-05-02T16:30:00", "2015-06-01T10:00:00"),
    ("A13", "违法建筑", "2016-03-01T10:00:00", "2017-02-15T09:00:00"),
    ("A14", "乱停车", "2017-01-01T10:00:00", None),
    ("A14", "违法使用房屋", "2017-01-01T11:00:00", None),
    ("A15", "违法居住", "2017-02-01T10:00:00", None),
    ("A15", "违法经营", "2016-12-01T10:00:00", None),
    ("R15V", "违法用地", "2016-06-01T10:00:00", None),
    ("Z1V", "违法排污", "2016-06-01T10:00:00", None),
]


def row2_estates():
    """Corridor, zone and works estates (y = 2000)."""
    y = 2000.0
    return [
        # between the railway (west, 15 m) and the river (east, 10 m)
        ("R15", m_rect(ORIGIN_A, RAIL_X + 15, y, RIVER_X - 10, y + SIDE), {}),
        # 25 m east of the railway: outside its 20 m buffer
        ("R25", m_rect(ORIGIN_A, RAIL_X - 25 - SIDE, y, RAIL_X - 25, y + SIDE), {}),
        # along the railway but with an open 五违
        ("R15V", m_rect(ORIGIN_A, RAIL_X + 15, y + 300, RIVER_X - 10, y + 300 + SIDE), {}),
        # 29.5 m from the river only (buffer 30 m)
        ("RV", m_rect(ORIGIN_A, RIVER_X + 29.5, y + 600, RIVER_X + 29.5 + SIDE, y + 700), {}),
        # zones: Z1 wholly in the key remediation area, Z2 30% in it, Z1V in it with 五违
        ("Z1", m_rect(ORIGIN_A, 3000, y, 3100, y + SIDE), {}),
        ("Z2", m_rect(ORIGIN_A, 3330, y, 3430, y + SIDE), {}),
        ("Z1V", m_rect(ORIGIN_A, 3000, y + 200, 3100, y + 300), {}),
        ("C1", m_rect(ORIGIN_A, 5000, y, 5100, y + SIDE), {}),
        ("W1", m_rect(ORIGIN_A, 6000, y, 6100, y + SIDE),
         {"rain_sewage_works": "planned", "roof_works": "in_progress"}),
        ("W2", m_rect(ORIGIN_A, 6300, y, 6400, y + SIDE), {"water_supply_works": "done"}),
    ]


KEY_ZONE = m_rect(ORIGIN_A, 2900, 1900, 3400, 2400)  # holds Z1, Z1V and 70 m of Z2's 100
CIVIL_ZONE = m_rect(ORIGIN_A, 4900, 1900, 5200, 2200)

GRID_Y = 9000.0


def grid_estates():
    """Estates with their own grid cells: P partly covered (93.4%), U covered by two
    overlapping cells whose union leaves 5% (the sum would be 120%), F by two cells
    that only touch (100%)."""
    y = GRID_Y
    return [
        ("P", m_rect(ORIGIN_A, 0, y, 100, y + 100),
         [m_rect(ORIGIN_A, 6.6, y - 50, 200, y + 150)]),
        ("U", m_rect(ORIGIN_A, 400, y, 500, y + 100),
         [m_rect(ORIGIN_A, 350, y - 50, 460, y + 150), m_rect(ORIGIN_A, 435, y - 50, 495, y + 150)]),
        ("F", m_rect(ORIGIN_A, 800, y, 900, y + 100),
         [m_rect(ORIGIN_A, 750, y - 50, 850, y + 150), m_rect(ORIGIN_A, 850, y - 50, 950, y + 150)]),
    ]


# Town B: 30 estates in scope (so ceil(10%) = 3, not the 4 that 0.1 * 30 in floating
# point would give) and 2 out of scope, for the tier rules.
TIER_B = {
    # code: (attrs, assigned tier)
    "B05": ({"roof_works": "planned", "owners_committee": "none", "fee_collection_rate": 0.85},
            None),
    "B01": ({"fee_collection_rate": 0.90}, "示范版"),
    "B02": ({"fee_collection_rate": 0.85, "satisfaction": 90.0}, None),
    "B03": ({"fee_collection_rate": 0.85, "satisfaction": 80.0}, None),
    "B04": ({"owners_committee": "formed", "fee_collection_rate": 0.99}, None),
    "B06": ({"owners_committee": "none", "fee_collection_rate": 0.95}, None),
    "B07": ({"owners_committee": "none", "fee_collection_rate": 0.94}, None),
    "B08": ({"owners_committee": "none", "fee_collection_rate": 0.93}, None),
    "B09": ({"owners_committee": "none", "fee_collection_rate": 0.92}, None),
    "B10": ({"owners_committee": "none", "fee_collection_rate": 0.91}, None),
    # fails p2 although strong otherwise, and is assigned 示范版 anyway
    "B11": ({"fee_collection_rate": 0.5, "roof_works": "planned"}, "示范版"),
}
for _i in range(12, 31):
    TIER_B[f"B{_i:02d}"] = ({"owners_cofund": 0}, "提升版" if _i <= 23 else None)
TIER_B["B31"] = ({"built_year": 2003}, "示范版")  # out of scope
TIER_B["B32"] = ({"built_year": 2000}, None)      # 2000 is not before 2000


def tier_b_geom(i):
    col, row = i % 8, i // 8
    return m_rect(ORIGIN_B, col * 250, row * 250, col * 250 + 80, row * 250 + 80)


def build_rules_db(path, workdir):
    init_db(estatemap_bin(), path)
    workdir = Path(workdir)
    import_layer(path, "towns", [({"code": c, "name": n}, ll_box(*b).wkt)
                                 for c, (n, b) in TOWNS.items()], workdir)
    # grid: one cell per town, town A's stopping south of the grid-coverage row
    ox, oy = m_origin(*ORIGIN_A)
    split_lat = TO_LL.transform(ox, oy + GRID_Y - 500)[1]
    cells = [({"code": f"{TOWN_A}0010001", "town_code": TOWN_A},
              ll_box(121.30, 31.00, 121.40, round(split_lat, 6)).wkt),
             ({"code": f"{TOWN_B}0010001", "town_code": TOWN_B},
              ll_box(121.40, 31.00, 121.50, 31.20).wkt),
             ({"code": f"{TOWN_C}0010001", "town_code": TOWN_C},
              ll_box(121.50, 31.00, 121.60, 31.20).wkt)]
    n = 2
    for code, geom, gcells in grid_estates():
        for g in gcells:
            cells.append(({"code": f"{TOWN_A}00100{n:02d}", "town_code": TOWN_A}, g.wkt))
            n += 1
    import_layer(path, "grid", cells, workdir)

    estates = []
    for i, (code, attrs) in enumerate(prereq_estates()):
        estates.append(estate(code, prereq_geom(i), **attrs))
    for code, geom, attrs in row2_estates():
        estates.append(estate(code, geom, **attrs))
    for code, geom, _ in grid_estates():
        estates.append(estate(code, geom))
    for i, (code, (attrs, tier)) in enumerate(sorted(TIER_B.items())):
        estates.append(estate(code, tier_b_geom(i), tier=tier, **attrs))
    import_layer(path, "estates", estates, workdir)

    geoms = {p["code"]: w for p, w in estates}
    from shapely import wkt
    violations = []
    for n, (code, cat, rep, res) in enumerate(VIOLATION_ROWS):
        c = wkt.loads(geoms[code]).representative_point()
        props = {"code": f"V{n:03d}", "category": cat, "reported_at": rep,
                 "status": "resolved" if res else "open"}
        if res:
            props["resolved_at"] = res
        violations.append((props, f"POINT({c.x} {c.y})"))
    import_layer(path, "violations", violations, workdir)

    corridors = [
        ({"type": "railway", "name": "测试铁路"}, m_line(ORIGIN_A, [(RAIL_X, 1500), (RAIL_X, 2700)]).wkt),
        ({"type": "river", "name": "测试河"}, m_line(ORIGIN_A, [(RIVER_X, 1500), (RIVER_X, 2800)]).wkt),
    ]
    import_layer(path, "corridors", corridors, workdir)
    zones = [({"kind": "key_remediation", "name": "测试重点整治区域"}, KEY_ZONE.wkt),
             ({"kind": "civilised_key", "name": "测试创全重点区域"}, CIVIL_ZONE.wkt)]
    import_layer(path, "zones", zones, workdir)
    return Path(path)


@pytest.fixture(scope="module")
def rules_db(tmp_path_factory):
    work = tmp_path_factory.mktemp("rules")
    return build_rules_db(work / "rules.sqlite", work)


def copy_db(src, dst):
    shutil.copy(src, dst)
    for suffix in ("-wal", "-shm"):
        if Path(str(src) + suffix).exists():
            shutil.copy(str(src) + suffix, str(dst) + suffix)
    return Path(dst)


def with_settings(src, dst, **values):
    path = copy_db(src, dst)
    con = sqlite3.connect(path)
    for k, v in values.items():
        con.execute("UPDATE settings SET value = ? WHERE key = ?", (str(v), k))
    con.commit()
    con.close()
    return path


def eligibility(db, as_of, *args):
    return by_code(analyze(db, "eligibility", "--as-of", as_of, *args))


# ---------------------------------------------------------------- prerequisites


def test_all_pass_and_eligible(rules_db):
    e = eligibility(rules_db, "2017-06-30")["A01"]
    for p in range(1, 8):
        assert e[f"p{p}_pass"] is True, (p, e[f"p{p}_reason"])
        assert e[f"p{p}_reason"] and e[f"p{p}_reason_zh"]
    assert e["eligible"] is True and e["in_scope"] is True
    assert e["p1_reason"] == "no open 五违 reports; none new in the 365 days to 2017-06-30"
    assert e["p6_reason"] == "grid cells cover 100.0% of the estate"
    assert e["p7_reason"] == "no elevators"
    assert e["town_code"] == TOWN_A and e["built_year"] == 1990


def test_fee_collection(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    assert e["A02"]["p2_pass"] is False
    assert e["A02"]["p2_reason"] == "fee collection 72% < 80%"
    assert e["A02"]["eligible"] is False
    assert e["A03"]["p2_pass"] is True, e["A03"]["p2_reason"]  # exactly at the threshold
    assert e["A03"]["p2_reason"] == "fee collection 80% ≥ 80%"
    assert e["A04"]["p2_pass"] is False
    assert "missing" in e["A04"]["p2_reason"]
    assert "缺少" in e["A04"]["p2_reason_zh"]


def test_owner_flags(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    assert [e["A05"][f"p{p}_pass"] for p in (3, 4, 5)] == [False, True, True]
    assert [e["A06"][f"p{p}_pass"] for p in (3, 4, 5)] == [True, False, True]
    assert [e["A07"][f"p{p}_pass"] for p in (3, 4, 5)] == [True, True, False]
    assert e["A05"]["p3_reason"] == "owners not willing to co-fund"
    assert e["A06"]["p4_reason"] == "田园模式 not in place"
    for p in (3, 4, 5):
        assert e["A08"][f"p{p}_pass"] is False
        assert "missing" in e["A08"][f"p{p}_reason"]


def test_elevators_expire(rules_db):
    before = eligibility(rules_db, "2016-08-31")["A09"]
    after = eligibility(rules_db, "2016-09-01")["A09"]
    assert before["p7_pass"] is True
    assert before["p7_reason"] == "elevator inspection valid until 2016-08-31"
    assert after["p7_pass"] is False
    assert after["p7_reason"] == "elevator inspection expired 2016-08-31"
    assert "2016-08-31" in after["p7_reason_zh"]
    e = eligibility(rules_db, "2016-09-01")
    assert e["A10"]["p7_pass"] is False and "missing" in e["A10"]["p7_reason"]
    assert e["A11"]["p7_pass"] is True  # no count recorded: nothing to inspect


def test_open_wuwei_reports(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    a12 = e["A12"]
    assert a12["p1_pass"] is False
    assert a12["p1_reason"].startswith("3 open 违法建筑 reports, latest 2017-05-02")
    assert a12["open_wuwei"] == 3
    # only 六乱 and 违法使用房屋 (not 五违): passes
    assert e["A14"]["p1_pass"] is True, e["A14"]["p1_reason"]
    assert e["A14"]["open_wuwei"] == 0
    a15 = e["A15"]["p1_reason"]
    assert a15.startswith("2 open 五违 reports (")
    assert "违法居住 1" in a15 and "违法经营 1" in a15 and "latest 2017-02-01" in a15
    # before any of A12's reports
    assert eligibility(rules_db, "2017-01-09")["A12"]["open_wuwei"] == 0


def test_wuwei_before_and_after_resolution(rules_db):
    # reported 2016-03-01, resolved 2017-02-15
    on = eligibility(rules_db, "2017-02-14")["A13"]
    assert on["p1_pass"] is False and on["open_wuwei"] == 1
    assert on["p1_reason"].startswith("1 open 违法建筑 report, reported 2016-03-01")
    resolved = eligibility(rules_db, "2017-02-15")["A13"]
    assert resolved["open_wuwei"] == 0
    # resolved, but reported within the 365 days before the date: still "new"
    assert resolved["p1_pass"] is False
    assert resolved["p1_reason"] == ("no open 五违 reports; 1 new 违法建筑 report in the 365 days "
                                     "to 2017-02-15, reported 2016-03-01")
    # the 365 days to 2017-02-28 start on 2016-02-29 (a leap year) and hold 2016-03-01;
    # the 365 days to 2017-03-01 start on 2016-03-02
    assert eligibility(rules_db, "2017-02-28")["A13"]["p1_pass"] is False
    clear = eligibility(rules_db, "2017-03-01")["A13"]
    assert clear["p1_pass"] is True, clear["p1_reason"]
    before = eligibility(rules_db, "2016-02-29")["A13"]
    assert before["p1_pass"] is True and before["open_wuwei"] == 0


def test_wuwei_settings(rules_db, tmp_path):
    db = with_settings(rules_db, tmp_path / "s.sqlite", wuwei_open_max=1, wuwei_new_days=0)
    e = eligibility(db, "2017-02-14")
    assert e["A13"]["p1_pass"] is True, e["A13"]["p1_reason"]
    assert e["A13"]["p1_reason"] == "1 open 违法建筑 report, reported 2016-03-01 (at most 1 allowed)"
    assert e["A15"]["p1_pass"] is False
    assert "(at most 1 allowed)" in e["A15"]["p1_reason"]
    doc = analyze(db, "eligibility", "--as-of", "2017-02-14")
    assert doc["summary"]["settings"]["wuwei_open_max"] == 1
    assert doc["summary"]["settings"]["wuwei_new_days"] == 0


def test_fee_threshold_from_settings(rules_db, tmp_path):
    db = with_settings(rules_db, tmp_path / "fee.sqlite", fee_collection_min="0.7")
    e = eligibility(db, "2017-06-30")
    assert e["A02"]["p2_pass"] is True and e["A02"]["p2_reason"] == "fee collection 72% ≥ 70%"


def test_bad_setting_is_an_error_naming_it(rules_db, tmp_path):
    db = with_settings(rules_db, tmp_path / "bad.sqlite", fee_collection_min="lots")
    r = run_cli(estatemap_bin(), "analyze", "eligibility", "--db", db, "--as-of", "2017-01-01")
    assert r.rc == 1, r
    assert "fee_collection_min" in r.err


def oracle_coverage(db, code):
    est = {r["code"]: r for r in rows(db, "estates")}[code]["geom"]
    cells = [r["geom"] for r in rows(db, "grid")]
    em = to_metric(est)
    union = unary_union([to_metric(c) for c in cells if c.intersects(est)])
    return em.intersection(union).area / em.area


def test_grid_coverage_against_oracle(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    p = oracle_coverage(rules_db, "P")
    assert abs(p - 0.934) < 0.002  # the fixture is what it says
    assert e["P"]["p6_pass"] is False
    assert f"grid cells cover {p * 100:.1f}% of the estate" in e["P"]["p6_reason"]
    assert e["P"]["p6_reason"] == "grid cells cover 93.4% of the estate (< 99%)"
    assert abs(e["P"]["grid_coverage_pct"] - p * 100) < 0.1
    # overlapping cells are a union, not a sum
    u = oracle_coverage(rules_db, "U")
    assert abs(u - 0.95) < 0.002
    assert e["U"]["p6_pass"] is False
    assert abs(e["U"]["grid_coverage_pct"] - u * 100) < 0.1
    # cells that only touch cover the whole estate
    assert e["F"]["p6_pass"] is True, e["F"]["p6_reason"]
    assert e["F"]["grid_coverage_pct"] == pytest.approx(100.0, abs=0.01)


def test_grid_threshold_from_settings(rules_db, tmp_path):
    db = with_settings(rules_db, tmp_path / "grid.sqlite", grid_coverage_min="0.9")
    e = eligibility(db, "2017-06-30")
    assert e["P"]["p6_pass"] is True and e["U"]["p6_pass"] is True


def test_scope_and_filters(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    assert e["A16"]["in_scope"] is False and e["A16"]["eligible"] is True
    assert e["A17"]["in_scope"] is False and e["A17"].get("built_year") is None
    assert e["B32"]["in_scope"] is False  # built in 2000: not before 2000
    scoped = eligibility(rules_db, "2017-06-30", "--built-before", "2000")
    assert "A16" not in scoped and "A17" not in scoped and "A01" in scoped
    town = eligibility(rules_db, "2017-06-30", "--town", TOWN_B)
    assert town and all(c.startswith("B") for c in town)
    failing = analyze(rules_db, "eligibility", "--as-of", "2017-06-30", "--failing")
    assert failing["rows"] and all(not r["eligible"] for r in failing["rows"])
    assert failing["summary"]["eligible"] == sum(r["eligible"] for r in e.values())
    assert len(failing["rows"]) == sum(not r["eligible"] for r in e.values())


def test_summary_counts(rules_db):
    doc = analyze(rules_db, "eligibility", "--as-of", "2017-06-30")
    s = doc["summary"]
    rs = doc["rows"]
    assert s["estates"] == len(rs) == s["listed"]
    assert s["eligible"] == sum(all(r[f"p{p}_pass"] for p in range(1, 8)) for r in rs)
    assert s["eligible"] == sum(r["eligible"] for r in rs)
    assert s["failing"] == len(rs) - s["eligible"]
    for p in range(1, 8):
        assert s["failing_by_prerequisite"][f"p{p}"] == sum(not r[f"p{p}_pass"] for r in rs)
    assert s["as_of"] == "2017-06-30"


# ---------------------------------------------------------------- priority


def oracle_distance(db, code, corridor_type):
    est = {r["code"]: r for r in rows(db, "estates")}[code]["geom"]
    cs = [r["geom"] for r in rows(db, "corridors") if r["type"] == corridor_type]
    return min(to_metric(est).distance(to_metric(c)) for c in cs)


def test_priority_along_corridors(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    r15 = e["R15"]
    d_rail = oracle_distance(rules_db, "R15", "railway")
    d_river = oracle_distance(rules_db, "R15", "river")
    assert abs(d_rail - 15) < 0.05 and abs(d_river - 10) < 0.05
    assert r15["prio1"] is True
    assert r15["along_types"] == ["railway", "river"]
    assert f"along railway 测试铁路, {d_rail:.1f} m (buffer 20 m)" in r15["prio1_reason"]
    assert f"along river 测试河, {d_river:.1f} m (buffer 30 m)" in r15["prio1_reason"]
    assert "铁路沿线" in r15["prio1_reason_zh"]
    r25 = e["R25"]
    assert abs(oracle_distance(rules_db, "R25", "railway") - 25) < 0.05
    assert r25["prio1"] is False and r25["along_types"] == []
    rv = e["RV"]
    assert abs(oracle_distance(rules_db, "RV", "river") - 29.5) < 0.05
    assert rv["prio1"] is True and rv["along_types"] == ["river"]
    # along, but the 五违 are not cleared: no priority, and the reason says why
    r15v = e["R15V"]
    assert r15v["p1_pass"] is False and r15v["prio1"] is False
    assert r15v["along_types"] == ["railway", "river"]
    assert "prerequisite 1 fails" in r15v["prio1_reason"]


def test_corridor_buffer_from_lookup_table(rules_db, tmp_path):
    db = copy_db(rules_db, tmp_path / "buf.sqlite")
    con = sqlite3.connect(db)
    con.execute("UPDATE corridor_types SET buffer_m = 29 WHERE type = 'river'")
    con.execute("UPDATE corridor_types SET buffer_m = 26 WHERE type = 'railway'")
    con.commit()
    con.close()
    e = eligibility(db, "2017-06-30")
    assert e["RV"]["prio1"] is False
    assert e["R25"]["prio1"] is True and e["R25"]["along_types"] == ["railway"]


def test_priority_zones(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    assert e["Z1"]["prio1"] is True
    assert "in key remediation area 测试重点整治区域 (100% of the estate)" in e["Z1"]["prio1_reason"]
    # 70% of Z2 lies in the zone: inside by the at-least-half rule
    z2 = to_metric({r["code"]: r for r in rows(rules_db, "estates")}["Z2"]["geom"])
    share = z2.intersection(to_metric(KEY_ZONE)).area / z2.area
    assert abs(share - 0.7) < 0.01
    assert e["Z2"]["prio1"] is True and "(70% of the estate)" in e["Z2"]["prio1_reason"]
    assert e["Z1V"]["prio1"] is False and "prerequisite 1 fails" in e["Z1V"]["prio1_reason"]
    assert e["C1"]["prio2"] is True
    assert e["C1"]["prio2_reason"].startswith("in civilised-district key area 测试创全重点区域")
    assert e["C1"]["prio1"] is False and e["A01"]["prio2"] is False
    assert e["A01"]["prio1_reason"] == ("not along a corridor within its buffer nor in a key "
                                         "remediation area")


def test_priority_works_and_score(rules_db):
    e = eligibility(rules_db, "2017-06-30")
    w1 = e["W1"]
    assert w1["prio3"] is True
    assert w1["prio3_reason"] == ("rain/sewage separation planned; flat-to-sloped roof works "
                                  "under way")
    assert e["W2"]["prio3"] is False  # done is not planned or under way
    for r in e.values():
        assert r["priority_score"] == r["prio1"] + r["prio2"] + r["prio3"]
    assert e["R15"]["priority_score"] == 1 and e["W1"]["priority_score"] == 1


# ---------------------------------------------------------------- output formats


def test_formats_and_languages(rules_db):
    csv_out = analyze(rules_db, "eligibility", "--as-of", "2017-06-30", fmt="csv")
    header = csv_out.splitlines()[0].split(",")
    expected = ["code", "name", "town_code", "built_year", "in_scope", "eligible"]
    for p in range(1, 8):
        expected += [f"p{p}_pass", f"p{p}_reason", f"p{p}_reason_zh"]
    for p in range(1, 4):
        expected += [f"prio{p}", f"prio{p}_reason", f"prio{p}_reason_zh"]
    expected += ["priority_score"]
    assert header[:len(expected)] == expected
    r = run_cli(estatemap_bin(), "analyze", "eligibility", "--db", rules_db, "--as-of",
                "2017-06-30", "--lang", "zh", "--town", TOWN_B)
    assert r.rc == 0, r
    assert "小区编码" in r.out and "符合全部条件" in r.out and "是" in r.out
    gj = analyze(rules_db, "eligibility", "--as-of", "2017-06-30", fmt="geojson")
    assert gj["type"] == "FeatureCollection"
    assert len(gj["features"]) == gj["summary"]["estates"]
    for f in gj["features"]:
        assert f["geometry"]["type"] == "MultiPolygon"
    tiers_gj = analyze(rules_db, "tiers", "--as-of", "2017-06-30", "--by", "estate",
                       fmt="geojson")
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in tiers_gj["features"])
    towns_gj = analyze(rules_db, "tiers", "--as-of", "2017-06-30", fmt="geojson")
    geoms = [f["geometry"] for f in towns_gj["features"]]
    assert sum(g is not None for g in geoms) == 3  # the towns; the district row has none
    r = run_cli(estatemap_bin(), "analyze", "progress", "--db", rules_db, "--format", "geojson")
    assert r.rc == 2, r


@pytest.mark.parametrize("name,args,word", [
    ("eligibility", ["--as-of", "2017-02-30"], "as-of"),
    ("eligibility", ["--as-of", "yesterday"], "as-of"),
    ("eligibility", ["--town", "3101"], "town"),
    ("eligibility", ["--town", "310112999"], "town"),
    ("eligibility", ["--built-before", "soon"], "built-before"),
    ("eligibility", ["--colour", "red"], "colour"),
    ("tiers", ["--by", "street"], "by"),
    ("tiers", ["--as-of", "2017-1-32"], "as-of"),
    ("progress", ["--tier", "示范版"], "tier"),
    ("progress", ["--as-of", "2017/02/30"], "as-of"),
])
def test_usage_errors_name_the_parameter(rules_db, name, args, word):
    r = run_cli(estatemap_bin(), "analyze", name, "--db", rules_db, *args)
    assert r.rc == 2, r
    assert word in r.err


def test_as_of_defaults_to_today(rules_db):
    doc = analyze(rules_db, "eligibility")
    assert doc["summary"]["as_of"] == time.strftime("%Y-%m-%d")


# ---------------------------------------------------------------- tiers


def tiers(db, as_of, *args):
    return analyze(db, "tiers", "--as-of", as_of, *args)


def test_tier_recommendation_ranking(rules_db):
    # the ranking itself, with the 业委会 gate off
    doc = tiers(rules_db, "2017-06-30", "--by", "estate", "--town", TOWN_B,
                "--require-committee", "false")
    t = by_code(doc)
    assert set(t) == {f"B{i:02d}" for i in range(1, 31)}  # B31, B32 out of scope
    # priority score first, then 业委会, fee collection, satisfaction
    order = [c for c, r in sorted(t.items(), key=lambda kv: kv[1].get("rank") or 99)
             if r.get("rank")]
    assert order[:5] == ["B05", "B01", "B02", "B03", "B04"]
    assert order[5:] == ["B06", "B07", "B08", "B09", "B10"]
    assert [t[c]["recommended_tier"] for c in order] == ["示范版"] * 3 + ["提升版"] * 7
    # a failing estate is never above 基础版, however strong otherwise
    assert t["B11"]["eligible"] is False and t["B11"]["failed"] == ["p2"]
    assert t["B11"]["recommended_tier"] == "基础版" and t["B11"].get("rank") is None
    assert t["B11"]["assigned_tier"] == "示范版" and t["B11"]["assigned_allowed"] is False
    assert "fails prerequisite 2" in t["B11"]["note"]
    assert t["B01"]["assigned_allowed"] is True and t["B01"]["matches"] is True
    assert t["B11"]["matches"] is False
    for r in t.values():
        if not r["eligible"]:
            assert r["recommended_tier"] == "基础版"
    assert "top 3 (10% of 30 in scope)" in t["B05"]["note"]


def test_quota_arithmetic_and_shortfall(rules_db):
    doc = tiers(rules_db, "2017-06-30", "--require-committee", "false")
    towns = by_code(doc, "town_code")
    b = towns[TOWN_B]
    assert b["in_scope"] == 30 and b["eligible"] == 10
    assert b["demo_required"] == 3      # ceil(0.1 * 30), not 4
    assert b["upgrade_required"] == 12  # ceil(0.4 * 30)
    assert (b["recommended_demo"], b["recommended_upgrade"], b["recommended_basic"]) == (3, 7, 20)
    # assigned: B01 and B11 示范版, B12-B23 提升版 (B31 is out of scope)
    assert (b["assigned_demo"], b["assigned_upgrade"], b["assigned_basic"]) == (2, 12, 0)
    assert b["unassigned"] == 16
    assert b["demo_quota_met"] is False and b["demo_needed"] == 1
    assert b["upgrade_quota_met"] is True and b["upgrade_needed"] == 0
    assert b["assigned_failing"] == 13
    assert doc["summary"]["tiered_out_of_scope"] == 1


def test_town_without_estates_and_district_row(rules_db):
    doc = tiers(rules_db, "2017-06-30")
    rs = doc["rows"]
    assert [r["town_code"] for r in rs] == [TOWN_A, TOWN_B, TOWN_C, "310112"]
    c = rs[2]
    assert c["town_name"] == "新虹街道"
    for k in ["in_scope", "eligible", "assigned_demo", "assigned_upgrade", "assigned_basic",
              "recommended_demo", "recommended_upgrade", "recommended_basic", "demo_required",
              "upgrade_required", "demo_needed", "upgrade_needed"]:
        assert c[k] == 0, k
    assert c["demo_quota_met"] is True and c["upgrade_quota_met"] is True
    total = rs[3]
    for k in ["in_scope", "eligible", "assigned_demo", "assigned_upgrade", "assigned_basic",
              "unassigned", "recommended_demo", "recommended_upgrade", "recommended_basic",
              "demo_required", "upgrade_required", "demo_needed", "upgrade_needed",
              "assigned_failing"]:
        assert total[k] == sum(r[k] for r in rs[:3]), k
    assert total["demo_quota_met"] is False
    # town A: its in-scope estates, quotas by ceil
    a = rs[0]
    assert a["demo_required"] == math.ceil(a["in_scope"] / 10)
    assert a["upgrade_required"] == math.ceil(a["in_scope"] * 4 / 10)
    one = tiers(rules_db, "2017-06-30", "--town", TOWN_C)
    assert [r["town_code"] for r in one["rows"]] == [TOWN_C]


def test_tiers_follow_the_date(rules_db):
    # A13's 五违 (2016-03-01 .. 2017-02-15) makes it fail in 2016 and pass from 2017-03-01
    early = by_code(tiers(rules_db, "2016-12-31", "--by", "estate", "--town", TOWN_A))
    late = by_code(tiers(rules_db, "2017-03-01", "--by", "estate", "--town", TOWN_A))
    assert early["A13"]["eligible"] is False and early["A13"]["recommended_tier"] == "基础版"
    assert late["A13"]["eligible"] is True and late["A13"]["rank"] >= 1


def test_require_committee(rules_db):
    # §五(一)3: an estate whose 业委会 is not operating can only be 基础版 -- the default
    t = by_code(tiers(rules_db, "2017-06-30", "--by", "estate", "--town", TOWN_B))
    assert t == by_code(tiers(rules_db, "2017-06-30", "--by", "estate", "--town", TOWN_B,
                              "--require-committee"))
    # B05 (业委会 none) and B04 (formed) drop out; B01, B02, B03 lead
    assert t["B05"]["recommended_tier"] == "基础版" and "业委会" in t["B05"]["note"]
    assert t["B04"]["recommended_tier"] == "基础版"
    assert [c for c in t if t[c]["recommended_tier"] == "示范版"] == ["B01", "B02", "B03"]


def test_tiers_zh(rules_db):
    r = run_cli(estatemap_bin(), "analyze", "tiers", "--db", rules_db, "--as-of", "2017-06-30",
                "--lang", "zh", "--format", "csv")
    assert r.rc == 0, r
    assert r.out.splitlines()[0].startswith("街镇代码,街镇,应建小区数")


# ---------------------------------------------------------------- progress

PROGRESS_ESTATES = [
    # code, town, tier, plan, completed, accepted, stage
    ("D1", TOWN_A, "示范版", "2016-10-15", "2016-12-20", "2017-04-20", "accepted"),
    ("D2", TOWN_A, "示范版", "2016-10-15", "2017-03-31", None, "completed"),
    ("D3", TOWN_A, "示范版", "2016-11-30", "2017-04-01", None, "completed"),
    ("D4", TOWN_A, "示范版", "2016-12-01", None, None, "implementing"),
    ("U1", TOWN_A, "提升版", "2016-10-20", "2017-12-31", None, "completed"),
    ("U2", TOWN_A, "提升版", "2016-10-20", "2018-01-05", None, "completed"),
    ("K1", TOWN_A, "基础版", "2016-11-01", None, "2017-11-30", "accepted"),
    ("D5", TOWN_B, "示范版", "2016-10-01", "2016-11-11", None, "completed"),
    ("N1", TOWN_B, None, None, None, None, "none"),
]


@pytest.fixture(scope="module")
def progress_db(tmp_path_factory):
    work = tmp_path_factory.mktemp("progress")
    path = work / "progress.sqlite"
    init_db(estatemap_bin(), path)
    import_layer(path, "towns", [({"code": c, "name": n}, ll_box(*b).wkt)
                                 for c, (n, b) in TOWNS.items()], work)
    feats = []
    for i, (code, town, tier, plan, done, acc, stage) in enumerate(PROGRESS_ESTATES):
        lon0 = TOWNS[town][1][0] + 0.01 + 0.002 * i
        props = {"code": code, "name": code, "built_year": 1990, "tier": tier, "plan_date": plan,
                 "completed_date": done, "accepted_date": acc, "stage": stage}
        feats.append(({k: v for k, v in props.items() if v is not None},
                      ll_box(lon0, 31.05, lon0 + 0.001, 31.051).wkt))
    import_layer(path, "estates", feats, work)
    return path


def progress(db, as_of, *args):
    doc = analyze(db, "progress", "--as-of", as_of, *args)
    return {(r["town_code"], r["milestone"]): r for r in doc["rows"]}, doc


MILESTONES = ["plans", "scope_planned", "pilots_2016", "demo_half", "demo_all", "upgrade_all",
              "basic_all", "accepted"]


def test_progress_long_format(progress_db):
    p, doc = progress(progress_db, "2017-06-30")
    keys = [(r["town_code"], r["milestone"]) for r in doc["rows"]]
    assert keys == [(t, m) for t in [TOWN_A, TOWN_B, TOWN_C, "310112"] for m in MILESTONES]
    assert p[(TOWN_C, "demo_all")]["target"] == 0 and p[(TOWN_C, "demo_all")]["status"] == "met"
    assert p[("310112", "demo_all")]["deadline"] == "2017-06-30"


def test_progress_pilots(progress_db):
    p, _ = progress(progress_db, "2016-12-01")
    assert p[("310112", "pilots_2016")]["target"] == 5
    assert p[("310112", "pilots_2016")]["done"] == 1
    assert p[("310112", "pilots_2016")]["status"] == "pending"
    assert p[(TOWN_A, "pilots_2016")].get("target") is None
    assert p[(TOWN_A, "pilots_2016")].get("status") is None
    p, _ = progress(progress_db, "2017-01-01")
    d = p[("310112", "pilots_2016")]
    assert d["done"] == 2 and d["status"] == "not_met" and d["share"] == pytest.approx(0.4)
    assert p[(TOWN_A, "pilots_2016")]["done"] == 1 and p[(TOWN_B, "pilots_2016")]["done"] == 1


def test_progress_demo_half_around_deadline(progress_db):
    p, _ = progress(progress_db, "2017-03-30")
    a = p[(TOWN_A, "demo_half")]
    assert a["target"] == 2 and a["done"] == 1 and a["status"] == "pending"
    p, _ = progress(progress_db, "2017-03-31")
    a = p[(TOWN_A, "demo_half")]
    assert a["done"] == 2 and a["status"] == "met"
    d = p[("310112", "demo_half")]
    assert d["target"] == 3 and d["done"] == 3 and d["status"] == "met"  # ceil(50% of 5)


def test_progress_demo_all_around_deadline(progress_db):
    p, _ = progress(progress_db, "2017-06-29")
    a = p[(TOWN_A, "demo_all")]
    assert (a["target"], a["done"], a["status"]) == (4, 3, "pending")
    p, _ = progress(progress_db, "2017-06-30")
    a = p[(TOWN_A, "demo_all")]
    assert (a["done"], a["status"]) == (3, "not_met")
    assert p[(TOWN_B, "demo_all")]["status"] == "met"


def test_progress_upgrade_basic_and_acceptance(progress_db):
    p, _ = progress(progress_db, "2017-12-31")
    u = p[(TOWN_A, "upgrade_all")]
    assert (u["target"], u["done"], u["late"], u["status"]) == (2, 1, 0, "not_met")
    k = p[(TOWN_A, "basic_all")]  # completed by its acceptance date
    assert (k["target"], k["done"], k["status"]) == (1, 1, "met")
    acc = p[(TOWN_A, "accepted")]
    assert (acc["target"], acc["done"]) == (7, 2)
    p, _ = progress(progress_db, "2018-01-10")
    u = p[(TOWN_A, "upgrade_all")]
    assert (u["done"], u["late"], u["status"]) == (1, 1, "not_met")
    p, _ = progress(progress_db, "2017-12-30")
    assert p[(TOWN_A, "upgrade_all")]["status"] == "pending"


def test_progress_plans(progress_db):
    p, _ = progress(progress_db, "2016-12-31")
    a = p[(TOWN_A, "plans")]
    assert (a["target"], a["done"], a["late"], a["status"]) == (7, 6, 1, "not_met")
    s = p[(TOWN_B, "scope_planned")]  # N1 is in scope without a tier or plan
    assert (s["target"], s["done"], s["status"]) == (2, 1, "not_met")
    p, _ = progress(progress_db, "2016-10-31")
    assert p[(TOWN_A, "plans")]["status"] == "pending"
    assert p[(TOWN_A, "plans")]["done"] == 4


def test_progress_district_is_the_sum(progress_db):
    p, doc = progress(progress_db, "2017-09-30")
    for m in MILESTONES:
        d = p[("310112", m)]
        assert d["done"] == sum(p[(t, m)]["done"] for t in TOWNS), m
        if m not in ("pilots_2016", "demo_half"):
            assert d["target"] == sum(p[(t, m)]["target"] for t in TOWNS), m
    one, _ = progress(progress_db, "2017-09-30", "--town", TOWN_A)
    assert {k[0] for k in one} == {TOWN_A}
    r = run_cli(estatemap_bin(), "analyze", "progress", "--db", progress_db, "--as-of",
                "2017-09-30", "--lang", "zh")
    assert r.rc == 0 and "节点" in r.out and "达标" in r.out


# ---------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    geodata = REPO / "geodata"
    needed = ["towns.geojson", "estates.geojson", "grid.geojson", "corridors.geojson",
              "zones.geojson", "violations.csv"]
    if not all((geodata / f).exists() for f in needed):
        pytest.skip("demo data not generated yet (geodata/estates.geojson)")
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    r = run_cli(estatemap_bin(), "demo", "--db", path, "--quiet", timeout=600)
    assert r.rc == 0, r
    return path


AS_OF = "2017-01-01"


def timed(db, name, *args):
    t0 = time.monotonic()
    doc = analyze(db, name, *args)
    elapsed = time.monotonic() - t0
    print(f"\n{name} {' '.join(args)} on the demo: {elapsed:.2f} s")
    return doc


@pytest.fixture(scope="module")
def demo_eligibility(demo):
    return timed(demo, "eligibility", "--as-of", AS_OF)


def test_demo_eligibility_consistent(demo_eligibility):
    doc = demo_eligibility
    rs, s = doc["rows"], doc["summary"]
    assert s["estates"] == len(rs) > 1000
    assert s["eligible"] == sum(all(r[f"p{p}_pass"] for p in range(1, 8)) for r in rs)
    assert s["eligible"] == sum(r["eligible"] for r in rs)
    for p in range(1, 8):
        assert s["failing_by_prerequisite"][f"p{p}"] == sum(not r[f"p{p}_pass"] for r in rs)
        assert all(r[f"p{p}_reason"] for r in rs)
    for r in rs:
        assert r["priority_score"] == r["prio1"] + r["prio2"] + r["prio3"]
        assert not r["prio1"] or r["p1_pass"]
        assert r["in_scope"] == (r.get("built_year") is not None and r["built_year"] < 2000)


def test_demo_grid_coverage_against_oracle(demo, demo_eligibility):
    e = by_code(demo_eligibility)
    estates = {r["code"]: to_metric(r["geom"]) for r in rows(demo, "estates", "code, geom")}
    cells = [to_metric(r["geom"]) for r in rows(demo, "grid", "geom")]
    tree = Index(cells)
    mismatches = []
    for code, g in estates.items():
        cand = [cells[i] for i in tree.query(g) if cells[i].intersects(g)]
        cover = g.intersection(unary_union(cand)).area / g.area if cand else 0.0
        got = e[code]["grid_coverage_pct"]
        if abs(got - cover * 100) >= 0.1 or (cover >= 0.99) != e[code]["p6_pass"]:
            mismatches.append((code, got, cover * 100))
    assert not mismatches, mismatches[:10]


def test_demo_corridors_against_oracle(demo, demo_eligibility):
    e = by_code(demo_eligibility)
    buffers = {t: b for t, b in sqlite3.connect(demo).execute(
        "SELECT type, buffer_m FROM corridor_types")}
    corridors = [(r["type"], to_metric(r["geom"])) for r in rows(demo, "corridors", "type, geom")]
    tree = Index(g for _, g in corridors)
    mismatches = []
    for r in rows(demo, "estates", "code, geom"):
        g = to_metric(r["geom"])
        near = {}
        for i in tree.query(g.buffer(max(buffers.values()) + 1)):
            t, c = corridors[i]
            near[t] = min(near.get(t, math.inf), g.distance(c))
        along = sorted(t for t, d in near.items() if d <= buffers[t])
        borderline = any(abs(d - buffers[t]) < 0.01 for t, d in near.items())
        if along != e[r["code"]]["along_types"] and not borderline:
            mismatches.append((r["code"], along, e[r["code"]]["along_types"], near))
    assert not mismatches, mismatches[:5]


def test_demo_wuwei_against_oracle(demo, demo_eligibility):
    e = by_code(demo_eligibility)
    con = sqlite3.connect(demo)
    wuwei = {n for (n,) in con.execute(
        "SELECT name FROM violation_categories WHERE group_name = '五违'")}
    open_, new = {}, set()
    # reported in the 365 days to the date: after the date minus 365 days
    import datetime
    window_start = (datetime.date.fromisoformat(AS_OF) - datetime.timedelta(days=365)).isoformat()
    for code, cat, rep, res, status in con.execute(
            "SELECT estate_code, category, reported_at, resolved_at, status FROM violations"
            " WHERE estate_code IS NOT NULL"):
        if cat not in wuwei or rep[:10] > AS_OF:
            continue
        if not (res and res[:10] <= AS_OF) and not (res is None and status == "resolved"):
            open_[code] = open_.get(code, 0) + 1
        if rep[:10] > window_start:
            new.add(code)
    for code, r in e.items():
        assert r["open_wuwei"] == open_.get(code, 0), code
        assert r["p1_pass"] == (open_.get(code, 0) == 0 and code not in new), code


def test_demo_cross_check_with_corridors_analysis(demo, demo_eligibility):
    r = run_cli(estatemap_bin(), "analyze", "corridors", "--db", demo, "--all", "--format",
                "json")
    if r.rc != 0:
        pytest.skip(f"corridors analysis not available: {r.err.strip()}")
    theirs = {row["code"]: sorted(row.get("along_types") or [])
              for row in json.loads(r.out)["rows"]}
    ours = {c: row["along_types"] for c, row in by_code(demo_eligibility).items()}
    diff = [(c, ours[c], theirs.get(c)) for c in ours if theirs.get(c) != ours[c]]
    assert not diff, diff[:10]


def test_demo_tiers_consistent(demo, demo_eligibility):
    estates = timed(demo, "tiers", "--as-of", AS_OF, "--by", "estate")
    towns = timed(demo, "tiers", "--as-of", AS_OF)
    elig = by_code(demo_eligibility)
    for r in estates["rows"]:
        if r["recommended_tier"] != "基础版":
            assert r["eligible"] and elig[r["code"]]["eligible"], r["code"]
        assert r["eligible"] == elig[r["code"]]["eligible"]
        assert elig[r["code"]]["in_scope"]
        if r["assigned_tier"] in ("示范版", "提升版") and not r["eligible"]:
            assert r["assigned_allowed"] is False
    rows_ = towns["rows"]
    total = rows_[-1]
    assert total["town_code"] == "310112"
    assert total["in_scope"] == len(estates["rows"]) == sum(r["in_scope"] for r in rows_[:-1])
    for tier, key in [("示范版", "demo"), ("提升版", "upgrade"), ("基础版", "basic")]:
        assert total[f"recommended_{key}"] == sum(
            r["recommended_tier"] == tier for r in estates["rows"])
        assert total[f"assigned_{key}"] == sum(r.get("assigned_tier") == tier
                                               for r in estates["rows"])
    for r in rows_[:-1]:
        assert r["recommended_demo"] <= r["demo_required"]
        assert r["recommended_demo"] + r["recommended_upgrade"] <= r["eligible"]
        assert r["demo_needed"] == max(0, r["demo_required"] - r["assigned_demo"])
        assert r["upgrade_needed"] == max(0, r["upgrade_required"] - r["assigned_upgrade"])
        assert r["demo_required"] == math.ceil(round(r["in_scope"] * 0.1, 9))


def test_demo_progress_consistent(demo):
    doc = timed(demo, "progress", "--as-of", "2017-12-31")
    p = {(r["town_code"], r["milestone"]): r for r in doc["rows"]}
    towns = sorted({k[0] for k in p} - {"310112"})
    assert len(towns) >= 13
    for m in MILESTONES:
        d = p[("310112", m)]
        assert d["done"] == sum(p[(t, m)]["done"] for t in towns), m
        assert d["status"] in ("met", "not_met")  # every deadline has passed
    # the five pilots the demo says were completed in December 2016
    assert p[("310112", "pilots_2016")]["done"] >= 5
    assert p[("310112", "pilots_2016")]["status"] == "met"
