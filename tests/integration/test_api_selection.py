"""The planners' selection on the demo database (issue 5, sections 2, 4 and 6):

- `GET /api/export?polygon=` and `estatemap export --polygon`: the features that
  intersect a drawn lon/lat polygon, in every format the map offers, checked against a
  shapely `intersects` over the database's own geometries (decoded from the SpatiaLite
  BLOBs here, not asked of SpatiaLite), read back with GDAL;
- bad polygons: a 400 naming `polygon`, and exit 2 on the command line;
- the estate card's recommended tier: the tiers analysis's row for that estate, for
  the same `as-of`, as `estatemap analyze tiers --by estate` prints it.

The real server runs on a free loopback port over the demo database, with the fixtures of
test_api_export.py.
"""

import json

import pytest
from osgeo import gdal, ogr
from shapely import wkt as shapely_wkt
from shapely.geometry import mapping

from conftest import query, run_cli, spatialite_blob_to_shape
from test_api_export import epsg_of_prj, error_of, open_bytes
# the server on the demo database (conftest's demo_db) with its own TMPDIR, and the check
# that every request leaves that TMPDIR as it found it
from test_api_export import clean_tmp, server, server_tmp, work  # noqa: F401

gdal.UseExceptions()
ogr.UseExceptions()

# A concave polygon (a "C" open to the east) over part of 莘庄镇 and its neighbours,
# a two-part multipolygon with a hole, and a drawn triangle.
C_SHAPE = ("POLYGON((121.370 31.095, 121.425 31.095, 121.425 31.105, 121.385 31.105, "
           "121.385 31.130, 121.425 31.130, 121.425 31.140, 121.370 31.140, 121.370 31.095))")
TWO_PARTS = ("MULTIPOLYGON(((121.33 31.02, 121.37 31.02, 121.37 31.06, 121.33 31.06, "
             "121.33 31.02), (121.34 31.03, 121.36 31.03, 121.36 31.05, 121.34 31.05, "
             "121.34 31.03)), ((121.45 31.12, 121.48 31.12, 121.465 31.15, 121.45 31.12)))")
TRIANGLE = "POLYGON((121.40 31.08, 121.44 31.08, 121.42 31.11, 121.40 31.08))"
POLYGONS = {"c-shape": C_SHAPE, "two-parts": TWO_PARTS, "triangle": TRIANGLE}


def card(server, code, as_of):
    r = server.get(f"/api/estates/{code}?as-of={as_of}")
    assert r.status == 200, r
    return r.json()


def expected(db, table, polygon_wkt, key="code"):
    """The rows whose geometry intersects the polygon, by shapely."""
    poly = shapely_wkt.loads(polygon_wkt)
    assert poly.is_valid
    rows = query(db, f"SELECT {key}, geom FROM {table}")
    return {k for k, blob in rows if spatialite_blob_to_shape(blob).intersects(poly)}


def codes_in(ds, layer=None, field="code"):
    lyr = (ds.GetLayerByName(layer) if layer else None) or ds.GetLayer(0)  # CSV, GeoJSON: one
    return [f[field] for f in lyr]


# ---------------------------------------------------------------- exports


@pytest.mark.parametrize("name", sorted(POLYGONS))
@pytest.mark.parametrize("fmt,options", [
    ("shp", {"crs": "EPSG:4549", "encoding": "GBK"}),
    ("shp", {}),
    ("gpkg", {"crs": "EPSG:4490"}),
    ("csv", {"crs": "EPSG:4549"}),
    ("geojson", {}),
])
def test_polygon_export_is_the_estates_that_intersect_it(server, demo_db, tmp_path, clean_tmp,
                                                         name, fmt, options):
    want = expected(demo_db, "estates", POLYGONS[name])
    assert 5 < len(want) < 300  # a real selection, not everything nor nothing
    r = server.export({"source": "estates", "format": fmt, "polygon": POLYGONS[name],
                       **options})
    assert r.status == 200, r
    ds = open_bytes(tmp_path, r.body, fmt)
    assert ds is not None
    got = codes_in(ds, "estates")
    assert len(got) == len(set(got))
    assert set(got) == want
    lyr = ds.GetLayerByName("estates") or ds.GetLayer(0)
    epsg = int(options.get("crs", "EPSG:4326")[5:])
    if fmt == "csv":  # no CRS of its own: the WKT is in the CRS asked for
        x = ogr.CreateGeometryFromWkt(next(iter(lyr))["WKT"]).GetEnvelope()[0]
        assert (x > 1e5) == (epsg == 4549), x
    else:
        assert epsg_of_prj(lyr.GetSpatialRef().ExportToWkt()) == epsg


def test_the_selection_in_the_other_layers(server, demo_db, tmp_path, clean_tmp):
    """Every layer takes the polygon: points, lines, and renovation by its estates."""
    r = server.export({"source": "violations,corridors,renovation", "format": "gpkg",
                       "polygon": C_SHAPE})
    assert r.status == 200, r
    ds = open_bytes(tmp_path, r.body, "gpkg")
    violations = expected(demo_db, "violations", C_SHAPE)
    assert len(violations) > 50
    assert set(codes_in(ds, "violations")) == violations
    corridors = expected(demo_db, "corridors", C_SHAPE, key="id")
    assert corridors
    assert ds.GetLayerByName("corridors").GetFeatureCount() == len(corridors)
    estates = expected(demo_db, "estates", C_SHAPE)
    items = {c for (c,) in query(demo_db, "SELECT estate_code FROM estate_renovation")}
    got = codes_in(ds, "renovation", field="estate_code")
    assert set(got) == estates & items and got


def test_polygon_and_other_filters_together(server, demo_db, tmp_path, clean_tmp):
    r = server.export({"source": "estates", "format": "geojson", "polygon": C_SHAPE,
                       "built-before": "2000"})
    assert r.status == 200, r
    old = {c for (c,) in query(demo_db, "SELECT code FROM estates WHERE built_year < 2000")}
    got = set(codes_in(open_bytes(tmp_path, r.body, "geojson")))
    assert got == expected(demo_db, "estates", C_SHAPE) & old and got


def test_the_cli_takes_wkt_and_geojson_files(bin_path, demo_db, tmp_path):
    want = expected(demo_db, "estates", TWO_PARTS)
    geometry = mapping(shapely_wkt.loads(TWO_PARTS))
    files = {
        "geometry.geojson": geometry,
        "feature.geojson": {"type": "Feature", "properties": {"名称": "选区"},
                            "geometry": geometry},
        "collection.geojson": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": geometry}]},
    }
    args = [["--polygon", TWO_PARTS], [f"--polygon={TWO_PARTS}"]]
    for name, doc in files.items():
        (tmp_path / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        args.append(["--polygon", f"@{tmp_path / name}"])
    (tmp_path / "drawn.wkt").write_text(TWO_PARTS + "\n")
    args.append(["--polygon", f"@{tmp_path / 'drawn.wkt'}"])
    for i, extra in enumerate(args):
        out = tmp_path / f"out{i}.zip"
        r = run_cli(bin_path, "export", "estates", *extra, "--crs", "EPSG:4549", "--db",
                    demo_db, "-o", out)
        assert r.rc == 0, (extra, r)
        ds = gdal.OpenEx(f"/vsizip/{out}", gdal.OF_VECTOR)
        assert set(codes_in(ds)) == want, extra
        assert f"{len(want)} features" in r.out


def test_http_and_cli_give_the_same_file(server, bin_path, demo_db, tmp_path, clean_tmp):
    r = server.export({"source": "estates", "format": "csv", "polygon": TRIANGLE,
                       "lang": "zh"})
    assert r.status == 200, r
    out = tmp_path / "cli.csv"
    c = run_cli(bin_path, "export", "estates", "--polygon", TRIANGLE, "--lang", "zh", "--db",
                demo_db, "-o", out)
    assert c.rc == 0, c
    assert out.read_bytes() == r.body


BAD = {
    "not-wkt": "POLYGN((121.4 31.1, 121.5 31.1, 121.5 31.2, 121.4 31.1))",
    "cut-short": "POLYGON((121.4 31.1, 121.5 31.1",
    "trailing": TRIANGLE + " xyz",
    "empty-text": "  ",
    "empty-polygon": "POLYGON EMPTY",
    "a-point": "POINT(121.4 31.1)",
    "a-line": "LINESTRING(121.4 31.1, 121.5 31.2)",
    "not-closed": "POLYGON((121.40 31.08, 121.44 31.08, 121.42 31.11, 121.41 31.09))",
    "too-few-points": "POLYGON((121.40 31.08, 121.44 31.08, 121.40 31.08))",
    "self-intersecting": "POLYGON((121.38 31.10, 121.42 31.14, 121.42 31.10, 121.38 31.14, "
                         "121.38 31.10))",
    "metres-not-degrees": "POLYGON((400000 3400000, 400100 3400000, 400100 3400100, "
                          "400000 3400000))",
    "lat-lon-swapped-out-of-range": "POLYGON((31.1 121.4, 31.1 121.5, 31.2 121.5, 31.1 121.4))",
    "bad-json": '{"type": "Polygon", "coordinates": [[[121.4, 31.1]',
    "json-point": '{"type": "Point", "coordinates": [121.4, 31.1]}',
    "two-features": json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": mapping(shapely_wkt.loads(TRIANGLE))},
        {"type": "Feature", "properties": {}, "geometry": mapping(shapely_wkt.loads(C_SHAPE))},
    ]}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_polygons_are_400s_naming_polygon(server, clean_tmp, case):
    e = error_of(server.export({"source": "estates", "format": "shp", "polygon": BAD[case]}),
                 400, "polygon", "invalid_parameter")
    assert "polygon" in e["message"]


def test_a_polygon_too_long_for_a_url_is_a_400_naming_polygon(server, clean_tmp):
    ring = [(121.40 + 0.04 * i / 600, 31.08 + 0.0001 * (i % 2)) for i in range(600)]
    ring += [(121.42, 31.11), ring[0]]
    text = "POLYGON((" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in ring) + "))"
    assert shapely_wkt.loads(text).is_valid
    e = error_of(server.export({"source": "estates", "format": "shp", "polygon": text}),
                 400, "polygon")
    assert "8192" in e["message"]


def test_a_polygon_of_a_layer_only(server, clean_tmp):
    error_of(server.export({"source": "analysis:corridors", "format": "shp",
                            "polygon": TRIANGLE}), 400, "polygon", "unknown_parameter")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_polygons_on_the_command_line(bin_path, demo_db, tmp_path, case):
    out = tmp_path / "bad.zip"
    r = run_cli(bin_path, "export", "estates", f"--polygon={BAD[case]}", "--db", demo_db,
                "-o", out)
    assert r.rc == 2, r
    assert "--polygon" in r.err and not out.exists()
    assert "GEOS" not in r.err.replace("GEOS cannot", "")  # no stray library notices


def test_too_many_vertices_on_the_command_line(bin_path, demo_db, tmp_path):
    n = 100_001
    ring = [(121.40 + 0.04 * i / n, 31.08 - 0.00001 * (i % 2)) for i in range(n)]
    ring += [(121.42, 31.11), ring[0]]
    f = tmp_path / "huge.wkt"
    f.write_text("POLYGON((" + ",".join(f"{x:.8f} {y:.8f}" for x, y in ring) + "))")
    r = run_cli(bin_path, "export", "estates", "--polygon", f"@{f}", "--db", demo_db, "-o",
                tmp_path / "huge.zip")
    assert r.rc == 2 and "too large" in r.err and "--polygon" in r.err, r
    r = run_cli(bin_path, "export", "estates", "--polygon", f"@{tmp_path / 'none.wkt'}",
                "--db", demo_db, "-o", tmp_path / "none.zip")
    assert r.rc == 2 and "--polygon" in r.err, r


# ---------------------------------------------------------------- the card's tier


@pytest.mark.parametrize("as_of", ["2016-06-30", "2017-12-31"])
def test_the_card_recommends_the_tier_the_analysis_does(server, bin_path, demo_db, as_of):
    r = run_cli(bin_path, "analyze", "tiers", "--by", "estate", "--as-of", as_of,
                "--format", "json", "--db", demo_db)
    assert r.rc == 0, r
    rows = json.loads(r.out)["rows"]
    by_tier = {}
    for row in rows:
        by_tier.setdefault(row["recommended_tier"], []).append(row)
    assert set(by_tier) == {"示范版", "提升版", "基础版"}
    # several of each tier, from several towns
    sample = [row for tier in sorted(by_tier) for row in by_tier[tier][::max(1, len(
        by_tier[tier]) // 4)]]
    assert len({row["town_code"] for row in sample}) > 3
    for row in sample:
        tiers = card(server, row["code"], as_of)["tiers"]
        assert tiers["in_scope"] is True
        for key, value in row.items():
            assert tiers[key] == value, (row["code"], key)
    # an estate outside the renovation scope has no recommended tier, and says why
    out_of_scope = query(demo_db, "SELECT code, built_year FROM estates WHERE built_year >= 2000"
                                  " ORDER BY code LIMIT 1")[0]
    assert out_of_scope[0] not in {row["code"] for row in rows}
    tiers = card(server, out_of_scope[0], as_of)["tiers"]
    assert tiers["in_scope"] is False and tiers["recommended_tier"] is None
    assert str(out_of_scope[1]) in tiers["note"]


def test_the_card_honours_as_of(server, bin_path, demo_db):
    """An estate whose recommended tier changes between two dates shows each."""
    def tiers_on(day):
        r = run_cli(bin_path, "analyze", "tiers", "--by", "estate", "--as-of", day,
                    "--format", "json", "--db", demo_db)
        assert r.rc == 0, r
        return {row["code"]: row["recommended_tier"] for row in json.loads(r.out)["rows"]}
    early, late = tiers_on("2015-06-30"), tiers_on("2017-12-31")
    changed = [c for c in early if early[c] != late[c]]
    assert changed
    for code in changed[:3]:
        assert card(server, code, "2015-06-30")["tiers"]["recommended_tier"] == early[code]
        assert card(server, code, "2017-12-31")["tiers"]["recommended_tier"] == late[code]
