"""Vector tiles at /tiles (issue 4, sections 3 and 4): MVT and GeoJSON tiles, combined
sources, TileJSON, the limits, and the tile cache (ETags, 304, gzip, invalidation after a
write, the memory cap).

The server runs on a free loopback port over the demo database (`estatemap demo`: the
real towns and OpenStreetMap corridors with the generated estates, grid cells, violations
and zones), so tiles carry real shapes. Independent decoders check the tiles:

- MVT with GDAL's MVT driver and with @mapbox/vector-tile in node (tests/js/decode_mvt.mjs);
- GeoJSON tiles against geojson-vt (tests/js/geojsonvt_tiles.mjs), fed the same features
  read straight from the database file (conftest's own SpatiaLite BLOB reader), with the
  server's settings: extent 4096, buffer 64, tolerance 8 and maxZoom 22 (our simplification
  weights are computed down to z22, and geojson-vt keeps every vertex at its maxZoom as we
  do at z22).

Comparing with geojson-vt, its output is first put in the form our tiles guarantee for
MVT (tiles.h): null tags left out, repeated points dropped, rings closed, rings of fewer
than 4 points or no area dropped, holes of a dropped polygon dropped, lines of one point
dropped. Rings are then compared as closed loops: geojson-vt clips level by level from z0
down while we clip once, so a ring may start at another vertex, and a vertex on the
buffered tile's edge between two others on the same edge may be present on one side only;
such edge vertices are removed on both sides. Every coordinate must then agree within 1
unit, and the features (ids, types, tags) must be the same.

Tests that need node skip, saying why, when node or node_modules/ (`npm ci`) is missing.
"""

import gzip
import json
import math
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from osgeo import gdal, ogr
from shapely.geometry import mapping

from conftest import (REPO, RunningServer, run_cli, spatialite_blob_to_shape, spatialite_connect,
                      write_geojson)

gdal.UseExceptions()

EXTENT, BUFFER = 4096, 64
LAYERS = ["towns", "estates", "grid", "violations", "corridors", "zones"]
PROPS = {
    "towns": ["code", "name"],
    "estates": ["id", "code", "name", "town_code", "built_year", "tier", "stage",
                "housing_type"],
    "grid": ["id", "code"],
    "violations": ["id", "code", "category", "status", "reported_at", "resolved_at"],
    "corridors": ["type", "name"],
    "zones": ["kind", "name"],
}
CLUSTER_MAX_ZOOM = 14
MVT_TYPE = "application/vnd.mapbox-vector-tile"

# Places in Minhang: 莘庄, 七宝, 江川路, 浦江 and the 黄浦江 bend near 吴泾.
PLACES = [(121.385, 31.111), (121.350, 31.155), (121.420, 31.010), (121.510, 31.070),
          (121.455, 31.040)]


def tile_of(lon, lat, z):
    n = 2 ** z
    lr = math.radians(lat)
    return (z, int((lon + 180) / 360 * n),
            int((1 - math.log(math.tan(lr) + 1 / math.cos(lr)) / math.pi) / 2 * n))


def sample_tiles(zooms, places=PLACES):
    return sorted({tile_of(lon, lat, z) for z in zooms for lon, lat in places})


# ---------------------------------------------------------------- the server


class Server(RunningServer):
    def __init__(self, bin_path, db, work, *extra):
        super().__init__(bin_path, db, work, *extra, prefix="tiles-")

    def tile(self, layers, z, x, y, fmt, **kw):
        return self.get(f"/tiles/{layers}/{z}/{x}/{y}.{fmt}", **kw)

    def geojson_tile(self, layers, z, x, y):
        """{layer: [features]} of a GeoJSON tile ({} for a 204)."""
        r = self.tile(layers, z, x, y, "geojson")
        assert r.status in (200, 204), r
        if r.status == 204:
            assert r.body == b""
            return {}
        assert r.headers["Content-Type"] == "application/json"
        return {name: layer["features"] for name, layer in r.json().items()}

    def metrics(self):
        text = self.get("/metrics").body.decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("tiles")


@pytest.fixture(scope="module")
def demo_db(bin_path, work):
    db = work / "demo.sqlite"
    r = run_cli(bin_path, "demo", "--db", db, "-q", timeout=300)
    assert r.rc == 0, r
    return db


@pytest.fixture(scope="module")
def server(bin_path, demo_db, work):
    s = Server(bin_path, demo_db, work)
    yield s
    assert s.stop() == 0, s.stderr()


# ---------------------------------------------------------------- node


def node_ready():
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup installs it)"
    for pkg in ("geojson-vt", "@mapbox/vector-tile", "pbf"):
        if not (REPO / "node_modules" / pkg / "package.json").is_file():
            return f"node_modules/{pkg} is missing: run `npm ci` in the repository root"
    return None


def need_node():
    why = node_ready()
    if why:
        pytest.skip(why)


def node(script, *args):
    p = subprocess.run(["node", str(REPO / "tests" / "js" / script), *map(str, args)],
                       capture_output=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


# ---------------------------------------------------------------- reading the database


def layer_features(db, layer, bbox=None):
    """The layer as a GeoJSON FeatureCollection with the tile properties (nulls left
    out), read from the file without SpatiaLite; `bbox` (w, s, e, n) keeps the features
    whose bounding box meets it."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cols = [c for c in PROPS[layer] if c != "id"]
    feats = []
    try:
        sql = f'SELECT id, geom{"".join(", " + c for c in cols)} FROM "{layer}" ORDER BY id'
        for row in con.execute(sql):
            shape = spatialite_blob_to_shape(row[1])
            if bbox:
                x0, y0, x1, y1 = shape.bounds
                if x1 < bbox[0] or x0 > bbox[2] or y1 < bbox[1] or y0 > bbox[3]:
                    continue
            props = {"id": row[0]} if "id" in PROPS[layer] else {}
            props.update({c: v for c, v in zip(cols, row[2:]) if v is not None})
            feats.append({"type": "Feature", "id": row[0], "properties": props,
                          "geometry": mapping(shape)})
    finally:
        con.close()
    return {"type": "FeatureCollection", "features": feats}


def tile_lonlat_bounds(z, x, y, margin=0.0):
    n = 2 ** z

    def lon(px):
        return px / n * 360 - 180

    def lat(py):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    return (lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin))


# ---------------------------------------------------------------- geometry helpers


def area2(ring):
    return sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1]
               for i in range(len(ring) - 1))


def dedupe(points):
    out = []
    for p in points:
        p = [p[0], p[1]]
        if not out or out[-1] != p:
            out.append(p)
    return out


def normalise_geojsonvt(feature):
    """geojson-vt's geometry in the form our tiles guarantee (see the module doc)."""
    t, g = feature["type"], feature["geometry"]
    if t == 1:
        return [[list(p) for p in g]]
    if t == 2:
        return [d for d in (dedupe(line) for line in g) if len(d) >= 2]
    parts, have_outer = [], False
    for ring in g:
        d = dedupe(ring)
        if d and d[0] != d[-1]:
            d.append(d[0])
        a = area2(d) if len(d) >= 4 else 0
        if a > 0:
            have_outer = True
            parts.append(d)
        elif a < 0 and have_outer:
            parts.append(d)
    return parts


def canonical_ring(ring):
    """A closed ring as an open loop without the vertices that lie on the buffered tile's
    edge between two neighbours on the same edge line."""
    lo, hi = -BUFFER, EXTENT + BUFFER
    pts = [tuple(p) for p in ring[:-1]] if ring and ring[0] == ring[-1] else [tuple(p)
                                                                            for p in ring]
    changed = True
    while changed and len(pts) > 3:
        changed = False
        for i in range(len(pts)):
            a, b, c = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            for k in (0, 1):
                if b[k] in (lo, hi) and a[k] == b[k] == c[k]:
                    del pts[i]
                    changed = True
                    break
            if changed:
                break
    return pts


def close(a, b, tol=1):
    return abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol


def same_loop(a, b, tol=1):
    if len(a) != len(b):
        return False
    if not a:
        return True
    for k in range(len(b)):
        if close(a[0], b[k], tol) and all(close(a[i], b[(i + k) % len(b)], tol)
                                          for i in range(len(a))):
            return True
    return False


def same_geometry(ftype, ref_parts, our_parts, tol=1):
    if len(ref_parts) != len(our_parts):
        return False
    for p, q in zip(ref_parts, our_parts):
        if ftype == 3:
            if not same_loop(canonical_ring(p), canonical_ring(q), tol):
                return False
        elif len(p) != len(q) or not all(close(u, v, tol) for u, v in zip(p, q)):
            return False
    return True


def our_parts(feature):
    return [feature["geometry"]] if feature["type"] == 1 else feature["geometry"]


# ---------------------------------------------------------------- GeoJSON tiles


def check_tile_geometry(feature):
    """What every feature of our tiles guarantees."""
    t = feature["type"]
    assert t in (1, 2, 3), feature
    for part in our_parts(feature):
        for x, y in part:
            assert isinstance(x, int) and isinstance(y, int)
            assert -BUFFER <= x <= EXTENT + BUFFER and -BUFFER <= y <= EXTENT + BUFFER, (x, y)
        if t == 2:
            assert len(part) >= 2
            assert all(part[i] != part[i + 1] for i in range(len(part) - 1))
        if t == 3:
            assert len(part) >= 4 and part[0] == part[-1]
            assert all(part[i] != part[i + 1] for i in range(len(part) - 1))
            assert area2(part) != 0
    if t == 3:
        assert area2(feature["geometry"][0]) > 0, "the first ring must be an outer ring"


def test_geojson_tiles_have_the_documented_shape(server):
    z, x, y = tile_of(121.385, 31.111, 14)
    tile = server.geojson_tile("towns,estates,violations,corridors", z, x, y)
    assert set(tile) == {"towns", "estates", "violations", "corridors"}
    for name, features in tile.items():
        assert features, name
        for f in features:
            check_tile_geometry(f)
            assert set(f) <= {"id", "type", "geometry", "tags"}
            if not f["tags"].get("cluster"):
                assert set(f["tags"]) <= set(PROPS[name]), (name, f["tags"])
    for f in tile["estates"]:
        assert f["id"] == f["tags"]["id"] and f["type"] == 3
        assert {"code", "name", "town_code"} <= set(f["tags"])
    assert all(f["type"] == 3 and "id" in f for f in tile["towns"])
    assert {f["type"] for f in tile["corridors"]} <= {2, 3}


def test_geojson_tiles_match_geojson_vt(server, demo_db, work):
    need_node()
    zooms = {name: [10, 12, 14, 16] for name in LAYERS}
    zooms["violations"] = [15, 16, 18]  # clustered up to z14: geojson-vt does not cluster
    zooms["grid"] = [14, 15, 16]
    layers, tiles = {}, {}
    for name in LAYERS:
        tiles[name] = sample_tiles(zooms[name])
        # every feature that can reach the sample tiles (with a wide margin)
        boxes = [tile_lonlat_bounds(*t, margin=0.25) for t in tiles[name]]
        bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))
        layers[name] = layer_features(demo_db, name, bbox)
    all_tiles = sorted({t for ts in tiles.values() for t in ts})
    spec = {"options": {"maxZoom": 22, "tolerance": 8, "extent": EXTENT, "buffer": BUFFER,
                        "indexMaxZoom": 5},
            "layers": layers, "tiles": all_tiles}
    (work / "geojsonvt-in.json").write_text(json.dumps(spec))
    ref = node("geojsonvt_tiles.mjs", work / "geojsonvt-in.json")

    compared, problems = 0, []
    for name in LAYERS:
        for z, x, y in tiles[name]:
            expected = {}
            for f in ref[name][f"{z}/{x}/{y}"] or []:
                parts = normalise_geojsonvt(f)
                if parts:
                    tags = {k: v for k, v in (f["tags"] or {}).items() if v is not None}
                    expected[(f.get("id"), f["type"])] = (parts, tags)
            got = {(f.get("id"), f["type"]): (our_parts(f), f["tags"])
                   for f in server.geojson_tile(name, z, x, y).get(name, [])}
            if set(expected) != set(got):
                problems.append((name, (z, x, y), "features differ",
                                 sorted(set(expected) - set(got))[:5],
                                 sorted(set(got) - set(expected))[:5]))
            for key in set(expected) & set(got):
                compared += 1
                (ref_parts, ref_tags), (parts, tags) = expected[key], got[key]
                if ref_tags != tags:
                    problems.append((name, (z, x, y), key, "tags", ref_tags, tags))
                if not same_geometry(key[1], ref_parts, parts):
                    problems.append((name, (z, x, y), key, "geometry",
                                     [len(p) for p in ref_parts], [len(p) for p in parts]))
    assert not problems, problems[:10]
    assert compared > 1000, compared


# ---------------------------------------------------------------- MVT


def check_mvt_against_geojson(decoded, geojson):
    """A tile decoded by @mapbox/vector-tile equals our GeoJSON tile of the same z/x/y."""
    assert list(decoded["layers"]) == list(geojson), (list(decoded["layers"]), list(geojson))
    for name, layer in decoded["layers"].items():
        assert layer["version"] == 2 and layer["extent"] == EXTENT
        ours = geojson[name]
        assert len(layer["features"]) == len(ours), name
        for m, g in zip(layer["features"], ours):
            assert m.get("id") == g.get("id"), (m.get("id"), g.get("id"))
            assert m["type"] == g["type"]
            assert m["properties"] == g["tags"], (m["properties"], g["tags"])
            if g["type"] == 1:
                assert [p for part in m["geometry"] for p in part] == g["geometry"]
            else:
                assert m["geometry"] == g["geometry"]
            if g["type"] == 3:
                outer = sum(1 for r in g["geometry"] if area2(r) > 0)
                assert len(m["polygons"]) == outer


MVT_SAMPLES = [
    ("towns,estates", 12), ("towns,estates", 14), ("towns,estates", 16), ("corridors", 12),
    ("corridors", 15), ("violations", 12), ("violations", 16), ("grid", 15), ("zones", 13),
    ("towns,estates,grid,violations,corridors,zones", 14),
]


def test_mvt_decodes_with_mapbox_vector_tile(server, work):
    need_node()
    files, expected = [], []
    for layers, z in MVT_SAMPLES:
        for (zz, x, y) in sample_tiles([z], PLACES[:3]):
            r = server.tile(layers, zz, x, y, "mvt")
            if r.status == 204:
                assert server.geojson_tile(layers, zz, x, y) == {}
                continue
            assert r.status == 200 and r.headers["Content-Type"] == MVT_TYPE, r
            path = work / f"t-{len(files)}.mvt"
            path.write_bytes(r.body)
            files.append(path)
            expected.append(server.geojson_tile(layers, zz, x, y))
    assert len(files) >= 15
    decoded = node("decode_mvt.mjs", *files)
    for d, g in zip(decoded, expected):
        check_mvt_against_geojson(d, g)


def mercator(z, x, y, px, py):
    """Tile units -> EPSG:3857 metres."""
    half = 20037508.342789244
    size = 2 * half / 2 ** z
    return (-half + (x + px / EXTENT) * size, half - (y + py / EXTENT) * size)


def ogr_points(geom):
    out = []
    if geom.GetGeometryCount() == 0:
        return [(geom.GetX(i), geom.GetY(i)) for i in range(geom.GetPointCount())]
    for i in range(geom.GetGeometryCount()):
        out += ogr_points(geom.GetGeometryRef(i))
    return out


def test_mvt_decodes_with_gdal(server):
    checked = 0
    for layers, z in MVT_SAMPLES:
        for (zz, x, y) in sample_tiles([z], PLACES[:2]):
            r = server.tile(layers, zz, x, y, "mvt")
            if r.status == 204:
                continue
            assert r.status == 200, r
            geo = server.geojson_tile(layers, zz, x, y)
            path = f"/vsimem/tile-{zz}-{x}-{y}.mvt"
            gdal.FileFromMemBuffer(path, r.body)
            try:
                ds = gdal.OpenEx(path, gdal.OF_VECTOR, allowed_drivers=["MVT"],
                                 open_options=[f"X={x}", f"Y={y}", f"Z={zz}", "CLIP=NO"])
                assert ds is not None
                names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
                assert names == list(geo), (names, list(geo))
                for name in names:
                    lyr = ds.GetLayerByName(name)
                    feats = list(lyr)
                    assert len(feats) == len(geo[name]), name
                    for f, g in zip(feats, geo[name]):
                        if "id" in g:  # GDAL shows the MVT feature id as mvt_id
                            assert f.GetField("mvt_id") == g["id"]
                        for k, v in g["tags"].items():
                            got = f.GetField(k)
                            assert got == v or (isinstance(v, bool) and got == int(v)), (k, got, v)
                        geom = f.GetGeometryRef()
                        assert geom is not None and not geom.IsEmpty()
                        want = [mercator(zz, x, y, px, py) for part in our_parts(g)
                                for px, py in part]
                        got = ogr_points(geom)
                        assert len(got) == len(want), (name, len(got), len(want))
                        size = 40075016.68557849 / 2 ** zz / EXTENT
                        assert all(abs(a[0] - b[0]) < size * 1e-3 and abs(a[1] - b[1]) < size * 1e-3
                                   for a, b in zip(got, want))
                        checked += 1
                ds = None
            finally:
                gdal.Unlink(path)
    assert checked > 500, checked


def test_ogrinfo_reads_a_saved_tile(server, work):
    z, x, y = tile_of(121.385, 31.111, 14)
    r = server.tile("towns,estates", z, x, y, "mvt")
    assert r.status == 200
    path = work / f"{z}-{x}-{y}.mvt"
    path.write_bytes(r.body)
    p = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo",
                        f"Z={z}", str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert re.search(r"1: towns \((Multi )?Polygon\)", p.stdout), p.stdout
    assert re.search(r"2: estates \((Multi )?Polygon\)", p.stdout), p.stdout


# ---------------------------------------------------------------- combined sources, clusters


def test_combined_source_is_the_layers_together(server):
    for z in (12, 15):
        zz, x, y = tile_of(121.385, 31.111, z)
        both = server.geojson_tile("towns,estates", zz, x, y)
        assert list(both) == ["towns", "estates"]
        assert both["towns"] == server.geojson_tile("towns", zz, x, y)["towns"]
        assert both["estates"] == server.geojson_tile("estates", zz, x, y)["estates"]
        flipped = server.geojson_tile("estates,towns", zz, x, y)
        assert list(flipped) == ["estates", "towns"]
    r = server.tile("towns,estates,grid,violations,corridors,zones", 14, *tile_of(
        121.385, 31.111, 14)[1:], "mvt")
    assert r.status == 200


def district_totals(server, query=""):
    """Reports, open reports and clusters in the z12 violation tiles over the district
    (`query` added to each URL), each feature counted in the tile it lies in."""
    z = 12
    w, s, e, n = 121.2, 30.95, 121.6, 31.3
    _, x0, y0 = tile_of(w, n, z)
    _, x1, y1 = tile_of(e, s, z)
    count = opened = clusters = 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            r = server.get(f"/tiles/violations/{z}/{x}/{y}.geojson{query}")
            assert r.status in (200, 204), r
            for f in (r.json()["violations"]["features"] if r.status == 200 else []):
                px, py = f["geometry"][0]
                if not (0 <= px < EXTENT and 0 <= py < EXTENT):
                    continue  # in the buffer: the neighbour counts it
                if f["tags"].get("cluster"):
                    assert "id" not in f and f["tags"]["point_count"] >= 2
                    count += f["tags"]["point_count"]
                    opened += f["tags"]["open_count"]
                    clusters += 1
                else:
                    assert set(f["tags"]) <= set(PROPS["violations"]) and "id" in f
                    count += 1
                    opened += f["tags"]["status"] == "open"
    return count, opened, clusters


def test_violations_are_clustered_at_low_zoom(server, demo_db):
    total = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True).execute(
        "SELECT count(*), sum(status = 'open') FROM violations").fetchone()
    count, opened, clusters = district_totals(server)
    assert clusters > 0
    assert count == total[0] and opened == total[1], (count, opened, total)
    # from z15 every report is its own feature
    zz, x, y = tile_of(121.385, 31.111, 15)
    feats = server.geojson_tile("violations", zz, x, y)["violations"]
    assert feats and all("cluster" not in f["tags"] and f["id"] == f["tags"]["id"]
                         for f in feats)


# ---------------------------------------------------------------- violations as of a date

# On date D a report shows when it was reported by the end of D, and is open unless it was
# resolved by the end of D (the rule of the analyses, README "How the rules are read").
AS_OF_SQL = """SELECT count(*), coalesce(sum(resolved_at IS NULL OR substr(resolved_at, 1, 10) > ?1), 0)
               FROM violations WHERE substr(reported_at, 1, 10) <= ?1"""


def test_violation_tiles_as_of_a_date(server, demo_db):
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    tile = "/tiles/violations/%d/%d/%d.mvt" % tile_of(121.385, 31.111, 12)
    etags = set()
    totals = []
    for date in ("2015-03-31", "2016-06-30", "2017-06-30"):
        expected = con.execute(AS_OF_SQL, (date,)).fetchone()
        # the district in one tile: every report counted once, in a cluster or alone
        r = server.get(f"/tiles/violations/9/428/209.geojson?as-of={date}")
        assert r.status == 200, r
        feats = r.json()["violations"]["features"]
        one = (sum(f["tags"].get("point_count", 1) for f in feats),
               sum(f["tags"]["open_count"] if f["tags"].get("cluster")
                   else f["tags"]["status"] == "open" for f in feats))
        assert one == expected, (date, one, expected)
        # the z12 clusters over the district sum to the same
        count, opened, clusters = district_totals(server, f"?as-of={date}")
        assert clusters > 0 and (count, opened) == expected, (date, count, opened, expected)
        totals.append(expected)
        r = server.get(f"{tile}?as-of={date}")
        assert r.status == 200, r
        etags.add(r.headers["ETag"])
    assert totals[0][0] < totals[1][0] < totals[2][0]
    assert len(etags) == 3  # one per date
    plain = server.get(tile)
    assert plain.headers["ETag"] not in etags
    # 304 for the same date only
    dated = server.get(f"{tile}?as-of=2016-06-30")
    again = server.get(f"{tile}?as-of=2016-06-30", headers={"If-None-Match": dated.headers["ETag"]})
    assert again.status == 304
    other = server.get(f"{tile}?as-of=2016-07-01", headers={"If-None-Match": dated.headers["ETag"]})
    assert other.status == 200 and other.headers["ETag"] != dated.headers["ETag"]


def test_unclustered_violations_carry_their_state_on_the_date(server, demo_db):
    date = "2016-06-30"
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    rows = {i: (rep, res) for i, rep, res in
            con.execute("SELECT id, reported_at, resolved_at FROM violations")}
    z, x, y = tile_of(121.385, 31.111, 15)
    now = {f["id"]: f for f in server.geojson_tile("violations", z, x, y)["violations"]}
    r = server.get(f"/tiles/violations/{z}/{x}/{y}.geojson?as-of={date}")
    then = {f["id"]: f for f in r.json()["violations"]["features"]}
    assert then and set(then) < set(now)
    assert set(then) == {i for i in now if rows[i][0][:10] <= date}
    changed = 0
    for i, f in then.items():
        reported, resolved = rows[i]
        open_then = resolved is None or resolved[:10] > date
        assert f["tags"]["status"] == ("open" if open_then else "resolved"), f
        assert f["tags"].get("resolved_at") == (None if open_then else resolved), f
        changed += open_then and now[i]["tags"]["status"] == "resolved"
        assert now[i]["tags"].get("resolved_at") == resolved
    assert changed > 0  # some were open then and are resolved now


def test_as_of_errors_and_tilejson(server):
    z, x, y = tile_of(121.385, 31.111, 12)
    for bad in ("2017-13-01", "yesterday", "2017-02-30", ""):
        r = server.get(f"/tiles/violations/{z}/{x}/{y}.mvt?as-of={bad}")
        assert r.status == 400, (bad, r)
        assert r.json()["error"]["parameter"] == "as-of", r.json()
    r = server.get(f"/tiles/towns,estates/{z}/{x}/{y}.mvt?as-of=2016-06-30")
    assert r.status == 400 and r.json()["error"]["parameter"] == "as-of"
    # a combined source with violations takes it
    assert server.get(f"/tiles/towns,violations/{z}/{x}/{y}.mvt?as-of=2016-06-30").status == 200
    tj = server.get("/tiles/violations.json").json()
    assert "as-of" in tj["query_parameters"]
    assert tj["vector_layers"][0]["fields"]["resolved_at"] == "String"
    assert "query_parameters" not in server.get("/tiles/towns.json").json()


# ---------------------------------------------------------------- empty, bad addresses


def test_empty_tile_is_204(server):
    for path in ("/tiles/towns/12/0/0.mvt", "/tiles/towns,estates/12/0/0.geojson",
                 "/tiles/estates/5/0/0.mvt", "/tiles/violations/22/0/0.geojson"):
        r = server.get(path)
        assert r.status == 204, (path, r)
        assert r.body == b"" and "Content-Type" not in r.headers
        assert r.headers["ETag"].startswith('"')


def test_bad_tile_addresses(server):
    def error(path, status, parameter):
        r = server.get(path)
        assert r.status == status, (path, r)
        assert r.headers["Content-Type"] == "application/json"
        e = r.json()["error"]
        assert set(e) == {"code", "message", "parameter"} and e["message"], e
        assert e["parameter"] == parameter, (path, e)

    for z in ("23", "99", "-1", "a", "1.5", "", "12345678", "%2B1", "1e1", "0x1"):
        error(f"/tiles/towns/{z}/0/0.mvt", 400, "z")
    error("/tiles/towns/0/1/0.mvt", 400, "x")
    error("/tiles/towns/0/0/1.geojson", 400, "y")
    error("/tiles/towns/12/4096/0.mvt", 400, "x")
    error("/tiles/towns/12/0/4096.mvt", 400, "y")
    error("/tiles/towns/22/4194304/0.mvt", 400, "x")
    error("/tiles/towns/12/x/0.mvt", 400, "x")
    error("/tiles/towns/12/0/-1.mvt", 400, "y")
    error("/tiles/towns/12/0/%201.mvt", 400, "y")
    error("/tiles/towns/12/0/1%2E0.mvt", 400, "y")
    assert server.get("/tiles/towns/22/4194303/4194303.mvt").status == 204
    # layers: each one of the six
    error("/tiles/nowhere/1/0/0.mvt", 404, "layers")
    error("/tiles/renovation/1/0/0.mvt", 404, "layers")
    error("/tiles/towns,nowhere/1/0/0.mvt", 404, "layers")
    error("/tiles/towns,towns/1/0/0.mvt", 400, "layers")
    error("/tiles/towns,/1/0/0.mvt", 400, "layers")
    error("/tiles/,towns/1/0/0.mvt", 400, "layers")
    error("/tiles/nowhere.json", 404, "layers")
    # the rest of the path
    for path in ("/tiles/towns/1/0/0.png", "/tiles/towns/1/0/0", "/tiles/towns/1/0.mvt",
                 "/tiles/towns/1/0/0/0.mvt", "/tiles/towns", "/tiles/", "/tiles"):
        r = server.get(path)
        assert r.status == 404 and r.json()["error"]["code"] == "not_found", (path, r)
    error("/tiles/towns/1/0/0.mvt?v=2", 400, "v")
    r = server.get("/tiles/towns/1/0/0.mvt", method="POST")
    assert r.status == 405


def test_head_answers_headers_only(server):
    z, x, y = tile_of(121.385, 31.111, 13)
    get = server.tile("towns", z, x, y, "mvt")
    head = server.tile("towns", z, x, y, "mvt", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(get.body))
    assert head.headers["ETag"] == get.headers["ETag"]


# ---------------------------------------------------------------- ETags, gzip, cache


def test_etag_and_304(server):
    z, x, y = tile_of(121.385, 31.111, 13)
    for fmt in ("mvt", "geojson"):
        r = server.tile("towns,estates", z, x, y, fmt)
        assert r.status == 200
        etag = r.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{8}(\.\d+)+"', etag), etag  # strong
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["Vary"] == "Accept-Encoding"
        again = server.tile("towns,estates", z, x, y, fmt)
        assert again.headers["ETag"] == etag and again.body == r.body
        for inm in (etag, f'"x", {etag}', f"W/{etag}", "*"):
            nm = server.tile("towns,estates", z, x, y, fmt, headers={"If-None-Match": inm})
            assert nm.status == 304 and nm.body == b"", (inm, nm)
            assert nm.headers["ETag"] == etag
        other = server.tile("towns,estates", z, x, y, fmt, headers={"If-None-Match": '"nope"'})
        assert other.status == 200 and other.body == r.body
    # another layer set has another tag
    assert server.tile("towns", z, x, y, "mvt").headers["ETag"] != etag


def test_gzip(server):
    z, x, y = tile_of(121.385, 31.111, 14)
    for fmt in ("mvt", "geojson"):
        plain = server.tile("towns,estates,grid", z, x, y, fmt)
        assert "Content-Encoding" not in plain.headers
        for ae in ("gzip", "deflate, gzip;q=0.5", "br, *"):
            gz = server.tile("towns,estates,grid", z, x, y, fmt,
                             headers={"Accept-Encoding": ae})
            assert gz.status == 200
            assert gz.headers["Content-Encoding"] == "gzip", ae
            assert gz.headers["Vary"] == "Accept-Encoding"
            assert int(gz.headers["Content-Length"]) == len(gz.body) < len(plain.body)
            assert gzip.decompress(gz.body) == plain.body
            assert gz.headers["ETag"] != plain.headers["ETag"]  # another representation
            nm = server.tile("towns,estates,grid", z, x, y, fmt,
                             headers={"Accept-Encoding": "gzip",
                                      "If-None-Match": gz.headers["ETag"]})
            assert nm.status == 304 and nm.headers["ETag"] == gz.headers["ETag"]
        for ae in ("gzip;q=0", "identity", "deflate", "*;q=0"):
            r = server.tile("towns,estates,grid", z, x, y, fmt, headers={"Accept-Encoding": ae})
            assert "Content-Encoding" not in r.headers and r.body == plain.body, ae


def test_cache_hits_are_counted(server):
    z, x, y = tile_of(121.36, 31.16, 15)
    before = server.metrics()
    first = server.tile("estates", z, x, y, "mvt")
    second = server.tile("estates", z, x, y, "mvt")
    assert first.body == second.body
    after = server.metrics()
    assert after["estatemap_tile_cache_misses_total"] == before[
        "estatemap_tile_cache_misses_total"] + 1
    assert after["estatemap_tile_cache_hits_total"] == before[
        "estatemap_tile_cache_hits_total"] + 1
    assert 0 < after["estatemap_tile_cache_bytes"] <= after["estatemap_tile_cache_limit_bytes"]
    assert after["estatemap_tile_cache_limit_bytes"] == 64 * 1024 * 1024


def test_cache_memory_cap(bin_path, demo_db, work):
    s = Server(bin_path, demo_db, work, "--tile-cache-mb", "1")
    try:
        limit = 1024 * 1024
        seen = 0
        for (z, x, y) in sample_tiles([12, 13], PLACES) + sample_tiles([14], PLACES):
            for layers in ("towns,estates,grid", "grid,corridors", "estates,grid"):
                for fmt in ("mvt", "geojson"):
                    r = s.tile(layers, z, x, y, fmt, headers={"Accept-Encoding": "gzip"})
                    seen += len(r.body)
                    m = s.metrics()
                    assert m["estatemap_tile_cache_bytes"] <= limit, m
        m = s.metrics()
        assert seen > 2 * limit
        assert m["estatemap_tile_cache_limit_bytes"] == limit
        assert m["estatemap_tile_cache_entries"] > 0
        assert m["estatemap_tile_cache_evictions_total"] > 0
        assert 0.5 * limit < m["estatemap_tile_cache_bytes"] <= limit
        # the most recent tile is still there
        hits = m["estatemap_tile_cache_hits_total"]
        s.tile(layers, z, x, y, fmt, headers={"Accept-Encoding": "gzip"})
        assert s.metrics()["estatemap_tile_cache_hits_total"] == hits + 1
    finally:
        assert s.stop() == 0


def test_cache_off(bin_path, demo_db, work):
    s = Server(bin_path, demo_db, work, "--tile-cache-mb", "0")
    try:
        z, x, y = tile_of(121.385, 31.111, 13)
        a = s.tile("towns,estates", z, x, y, "mvt")
        b = s.tile("towns,estates", z, x, y, "mvt")
        assert a.status == 200 and a.body == b.body and a.headers["ETag"] == b.headers["ETag"]
        m = s.metrics()
        assert m["estatemap_tile_cache_hits_total"] == 0
        assert m["estatemap_tile_cache_misses_total"] == 2
        assert m["estatemap_tile_cache_limit_bytes"] == 0
        assert m["estatemap_tile_cache_bytes"] == 0
        nm = s.tile("towns,estates", z, x, y, "mvt", headers={"If-None-Match": a.headers["ETag"]})
        assert nm.status == 304
    finally:
        assert s.stop() == 0


def test_byte_cap_drops_smallest_features_and_says_so(bin_path, demo_db, work):
    cap = 8000
    s = Server(bin_path, demo_db, work, "--tile-max-bytes", str(cap), "--tile-cache-mb", "0")
    try:
        z, x, y = tile_of(121.385, 31.111, 14)
        layers = "towns,estates,grid"
        full = {}
        for fmt in ("mvt", "geojson"):
            r = s.tile(layers, z, x, y, fmt)
            assert r.status == 200
            assert len(r.body) <= cap, (fmt, len(r.body))
            dropped = int(r.headers["X-Tile-Dropped-Features"])
            assert dropped > 0
            full[fmt] = (r, dropped)
        log = s.stderr()
        assert re.search(rf"tile {re.escape(layers)}/{z}/{x}/{y}\.mvt is \d+ bytes, over "
                         rf"--tile-max-bytes {cap}: dropped \d+ of \d+ features", log), log
        assert f"{layers}/{z}/{x}/{y}.geojson" in log
        capped = s.geojson_tile(layers, z, x, y)
        # the towns (largest) stay; small grid cells go first
        assert capped.get("towns"), capped.keys()
        assert len(capped.get("grid", [])) < 200
        if node_ready() is None:
            path = work / "capped.mvt"
            path.write_bytes(full["mvt"][0].body)
            node("decode_mvt.mjs", path)
    finally:
        assert s.stop() == 0
    # without the cap the same tile is whole
    s = Server(bin_path, demo_db, work, "--tile-cache-mb", "0")
    try:
        r = s.tile(layers, z, x, y, "mvt")
        assert "X-Tile-Dropped-Features" not in r.headers and len(r.body) > cap
        whole = s.geojson_tile(layers, z, x, y)
        kept = sum(len(v) for v in capped.values())
        assert sum(len(v) for v in whole.values()) == kept + full["geojson"][1]
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- TileJSON


def test_tilejson(server, demo_db):
    for names in ("towns", "towns,estates", "corridors,violations"):
        r = server.get(f"/tiles/{names}.json")
        assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        tj = r.json()
        assert tj["tilejson"] == "3.0.0"
        assert tj["tiles"] == [f"http://127.0.0.1:{server.port}/tiles/{names}/{{z}}/{{x}}/{{y}}.mvt"]
        assert 0 <= tj["minzoom"] <= tj["maxzoom"] <= 22
        assert tj["scheme"] == "xyz"
        w, s, e, n = tj["bounds"]
        # the district (corridors reach a little beyond it)
        assert 120.9 < w < 121.24 and 121.57 < e < 121.9, tj["bounds"]
        assert 30.7 < s < 30.98 and 31.26 < n < 31.5, tj["bounds"]
        cx, cy, cz = tj["center"]
        assert w <= cx <= e and s <= cy <= n and tj["minzoom"] <= cz <= tj["maxzoom"]
        assert [v["id"] for v in tj["vector_layers"]] == names.split(",")
        for vl in tj["vector_layers"]:
            assert set(PROPS[vl["id"]]) <= set(vl["fields"])
            assert all(t in ("String", "Number", "Boolean") for t in vl["fields"].values())
        if "corridors" in names:
            assert "OpenStreetMap" in tj["attribution"]
        # the template gives tiles
        z, x, y = tile_of(121.385, 31.111, 13)
        url = tj["tiles"][0].format(z=z, x=x, y=y).replace(f"http://127.0.0.1:{server.port}", "")
        assert server.get(url).status in (200, 204)
        # ETag and 304
        etag = r.headers["ETag"]
        assert server.get(f"/tiles/{names}.json",
                          headers={"If-None-Match": etag}).status == 304
    g = server.get("/tiles/towns.json?f=geojson").json()
    assert g["tiles"][0].endswith("/tiles/towns/{z}/{x}/{y}.geojson")
    assert server.get("/tiles/towns.json?f=png").status == 400
    assert server.get("/tiles/towns.json?x=1").status == 400
    v = server.get("/tiles/violations.json").json()["vector_layers"][0]["fields"]
    assert v["point_count"] == "Number" and v["cluster"] == "Boolean"
    assert "attribution" not in server.get("/tiles/towns.json").json()


# ---------------------------------------------------------------- writes


def test_a_write_invalidates_cached_tiles(bin_path, demo_db, work):
    db = work / "writable.sqlite"
    shutil.copy(demo_db, db)
    s = Server(bin_path, db, work)
    try:
        lon, lat = 121.3852, 31.1113
        z, x, y = tile_of(lon, lat, 16)
        before = s.tile("towns,estates", z, x, y, "mvt")
        before_geo = s.geojson_tile("towns,estates", z, x, y)
        assert s.tile("towns,estates", z, x, y, "mvt").body == before.body  # cached now
        etag = before.headers["ETag"]
        towns_etag = s.tile("towns", z, x, y, "mvt").headers["ETag"]
        ids = {f["id"] for f in before_geo.get("estates", [])}
        d = 0.0004
        path = work / "new-estate.geojson"
        write_geojson(path, [({"code": "TEST-TILE-1", "name": "缓存测试小区", "built_year": 1990},
                              f"POLYGON(({lon - d} {lat - d},{lon + d} {lat - d},{lon + d} "
                              f"{lat + d},{lon - d} {lat + d},{lon - d} {lat - d}))")])
        r = run_cli(bin_path, "import", "estates", path, "--db", db)
        assert r.rc == 0, r
        after = s.tile("towns,estates", z, x, y, "mvt", headers={"If-None-Match": etag})
        assert after.status == 200, after  # not 304: the data changed
        assert after.headers["ETag"] != etag and after.body != before.body
        new = [f for f in s.geojson_tile("towns,estates", z, x, y)["estates"]
               if f["id"] not in ids]
        assert [f["tags"]["code"] for f in new] == ["TEST-TILE-1"]
        # other layers keep their tags
        assert s.tile("towns", z, x, y, "mvt").headers["ETag"] == towns_etag
        # a direct write through SQLite (the triggers bump the version) is seen too
        con = sqlite3.connect(db)
        con.execute("UPDATE estates SET name = '改名小区' WHERE code = 'TEST-TILE-1'")
        con.commit()
        con.close()
        renamed = [f for f in s.geojson_tile("estates", z, x, y)["estates"]
                   if f["tags"]["code"] == "TEST-TILE-1"]
        assert renamed[0]["tags"]["name"] == "改名小区"
    finally:
        assert s.stop() == 0


def test_geometry_cache_follows_writes(bin_path, demo_db, work):
    """Big features (the towns) come from the geometry cache, tile after tile; after a
    write to their geometry the tiles are exactly what a freshly started server makes."""
    db = work / "geometry-cache.sqlite"
    shutil.copy(demo_db, db)
    s = Server(bin_path, db, work, "--tile-cache-mb", "0")
    try:
        tiles = [tile_of(121.385, 31.111, z) for z in (12, 13, 14, 15, 16)]
        before = [s.geojson_tile("towns,corridors", *t) for t in tiles]
        assert [s.geojson_tile("towns,corridors", *t) for t in tiles] == before
        m = s.metrics()
        assert m["estatemap_geom_cache_hits_total"] > 0 and m["estatemap_geom_cache_entries"] > 0
        assert 0 < m["estatemap_geom_cache_bytes"] <= m["estatemap_geom_cache_limit_bytes"]
        assert m["estatemap_geom_cache_limit_bytes"] == 128 * 1024 * 1024
        con = spatialite_connect(db)
        con.execute("UPDATE towns SET geom = ST_Translate(geom, 0.002, -0.001, 0)")
        con.commit()
        con.close()
        after = [s.geojson_tile("towns,corridors", *t) for t in tiles]
        fresh = Server(bin_path, db, work, "--tile-cache-mb", "0", "--geom-cache-mb", "0")
        try:
            expected = [fresh.geojson_tile("towns,corridors", *t) for t in tiles]
            assert fresh.metrics()["estatemap_geom_cache_limit_bytes"] == 0
        finally:
            assert fresh.stop() == 0
        assert after == expected
        assert [t["towns"] for t in after] != [t["towns"] for t in before]
        assert [t["corridors"] for t in after] == [t["corridors"] for t in before]
    finally:
        assert s.stop() == 0


def test_cached_tiles_match_uncached_across_writes(bin_path, demo_db, work):
    """Estates (every small polygon goes through the geometry cache while it has room)
    and clustered violations (the layer's point set, kept in the same cache) give
    exactly the tiles of a server without the cache, before and after writes that
    move estates, move reports and change their status: the running server's cache
    is never stale."""
    db = work / "point-set.sqlite"
    shutil.copy(demo_db, db)
    tiles = [tile_of(121.385, 31.111, z) for z in (8, 10, 11, 12, 13, 14, 15, 16)]
    tiles += [tile_of(121.45, 31.05, z) for z in (12, 14)]

    def cut(server):
        plain = [server.geojson_tile("estates,violations", *t) for t in tiles]
        dated = [server.get("/tiles/violations/%d/%d/%d.geojson?as-of=2016-06-30" % t)
                 for t in tiles]
        assert all(r.status in (200, 204) for r in dated)
        return plain, [r.body for r in dated]

    def uncached():
        plain = Server(bin_path, db, work, "--tile-cache-mb", "0", "--geom-cache-mb", "0")
        try:
            return cut(plain)
        finally:
            assert plain.stop() == 0

    cached = Server(bin_path, db, work, "--tile-cache-mb", "0")
    try:
        before = uncached()
        assert cut(cached) == before
        assert cut(cached) == before  # now from the cache
        assert cached.metrics()["estatemap_geom_cache_hits_total"] > 0
        feats = [f for t in before[0] for f in t.get("violations", [])]
        assert any(f["tags"].get("cluster") for f in feats)
        assert any("cluster" not in f["tags"] for f in feats)
        con = spatialite_connect(db)
        con.execute("UPDATE violations SET geom = ST_Translate(geom, 0.003, 0.002, 0), "
                    "status = 'open' WHERE id % 7 = 0")
        con.execute("UPDATE estates SET geom = ST_Translate(geom, 0.001, 0, 0) WHERE id % 5 = 0")
        con.commit()
        con.close()
        after = uncached()
        assert after[0] != before[0]
        assert cut(cached) == after
    finally:
        assert cached.stop() == 0


SPATIAL_LAYERS = ["towns", "estates", "grid", "violations", "corridors", "zones"]


def test_layer_sets_give_the_rows_tiles(bin_path, demo_db, work):
    """With the geometry cache, a tile of any layer comes from the layer's set (every
    feature's box, prepared geometry and tags in memory) instead of SQL rows: every
    layer's MVT and GeoJSON tiles, at z5-16 in the district, on its edges and in the
    sea around it, are byte for byte those of a server that reads rows (no cache), and
    of one whose cache is too small to hold some sets (those layers read rows)."""
    tiles = sample_tiles(range(5, 17))
    for z, x, y in sample_tiles([12, 15], PLACES[:2]):  # neighbours share features
        tiles += [(z, x + dx, y + dy) for dx in (-1, 1) for dy in (-1, 1)]
    tiles += [tile_of(121.26, 31.05, 13), tile_of(121.60, 30.95, 12), (10, 900, 430)]

    def cut(server):
        out = {}
        for layer in SPATIAL_LAYERS + [",".join(SPATIAL_LAYERS)]:
            for z, x, y in tiles:
                for fmt in ("mvt", "geojson"):
                    r = server.tile(layer, z, x, y, fmt)
                    assert r.status in (200, 204), (layer, z, x, y, fmt, r)
                    out[layer, z, x, y, fmt] = r.body
        return out

    def cut_with(*args):
        s = Server(bin_path, demo_db, work, "--tile-cache-mb", "0", "--tile-max-bytes",
                   1 << 30, *args)
        try:
            tiles_cut = cut(s)
            return tiles_cut, s.metrics()
        finally:
            assert s.stop() == 0

    rows, m = cut_with("--geom-cache-mb", "0")
    assert m["estatemap_geom_cache_bytes"] == 0
    nonempty = {k[0] for k, body in rows.items() if body}
    assert nonempty == set(SPATIAL_LAYERS + [",".join(SPATIAL_LAYERS)])
    sets, m = cut_with()
    # the sets of all six demo layers fit the default cap: tens of MiB in a few entries
    assert m["estatemap_geom_cache_bytes"] > 20 << 20, m
    assert m["estatemap_geom_cache_entries"] < 100, m
    assert m["estatemap_geom_cache_hits_total"] > len(rows) / 2, m
    assert [k for k in rows if rows[k] != sets[k]] == []
    small, m = cut_with("--geom-cache-mb", "8")
    assert m["estatemap_geom_cache_bytes"] <= 8 << 20, m
    assert [k for k in rows if rows[k] != small[k]] == []


def test_geometry_cache_cap(bin_path, demo_db, work):
    s = Server(bin_path, demo_db, work, "--tile-cache-mb", "0", "--geom-cache-mb", "1")
    try:
        limit = 1024 * 1024
        for (z, x, y) in sample_tiles([12, 14], PLACES):
            s.tile("towns,corridors,zones,estates", z, x, y, "mvt")
            m = s.metrics()
            assert m["estatemap_geom_cache_bytes"] <= limit, m
        assert m["estatemap_geom_cache_limit_bytes"] == limit
        assert m["estatemap_geom_cache_entries"] > 0
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- the command line


def test_serve_tile_options(cli, demo_db):
    r = cli("serve", "--help")
    assert r.rc == 0 and "--tile-cache-mb" in r.out and "--tile-max-bytes" in r.out
    assert "--geom-cache-mb" in r.out
    for args in (["--tile-cache-mb", "-1"], ["--tile-cache-mb", "x"],
                 ["--geom-cache-mb", "-5"], ["--geom-cache-mb", "1.5"],
                 ["--tile-max-bytes", "10"], ["--tile-max-bytes", ""],
                 ["--tile-max-bytes", "12k"]):
        r = cli("serve", "--db", demo_db, "--listen", "127.0.0.1:0", *args)
        assert r.rc == 2, (args, r)
        assert args[0] in r.err, r
