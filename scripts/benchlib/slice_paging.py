"""scripts/bench's "slice" and "paging" rows (issue 7, section 3).

slice_LAYER_ZOOMS   GeoJSON tile slicing: estatemap-slice-bench (the library's tile
                    code, no HTTP, no tile cache) against geojson-vt's getTile.
paging_violations_L all violations page by page through /ogc/.../items?limit=L,
                    following the `next` links, against the same pages asked of
                    PostGIS with LIMIT/OFFSET by psycopg2.

`rows(bench)` makes the rows; `bench` is the scripts/bench module itself, whose
helpers (the data set, the PostGIS copy, the tile list, the server) are looked up
when a row runs, so these rows use whatever data set the other rows use.
"""
import json
import math
import os
import re
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# What each layer's tiles carry (src/tile_source.c), so that geojson-vt carries the same.
TILE_PROPS = {"towns": ["code", "name"],
              "estates": ["id", "code", "name", "town_code", "built_year", "tier", "stage",
                          "housing_type"],
              "violations": ["id", "code", "category", "status", "reported_at"]}
# The server's GeoJSON tile settings (src/tiles.h), as tests/integration/test_tiles.py
# gives them to geojson-vt.
GEOJSONVT_OPTIONS = {"maxZoom": 22, "tolerance": 8, "extent": 4096, "buffer": 64,
                     "indexMaxZoom": 5}
# A timed run lasts at least this long where a pass over the list is shorter (below).
MIN_RUN_S, MAX_REPEAT = 0.5, 25


def slice_bench_bin(bench):
    return os.path.join(os.path.dirname(bench.BIN), "estatemap-slice-bench")


def layer_geojson(db, layer):
    """The layer as a GeoJSON file beside the database, with the tile properties and
    the row id as the feature id (what geojson-vt is given, as a server would)."""
    path = os.path.join(os.path.dirname(db), f"{layer}.tile-input.geojson")
    if os.path.exists(path):
        return path
    from osgeo import ogr
    ds = ogr.Open(db)
    cols = [c for c in TILE_PROPS[layer] if c != "id"]
    sql = f'SELECT id, {"".join(c + ", " for c in cols)}geom FROM "{layer}" ORDER BY id'
    result = ds.ExecuteSQL(sql)
    with open(path, "w") as f:
        f.write('{"type":"FeatureCollection","features":[')
        for i, feat in enumerate(result):
            fid = feat.GetField("id")
            props = {"id": fid} if "id" in TILE_PROPS[layer] else {}
            for c in cols:
                if feat.IsFieldSetAndNotNull(c):
                    props[c] = feat.GetField(c)
            geometry = feat.GetGeometryRef().ExportToJson(["COORDINATE_PRECISION=15"])
            f.write(("," if i else "") + json.dumps(
                {"type": "Feature", "id": fid, "properties": props})[:-1] +
                f',"geometry":{geometry}}}')
        f.write("]}")
    ds.ReleaseResultSet(result)
    return path


def low_zoom_tiles(tiles):
    """The z0-z11 tiles over the same area as the z12 tiles of `tiles`."""
    z12 = {(x, y) for z, x, y in tiles if z == 12}
    return sorted({(z, x >> (12 - z), y >> (12 - z)) for z in range(12) for x, y in z12})


class SliceRow:
    """GeoJSON tile slicing, in tiles per second of one pass over a tile list.

    estatemap: estatemap-slice-bench (tools/slice_bench.c) makes each tile as the
    server makes an uncached one, on one read-only connection with the server's
    geometry cache at its default cap: a read transaction and the layers' data
    versions, then the features from the layer's set in that cache (boxes, prepared
    geometry and tags; src/tile_layer_set.c) or, for a layer too big for it, the
    R*Tree query and the rows read from the file, then clipping, simplification,
    quantisation (and clustering of violations up to z14), to a tile in memory.
    One untimed pass first reads the sets and warms SQLite's page cache, as
    geojson-vt's index build prepares its index (its time is kept as
    estatemap_warm_pass_s, the cache's size as estatemap_cache_bytes); no tile cache.

    geojson-vt: the layer's GeoJSON (the same rows and tile properties) is parsed
    (untimed), the index is built (reported apart as index_build_s) and getTile is
    asked for every tile on that fresh index, so nothing asked is cut before the
    timed pass: the drill-down from the index's pre-cut tiles (down to indexMaxZoom
    5 while a tile has over 100,000 points) to each tile counts as slicing. As many
    untimed passes as timed ones (at least 3), each on a throw-away index, first let
    V8 optimise geojson-vt.

    Where one pass of estatemap over the list takes under MIN_RUN_S (a calibration
    run in setup says), each run cuts the list `repeat` times over, up to
    MAX_REPEAT, each time on a new geojson-vt index, and the times are summed.

    Writing the tiles' JSON (em_tile_geojson, JSON.stringify of getTile's features)
    is timed apart from slicing on both sides and kept in the details, with the
    ratios counting it (ratios_with_json), and the ratios counting geojson-vt's
    index builds in its time (ratios_with_index_build)."""

    unit = "tiles/s"
    peer = "geojson-vt getTile (Node.js)"
    target = 1.0  # issue 7: no slower than geojson-vt

    def __init__(self, bench, layer, zooms):
        self.bench = bench
        self.layer, self.zooms = layer, zooms
        self.name = f"slice_{layer}_{zooms}"
        self.what = (f"geojson tile slicing, {layer}, {zooms}: estatemap from its layer sets "
                     f"(a read transaction a tile), geojson-vt on its built index (no HTTP, "
                     f"tile cache or JSON)")
        self.details = {"peer_index_build_s": [], "estatemap_warm_pass_s": [],
                        "estatemap_json_s": [], "peer_json_s": [],
                        "ratios_with_json": [], "ratios_with_index_build": []}

    def setup(self, tmp):
        self.db = self.bench.DATA.db  # no PostGIS in this row
        tiles = self.bench.tile_list()
        if self.zooms == "z0-11":
            tiles = low_zoom_tiles(tiles)
        self.tiles = os.path.join(tmp, "tiles.txt")
        with open(self.tiles, "w") as f:
            f.writelines(f"{z} {x} {y}\n" for z, x, y in tiles)
        self.geojson = layer_geojson(self.db, self.layer)
        once = self.slice_bench(1)["slice_s"]
        self.repeat = max(1, min(MAX_REPEAT, math.ceil(MIN_RUN_S / max(once, 1e-6))))
        self.details.update(tiles=len(tiles), repeat=self.repeat)

    def slice_bench(self, repeat):
        return json.loads(subprocess.run(
            [slice_bench_bin(self.bench), "--db", self.db, "--layers", self.layer, "--tiles",
             self.tiles, "--repeat", str(repeat)], capture_output=True, text=True,
            check=True).stdout)

    def ours(self, i):
        r = self.last = self.slice_bench(self.repeat)
        self.details["estatemap_json_s"].append(r["encode_s"])
        self.details["estatemap_warm_pass_s"].append(r["warm_s"])
        self.details.update(estatemap_features=r["features"], estatemap_nonempty=r["nonempty"],
                            estatemap_cache_bytes=r["cache_bytes"])
        return r["tiles"] / r["slice_s"]

    def theirs(self, i):
        r = json.loads(subprocess.run(
            ["node", os.path.join(HERE, "geojsonvt_slice.mjs"), self.geojson, self.tiles,
             json.dumps(GEOJSONVT_OPTIONS), str(self.repeat)], capture_output=True, text=True,
            check=True, cwd=self.bench.ROOT).stdout)
        self.details["peer_index_build_s"].append(r["build_s"])
        self.details["peer_json_s"].append(r["stringify_s"])
        self.details["ratios_with_json"].append(
            (r["slice_s"] + r["stringify_s"]) / (self.last["slice_s"] + self.last["encode_s"]))
        self.details["ratios_with_index_build"].append(
            (r["slice_s"] + r["build_s"]) / self.last["slice_s"])
        self.details.update(peer_features=r["features"], peer_nonempty=r["nonempty"])
        return r["tiles"] / r["slice_s"]


VIOLATION_COLUMNS = ["code", "category", "reported_at", "resolved_at", "status", "source",
                     "description", "estate_code", "grid_code"]

# One page as the OGC items answer has it: the features in id order with their
# properties, numberMatched (a count, as ours makes for every page) and
# numberReturned; one statement, so one snapshot, as ours reads each page in one
# read transaction. The page's rows are picked first and only they are made into
# JSON: written as one SELECT, PostgreSQL would build the JSON of every row that
# OFFSET skips too (and did, at a tenth of this query's speed).
POSTGIS_PAGE_SQL = f"""
WITH page AS MATERIALIZED (
  SELECT id, {", ".join(VIOLATION_COLUMNS)}, geom FROM violations
  ORDER BY id LIMIT %(limit)s OFFSET %(offset)s),
matched AS (SELECT count(*) AS n FROM violations)
SELECT (SELECT n FROM matched), count(*),
       json_build_object(
         'type', 'FeatureCollection',
         'features', coalesce(json_agg(json_build_object(
           'type', 'Feature', 'id', id, 'geometry', ST_AsGeoJSON(geom, 7)::json,
           'properties', json_build_object({", ".join(f"'{c}', {c}" for c in VIOLATION_COLUMNS)})
         ) ORDER BY id), '[]'::json),
         'numberMatched', (SELECT n FROM matched), 'numberReturned', count(*))::text
FROM page"""

NEXT_LINK = re.compile(rb'\{"href":"([^"]+)","rel":"next"')
RETURNED = re.compile(rb'"numberReturned":(\d+)')


class PagingRow:
    """OGC API items paging, in features per second over all violations.

    estatemap: `estatemap serve`, one keep-alive HTTP/1.1 connection a run (Python's
    http.client, connected before the clock starts), GET
    /ogc/collections/violations/items?limit=L, then each page's `next` link until
    there is none; the client only finds the link and numberReturned in the bytes. PostGIS: one psycopg2 connection over loopback TCP,
    one statement per page (the same features, properties and 7-decimal
    coordinates as json_build_object/ST_AsGeoJSON, ORDER BY id LIMIT L OFFSET n,
    and the count for numberMatched), fetched as text, until the offset passes
    the count. Pages per second are kept in the details."""

    unit = "features/s"
    peer = "PostGIS 3 (psycopg2, LIMIT/OFFSET, json_build_object)"

    def __init__(self, bench, limit):
        self.bench, self.limit = bench, limit
        self.name = f"paging_violations_{limit}"
        self.what = (f"OGC items paging, all violations, limit={limit}: HTTP /ogc items "
                     f"against SQL pages over psycopg2")
        self.details = {"estatemap_pages_per_s": [], "peer_pages_per_s": []}

    def setup(self, tmp):
        import psycopg2
        self.db, self.pg = self.bench.demo_and_postgis()
        self.server = self.bench.Server(self.db)
        # the PostGIS copy's geometry columns were added by UPDATE: vacuum the table,
        # as autovacuum would in a running database, so that no dead rows are paged
        self.pg.sql("VACUUM ANALYZE violations")
        self.conn = psycopg2.connect(self.pg.dsn)
        self.conn.autocommit = True

    def ours(self, i):
        import http.client
        from urllib.parse import urlsplit
        path = f"/ogc/collections/violations/items?limit={self.limit}"
        pages = features = 0
        # a new connection each run (the server closes one idle for 2 s), made before
        # the clock starts, as the peer's connection is
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port)
        conn.connect()
        t0 = time.perf_counter()
        while path:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
            pages += 1
            features += int(RETURNED.search(body).group(1))
            link = NEXT_LINK.search(body)
            path = None
            if link:
                u = urlsplit(link.group(1).decode())
                path = f"{u.path}?{u.query}"
        elapsed = time.perf_counter() - t0
        conn.close()
        self.details["estatemap_pages_per_s"].append(pages / elapsed)
        self.details.update(pages=pages, features=features)
        return features / elapsed

    def theirs(self, i):
        pages = features = offset = 0
        t0 = time.perf_counter()
        with self.conn.cursor() as cur:
            while True:
                cur.execute(POSTGIS_PAGE_SQL, {"limit": self.limit, "offset": offset})
                matched, returned, _text = cur.fetchone()
                pages += 1
                features += returned
                offset += self.limit
                if offset >= matched:
                    break
        elapsed = time.perf_counter() - t0
        self.details["peer_pages_per_s"].append(pages / elapsed)
        if features != self.details["features"]:
            raise RuntimeError(f"PostGIS paged {features} features, estatemap "
                               f"{self.details['features']}")
        return features / elapsed

    def teardown(self):
        self.conn.close()
        self.server.stop()


def rows(bench):
    return ([SliceRow(bench, layer, zooms) for layer in ("towns", "estates", "violations")
             for zooms in ("z12-16", "z0-11")] +
            [PagingRow(bench, limit) for limit in (1000, 10000)])
