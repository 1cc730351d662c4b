"""scripts/gen-synthetic: the demo scaled by copies, and what `estatemap` makes of it.

One run of `--scale 2 --db FILE` (the demo generator once, two copies, then
`estatemap demo --geodata`), checked against the committed demo in geodata/ with
shapely, and through the database that estatemap built and checked itself. Like the
demo's determinism test, it is skipped with ESTATEMAP_SKIP_SLOW=1 (the ASan pass).
"""
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from shapely.affinity import translate
from shapely.geometry import shape

from conftest import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEO = os.path.join(ROOT, "geodata")
GEN = os.path.join(ROOT, "scripts", "gen-synthetic")


def features(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)["features"]


def csv_rows(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return f.read().splitlines()[1:]


@pytest.fixture(scope="module")
def two(bin_path, tmp_path_factory):
    if os.environ.get("ESTATEMAP_SKIP_SLOW") == "1":  # the generator runs for minutes
        pytest.skip("ESTATEMAP_SKIP_SLOW=1")
    tmp = tmp_path_factory.mktemp("synthetic")
    out, db = tmp / "data", tmp / "two.sqlite"
    env = dict(os.environ, ESTATEMAP_BIN=str(bin_path))
    subprocess.run([sys.executable, GEN, "--scale", "2", "--out", str(out), "--db", str(db),
                    "--quiet"], check=True, timeout=1800, env=env)
    return str(out), str(db)


def offsets(folder):
    """(dx, dy) in degrees of each copy, from the README's table."""
    rows = []
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 4 and cells[0].isdigit():
                dx, dy = (int(v) / 1e6 for v in cells[3].split(","))
                rows.append((cells[1], dx, dy))
    return rows


def test_two_copies_of_every_layer(two):
    out, _ = two
    for name in ("towns.geojson", "estates.geojson", "grid.geojson", "corridors.geojson",
                 "zones.geojson"):
        assert len(features(out, name)) == 2 * len(features(GEO, name)), name
    for name in ("violations.csv", "renovation.csv"):
        assert len(csv_rows(out, name)) == 2 * len(csv_rows(GEO, name)), name


def test_first_copy_is_the_demo_and_the_second_is_it_translated(two):
    out, _ = two
    copies = offsets(out)
    assert [c[0] for c in copies] == ["310112", "310115"]
    (_, dx0, dy0), (_, dx, dy) = copies
    assert (dx0, dy0) == (0, 0) and (dx, dy) != (0, 0)
    # generated layers have 6 decimals and move exactly; the real town polygons have more
    # and are rounded to micro-degrees on the way
    for name, tolerance in (("towns.geojson", 1e-6), ("estates.geojson", 1e-9),
                            ("zones.geojson", 1e-9)):
        demo, syn = features(GEO, name), features(out, name)
        n = len(demo)
        assert syn[:n] == demo, name
        for a, b in zip(demo, syn[n:]):
            ga, gb = shape(a["geometry"]), shape(b["geometry"])
            assert gb.is_valid
            assert translate(ga, dx, dy).equals_exact(gb, tolerance), (name, b["properties"])
    towns = features(out, "towns.geojson")[13:]
    assert all(t["properties"]["code"].startswith("310115") for t in towns)
    assert all(t["properties"]["name"].startswith("浦东新区") for t in towns)
    demo_town_codes = {t["properties"]["code"] for t in features(GEO, "towns.geojson")}
    syn_town_codes = {t["properties"]["code"] for t in features(out, "towns.geojson")}
    assert len(syn_town_codes) == 26 and demo_town_codes < syn_town_codes


def test_codes_stay_unique(two):
    out, _ = two
    for name in ("estates.geojson", "grid.geojson"):
        codes = [f["properties"]["code"] for f in features(out, name)]
        assert len(set(codes)) == len(codes), name
    codes = [r.split(",", 1)[0] for r in csv_rows(out, "violations.csv")]
    assert len(set(codes)) == len(codes)


def test_estatemap_builds_and_checks_it(two, bin_path):
    out, db = two
    r = run_cli(bin_path, "check", "--db", db, "--json")
    assert r.rc == 0, r.err
    con = sqlite3.connect(db)
    # the derived links found the translated towns and cells: every estate lies in the
    # town its code names, every violation in a cell, in the district of its copy
    assert con.execute("SELECT count(*) FROM estates WHERE town_code IS NULL OR "
                       "substr(code, 1, 9) <> town_code").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM violations WHERE grid_code IS NULL").fetchone()[0] == 0
    mixed = con.execute("SELECT count(*) FROM violations WHERE (code LIKE '%-310115-%') <> "
                        "(grid_code LIKE '310115%')").fetchone()[0]
    assert mixed == 0
    per_district = dict(con.execute("SELECT substr(town_code, 1, 6), count(*) FROM estates "
                                    "GROUP BY 1").fetchall())
    assert per_district["310112"] == per_district["310115"] == len(features(GEO, "estates.geojson"))


def test_bad_scale_is_a_usage_error():
    for bad in ("0", "beijing", "2.5"):
        p = subprocess.run([sys.executable, GEN, "--scale", bad], capture_output=True, text=True)
        assert p.returncode == 2, bad
        assert "--scale" in p.stderr and bad in p.stderr


def test_prerender_writes_the_servers_tiles_to_mbtiles(two, bin_path, tmp_path):
    """scripts/prerender crawls the server into an MBTiles file that GDAL reads, holding
    exactly the server's non-empty tiles, byte for byte once unzipped."""
    import gzip
    import urllib.request

    from osgeo import gdal
    from conftest import RunningServer
    _, db = two
    server = RunningServer(bin_path, db, tmp_path)
    try:
        out = tmp_path / "t.mbtiles"
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "prerender"), "--url",
                        server.base, "--layers", "towns,estates", "--zooms", "10-12", "-o",
                        str(out)], check=True, timeout=600, capture_output=True)
        con = sqlite3.connect(out)
        meta = dict(con.execute("SELECT name, value FROM metadata"))
        assert (meta["format"], meta["minzoom"], meta["maxzoom"]) == ("pbf", "10", "12")
        assert [v["id"] for v in json.loads(meta["json"])["vector_layers"]] == ["towns", "estates"]
        tiles = con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
        assert {z for z, *_ in tiles} == {10, 11, 12}
        for z, x, row, data in tiles[::7]:
            y = (1 << z) - 1 - row
            with urllib.request.urlopen(f"{server.base}/tiles/towns,estates/{z}/{x}/{y}.mvt") as r:
                assert r.status == 200 and gzip.decompress(data) == r.read()
        con.close()
        ds = gdal.OpenEx(str(out), gdal.OF_VECTOR, open_options=["ZOOM_LEVEL=12"])
        assert ds.GetLayerByName("estates").GetFeatureCount() > 0
    finally:
        assert server.stop() == 0
