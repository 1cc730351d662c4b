"""The spatial analyses: `estatemap analyze corridors`, `density` and `hotspots`
(issue 3, sections 1-3).

Every number is checked against an independent oracle written here: geometry from
the fixture files (or read back from the database without SpatiaLite), projected to
EPSG:4549 with pyproj (always_xy) and measured with shapely; counts by shapely
point-in-polygon with the documented rule (a point on a shared boundary belongs to
the lowest id); Getis-Ord Gi* and the quintile classes computed from their formulas.

A small hand-made database holds the cases with known answers: estates 49.9 m and
50.1 m from a railway, an estate touching a town border, a violation exactly on the
boundary between two estates and one on the border between two towns, overlapping
corridors of two types, a water polygon, a town with no estates, an estate with no
corridor within 10 km, and a 5 x 5 grid for Gi*. When the demo data exists, the
analyses also run on the demo database and are compared with the oracle in full.
"""

import csv
import io
import json
import math
import time
import warnings

import pytest
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape
from shapely.ops import transform
from shapely.strtree import STRtree

from conftest import REPO, estatemap_bin, init_db, rows, run_cli, write_geojson

TO_M = Transformer.from_crs(4326, 4549, always_xy=True)
TO_LL = Transformer.from_crs(4549, 4326, always_xy=True)
SEARCH_M = 10000.0
TYPES = ["railway", "expressway", "river", "rail_transit"]
DEFAULT_BUFFERS = {"railway": 20.0, "expressway": 30.0, "river": 30.0, "rail_transit": 30.0}
GROUPS = {  # the policy's groups, written out here rather than read from the schema
    "违法用地": "五违", "违法建筑": "五违", "违法经营": "五违", "违法排污": "五违",
    "违法居住": "五违", "违法使用房屋": "违法使用房屋", "黑色小广告": "六乱", "无序设摊": "六乱",
    "乱堆杂物": "六乱", "乱停车": "六乱", "乱晾晒": "六乱", "乱抛物": "六乱",
}
DIST_TOL_M = 0.5


def to_m(g):
    return transform(TO_M.transform, g)


def m_to_ll(x, y):
    return TO_LL.transform(x, y)


def ll_box(lon0, lat0, lon1, lat1):
    return Polygon([(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)])


class Index:
    """STRtree giving indices under shapely 1.8 (geometries) and 2.x (indices)."""

    def __init__(self, geoms):
        self.geoms = list(geoms)
        self.where = {id(g): i for i, g in enumerate(self.geoms)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tree = STRtree(self.geoms)

    def query(self, g):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = self.tree.query(g)
        return sorted(int(x) if not hasattr(x, "geom_type") else self.where[id(x)]
                      for x in found)


# ---------------------------------------------------------------- oracles


def oracle_nearest(estate_m, corridors_m, index=None):
    """{type: (distance, corridor id, name) or None}: the nearest corridor of each type
    within SEARCH_M (ties: lowest id). corridors_m: [(id, type, name, metric geom)]."""
    cands = range(len(corridors_m)) if index is None else \
        index.query(estate_m.buffer(SEARCH_M + 1, 4))
    best = {}
    for i in cands:
        cid, ctype, name, g = corridors_m[i]
        d = estate_m.distance(g)
        if d > SEARCH_M:
            continue
        cur = best.get(ctype)
        if cur is None or d < cur[0] or (d == cur[0] and cid < cur[1]):
            best[ctype] = (d, cid, name)
    return best


def owner(point, units, index=None):
    """The lowest-id unit whose polygon covers `point` (boundary included), or None.
    units: [(id, key, lon/lat polygon)] sorted by id."""
    cands = range(len(units)) if index is None else index.query(point)
    for i in sorted(cands, key=lambda k: units[k][0]):
        if units[i][2].intersects(point):
            return units[i][1]
    return None


def keep(v, category=None, group=None, status=None, date_from=None, date_to=None):
    """The documented filter: categories and group, status, reported day in [from, to]."""
    if category is not None and v["category"] not in category:
        return False
    if group is not None and GROUPS[v["category"]] != group:
        return False
    if status is not None and v["status"] != status:
        return False
    day = v["reported_at"][:10]
    if date_from is not None and day < date_from:
        return False
    if date_to is not None and day > date_to:
        return False
    return True


def quintile_classes(rates):
    """Class 1-5 per rate: class k ends at the rate of 1-based rank ceil(k n / 5) of the
    sorted rates; equal rates share the lower class."""
    s = sorted(rates)
    n = len(s)
    if n == 0:
        return [], [None] * 4
    breaks = [s[-(-k * n // 5) - 1] for k in range(1, 5)]
    return [1 + sum(1 for b in breaks if r > b) for r in rates], breaks


def gi_star(points, values, band):
    """Getis-Ord Gi* with binary weights |pi - pj| <= band, self included."""
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum(v * v for v in values) / n - mean * mean)
    cell = band
    buckets = {}
    for i, (x, y) in enumerate(points):
        buckets.setdefault((math.floor(x / cell), math.floor(y / cell)), []).append(i)
    z, w = [], []
    for i, (x, y) in enumerate(points):
        bx, by = math.floor(x / cell), math.floor(y / cell)
        wi = li = 0
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in buckets.get((bx + dx, by + dy), []):
                    if math.hypot(points[j][0] - x, points[j][1] - y) <= band:
                        wi += 1
                        li += values[j]
        spread = (n * wi - wi * wi) / (n - 1)
        z.append((li - mean * wi) / (s * math.sqrt(spread)) if s > 0 and spread > 0 else None)
        w.append(wi)
    return z, w


def p_two_sided(z):
    return None if z is None else math.erfc(abs(z) / math.sqrt(2))


def gi_class(z, p):
    if z is None or z == 0:
        return "not_significant"
    side = "hot" if z > 0 else "cold"
    for level, cut in (("99", 0.01), ("95", 0.05), ("90", 0.10)):
        if p < cut:
            return f"{side}_{level}"
    return "not_significant"


# ---------------------------------------------------------------- the hand-made database

TOWNS = [  # imported in this order: ids 1-4
    ("310112001", "江川路街道", (121.38, 31.08, 121.42, 31.12)),
    ("310112006", "古美路街道", (121.42, 31.08, 121.46, 31.12)),
    ("310112008", "新虹街道", (121.46, 31.08, 121.50, 31.12)),  # no estates
    ("310112009", "浦锦街道", (121.10, 30.90, 121.20, 31.00)),  # holds only the far estate
]
T1, T2, T3, T4 = (t[0] for t in TOWNS)

# The railway and the two estates beside it are laid out in metres (EPSG:4549) from
# an origin in town 1, so their distances are known exactly.
RAIL_ORIGIN = TO_M.transform(121.39, 31.09)


def metric_rect(x0, y0, x1, y1):
    pts = [m_to_ll(x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
    return Polygon(pts)


def railway_line():
    x, y = RAIL_ORIGIN
    return LineString([m_to_ll(x, y - 1500), m_to_ll(x, y + 1500)])


def rect_east_of_railway(gap, dy):
    x, y = RAIL_ORIGIN
    return metric_rect(x + gap, y + dy, x + gap + 80, y + dy + 80)


# A big C-shaped estate (600 m across) with a short rail spur in its notch: the spur
# is nearer than any other railway, lies inside the estate's bounding box and 100 m
# from every wall of the notch.
BIG_ORIGIN = TO_M.transform(121.381, 31.106)


def big_estate():
    x, y = BIG_ORIGIN
    ring = [(0, 0), (600, 0), (600, 200), (200, 200), (200, 400), (600, 400), (600, 600),
            (0, 600), (0, 0)]
    return Polygon([m_to_ll(x + dx, y + dy) for dx, dy in ring])


def spur_line():
    x, y = BIG_ORIGIN
    return LineString([m_to_ll(x + 300, y + 300), m_to_ll(x + 400, y + 300)])


GRID_ORIGIN = (121.445, 31.100)  # south-west corner of the 5 x 5 grid, in town 2
GRID_STEP = (0.00105, 0.0009)  # about 100 m each way
GRID_COUNTS = [  # row 0 is the northern row
    [0, 0, 0, 0, 0],
    [0, 1, 2, 1, 0],
    [0, 2, 8, 2, 0],
    [0, 1, 2, 1, 0],
    [0, 0, 0, 0, 0],
]
CATEGORY_CYCLE = ["违法建筑", "乱停车", "违法居住", "黑色小广告", "违法使用房屋", "乱堆杂物"]


def grid_cells():
    out = []
    lon0, lat0 = GRID_ORIGIN
    dx, dy = GRID_STEP
    for r in range(5):
        for c in range(5):
            south = lat0 + (4 - r) * dy
            west = lon0 + c * dx
            out.append((f"{T2}0{r}{c}", r, c, ll_box(west, south, west + dx, south + dy)))
    return out


def estates():
    """(code, name, built_year, households, tier, polygon) in import (id) order."""
    return [
        ("E-A", "共边甲", 1990, 200, None, ll_box(121.400, 31.100, 121.401, 31.101)),
        ("E-B", "共边乙", 1999, 0, None, ll_box(121.401, 31.100, 121.402, 31.101)),
        ("E-499", "近铁路", 1995, 300, "基础版", rect_east_of_railway(49.9, -40)),
        ("E-501", "远铁路", 2005, 120, None, rect_east_of_railway(50.1, 300)),
        ("E-TOUCH", "贴边", 2001, 150, None, ll_box(121.419, 31.105, 121.420, 31.106)),
        ("E-OV", "两线", 1985, 400, "示范版", ll_box(121.444, 31.0902, 121.445, 31.0910)),
        ("E-LAKE", "湖边", 2010, 80, "提升版", ll_box(121.434, 31.112, 121.436, 31.113)),
        ("E-FAR", "远郊", 1980, 50, None, ll_box(121.150, 30.950, 121.151, 30.951)),
        ("E-BIG", "大社区", 2003, 600, None, big_estate()),
    ]


def corridors():
    """type -> [(name, geometry)], imported type by type in TYPES order."""
    return {
        "railway": [("沪杭铁路", railway_line()), ("专用线", spur_line())],
        "expressway": [("外环高速", LineString([(121.38, 31.118), (121.46, 31.118)]))],
        # the river and the metro share the segment 121.44-121.45 vertex for vertex
        "river": [("北横泾", LineString([(121.43, 31.09), (121.44, 31.09), (121.45, 31.09)])),
                  ("淀浦河湖面", ll_box(121.43, 31.11, 121.435, 31.115))],
        "rail_transit": [("轨道交通5号线",
                          LineString([(121.44, 31.09), (121.45, 31.09), (121.455, 31.09)]))],
    }


def violations():
    """[(properties, Point)]: named cases first, then the grid's counts."""
    out = []

    def add(code, category, reported, status, lon, lat, resolved=None):
        out.append(({"code": code, "category": category, "reported_at": reported,
                     "resolved_at": resolved, "status": status}, Point(lon, lat)))

    add("V-A1", "违法建筑", "2016-05-01T09:00:00", "open", 121.4003, 31.1003)
    add("V-A2", "乱停车", "2016-07-01T10:00:00", "resolved", 121.4006, 31.1004,
        "2016-07-03T10:00:00")
    add("V-A3", "群租", "2017-01-01T08:00:00", "open", 121.4004, 31.1008)  # alias of 违法居住
    add("V-B1", "无序设摊", "2016-03-03T12:00:00", "open", 121.4015, 31.1005)
    add("V-EDGE", "违法经营", "2016-06-01T00:00:00", "open", 121.401, 31.1005)  # E-A | E-B
    add("V-TOUCH", "违法建筑", "2016-08-08T08:08:08", "open", 121.4195, 31.1055)
    add("V-TOWNEDGE", "乱堆杂物", "2016-09-09T09:00:00", "resolved", 121.42, 31.085,
        "2016-09-10T09:00:00")  # on the border of towns 1 and 2
    x, y = RAIL_ORIGIN
    for i in range(2):
        lon, lat = m_to_ll(x + 90, y + 10 * i - 10)  # inside E-499
        add(f"V-499-{i}", "乱晾晒", f"2016-02-0{i + 1}T10:00:00", "open", lon, lat)
    add("V-FAR", "违法排污", "2016-12-31T23:59:59", "open", 121.1505, 30.9505)
    lon0, lat0 = GRID_ORIGIN
    dx, dy = GRID_STEP
    k = 0
    for r in range(5):
        for c in range(5):
            n = GRID_COUNTS[r][c]
            south, west = lat0 + (4 - r) * dy, lon0 + c * dx
            for i in range(n):
                lon = west + dx * (i + 1) / (n + 1)
                lat = south + dy * (0.3 + 0.4 * ((i * 7) % 5) / 5)
                day = 1 + (k * 11) % 28
                month = 1 + (k * 5) % 12
                status = "open" if k % 3 else "resolved"
                resolved = f"2017-12-{day:02d}T00:00:00" if status == "resolved" else None
                add(f"V-G{r}{c}-{i}", CATEGORY_CYCLE[k % len(CATEGORY_CYCLE)],
                    f"2016-{month:02d}-{day:02d}T12:00:00", status, lon, lat, resolved)
                k += 1
    return out


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    b = estatemap_bin()
    if not b.is_file():
        pytest.fail(f"estatemap binary not found at {b}; set ESTATEMAP_BIN")
    d = tmp_path_factory.mktemp("spatial")
    db = init_db(b, d / "cases.sqlite")

    def imp(layer, path, *extra):
        r = run_cli(b, "import", layer, path, "--db", db, *extra)
        assert r.rc == 0, r

    imp("towns", write_geojson(d / "towns.geojson",
                               [({"code": c, "name": n}, ll_box(*bb).wkt) for c, n, bb in TOWNS]))
    for t, items in corridors().items():
        imp("corridors", write_geojson(d / f"{t}.geojson",
                                       [({"name": n}, g.wkt) for n, g in items]),
            "--set", f"type={t}")
    imp("estates", write_geojson(d / "estates.geojson", [
        ({"code": c, "name": n, "built_year": y, "households": h, "tier": tier}, g.wkt)
        for c, n, y, h, tier, g in estates()]))
    imp("grid", write_geojson(d / "grid.geojson", [
        ({"code": code, "town_code": T2, "community": f"{T2}0"}, g.wkt)
        for code, _, _, g in grid_cells()]))
    vio = violations()
    imp("violations", write_geojson(d / "violations.geojson",
                                    [(p, g.wkt) for p, g in vio]))
    return {"db": db, "violations": vio}


def analyze(db, name, *args, fmt="json"):
    r = run_cli(estatemap_bin(), "analyze", name, "--db", db, "--format", fmt, *args)
    assert r.rc == 0, r
    if fmt in ("json", "geojson"):
        return json.loads(r.out)
    return r.out


def by_code(doc):
    items = doc["rows"] if "rows" in doc else [f["properties"] for f in doc["features"]]
    return {row["code"]: row for row in items}


def fixture_corridors_m():
    out = []
    cid = 0
    for t in TYPES:
        for name, g in corridors()[t]:
            cid += 1
            out.append((cid, t, name, to_m(g)))
    return out


def stored_violations(db):
    """Violations as stored (categories canonical), with lon/lat points."""
    out = []
    for v in rows(db, "violations"):
        out.append(dict(v, point=v["geom"]))
    return out


# ---------------------------------------------------------------- corridors


def test_corridor_distances_match_the_oracle_for_every_estate_and_type(cases):
    doc = analyze(cases["db"], "corridors", "--all")
    got = by_code(doc)
    cm = fixture_corridors_m()
    assert set(got) == {e[0] for e in estates()}
    for code, _, _, _, _, g in estates():
        want = oracle_nearest(to_m(g), cm)
        for t in TYPES:
            row = got[code]
            if t not in want:
                assert row[f"{t}_dist_m"] is None, (code, t, row)
                assert row[f"{t}_name"] is None
                assert row[f"{t}_along"] is False
                continue
            d, _, name = want[t]
            assert row[f"{t}_dist_m"] == pytest.approx(d, abs=DIST_TOL_M), (code, t)
            assert row[f"{t}_name"] == name, (code, t)
            assert row[f"{t}_along"] == (d <= DEFAULT_BUFFERS[t]), (code, t)


def test_estates_49_9_and_50_1_metres_from_a_railway(cases):
    doc = analyze(cases["db"], "corridors", "--types", "railway", "--buffer", "railway=50",
                  "--all")
    got = by_code(doc)
    cm = fixture_corridors_m()
    for code, expect in [("E-499", 49.9), ("E-501", 50.1)]:
        g = next(e[5] for e in estates() if e[0] == code)
        oracle = oracle_nearest(to_m(g), cm)["railway"][0]
        assert oracle == pytest.approx(expect, abs=0.01)
        assert got[code]["railway_dist_m"] == pytest.approx(oracle, abs=0.01)
        assert got[code]["railway_name"] == "沪杭铁路"
    assert got["E-499"]["railway_along"] is True
    assert got["E-501"]["railway_along"] is False
    assert got["E-499"]["along_types"] == ["railway"]
    assert got["E-501"]["along_types"] == []
    # only the railway columns were asked for
    assert "river_dist_m" not in got["E-499"]
    assert doc["summary"]["buffers_m"] == {"railway": 50.0}
    assert doc["summary"]["along"] == {"railway": 1}
    # without --all only the estate along the railway is listed
    listed = by_code(analyze(cases["db"], "corridors", "--types", "railway", "--buffer",
                             "railway=50"))
    assert set(listed) == {"E-499"}
    # at the default 20 m neither is along
    listed = by_code(analyze(cases["db"], "corridors", "--types", "railway"))
    assert listed == {}
    # a buffer of exactly the distance counts as along (at or under)
    listed = by_code(analyze(cases["db"], "corridors", "--types", "railway", "--buffer",
                             "railway=50.2"))
    assert set(listed) == {"E-499", "E-501"}


def test_corridor_inside_a_big_estates_bounding_box(cases):
    got = by_code(analyze(cases["db"], "corridors", "--types", "railway", "--all"))
    assert got["E-BIG"]["railway_name"] == "专用线"
    assert got["E-BIG"]["railway_dist_m"] == pytest.approx(100, abs=0.01)


def test_overlapping_corridors_of_two_types(cases):
    got = by_code(analyze(cases["db"], "corridors"))
    row = got["E-OV"]
    assert row["river_along"] is True and row["rail_transit_along"] is True
    assert row["river_name"] == "北横泾" and row["rail_transit_name"] == "轨道交通5号线"
    assert row["river_dist_m"] == pytest.approx(row["rail_transit_dist_m"], abs=1e-6)
    assert row["along_types"] == ["river", "rail_transit"]
    # the order of along_types follows --types
    got = by_code(analyze(cases["db"], "corridors", "--types", "rail_transit,river"))
    assert got["E-OV"]["along_types"] == ["rail_transit", "river"]


def test_estate_overlapping_a_water_polygon_is_at_distance_zero(cases):
    got = by_code(analyze(cases["db"], "corridors", "--types", "river"))
    assert got["E-LAKE"]["river_dist_m"] == 0
    assert got["E-LAKE"]["river_name"] == "淀浦河湖面"
    assert got["E-LAKE"]["river_along"] is True


def test_no_corridor_within_10_km_gives_null_distances(cases):
    got = by_code(analyze(cases["db"], "corridors", "--all"))
    row = got["E-FAR"]
    for t in TYPES:
        assert row[f"{t}_dist_m"] is None
        assert row[f"{t}_name"] is None
        assert row[f"{t}_along"] is False
    assert row["along_types"] == []
    assert "E-FAR" not in by_code(analyze(cases["db"], "corridors"))
    # the oracle agrees that the nearest of every type is farther than 10 km
    g = to_m(next(e[5] for e in estates() if e[0] == "E-FAR"))
    assert min(g.distance(c[3]) for c in fixture_corridors_m()) > SEARCH_M


def test_corridor_filters(cases):
    db = cases["db"]
    towns = {r["code"]: r["town_code"] for r in rows(db, "estates")}
    # the estate touching the border of towns 1 and 2 belongs to town 1
    assert towns["E-TOUCH"] == T1
    t1 = by_code(analyze(db, "corridors", "--all", "--town", T1))
    assert set(t1) == {c for c, t in towns.items() if t == T1}
    assert "E-TOUCH" in t1
    assert "E-TOUCH" not in by_code(analyze(db, "corridors", "--all", "--town", T2))
    assert by_code(analyze(db, "corridors", "--all", "--town", T3)) == {}
    old = by_code(analyze(db, "corridors", "--all", "--built-before", "2000"))
    assert set(old) == {e[0] for e in estates() if e[2] < 2000}
    demo = by_code(analyze(db, "corridors", "--all", "--tier", "示范版"))
    assert set(demo) == {"E-OV"}
    assert set(by_code(analyze(db, "corridors", "--all", "--tier", "upgrade"))) == {"E-LAKE"}
    none = by_code(analyze(db, "corridors", "--all", "--tier", "none"))
    assert set(none) == {e[0] for e in estates() if e[4] is None}
    both = by_code(analyze(db, "corridors", "--all", "--town", T1, "--built-before", "2000"))
    assert set(both) == {c for c, t in towns.items() if t == T1} & set(old)


def test_corridor_summary(cases):
    doc = analyze(cases["db"], "corridors", "--buffer", "railway=50,river=25")
    s = doc["summary"]
    assert s["buffers_m"] == {"railway": 50.0, "expressway": 30.0, "river": 25.0,
                              "rail_transit": 30.0}
    assert s["estates"] == len(estates())
    rows_ = doc["rows"]
    assert s["listed"] == len(rows_) == s["along_any"]
    for t in TYPES:
        assert s["along"][t] == sum(1 for r in rows_ if r[f"{t}_along"])
    assert s["crs"] == "EPSG:4549"


def test_corridors_geojson_features_are_the_estate_polygons(cases):
    db = cases["db"]
    doc = analyze(db, "corridors", "--all", fmt="geojson")
    assert doc["type"] == "FeatureCollection"
    stored = {r["code"]: r for r in rows(db, "estates")}
    assert len(doc["features"]) == len(stored)
    for f in doc["features"]:
        p = f["properties"]
        g = shape(f["geometry"])
        assert isinstance(g, MultiPolygon)
        assert g.equals_exact(stored[p["code"]]["geom"], 1e-7)  # 7 decimals
        assert list(p)[:4] == ["code", "name", "town_code", "built_year"]
        for t in TYPES:
            assert {f"{t}_dist_m", f"{t}_name", f"{t}_along"} <= set(p)
        assert isinstance(p["along_types"], list)
        assert p["town_code"] == stored[p["code"]]["town_code"]
        assert p["built_year"] == stored[p["code"]]["built_year"]


def test_corridors_table_csv_and_chinese_output(cases):
    db = cases["db"]
    full = by_code(analyze(db, "corridors", "--types", "railway", "--buffer", "railway=50"))
    out = analyze(db, "corridors", "--types", "railway", "--buffer", "railway=50", fmt="table")
    assert f"{full['E-499']['railway_dist_m']:.1f}" in out  # one decimal in tables
    assert "49.9" in out and "49.90" not in out
    text = analyze(db, "corridors", "--types", "railway", "--buffer", "railway=50", "--all",
                   fmt="csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert {r["code"] for r in table} == {e[0] for e in estates()}
    far = next(r for r in table if r["code"] == "E-FAR")
    assert far["railway_dist_m"] == "" and far["railway_along"] == "false"
    r = run_cli(estatemap_bin(), "analyze", "corridors", "--db", db, "--lang", "zh")
    assert r.rc == 0, r
    assert "铁路距离" in r.out and "沿河道" in r.out and "小区编号" in r.out


@pytest.mark.parametrize("args, word", [
    (["--types", "railway,canal"], "types"),
    (["--buffer", "railway=abc"], "buffer"),
    (["--buffer", "railway=50%"], "buffer"),
    (["--buffer", "canal=50"], "buffer"),
    (["--buffer", "railway"], "buffer"),
    (["--buffer", "railway=-5"], "buffer"),
    (["--town", "999999999"], "town"),
    (["--built-before", "abc"], "built-before"),
    (["--tier", "gold"], "tier"),
    (["--band", "500"], "band"),
])
def test_corridor_usage_errors_name_the_parameter(cases, args, word):
    r = run_cli(estatemap_bin(), "analyze", "corridors", "--db", cases["db"], *args)
    assert r.rc == 2, r
    assert word in r.err, r


def test_help_documents_every_option():
    for name, options in [
        ("corridors", ["--types", "--buffer", "--town", "--built-before", "--tier", "--all"]),
        ("density", ["--by", "--town", "--category", "--group", "--status", "--from", "--to"]),
        ("hotspots", ["--band", "--category", "--group", "--status", "--from", "--to"]),
    ]:
        r = run_cli(estatemap_bin(), "analyze", name, "--help")
        assert r.rc == 0, r
        for opt in options:
            assert opt in r.out, (name, opt)
    r = run_cli(estatemap_bin(), "analyze", "--help")
    for name in ["corridors", "density", "hotspots"]:
        assert name in r.out


# ---------------------------------------------------------------- density


FILTERS = [
    ([], {}),
    (["--group", "五违"], {"group": "五违"}),
    (["--group", "六乱"], {"group": "六乱"}),
    (["--category", "违法搭建,群租"], {"category": {"违法建筑", "违法居住"}}),
    (["--status", "open"], {"status": "open"}),
    (["--from", "2016-05-01", "--to", "2016-07-01"],
     {"date_from": "2016-05-01", "date_to": "2016-07-01"}),
    (["--group", "五违", "--status", "open", "--from", "2016-06-01"],
     {"group": "五违", "status": "open", "date_from": "2016-06-01"}),
]


def unit_lists(db):
    est = [(r["id"], r["code"], r["geom"]) for r in rows(db, "estates")]
    grid = [(r["id"], r["code"], r["geom"]) for r in rows(db, "grid")]
    towns = [(r["id"], r["code"], r["geom"]) for r in rows(db, "towns")]
    return {"estate": est, "grid": grid, "town": towns}


def oracle_counts(units, vio, index=None, **flt):
    counts = {u[1]: 0 for u in units}
    outside = 0
    for v in vio:
        if not keep(v, **flt):
            continue
        o = owner(v["point"], units, index)
        if o is None:
            outside += 1
        else:
            counts[o] += 1
    return counts, outside


def check_density(doc, units, counts, outside, households=None):
    got = by_code(doc)
    assert set(got) == set(counts)
    rates = {}
    for _, code, g in units:
        row = got[code]
        assert row["count"] == counts[code], code
        area = to_m(g).area
        assert row["area_ha"] == pytest.approx(area / 1e4, rel=1e-6), code
        rates[code] = counts[code] / (area / 1e4)
        assert row["per_ha"] == pytest.approx(rates[code], rel=1e-6), code
        if households is not None:
            h = households[code]
            assert row["households"] == h
            if h:
                assert row["per_1000_households"] == pytest.approx(counts[code] * 1000 / h)
            else:
                assert row["per_1000_households"] is None
    codes = list(rates)
    classes, breaks = quintile_classes([rates[c] for c in codes])
    for c, k in zip(codes, classes):
        assert got[c]["class"] == k, (c, rates[c], breaks)
    s = doc["summary"]
    assert s["in_units"] == sum(counts.values())
    assert s["outside_units"] == outside
    assert s["units"] == len(units)
    for a, b in zip(s["class_breaks"], breaks):
        assert a == pytest.approx(b, rel=1e-9)
    assert s["class_counts"] == [classes.count(k) for k in range(1, 6)]


@pytest.mark.parametrize("args, flt", FILTERS)
@pytest.mark.parametrize("by", ["estate", "grid", "town"])
def test_density_matches_the_oracle(cases, by, args, flt):
    db = cases["db"]
    units = unit_lists(db)[by]
    vio = stored_violations(db)
    counts, outside = oracle_counts(units, vio, **flt)
    doc = analyze(db, "density", "--by", by, *args)
    households = {r["code"]: r["households"] for r in rows(db, "estates")} \
        if by == "estate" else None
    check_density(doc, units, counts, outside, households)
    assert doc["summary"]["violations"] == sum(1 for v in vio if keep(v, **flt))


def test_density_default_unit_is_the_grid(cases):
    doc = analyze(cases["db"], "density")
    assert doc["summary"]["by"] == "grid"
    assert len(doc["rows"]) == 25


def test_violation_on_the_boundary_of_two_estates_counts_once_for_the_lower_id(cases):
    db = cases["db"]
    ids = {r["code"]: r["id"] for r in rows(db, "estates")}
    assert ids["E-A"] < ids["E-B"]
    p = next(v for v in stored_violations(db) if v["code"] == "V-EDGE")["point"]
    ea = next(e[5] for e in estates() if e[0] == "E-A")
    eb = next(e[5] for e in estates() if e[0] == "E-B")
    assert ea.intersects(p) and eb.intersects(p)  # truly on both
    got = by_code(analyze(db, "density", "--by", "estate"))
    assert got["E-A"]["count"] == 4  # three inside and the one on the edge
    assert got["E-B"]["count"] == 1
    assert got["E-B"]["per_1000_households"] is None  # no households
    assert got["E-A"]["per_1000_households"] == pytest.approx(4 * 1000 / 200)


def test_town_density_lists_every_town_and_splits_the_border_by_lowest_id(cases):
    db = cases["db"]
    got = by_code(analyze(db, "density", "--by", "town"))
    assert set(got) == {t[0] for t in TOWNS}
    assert got[T3]["count"] == 0  # a town with no estates and no reports
    assert got[T3]["per_ha"] == 0
    assert got[T4]["count"] == 1
    vio = stored_violations(db)
    in_t1 = [v["code"] for v in vio if ll_box(*TOWNS[0][2]).intersects(v["point"])]
    assert "V-TOWNEDGE" in in_t1 and "V-TOUCH" in in_t1
    assert got[T1]["count"] == len(in_t1)
    # the report on the border is town 1's only
    in_t2 = [v["code"] for v in vio if ll_box(*TOWNS[1][2]).intersects(v["point"])]
    assert "V-TOWNEDGE" in in_t2
    assert got[T2]["count"] == len(in_t2) - 1
    one = by_code(analyze(db, "density", "--by", "town", "--town", T3))
    assert list(one) == [T3]
    assert by_code(analyze(db, "density", "--by", "estate", "--town", T3)) == {}


def test_density_geojson_geometry_is_the_unit_polygon(cases):
    db = cases["db"]
    for by, table in [("estate", "estates"), ("grid", "grid"), ("town", "towns")]:
        doc = analyze(db, "density", "--by", by, fmt="geojson")
        stored = {r["code"]: r["geom"] for r in rows(db, table)}
        assert len(doc["features"]) == len(stored)
        for f in doc["features"]:
            g = shape(f["geometry"])
            assert g.equals_exact(stored[f["properties"]["code"]], 1e-7)


@pytest.mark.parametrize("args, word", [
    (["--by", "street"], "by"),
    (["--category", "打架"], "category"),
    (["--group", "七乱"], "group"),
    (["--group", "五违", "--category", "乱停车"], "category"),
    (["--status", "closed"], "status"),
    (["--from", "2016-02-30"], "from"),
    (["--to", "soon"], "to"),
    (["--from", "2017-01-01", "--to", "2016-01-01"], "from"),
    (["--town", "31011200"], "town"),
    (["--types", "river"], "types"),
])
def test_density_usage_errors_name_the_parameter(cases, args, word):
    r = run_cli(estatemap_bin(), "analyze", "density", "--db", cases["db"], *args)
    assert r.rc == 2, r
    assert word in r.err, r


# ---------------------------------------------------------------- hot spots


def grid_centroids_m(db):
    cells = rows(db, "grid")
    return [c["code"] for c in cells], [to_m(c["geom"]).centroid.coords[0] for c in cells]


@pytest.mark.parametrize("args, flt", FILTERS[:4])
def test_hotspots_match_the_oracle(cases, args, flt):
    db = cases["db"]
    codes, pts = grid_centroids_m(db)
    units = unit_lists(db)["grid"]
    counts, outside = oracle_counts(units, stored_violations(db), **flt)
    values = [counts[c] for c in codes]
    z, w = gi_star(pts, values, 120.0)
    doc = analyze(db, "hotspots", "--band", "120", *args)
    got = by_code(doc)
    assert set(got) == set(codes)
    for code, zi, wi, v in zip(codes, z, w, values):
        row = got[code]
        assert row["count"] == v
        assert row["neighbours"] == wi
        if zi is None:
            assert row["z_score"] is None and row["class"] == "not_significant"
            continue
        assert row["z_score"] == pytest.approx(zi, abs=1e-9)
        assert row["p_value"] == pytest.approx(p_two_sided(zi), abs=1e-12)
        assert row["class"] == gi_class(zi, p_two_sided(zi))
    s = doc["summary"]
    assert s["band_m"] == 120 and s["cells"] == 25
    assert s["outside_cells"] == outside


def test_hotspots_on_the_5x5_grid_by_hand(cases):
    """The same 5 x 5 counts as the unit test: n = 25, mean 0.8, S^2 = 84/25 - 0.64 =
    2.72; 120 m band = the cell and its rook neighbours (cells are about 100 m apart,
    diagonals about 140 m)."""
    doc = analyze(cases["db"], "hotspots", "--band", "120")
    got = by_code(doc)
    s = math.sqrt(2.72)
    centre, corner, edge = got[f"{T2}022"], got[f"{T2}000"], got[f"{T2}002"]
    assert centre["count"] == 8 and centre["neighbours"] == 5
    assert centre["z_score"] == pytest.approx(12 / (s * math.sqrt(100 / 24)), abs=1e-9)
    assert centre["z_score"] == pytest.approx(3.5645, abs=1e-4)
    assert centre["class"] == "hot_99"
    assert corner["neighbours"] == 3
    assert corner["z_score"] == pytest.approx(-2.4 / (s * math.sqrt(66 / 24)), abs=1e-9)
    assert edge["neighbours"] == 4
    assert edge["z_score"] == pytest.approx(-1.2 / (s * math.sqrt(84 / 24)), abs=1e-9)
    assert got[f"{T2}011"]["z_score"] == pytest.approx(1 / (s * math.sqrt(100 / 24)), abs=1e-9)
    assert doc["summary"]["mean"] == pytest.approx(0.8)
    assert doc["summary"]["sd"] == pytest.approx(s)
    geo = analyze(cases["db"], "hotspots", "--band", "120", fmt="geojson")
    stored = {r["code"]: r["geom"] for r in rows(cases["db"], "grid")}
    for f in geo["features"]:
        assert shape(f["geometry"]).equals_exact(stored[f["properties"]["code"]], 1e-7)


def test_hotspots_with_no_contrast_are_not_significant(cases):
    # no report is both 违法排污 and inside the grid: every count is 0
    doc = analyze(cases["db"], "hotspots", "--category", "违法排污")
    assert all(r["z_score"] is None and r["class"] == "not_significant" for r in doc["rows"])


@pytest.mark.parametrize("args, word", [
    (["--band", "0"], "band"),
    (["--band", "-10"], "band"),
    (["--band", "wide"], "band"),
    (["--band", "60000"], "band"),
    (["--group", "七乱"], "group"),
    (["--by", "grid"], "by"),
])
def test_hotspot_usage_errors_name_the_parameter(cases, args, word):
    r = run_cli(estatemap_bin(), "analyze", "hotspots", "--db", cases["db"], *args)
    assert r.rc == 2, r
    assert word in r.err, r


# ---------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    geodata = REPO / "geodata"
    needed = ["towns.geojson", "corridors.geojson", "zones.geojson", "estates.geojson",
              "grid.geojson", "violations.csv", "renovation.csv"]
    if not all((geodata / f).exists() for f in needed):
        pytest.skip(f"demo data not (fully) generated in {geodata}")
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    r = run_cli(estatemap_bin(), "demo", "--db", path, "--geodata", geodata, "--quiet",
                timeout=600)
    assert r.rc == 0, r
    return path


@pytest.fixture(scope="module")
def demo_violations(demo):
    return stored_violations(demo)


def test_demo_corridor_distances_match_the_oracle(demo):
    doc = analyze(demo, "corridors", "--all")
    got = by_code(doc)
    cm = [(c["id"], c["type"], c["name"], to_m(c["geom"])) for c in rows(demo, "corridors")]
    index = Index([c[3] for c in cm])
    est = rows(demo, "estates")
    assert len(got) == len(est)
    worst = 0.0
    for e in est:
        want = oracle_nearest(to_m(e["geom"]), cm, index)
        row = got[e["code"]]
        for t in TYPES:
            if t not in want:
                assert row[f"{t}_dist_m"] is None, (e["code"], t)
                continue
            d = want[t][0]
            assert row[f"{t}_dist_m"] is not None, (e["code"], t, d)
            worst = max(worst, abs(row[f"{t}_dist_m"] - d))
            assert row[f"{t}_dist_m"] == pytest.approx(d, abs=DIST_TOL_M), (e["code"], t)
            assert row[f"{t}_along"] == (d <= DEFAULT_BUFFERS[t]) or \
                abs(d - DEFAULT_BUFFERS[t]) < DIST_TOL_M, (e["code"], t)
    print(f"largest corridor distance difference from the oracle: {worst:.4f} m")


@pytest.mark.parametrize("by", ["estate", "grid", "town"])
def test_demo_density_counts_match_point_in_polygon(demo, demo_violations, by):
    units = unit_lists(demo)[by]
    index = Index([u[2] for u in units])
    counts, outside = oracle_counts(units, demo_violations, index, group="五违")
    doc = analyze(demo, "density", "--by", by, "--group", "五违")
    got = by_code(doc)
    assert {c: r["count"] for c, r in got.items()} == counts
    assert doc["summary"]["outside_units"] == outside
    # classes follow the documented quintile rule
    rates = {c: r["per_ha"] for c, r in got.items()}
    codes = list(rates)
    classes, _ = quintile_classes([rates[c] for c in codes])
    assert [got[c]["class"] for c in codes] == classes
    if by != "grid":  # areas: every unit against shapely (the grid is checked in the hand cases)
        for _, code, g in units:
            assert got[code]["area_ha"] == pytest.approx(to_m(g).area / 1e4, rel=1e-6)


def test_demo_hotspots_match_the_oracle(demo, demo_violations):
    units = unit_lists(demo)["grid"]
    index = Index([u[2] for u in units])
    counts, _ = oracle_counts(units, demo_violations, index)
    codes, pts = grid_centroids_m(demo)
    z, w = gi_star(pts, [counts[c] for c in codes], 500.0)
    got = by_code(analyze(demo, "hotspots"))
    for code, zi, wi in zip(codes, z, w):
        row = got[code]
        assert row["neighbours"] == wi, code
        assert row["z_score"] == pytest.approx(zi, abs=1e-6), code
        assert row["class"] == gi_class(zi, p_two_sided(zi)), code


@pytest.mark.parametrize("args", [
    ["corridors"], ["corridors", "--all", "--format", "geojson"],
    ["density", "--by", "estate"], ["density", "--by", "grid"], ["density", "--by", "town"],
    ["hotspots"],
])
def test_demo_analyses_run(demo, args):
    """Each analysis runs on the demo; its speed is scripts/bench's business, not a
    test's, because test machines are shared and noisy."""
    t0 = time.monotonic()
    r = run_cli(estatemap_bin(), "analyze", *args, "--db", demo, "-o", "/dev/null")
    elapsed = time.monotonic() - t0
    assert r.rc == 0, r
    print(f"{' '.join(args)}: {elapsed:.2f} s")
