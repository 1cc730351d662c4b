"""`estatemap import`: every input format, encodings, CRSs, China's offset coordinates,
geometry checks, the one-transaction rule, field mapping and derived links
(issue 2, sections 4 and 7)."""

import json
import math
import random
import re
import sqlite3
from pathlib import Path

import pytest
import shapefile  # pyshp
from pyproj import Geod, Transformer
from shapely import wkt as shapely_wkt
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.validation import make_valid

from conftest import (TOWN_BOX, TOWN_CODE, as_multi, blob_polygon, box_wkt, by_key,
                      grid_cell_of, import_base_layers, query, rows, same_geometry,
                      scalar, snapshot, spatialite_connect, table_count, write_csv,
                      write_geojson, write_ogr, write_shapefile, zip_shapefile)

GEOD = Geod(ellps="WGS84")


def geodesic_m(p, q):
    return GEOD.inv(p[0], p[1], q[0], q[1])[2]


# ---------------------------------------------------------------- fixture data

ESTATES = [
    ({"code": "MH-XZ-001", "name": "莘松三村", "address": "莘庄镇莘松路100弄", "built_year": 1986,
      "housing_type": "售后公房", "households": 420, "fee_collection_rate": 0.62},
     blob_polygon(121.3611, 31.1123, r=0.0021, n=7)),
    ({"code": "MH-QB-002", "name": "七宝新村", "address": "七宝镇新镇路", "built_year": 1995,
      "housing_type": "动迁安置房", "households": 1310, "fee_collection_rate": 0.88},
     blob_polygon(121.3502, 31.1553, r=0.0030, n=9, phase=1.1)),
    ({"code": "MH-GM-003", "name": "古美西路小区", "address": "古美路街道古美西路", "built_year": 2004,
      "housing_type": "商品房", "households": 860, "fee_collection_rate": 0.95},
     blob_polygon(121.4021, 31.1472, r=0.0017, n=6, phase=0.2)),
    ({"code": "MH-PJ-004", "name": "浦江世博家园十一街坊", "address": "浦江镇", "built_year": 2009,
      "housing_type": "动迁安置房", "households": 2200, "fee_collection_rate": 0.71},
     "MULTIPOLYGON(((121.5101 31.0502,121.5152 31.0501,121.5155 31.0548,121.5104 31.0551,"
     "121.5101 31.0502),(121.5121 31.0521,121.5131 31.0521,121.5131 31.0531,121.5121 31.0531,"
     "121.5121 31.0521)),((121.5201 31.0502,121.5232 31.0503,121.5231 31.0533,121.5201 31.0502)))"),
]

# Shapefile field names are at most 10 characters: use the DBF aliases.
SHP_ESTATE_FIELDS = {"code": "code", "name": "name", "address": "地址", "built_year": "BUILT_YR",
                     "housing_type": "HOUSING", "households": "HOUSEHOLDS",
                     "fee_collection_rate": "FEE_RATE"}

VIOLATIONS = [
    ({"code": "V0001", "category": "违法建筑", "reported_at": "2015-03-02T09:15:00",
      "status": "open", "description": "楼顶违章搭建"}, "POINT(121.36112 31.11231)"),
    ({"code": "V0002", "category": "乱停车", "reported_at": "2016-07-19T18:00:00",
      "status": "resolved", "resolved_at": "2016-07-20T10:30:00", "description": "消防通道停车"},
     "POINT(121.4567891 31.2034567)"),
    ({"code": "V0003", "category": "黑色小广告", "reported_at": "2017-12-31T23:59:59",
      "status": "open", "description": "楼道小广告"}, "POINT(121.5432109 30.9876543)"),
    ({"code": "V0004", "category": "违法使用房屋", "reported_at": "2017-01-05T08:00:00",
      "status": "open", "description": "群租"}, "POINT(121.2987654 31.0123456)"),
]
SHP_VIOLATION_FIELDS = {"code": "code", "category": "category", "reported_at": "reported",
                        "status": "status", "resolved_at": "resolved", "description": "desc"}

CORRIDORS = [
    ({"name": "沪昆铁路"}, "LINESTRING(121.30 31.10,121.35 31.12,121.42 31.13,121.48 31.16)"),
    ({"name": "沪杭高铁"}, "MULTILINESTRING((121.31 31.05,121.36 31.07),(121.36 31.07,121.40 31.09,"
                         "121.45 31.093))"),
    ({"name": "金山铁路"}, "LINESTRING(121.4123456 31.0012345,121.4234567 31.0456789)"),
]


def rename(attrs, names):
    return {names.get(k, k): v for k, v in attrs.items()}


def assert_estates_match(db, features):
    got = by_key(db, "estates")
    assert len(got) == len(features) == table_count(db, "estates")
    for attrs, wkt in features:
        row = got[attrs["code"]]
        for k, v in attrs.items():
            if isinstance(v, float):
                assert row[k] == pytest.approx(v, abs=1e-12), (attrs["code"], k)
            else:
                assert row[k] == v, (attrs["code"], k, row[k], v)
        assert row["srid"] == 4326
        assert row["geom"].geom_type == "MultiPolygon"
        assert same_geometry(row["geom"], as_multi(wkt), 1e-9), (attrs["code"], row["geom"].wkt)


def assert_violations_match(db, features):
    got = by_key(db, "violations")
    assert len(got) == len(features) == table_count(db, "violations")
    for attrs, wkt in features:
        row = got[attrs["code"]]
        for k, v in attrs.items():
            assert row[k] == v, (attrs["code"], k, row[k], v)
        assert row["srid"] == 4326
        assert row["geom"].geom_type == "Point"
        p = shapely_wkt.loads(wkt)
        assert abs(row["geom"].x - p.x) <= 1e-9 and abs(row["geom"].y - p.y) <= 1e-9


def assert_corridors_match(db, features, corridor_type="railway"):
    got = by_key(db, "corridors", key="name")
    assert len(got) == len(features) == table_count(db, "corridors")
    for attrs, wkt in features:
        row = got[attrs["name"]]
        assert row["type"] == corridor_type
        assert row["srid"] == 4326
        assert row["geom"].geom_type == "MultiLineString"
        assert same_geometry(row["geom"], as_multi(wkt), 1e-9), (attrs["name"], row["geom"].wkt)


def import_ok(cli, db, layer, path, *args):
    r = cli("import", layer, path, "--db", db, *args)
    assert r.rc == 0, r
    return r


def import_fails(cli, db, layer, path, *args, rc=1):
    r = cli("import", layer, path, "--db", db, *args)
    assert r.rc == rc, r
    return r


def check_ok(cli, db):
    r = cli("check", "--db", db)
    assert r.rc == 0, r


def kml_document(placemarks):
    """A hand-written KML 2.2 document, as Google Earth and most tools export it."""
    body = []
    for attrs, wkt in placemarks:
        g = shapely_wkt.loads(wkt)
        data = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in attrs.items()
                       if k != "name")
        name = f"<name>{attrs['name']}</name>" if "name" in attrs else ""
        body.append(f"<Placemark>{name}<ExtendedData>{data}</ExtendedData>{kml_geom(g)}"
                    f"</Placemark>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
            f"<Document>{''.join(body)}</Document></kml>\n")


def kml_geom(g):
    def coords(cs):
        return "<coordinates>" + " ".join(f"{x!r},{y!r}" for x, y in cs) + "</coordinates>"

    if g.geom_type == "Point":
        return f"<Point>{coords(g.coords)}</Point>"
    if g.geom_type == "LineString":
        return f"<LineString>{coords(g.coords)}</LineString>"
    if g.geom_type == "Polygon":
        inner = "".join(f"<innerBoundaryIs><LinearRing>{coords(r.coords)}</LinearRing>"
                        f"</innerBoundaryIs>" for r in g.interiors)
        return (f"<Polygon><outerBoundaryIs><LinearRing>{coords(g.exterior.coords)}"
                f"</LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return "<MultiGeometry>" + "".join(kml_geom(p) for p in g.geoms) + "</MultiGeometry>"


# ---------------------------------------------------------------- round trips: estates


def write_estates(fmt, tmp_path):
    """Write ESTATES in format fmt; returns (path, extra import args)."""
    if fmt == "geojson":
        return write_geojson(tmp_path / "estates.geojson", ESTATES), []
    if fmt == "shp":
        feats = [(rename(a, SHP_ESTATE_FIELDS), g) for a, g in ESTATES]
        return write_shapefile(tmp_path / "estates.shp", feats), []
    if fmt == "shp.zip":
        feats = [(rename(a, SHP_ESTATE_FIELDS), g) for a, g in ESTATES]
        (tmp_path / "shp").mkdir()
        shp = write_shapefile(tmp_path / "shp" / "estates.shp", feats)
        return zip_shapefile(shp, tmp_path / "estates.zip"), []
    if fmt == "gpkg":
        path = write_ogr(tmp_path / "estates.gpkg", "GPKG",
                         {"小区": ESTATES, "roads": [({"name": "路"}, "LINESTRING(121 31,121.1 31.1)")]})
        return path, ["--source-layer", "小区"]
    if fmt == "csv-wkt":
        header = list(ESTATES[0][0]) + ["wkt"]
        data = [[a[k] for k in header[:-1]] + [g] for a, g in ESTATES]
        return write_csv(tmp_path / "estates.csv", header, data), []
    if fmt == "kml":
        return write_ogr(tmp_path / "estates.kml", "LIBKML", {"estates": ESTATES}), []
    if fmt == "kml-hand":
        path = tmp_path / "estates_hand.kml"
        path.write_text(kml_document(ESTATES), encoding="utf-8")
        return path, []
    raise ValueError(fmt)


ESTATE_FORMATS = ["geojson", "shp", "shp.zip", "gpkg", "csv-wkt", "kml", "kml-hand"]


@pytest.mark.parametrize("fmt", ESTATE_FORMATS)
def test_estates_round_trip(cli, base_db, tmp_path, fmt):
    path, args = write_estates(fmt, tmp_path)
    r = import_ok(cli, base_db, "estates", path, *args)
    assert f"read {len(ESTATES)}, imported {len(ESTATES)}, repaired 0, rejected 0" in r.out
    assert_estates_match(base_db, ESTATES)
    # every estate lies in the test town
    assert {r["town_code"] for r in rows(base_db, "estates")} == {TOWN_CODE}
    check_ok(cli, base_db)


def test_zipped_shapefile_is_read_without_unzipping(cli, base_db, tmp_path):
    path, _ = write_estates("shp.zip", tmp_path)
    for p in (tmp_path / "shp").iterdir():
        p.unlink()
    import_ok(cli, base_db, "estates", path)
    assert_estates_match(base_db, ESTATES)


def test_zip_with_two_shapefiles_needs_source_layer(cli, base_db, tmp_path):
    d = tmp_path / "two"
    d.mkdir()
    feats = [(rename(a, SHP_ESTATE_FIELDS), g) for a, g in ESTATES]
    write_shapefile(d / "xiaoqu.shp", feats)
    write_shapefile(d / "other.shp", [({"name": "x"}, "POINT(121.4 31.1)")])
    z = tmp_path / "two.zip"
    import zipfile
    with zipfile.ZipFile(z, "w") as zf:
        for p in d.iterdir():
            zf.write(p, p.name)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", z, rc=2)
    assert "--source-layer" in r.err and "xiaoqu" in r.err and "other" in r.err
    assert snapshot(base_db) == before
    import_ok(cli, base_db, "estates", z, "--source-layer", "xiaoqu")
    assert_estates_match(base_db, ESTATES)


def test_geopackage_with_two_layers_needs_source_layer(cli, base_db, tmp_path):
    path, _ = write_estates("gpkg", tmp_path)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", path, rc=2)
    assert "--source-layer" in r.err
    assert "小区" in r.err and "roads" in r.err
    assert snapshot(base_db) == before
    r = cli("import", "estates", path, "--db", base_db, "--source-layer", "nosuch")
    assert r.rc in (1, 2), r
    assert "nosuch" in r.err
    assert snapshot(base_db) == before


def test_geopackage_layer_named_like_the_target_is_taken(cli, base_db, tmp_path):
    path = write_ogr(tmp_path / "many.gpkg", "GPKG",
                     {"roads": [({"name": "路"}, "LINESTRING(121 31,121.1 31.1)")],
                      "estates": ESTATES})
    import_ok(cli, base_db, "estates", path)
    assert_estates_match(base_db, ESTATES)


# ---------------------------------------------------------------- round trips: violations

CSV_LONLAT_HEADERS = [("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("x", "y"),
                      ("Longitude", "Latitude"), ("LNG", "LAT"), ("经度", "纬度")]
VIOLATION_COLUMNS = ["code", "category", "reported_at", "resolved_at", "status", "description"]


def violations_csv(path, xname, yname, features=VIOLATIONS, columns=VIOLATION_COLUMNS):
    header = columns[:3] + [xname, yname] + columns[3:]
    data = []
    for attrs, wkt in features:
        p = shapely_wkt.loads(wkt)
        vals = [attrs.get(c, "") for c in columns]
        data.append(vals[:3] + [repr(p.x), repr(p.y)] + vals[3:])
    return write_csv(path, header, data)


@pytest.mark.parametrize("xname,yname", CSV_LONLAT_HEADERS)
def test_violations_csv_lonlat_round_trip(cli, base_db, tmp_path, xname, yname):
    path = violations_csv(tmp_path / "violations.csv", xname, yname)
    r = import_ok(cli, base_db, "violations", path)
    assert f"imported {len(VIOLATIONS)}" in r.out
    assert_violations_match(base_db, VIOLATIONS)
    check_ok(cli, base_db)


def write_violations(fmt, tmp_path):
    if fmt == "geojson":
        return write_geojson(tmp_path / "v.geojson", VIOLATIONS), []
    if fmt == "shp":
        return write_shapefile(tmp_path / "v.shp",
                               [(rename(a, SHP_VIOLATION_FIELDS), g) for a, g in VIOLATIONS]), []
    if fmt == "shp.zip":
        (tmp_path / "s").mkdir()
        shp = write_shapefile(tmp_path / "s" / "v.shp",
                              [(rename(a, SHP_VIOLATION_FIELDS), g) for a, g in VIOLATIONS])
        return zip_shapefile(shp, tmp_path / "v.zip"), []
    if fmt == "gpkg":
        return write_ogr(tmp_path / "v.gpkg", "GPKG",
                         {"cases": VIOLATIONS, "other": [({"a": 1}, "POINT(121 31)")]}), \
            ["--source-layer", "cases"]
    if fmt == "csv-wkt":
        header = VIOLATION_COLUMNS + ["WKT"]
        data = [[a.get(k, "") for k in VIOLATION_COLUMNS] + [g] for a, g in VIOLATIONS]
        return write_csv(tmp_path / "v.csv", header, data), []
    if fmt == "kml":
        return write_ogr(tmp_path / "v.kml", "LIBKML", {"violations": VIOLATIONS}), []
    if fmt == "kml-hand":
        path = tmp_path / "v_hand.kml"
        path.write_text(kml_document(VIOLATIONS), encoding="utf-8")
        return path, []
    raise ValueError(fmt)


@pytest.mark.parametrize("fmt", ["geojson", "shp", "shp.zip", "gpkg", "csv-wkt", "kml",
                                 "kml-hand"])
def test_violations_round_trip(cli, base_db, tmp_path, fmt):
    path, args = write_violations(fmt, tmp_path)
    import_ok(cli, base_db, "violations", path, *args)
    assert_violations_match(base_db, VIOLATIONS)
    for row in rows(base_db, "violations"):
        assert row["grid_code"] == grid_cell_of(row["geom"].x, row["geom"].y)
    check_ok(cli, base_db)


def test_violations_minimal_file_defaults_status_to_open(cli, base_db, tmp_path):
    """The brief's minimal violations file has only category and reported_at; status
    has a default ('open') in the schema and must not be required of the file."""
    path = tmp_path / "minimal.csv"
    path.write_text("lon,lat,category,reported_at\n"
                    "121.45,31.15,乱停车,2016-05-01\n"
                    "121.35,31.05,违法建筑,2016-06-01 10:00\n", encoding="utf-8")
    r = cli("import", "violations", path, "--db", base_db)
    assert r.rc == 0, r
    got = rows(base_db, "violations")
    assert [g["status"] for g in got] == ["open", "open"]
    assert [g["reported_at"] for g in got] == ["2016-05-01T00:00:00", "2016-06-01T10:00:00"]


def test_violation_category_aliases(cli, base_db, tmp_path):
    path = tmp_path / "alias.csv"
    path.write_text("lon,lat,category,reported_at,status\n"
                    "121.45,31.15,违章建筑,2016-05-01,open\n"
                    "121.45,31.16,群租,2016-05-01,open\n", encoding="utf-8")
    import_ok(cli, base_db, "violations", path)
    assert [r["category"] for r in rows(base_db, "violations")] == ["违法建筑", "违法居住"]


# ---------------------------------------------------------------- round trips: corridors


def write_corridors(fmt, tmp_path):
    if fmt == "geojson":
        return write_geojson(tmp_path / "c.geojson", CORRIDORS)
    if fmt == "shp":
        return write_shapefile(tmp_path / "c.shp", CORRIDORS)
    if fmt == "shp.zip":
        (tmp_path / "s").mkdir()
        return zip_shapefile(write_shapefile(tmp_path / "s" / "c.shp", CORRIDORS),
                             tmp_path / "c.zip")
    if fmt == "gpkg":
        return write_ogr(tmp_path / "c.gpkg", "GPKG", {"rail": CORRIDORS})
    if fmt == "csv-wkt":
        return write_csv(tmp_path / "c.csv", ["name", "wkt"], [[a["name"], g] for a, g in CORRIDORS])
    if fmt == "kml":
        return write_ogr(tmp_path / "c.kml", "LIBKML", {"rail": CORRIDORS})
    raise ValueError(fmt)


@pytest.mark.parametrize("fmt", ["geojson", "shp", "shp.zip", "gpkg", "csv-wkt", "kml"])
def test_corridors_round_trip_with_set_type(cli, base_db, tmp_path, fmt):
    path = write_corridors(fmt, tmp_path)
    import_ok(cli, base_db, "corridors", path, "--set", "type=railway")
    assert_corridors_match(base_db, CORRIDORS, "railway")
    check_ok(cli, base_db)


def test_corridors_without_type_need_set(cli, base_db, tmp_path):
    path = write_corridors("geojson", tmp_path)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "corridors", path, rc=2)
    assert "type" in r.err and "--set" in r.err
    assert snapshot(base_db) == before


@pytest.mark.parametrize("ctype", ["railway", "expressway", "river", "rail_transit"])
def test_every_corridor_type_is_accepted(cli, base_db, tmp_path, ctype):
    path = write_corridors("geojson", tmp_path)
    import_ok(cli, base_db, "corridors", path, "--set", f"type={ctype}")
    assert_corridors_match(base_db, CORRIDORS, ctype)


def test_corridor_polygons_are_kept_as_polygons(cli, base_db, tmp_path):
    """A river can be mapped as an area: corridors take lines or polygons."""
    river = ({"name": "黄浦江段"}, "POLYGON((121.45 31.0,121.5 31.0,121.5 31.01,121.45 31.01,"
                                  "121.45 31.0))")
    path = write_geojson(tmp_path / "river.geojson", [river])
    import_ok(cli, base_db, "corridors", path, "--set", "type=river")
    row = rows(base_db, "corridors")[0]
    assert row["type"] == "river"
    assert row["geom"].geom_type == "MultiPolygon"
    assert same_geometry(row["geom"], as_multi(river[1]))


# ---------------------------------------------------------------- other layers


def test_towns_grid_zones_round_trip(cli, db, tmp_path):
    towns = [({"code": "310112102", "name": "七宝镇", "area_km2": 19.2},
              box_wkt(121.30, 31.10, 121.40, 31.20)),
             ({"code": "310112103", "name": "颛桥镇", "area_km2": 20.5},
              box_wkt(121.40, 31.00, 121.50, 31.10))]
    import_ok(cli, db, "towns", write_geojson(tmp_path / "t.geojson", towns))
    got = by_key(db, "towns")
    for a, g in towns:
        assert got[a["code"]]["name"] == a["name"]
        assert got[a["code"]]["area_km2"] == pytest.approx(a["area_km2"])
        assert same_geometry(got[a["code"]]["geom"], as_multi(g))
    grid = [({"code": "3101121020101", "community": "七宝一居"}, box_wkt(121.30, 31.10, 121.35, 31.15)),
            ({"code": "3101121020102", "community": "七宝二居"},
             "MULTIPOLYGON(((121.35 31.10,121.40 31.10,121.40 31.15,121.35 31.10)))")]
    import_ok(cli, db, "grid", write_geojson(tmp_path / "g.geojson", grid))
    g = by_key(db, "grid")
    assert g["3101121020101"]["geom"].geom_type == "Polygon"
    assert g["3101121020102"]["geom"].geom_type == "Polygon"  # single-part multi unpacked
    assert g["3101121020101"]["community"] == "七宝一居"
    zones = [({"name": "七宝老街重点整治区"}, box_wkt(121.35, 31.15, 121.36, 31.16))]
    import_ok(cli, db, "zones", write_geojson(tmp_path / "z.geojson", zones),
              "--set", "kind=key_remediation")
    z = rows(db, "zones")
    assert z[0]["kind"] == "key_remediation" and z[0]["name"] == "七宝老街重点整治区"


def test_grid_cell_with_two_parts_is_rejected(cli, db, tmp_path):
    grid = [({"code": "G1"}, "MULTIPOLYGON(((121.30 31.10,121.31 31.10,121.31 31.11,121.30 31.10)),"
                             "((121.32 31.10,121.33 31.10,121.33 31.11,121.32 31.10)))")]
    r = import_fails(cli, db, "grid", write_geojson(tmp_path / "g.geojson", grid))
    assert "feature 1" in r.err and "G1" in r.err and "parts" in r.err


def test_town_code_must_have_nine_digits(cli, db, tmp_path):
    path = write_geojson(tmp_path / "t.geojson",
                         [({"code": "3101", "name": "短码镇"}, box_wkt(121.3, 31.1, 121.4, 31.2))])
    r = import_fails(cli, db, "towns", path)
    assert "feature 1" in r.err and "3101" in r.err
    assert table_count(db, "towns") == 0


def test_zone_kind_outside_domain_is_rejected(cli, db, tmp_path):
    path = write_geojson(tmp_path / "z.geojson",
                         [({"name": "区", "kind": "park"}, box_wkt(121.3, 31.1, 121.4, 31.2))])
    r = import_fails(cli, db, "zones", path)
    assert "park" in r.err and "key_remediation" in r.err


def test_renovation_items_import(cli, base_db, tmp_path):
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    path = tmp_path / "renovation.csv"
    path.write_text("estate_code,item_id,status,budget_yuan,owners_share\n"
                    "MH-XZ-001,1,done,350000,10%\n"
                    "MH-XZ-001,6,planned,1200000,0\n"
                    "MH-QB-002,3,in_progress,800000,0.05\n", encoding="utf-8")
    import_ok(cli, base_db, "renovation", path)
    got = query(base_db, "SELECT estate_code, item_id, status, budget_yuan, owners_share "
                         "FROM estate_renovation ORDER BY estate_code, item_id")
    assert got == [("MH-QB-002", 3, "in_progress", 800000.0, 0.05),
                   ("MH-XZ-001", 1, "done", 350000.0, 0.1),
                   ("MH-XZ-001", 6, "planned", 1200000.0, 0.0)]
    bad = tmp_path / "bad.csv"
    bad.write_text("estate_code,item_id\nNO-SUCH,2\n", encoding="utf-8")
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "renovation", bad)
    assert "NO-SUCH" in r.err and "feature 1" in r.err
    assert snapshot(base_db) == before


# ---------------------------------------------------------------- encodings

GBK_NAMES = ["莘松三村", "七宝新村", "古美西路小区", "龙柏一村", "春申景城", "颛桥镇银都苑"]


def write_gbk_shapefile(path, names=GBK_NAMES, cpg=None, ldid=None, encoding="gbk"):
    path = Path(path)
    w = shapefile.Writer(str(path.with_suffix("")), shapeType=shapefile.POLYGON,
                         encoding=encoding)
    w.field("code", "C", 20)
    w.field("name", "C", 60)
    w.field("address", "C", 80)
    w.field("BUILT_YR", "N", 4, 0)
    polys = []
    for i, name in enumerate(names):
        p = shapely_wkt.loads(blob_polygon(121.30 + 0.02 * i, 31.02 + 0.02 * i, r=0.002))
        ring = list(p.exterior.coords)[::-1]  # shapefile outer rings are clockwise
        w.poly([ring])
        w.record(f"GBK-{i}", name, f"闵行区{name}路{i}号", 1980 + i)
        polys.append(p)
    w.close()
    if cpg is not None:
        path.with_suffix(".cpg").write_text(cpg)
    if ldid is not None:
        with open(path.with_suffix(".dbf"), "r+b") as fh:
            fh.seek(29)
            fh.write(bytes([ldid]))
    # the names really are GBK bytes in the DBF, not UTF-8
    dbf = path.with_suffix(".dbf").read_bytes()
    assert names[0].encode("gbk") in dbf and names[0].encode("utf-8") not in dbf
    return path, polys


def assert_gbk_estates(db, names, polys):
    got = by_key(db, "estates")
    assert len(got) == len(names)
    for i, name in enumerate(names):
        row = got[f"GBK-{i}"]
        assert row["name"] == name
        assert row["address"] == f"闵行区{name}路{i}号"
        assert row["built_year"] == 1980 + i
        assert same_geometry(row["geom"], MultiPolygon([polys[i]]))


@pytest.mark.parametrize("cpg", ["GBK", "CP936", "936", "gbk\n"])
def test_gbk_shapefile_with_cpg(cli, base_db, tmp_path, cpg):
    path, polys = write_gbk_shapefile(tmp_path / "gbk.shp", cpg=cpg)
    import_ok(cli, base_db, "estates", path)
    assert_gbk_estates(base_db, GBK_NAMES, polys)
    check_ok(cli, base_db)


def test_gbk_shapefile_without_cpg_with_encoding_option(cli, base_db, tmp_path):
    path, polys = write_gbk_shapefile(tmp_path / "gbk.shp", cpg=None)
    assert not path.with_suffix(".cpg").exists()
    import_ok(cli, base_db, "estates", path, "--encoding", "GBK")
    assert_gbk_estates(base_db, GBK_NAMES, polys)


def test_gbk_shapefile_with_dbf_code_page(cli, base_db, tmp_path):
    """No .cpg, but the DBF's language driver id says code page 936 (0x4D)."""
    path, polys = write_gbk_shapefile(tmp_path / "gbk.shp", cpg=None, ldid=0x4D)
    import_ok(cli, base_db, "estates", path)
    assert_gbk_estates(base_db, GBK_NAMES, polys)


def test_encoding_option_overrides_a_wrong_cpg(cli, base_db, tmp_path):
    path, polys = write_gbk_shapefile(tmp_path / "gbk.shp", cpg="UTF-8")
    import_ok(cli, base_db, "estates", path, "--encoding", "GBK")
    assert_gbk_estates(base_db, GBK_NAMES, polys)


def test_zipped_gbk_shapefile(cli, base_db, tmp_path):
    (tmp_path / "z").mkdir()
    path, polys = write_gbk_shapefile(tmp_path / "z" / "gbk.shp", cpg="GBK")
    z = zip_shapefile(path, tmp_path / "gbk.zip")
    import_ok(cli, base_db, "estates", z)
    assert_gbk_estates(base_db, GBK_NAMES, polys)


def test_utf8_shapefile_is_not_mangled_by_encoding_guess(cli, base_db, tmp_path):
    feats = [({"code": f"U{i}", "name": n}, blob_polygon(121.3 + 0.02 * i, 31.05))
             for i, n in enumerate(GBK_NAMES)]
    shp = write_shapefile(tmp_path / "u.shp", feats)
    assert shp.with_suffix(".cpg").exists()
    import_ok(cli, base_db, "estates", shp)
    assert [r["name"] for r in rows(base_db, "estates")] == GBK_NAMES


# ---------------------------------------------------------------- coordinate systems

TO_4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
FROM_4549 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


def projected_estates(n=6):
    """Estates defined in EPSG:4549 metres (easting, northing) around Minhang."""
    feats = []
    for i in range(n):
        lonlat = shapely_wkt.loads(blob_polygon(121.28 + 0.05 * i, 30.98 + 0.04 * i, r=0.003,
                                                n=8, phase=0.1 * i))
        metres = Polygon([tuple(round(v, 3) for v in TO_4549.transform(x, y))
                          for x, y in lonlat.exterior.coords])
        feats.append(({"code": f"P{i}", "name": f"投影小区{i}"}, metres.wkt))
    return feats


def assert_within_1cm_of_proj(db, feats):
    got = by_key(db, "estates")
    assert len(got) == len(feats)
    worst = 0.0
    for attrs, wkt in feats:
        src = shapely_wkt.loads(wkt)
        expected = Polygon([FROM_4549.transform(x, y) for x, y in src.exterior.coords])
        stored = got[attrs["code"]]["geom"]
        assert stored.geom_type == "MultiPolygon" and len(stored.geoms) == 1
        e = list(expected.normalize().exterior.coords)
        s = list(stored.geoms[0].normalize().exterior.coords)
        assert len(e) == len(s), attrs["code"]
        for p, q in zip(e, s):
            d = geodesic_m(p, q)
            worst = max(worst, d)
            assert d < 0.01, f"{attrs['code']}: vertex {q} is {d:.4f} m from PROJ's {p}"
    return worst


def test_shapefile_in_epsg_4549_matches_proj(cli, base_db, tmp_path):
    feats = projected_estates()
    shp = write_shapefile(tmp_path / "cgcs.shp", feats, epsg=4549)
    assert "120" in shp.with_suffix(".prj").read_text()
    import_ok(cli, base_db, "estates", shp)
    assert_within_1cm_of_proj(base_db, feats)
    # and they really landed in Minhang, not at the projection's origin
    for r in rows(base_db, "estates"):
        c = r["geom"].centroid
        assert 121.2 < c.x < 121.7 and 30.9 < c.y < 31.3
    check_ok(cli, base_db)


def test_geopackage_in_epsg_4549_matches_proj(cli, base_db, tmp_path):
    feats = projected_estates()
    gpkg = write_ogr(tmp_path / "cgcs.gpkg", "GPKG", {"estates": feats}, epsg=4549)
    import_ok(cli, base_db, "estates", gpkg)
    assert_within_1cm_of_proj(base_db, feats)


def test_geojson_with_epsg_4549_crs_member_matches_proj(cli, base_db, tmp_path):
    feats = projected_estates(3)
    path = write_geojson(tmp_path / "cgcs.geojson", feats, epsg=4549)
    import_ok(cli, base_db, "estates", path)
    assert_within_1cm_of_proj(base_db, feats)


def metre_points(n=20, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lon, lat = rnd.uniform(121.25, 121.60), rnd.uniform(30.95, 31.25)
        e, nn = TO_4549.transform(lon, lat)
        out.append((f"M{i:03d}", round(e, 3), round(nn, 3)))
    return out


def test_csv_in_metres_with_crs_option(cli, base_db, tmp_path):
    pts = metre_points()
    path = write_csv(tmp_path / "m.csv", ["code", "x", "y", "category", "reported_at", "status"],
                     [[c, e, n, "乱堆杂物", "2016-01-01", "open"] for c, e, n in pts])
    import_ok(cli, base_db, "violations", path, "--crs", "EPSG:4549")
    got = by_key(base_db, "violations")
    assert len(got) == len(pts)
    for code, e, n in pts:
        exp = FROM_4549.transform(e, n)
        q = got[code]["geom"]
        assert geodesic_m(exp, (q.x, q.y)) < 0.01, code
    check_ok(cli, base_db)


def test_csv_in_metres_without_crs_is_rejected(cli, base_db, tmp_path):
    pts = metre_points(5)
    path = write_csv(tmp_path / "m.csv", ["code", "x", "y", "category", "reported_at", "status"],
                     [[c, e, n, "乱堆杂物", "2016-01-01", "open"] for c, e, n in pts])
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "violations", path)
    assert "--crs" in r.err
    assert "feature 1" in r.err and "M000" in r.err
    assert snapshot(base_db) == before


def test_crs_option_overrides_the_file(cli, base_db, tmp_path):
    """A GeoJSON without a crs member holding metres: --crs says what they are."""
    feats = projected_estates(2)
    path = write_geojson(tmp_path / "nocrs.geojson", feats)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", path)
    assert "--crs" in r.err
    assert snapshot(base_db) == before
    import_ok(cli, base_db, "estates", path, "--crs", "EPSG:4549")
    assert_within_1cm_of_proj(base_db, feats)


def test_cgcs2000_geographic_file(cli, base_db, tmp_path):
    """EPSG:4490 (CGCS2000 lon/lat) is within centimetres of WGS84 for mapping."""
    path = write_ogr(tmp_path / "e4490.gpkg", "GPKG", {"estates": ESTATES[:2]}, epsg=4490)
    import_ok(cli, base_db, "estates", path)
    tr = Transformer.from_crs("EPSG:4490", "EPSG:4326", always_xy=True)
    got = by_key(base_db, "estates")
    for a, g in ESTATES[:2]:
        src = shapely_wkt.loads(g)
        exp = Polygon([tr.transform(x, y) for x, y in src.exterior.coords])
        s = list(got[a["code"]]["geom"].geoms[0].normalize().exterior.coords)
        for p, q in zip(list(exp.normalize().exterior.coords), s):
            assert geodesic_m(p, q) < 0.01


# ---------------------------------------------------------------- GCJ-02 and BD-09

# An independent implementation of the public forward formulas (the "eviltransform" /
# coordtransform family): WGS84 -> GCJ-02 on the Krasovsky ellipsoid, GCJ-02 -> BD-09.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
BD_X_PI = math.pi * 3000.0 / 180.0


def _gcj_dlat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _gcj_dlon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon, lat):
    dlat = _gcj_dlat(lon - 105.0, lat - 35.0)
    dlon = _gcj_dlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - KRASOVSKY_EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon, lat):
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * BD_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def naive_gcj02_to_wgs84(lon, lat):
    """The common one-step inverse: subtract the offset computed at the GCJ point."""
    glon, glat = wgs84_to_gcj02(lon, lat)
    return 2 * lon - glon, 2 * lat - glat


def naive_bd09_to_gcj02(lon, lat):
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * BD_X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def minhang_points(n=400, seed=20170101):
    rnd = random.Random(seed)
    pts = [(rnd.uniform(121.25, 121.60), rnd.uniform(30.95, 31.25)) for _ in range(n)]
    # and the corners of the box
    pts += [(121.25, 30.95), (121.60, 30.95), (121.25, 31.25), (121.60, 31.25)]
    return pts


def test_forward_formulas_match_published_reference_values():
    """Pins the test's own formulas: the well-known Tiananmen example."""
    glon, glat = wgs84_to_gcj02(116.391275, 39.907132)
    assert geodesic_m((glon, glat), (116.397519, 39.908530)) < 5  # published GCJ value
    # the GCJ offset in Minhang is a few hundred metres
    off = geodesic_m((121.4, 31.1), wgs84_to_gcj02(121.4, 31.1))
    assert 300 < off < 700


def test_naive_one_step_inverse_is_not_good_enough():
    """Measured, not assumed: over Minhang the one-step inverse is off by more than a
    metre somewhere, so an importer must iterate to meet the 1 m requirement."""
    pts = minhang_points()
    gcj_err = [geodesic_m(p, naive_gcj02_to_wgs84(*wgs84_to_gcj02(*p))) for p in pts]
    bd_err = [geodesic_m(p, naive_gcj02_to_wgs84(*naive_bd09_to_gcj02(*wgs84_to_bd09(*p))))
              for p in pts]
    assert max(gcj_err) > 1.0, max(gcj_err)
    assert max(bd_err) > 1.0, max(bd_err)


@pytest.mark.parametrize("system,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_coordinates_become_wgs84_within_1m(cli, base_db, tmp_path, system, forward):
    pts = minhang_points()
    data = []
    for i, (lon, lat) in enumerate(pts):
        olon, olat = forward(lon, lat)
        data.append([f"C{i:04d}", repr(olon), repr(olat), "乱晾晒", "2017-06-01", "open"])
    path = write_csv(tmp_path / f"{system}.csv",
                     ["code", "lng", "lat", "category", "reported_at", "status"], data)
    import_ok(cli, base_db, "violations", path, "--coords", system)
    got = by_key(base_db, "violations")
    assert len(got) == len(pts)
    errors = []
    for i, p in enumerate(pts):
        q = got[f"C{i:04d}"]["geom"]
        errors.append(geodesic_m(p, (q.x, q.y)))
    worst = max(errors)
    assert worst < 1.0, f"{system}: worst error {worst:.3f} m"
    # a proper iterated inverse does far better than the metre allowed
    assert worst < 0.01, f"{system}: worst error {worst:.4f} m (iteration not converged?)"


@pytest.mark.parametrize("system,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_polygons_are_converted_vertex_by_vertex(cli, base_db, tmp_path, system, forward):
    feats = []
    for a, g in ESTATES[:3]:
        p = shapely_wkt.loads(g)
        feats.append((a, Polygon([forward(x, y) for x, y in p.exterior.coords]).wkt))
    path = write_geojson(tmp_path / f"{system}.geojson", feats)
    import_ok(cli, base_db, "estates", path, "--coords", system)
    got = by_key(base_db, "estates")
    for a, g in ESTATES[:3]:
        e = list(shapely_wkt.loads(g).normalize().exterior.coords)
        s = list(got[a["code"]]["geom"].geoms[0].normalize().exterior.coords)
        assert len(e) == len(s)
        for p, q in zip(e, s):
            assert geodesic_m(p, q) < 1.0


def test_without_coords_option_offset_points_stay_offset(cli, base_db, tmp_path):
    """The default is wgs84: nothing is shifted (so the tests above do measure the
    conversion)."""
    lon, lat = 121.4, 31.1
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = write_csv(tmp_path / "g.csv", ["lon", "lat", "category", "reported_at", "status"],
                     [[repr(glon), repr(glat), "乱停车", "2016-01-01", "open"]])
    import_ok(cli, base_db, "violations", path)
    q = rows(base_db, "violations")[0]["geom"]
    assert abs(q.x - glon) < 1e-12 and abs(q.y - glat) < 1e-12
    import_ok(cli, base_db, "violations", path, "--coords", "wgs84", "--replace")
    q = rows(base_db, "violations")[0]["geom"]
    assert abs(q.x - glon) < 1e-12 and abs(q.y - glat) < 1e-12


# ---------------------------------------------------------------- invalid geometry

BOWTIE = "POLYGON((121.40 31.10,121.41 31.11,121.41 31.10,121.40 31.11,121.40 31.10))"
# Exactly collinear in binary floating point (every value is a multiple of 1/16), so the
# polygon has zero area and GEOS calls it a self-intersection.
COLLINEAR = "POLYGON((121.375 31.125,121.4375 31.1875,121.5 31.25,121.375 31.125))"
# Collinear in decimal, as a user writes it; in binary the area is 5e-17 square degrees
# (about 0.5 square millimetres): a sliver, not an estate.
DECIMAL_COLLINEAR = "POLYGON((121.40 31.10,121.41 31.11,121.42 31.12,121.40 31.10))"


def good_estate(i):
    return ({"code": f"OK-{i}", "name": f"好小区{i}"},
            blob_polygon(121.30 + 0.01 * i, 31.20, r=0.002))


def test_bowtie_polygon_is_repaired_and_reported(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "BOW", "name": "蝴蝶小区"}, BOWTIE), good_estate(2)]
    path = write_geojson(tmp_path / "bow.geojson", feats)
    r = import_ok(cli, base_db, "estates", path)
    line = [l for l in r.text.splitlines() if "repaired" in l and "BOW" in l]
    assert line, r
    assert "feature 2" in line[0]
    assert "read 3, imported 3, repaired 1, rejected 0" in r.out
    stored = by_key(base_db, "estates")["BOW"]["geom"]
    assert stored.is_valid
    assert stored.geom_type == "MultiPolygon"
    # shapely's make_valid keeps both lobes (buffer(0) would drop one of them, so it is
    # not the reference here)
    reference = make_valid(shapely_wkt.loads(BOWTIE))
    assert reference.area == pytest.approx(0.00005, rel=1e-6)  # two triangles of 0.000025
    assert stored.area == pytest.approx(reference.area, rel=0.01)
    assert stored.symmetric_difference(reference).area < 0.01 * reference.area
    check_ok(cli, base_db)


def test_polygon_with_self_touching_hole_outside_is_repaired(cli, base_db, tmp_path):
    """A hole that sticks out of its shell."""
    bad = ("POLYGON((121.40 31.10,121.42 31.10,121.42 31.12,121.40 31.12,121.40 31.10),"
           "(121.41 31.11,121.43 31.11,121.43 31.115,121.41 31.115,121.41 31.11))")
    path = write_geojson(tmp_path / "hole.geojson", [({"code": "HOLE", "name": "洞"}, bad)])
    r = import_ok(cli, base_db, "estates", path)
    assert "repaired" in r.text and "HOLE" in r.text
    stored = by_key(base_db, "estates")["HOLE"]["geom"]
    assert stored.is_valid
    src = shapely_wkt.loads(bad)
    shell_minus_hole = Polygon(src.exterior).difference(Polygon(src.interiors[0]))
    # GEOS "linework" repair (make_valid) or "structure" repair (shell minus hole)
    assert any(stored.area == pytest.approx(ref.area, rel=0.01)
               for ref in (make_valid(src), shell_minus_hole)), stored.area
    assert stored.covers(Point(121.405, 31.105))


def test_degenerate_polygon_is_rejected_by_index_and_code(cli, base_db, tmp_path):
    feats = [good_estate(1), good_estate(2), ({"code": "FLAT", "name": "扁小区"}, COLLINEAR),
             good_estate(3)]
    path = write_geojson(tmp_path / "flat.geojson", feats)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", path)
    line = [l for l in r.err.splitlines() if "FLAT" in l]
    assert line, r
    assert "rejected" in line[0] and "feature 3" in line[0]
    assert re.search(r"invalid|cannot be repaired|zero area|collinear", line[0], re.I), line[0]
    assert "read 4, imported 0, repaired 0, rejected 1" in r.err
    assert "--skip-invalid" in r.err
    assert snapshot(base_db) == before


def test_sliver_polygon_with_decimal_collinear_points_is_rejected(cli, base_db, tmp_path):
    """Points a user wrote as collinear (121.40/31.10, 121.41/31.11, 121.42/31.12) make
    a sliver of ~0.5 mm^2 after binary rounding: GEOS calls it valid, but it is no
    estate; the importer should reject it as degenerate (zero area)."""
    assert shapely_wkt.loads(DECIMAL_COLLINEAR).area < 1e-15
    feats = [good_estate(1), ({"code": "SLIVER", "name": "细条"}, DECIMAL_COLLINEAR)]
    path = write_geojson(tmp_path / "sliver.geojson", feats)
    before = snapshot(base_db)
    r = cli("import", "estates", path, "--db", base_db)
    assert r.rc == 1, r
    assert "feature 2" in r.err and "SLIVER" in r.err
    assert snapshot(base_db) == before


def test_skip_invalid_imports_the_rest(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "FLAT", "name": "扁小区"}, COLLINEAR), good_estate(2),
             ({"code": "BOW", "name": "蝴蝶"}, BOWTIE)]
    path = write_geojson(tmp_path / "mixed.geojson", feats)
    r = import_ok(cli, base_db, "estates", path, "--skip-invalid")
    assert "read 4, imported 3, repaired 1, rejected 1" in r.out
    assert "FLAT" in r.text and "feature 2" in r.text
    assert set(by_key(base_db, "estates")) == {"OK-1", "OK-2", "BOW"}
    check_ok(cli, base_db)


def _reject_case(cli, db, tmp_path, layer, path, *args, feature, key, reason):
    before = snapshot(db)
    r = import_fails(cli, db, layer, path, *args)
    lines = [l for l in r.err.splitlines() if l.startswith("rejected")]
    assert lines, r
    assert f"feature {feature}" in lines[0], r
    if key:
        assert key in lines[0], r
    assert re.search(reason, lines[0], re.I), r
    assert snapshot(db) == before
    return r


def test_empty_geometry_is_rejected(cli, base_db, tmp_path):
    feats = [good_estate(1),
             ({"code": "EMPTY", "name": "空"}, {"type": "Polygon", "coordinates": []})]
    path = write_geojson(tmp_path / "empty.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="EMPTY",
                 reason="empty")


def test_empty_wkt_geometry_is_rejected(cli, base_db, tmp_path):
    path = write_csv(tmp_path / "e.csv", ["code", "name", "wkt"],
                     [["OK", "好", blob_polygon(121.4, 31.1)], ["EMPTY", "空", "POLYGON EMPTY"]])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="EMPTY",
                 reason="empty|no geometry")


def test_null_geometry_is_rejected(cli, base_db, tmp_path):
    feats = [({"code": "NULL", "name": "无形"}, None), good_estate(1)]
    path = write_geojson(tmp_path / "null.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="NULL",
                 reason="no geometry")


def test_point_into_estates_is_rejected(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "PT", "name": "点"}, "POINT(121.4 31.1)")]
    path = write_geojson(tmp_path / "pt.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="PT",
                 reason=r"point.*estates")


def test_polygon_into_violations_is_rejected(cli, base_db, tmp_path):
    feats = [({"code": "VP", "category": "乱停车", "reported_at": "2016-01-01", "status": "open"},
              blob_polygon(121.4, 31.1))]
    path = write_geojson(tmp_path / "vp.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "violations", path, feature=1, key="VP",
                 reason=r"polygon.*violations")


def test_line_into_estates_is_rejected(cli, base_db, tmp_path):
    feats = [({"code": "LN", "name": "线"}, "LINESTRING(121.4 31.1,121.5 31.2)")]
    path = write_geojson(tmp_path / "ln.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="LN",
                 reason=r"line ?string.*estates")


@pytest.mark.parametrize("lon,lat,reason", [
    ("nan", "31.1", "finite|no geometry"),
    ("121.4", "nan", "finite|no geometry"),
    ("inf", "31.1", "finite|range|no geometry"),
    ("1e300", "31.1", "range|lon/lat"),
    ("121.4", "-1e300", "range|lon/lat"),
    ("181", "31.1", "range|lon/lat"),
    ("121.4", "91", "range|lon/lat"),
])
def test_bad_coordinates_are_rejected(cli, base_db, tmp_path, lon, lat, reason):
    path = write_csv(tmp_path / "bad.csv",
                     ["code", "lon", "lat", "category", "reported_at", "status"],
                     [["GOOD", "121.4", "31.1", "乱停车", "2016-01-01", "open"],
                      ["BAD", lon, lat, "乱停车", "2016-01-01", "open"]])
    _reject_case(cli, base_db, tmp_path, "violations", path, feature=2, key="BAD",
                 reason=reason)


def test_non_finite_geojson_coordinates_are_rejected(cli, base_db, tmp_path):
    text = ('{"type":"FeatureCollection","features":['
            '{"type":"Feature","properties":{"code":"NAN","category":"乱停车",'
            '"reported_at":"2016-01-01","status":"open"},'
            '"geometry":{"type":"Point","coordinates":[NaN,31.1]}},'
            '{"type":"Feature","properties":{"code":"INF","category":"乱停车",'
            '"reported_at":"2016-01-01","status":"open"},'
            '"geometry":{"type":"Point","coordinates":[121.1,Infinity]}}]}')
    path = tmp_path / "nan.geojson"
    path.write_text(text, encoding="utf-8")
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "violations", path)
    assert re.search(r"rejected feature 1 \(code=NAN\): .*finite", r.err), r
    assert re.search(r"rejected feature 2 \(code=INF\): .*finite", r.err), r
    assert snapshot(base_db) == before


def test_malformed_wkt_is_rejected_not_imported(cli, base_db, tmp_path):
    """A WKT column that does not parse must reject the feature. GDAL's CSV driver
    falls back to reading such text as hex WKB and returns a nonsense point near
    (0, 0); the importer must not store that as a violation."""
    path = write_csv(tmp_path / "bad.csv", ["code", "category", "reported_at", "status", "wkt"],
                     [["GARBLED", "乱停车", "2016-01-01", "open",
                       "POLYGON((121.4 31.1,nan 31.1,121.5 31.2,121.4 31.1))"]])
    before = snapshot(base_db)
    r = cli("import", "violations", path, "--db", base_db)
    stored = [(row["code"], row["geom"].wkt) for row in rows(base_db, "violations")]
    assert r.rc == 1, f"{r}\nstored: {stored}"
    assert "feature 1" in r.err and "GARBLED" in r.err
    assert snapshot(base_db) == before


def test_malformed_wkt_row_with_skip_invalid_imports_the_rest(cli, base_db, tmp_path):
    """One row's WKT does not parse: with --skip-invalid that row is rejected by name and
    the others are imported; the import must not fail as if reading had stopped."""
    path = write_csv(tmp_path / "bad.csv", ["code", "category", "reported_at", "status", "wkt"],
                     [["GOOD1", "乱停车", "2016-01-01", "open", "POINT(121.41 31.11)"],
                      ["TYPO", "乱停车", "2016-01-01", "open", "POINT(121.4 31.1 oops)"],
                      ["GOOD2", "乱停车", "2016-01-01", "open", "POINT(121.42 31.12)"]])
    r = cli("import", "violations", path, "--db", base_db, "--skip-invalid")
    assert r.rc == 0, r
    assert "read 3, imported 2, repaired 0, rejected 1" in r.out
    assert re.search(r"rejected feature 2 \(code=TYPO\)", r.err), r
    assert set(by_key(base_db, "violations")) == {"GOOD1", "GOOD2"}


def test_nan_in_wkt_polygon_is_rejected(cli, base_db, tmp_path):
    path = write_csv(tmp_path / "nan.csv", ["code", "name", "wkt"],
                     [["NANPOLY", "非数", "POLYGON((121.4 31.1,nan 31.1,121.5 31.2,121.4 31.1))"]])
    r = cli("import", "estates", path, "--db", base_db)
    assert r.rc == 1, r
    assert table_count(base_db, "estates") == 0


def test_huge_polygon_coordinates_are_rejected(cli, base_db, tmp_path):
    feats = [({"code": "HUGE", "name": "巨"},
              "POLYGON((1e20 31.1,2e20 31.1,2e20 31.2,1e20 31.1))")]
    path = write_geojson(tmp_path / "huge.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="HUGE",
                 reason="range|lon/lat|--crs")


def test_unknown_violation_category_is_rejected(cli, base_db, tmp_path):
    path = write_csv(tmp_path / "cat.csv",
                     ["code", "lon", "lat", "category", "reported_at", "status"],
                     [["A", "121.4", "31.1", "乱停车", "2016-01-01", "open"],
                      ["B", "121.4", "31.1", "乱讲话", "2016-01-01", "open"]])
    _reject_case(cli, base_db, tmp_path, "violations", path, feature=2, key="B",
                 reason="乱讲话.*categor")


def test_unknown_corridor_type_is_rejected(cli, base_db, tmp_path):
    path = write_geojson(tmp_path / "c.geojson",
                         [({"name": "某运河", "type": "canal"}, "LINESTRING(121.4 31.1,121.5 31.2)")])
    _reject_case(cli, base_db, tmp_path, "corridors", path, feature=1, key="某运河",
                 reason="canal.*corridor type")
    path2 = write_corridors("geojson", tmp_path)
    _reject_case(cli, base_db, tmp_path, "corridors", path2, "--set", "type=highway",
                 feature=1, key="沪昆铁路", reason="highway")


@pytest.mark.parametrize("value", ["2016-13-01", "2016-02-30", "yesterday", "2016/1/32",
                                   "2016-01-01T25:00"])
def test_bad_date_is_rejected(cli, base_db, tmp_path, value):
    path = write_csv(tmp_path / "d.csv",
                     ["code", "lon", "lat", "category", "reported_at", "status"],
                     [["A", "121.4", "31.1", "乱停车", "2016-01-01", "open"],
                      ["BADDATE", "121.4", "31.1", "乱停车", value, "open"]])
    _reject_case(cli, base_db, tmp_path, "violations", path, feature=2, key="BADDATE",
                 reason=r"reported_at.*date")


def test_bad_estate_date_is_rejected(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "d.geojson", [({**a, "plan_date": "2016-02-30"}, g)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="OK-1",
                 reason=r"plan_date.*date")


def test_resolved_before_reported_is_rejected(cli, base_db, tmp_path):
    path = write_csv(tmp_path / "d.csv",
                     ["code", "lon", "lat", "category", "reported_at", "resolved_at", "status"],
                     [["BACK", "121.4", "31.1", "乱停车", "2016-05-01", "2016-04-01", "resolved"]])
    _reject_case(cli, base_db, tmp_path, "violations", path, feature=1, key="BACK",
                 reason="resolved_at")


def test_duplicate_code_in_file_is_rejected(cli, base_db, tmp_path):
    feats = [good_estate(1), good_estate(2), ({"code": "OK-1", "name": "重复"},
                                              blob_polygon(121.5, 31.0))]
    path = write_geojson(tmp_path / "dup.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=3, key="OK-1",
                 reason="duplicate")


def test_duplicate_code_already_in_layer_is_rejected(cli, base_db, tmp_path):
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "a.geojson", [good_estate(1)]))
    path = write_geojson(tmp_path / "b.geojson", [good_estate(2), good_estate(1)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="OK-1",
                 reason="duplicate")


def test_missing_required_value_is_rejected(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "NONAME", "name": ""}, blob_polygon(121.5, 31.0))]
    path = write_geojson(tmp_path / "nn.geojson", feats)
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="NONAME",
                 reason="name")


def test_missing_required_field_is_a_usage_error(cli, base_db, tmp_path):
    path = write_geojson(tmp_path / "nf.geojson", [({"code": "X"}, blob_polygon(121.4, 31.1))])
    r = import_fails(cli, base_db, "estates", path, rc=2)
    assert "name" in r.err and "--map" in r.err


def test_value_outside_domain_is_rejected(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "dom.geojson", [({**a, "housing_type": "别墅"}, g)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="OK-1",
                 reason="别墅.*售后公房")


def test_non_numeric_value_is_rejected(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "num.geojson", [({**a, "households": "很多"}, g)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="OK-1",
                 reason="households.*number")


def test_many_rejections_are_counted(cli, base_db, tmp_path):
    data = [[f"V{i}", "121.4", "31.1", "没有这类", "2016-01-01", "open"] for i in range(80)]
    path = write_csv(tmp_path / "many.csv",
                     ["code", "lon", "lat", "category", "reported_at", "status"], data)
    r = import_fails(cli, base_db, "violations", path)
    assert "read 80, imported 0, repaired 0, rejected 80" in r.err
    assert len([l for l in r.err.splitlines() if l.startswith("rejected")]) <= 60


def test_unreadable_file_exits_1(cli, base_db, tmp_path):
    junk = tmp_path / "junk.geojson"
    junk.write_text("{ this is not json", encoding="utf-8")
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", junk)
    assert str(junk) in r.err
    r = import_fails(cli, base_db, "estates", tmp_path / "missing.geojson")
    assert "missing.geojson" in r.err
    assert snapshot(base_db) == before


# ---------------------------------------------------------------- one transaction


@pytest.fixture
def populated_db(cli, base_db, tmp_path):
    """base_db plus estates, violations, corridors and zones."""
    d = tmp_path / "pop"
    d.mkdir()
    import_ok(cli, base_db, "estates", write_geojson(d / "e.geojson", ESTATES))
    import_ok(cli, base_db, "violations", write_geojson(d / "v.geojson", VIOLATIONS))
    import_ok(cli, base_db, "corridors", write_geojson(d / "c.geojson", CORRIDORS),
              "--set", "type=railway")
    import_ok(cli, base_db, "zones",
              write_geojson(d / "z.geojson", [({"name": "区"}, box_wkt(121.3, 31.0, 121.4, 31.1))]),
              "--set", "kind=civilised_key")
    assert scalar(base_db, "SELECT count(*) FROM violations WHERE estate_code IS NOT NULL") >= 1
    return base_db


def many_estates(n, prefix="N", bad_last=None):
    feats = [({"code": f"{prefix}{i:04d}", "name": f"新小区{i}", "built_year": 1990 + i % 30},
              blob_polygon(121.26 + 0.0052 * (i % 60), 30.96 + 0.0052 * (i // 60), r=0.002))
             for i in range(n)]
    if bad_last is not None:
        feats.append(bad_last)
    return feats


@pytest.mark.parametrize("bad", [
    ({"code": "MH-XZ-001", "name": "重复"}, blob_polygon(121.59, 31.24)),        # duplicate
    ({"code": "FLAT", "name": "扁"}, COLLINEAR),                                 # degenerate
    ({"code": "PT", "name": "点"}, "POINT(121.4 31.1)"),                          # wrong type
    ({"code": "BADYEAR", "name": "年", "built_year": "一九八八"}, blob_polygon(121.5, 31.0)),
    ({"code": "NULLG", "name": "空"}, None),
], ids=["duplicate", "degenerate", "wrong-type", "bad-value", "null-geometry"])
def test_failing_import_leaves_database_unchanged(cli, populated_db, tmp_path, bad):
    feats = many_estates(300, bad_last=bad)
    path = write_geojson(tmp_path / "fail.geojson", feats)
    before = snapshot(populated_db)
    r = import_fails(cli, populated_db, "estates", path)
    assert "nothing was imported" in r.err
    assert snapshot(populated_db) == before


def test_failing_replace_leaves_database_unchanged(cli, populated_db, tmp_path):
    feats = many_estates(50, bad_last=({"code": "FLAT", "name": "扁"}, COLLINEAR))
    path = write_geojson(tmp_path / "fail.geojson", feats)
    before = snapshot(populated_db)
    import_fails(cli, populated_db, "estates", path, "--replace")
    assert snapshot(populated_db) == before
    assert set(by_key(populated_db, "estates")) == {a["code"] for a, _ in ESTATES}


def test_failing_violations_import_leaves_database_unchanged(cli, populated_db, tmp_path):
    data = [[f"NV{i}", repr(121.3 + i * 1e-4), "31.1", "乱停车", "2016-01-01", "open"]
            for i in range(200)]
    data.append(["NVBAD", "121.3", "31.1", "乱停车", "2016-99-01", "open"])
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"], data)
    before = snapshot(populated_db)
    import_fails(cli, populated_db, "violations", path, "--replace")
    assert snapshot(populated_db) == before
    import_fails(cli, populated_db, "violations", path)
    assert snapshot(populated_db) == before


def test_usage_error_leaves_database_unchanged(cli, populated_db, tmp_path):
    path = write_geojson(tmp_path / "e.geojson", many_estates(10))
    before = snapshot(populated_db)
    import_fails(cli, populated_db, "estates", path, "--replace", "--map", "nofield=name", rc=2)
    assert snapshot(populated_db) == before


def test_replace_replaces_the_layer(cli, populated_db, tmp_path):
    new = many_estates(20, prefix="R")
    path = write_geojson(tmp_path / "new.geojson", new)
    v_before = query(populated_db, "SELECT version FROM layer_versions WHERE layer='estates'")[0][0]
    other_before = {t: v for t, v in snapshot(populated_db).items()
                    if t in ("towns", "grid", "corridors", "zones")}
    import_ok(cli, populated_db, "estates", path, "--replace")
    assert set(by_key(populated_db, "estates")) == {a["code"] for a, _ in new}
    v_after = query(populated_db, "SELECT version FROM layer_versions WHERE layer='estates'")[0][0]
    assert v_after > v_before
    after = snapshot(populated_db)
    for t, v in other_before.items():
        assert after[t] == v, t
    check_ok(cli, populated_db)


def test_default_appends(cli, populated_db, tmp_path):
    new = many_estates(5, prefix="A")
    import_ok(cli, populated_db, "estates", write_geojson(tmp_path / "a.geojson", new))
    assert set(by_key(populated_db, "estates")) == \
        {a["code"] for a, _ in ESTATES} | {a["code"] for a, _ in new}


def test_replace_with_skip_invalid_keeps_only_the_valid_new_features(cli, populated_db, tmp_path):
    new = many_estates(5, prefix="S", bad_last=({"code": "FLAT", "name": "扁"}, COLLINEAR))
    import_ok(cli, populated_db, "estates", write_geojson(tmp_path / "s.geojson", new),
              "--replace", "--skip-invalid")
    assert set(by_key(populated_db, "estates")) == {f"S{i:04d}" for i in range(5)}


# ---------------------------------------------------------------- field mapping


def test_map_option(cli, base_db, tmp_path):
    feats = [({"BM": "MAP-1", "XQMC": "映射小区", "JCNF": 1992}, blob_polygon(121.4, 31.1))]
    path = write_geojson(tmp_path / "m.geojson", feats)
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", path, rc=2)
    assert "code" in r.err and "BM" in r.err  # lists the fields it has
    assert snapshot(base_db) == before
    import_ok(cli, base_db, "estates", path, "--map", "BM=code", "--map", "XQMC=name",
              "--map", "JCNF=built_year")
    row = rows(base_db, "estates")[0]
    assert (row["code"], row["name"], row["built_year"]) == ("MAP-1", "映射小区", 1992)
    assert row["extra"] is None or not ({"BM", "XQMC", "JCNF"} & set(json.loads(row["extra"])))


def test_map_beats_a_field_of_the_same_name(cli, base_db, tmp_path):
    feats = [({"code": "OLD", "new_code": "NEW-1", "name": "小区"}, blob_polygon(121.4, 31.1))]
    path = write_geojson(tmp_path / "m.geojson", feats)
    import_ok(cli, base_db, "estates", path, "--map", "new_code=code")
    row = rows(base_db, "estates")[0]
    assert row["code"] == "NEW-1"
    assert json.loads(row["extra"]) == {"code": "OLD"}


def test_set_option(cli, base_db, tmp_path):
    feats = [({"code": f"S{i}", "name": f"小区{i}", "housing_type": "商品房"},
              blob_polygon(121.3 + 0.01 * i, 31.1)) for i in range(3)]
    path = write_geojson(tmp_path / "s.geojson", feats)
    import_ok(cli, base_db, "estates", path, "--set", "housing_type=混合", "--set", "tier=提升版",
              "--set", "owners_cofund=是", "--set", "built_year=1990")
    for row in rows(base_db, "estates"):
        assert row["housing_type"] == "混合"
        assert row["tier"] == "提升版"
        assert row["owners_cofund"] == 1
        assert row["built_year"] == 1990


def test_set_value_is_validated(cli, base_db, tmp_path):
    path = write_geojson(tmp_path / "s.geojson", [good_estate(1)])
    r = import_fails(cli, base_db, "estates", path, "--set", "tier=金牌版")
    assert "金牌版" in r.err


def test_aliases(cli, base_db, tmp_path):
    feats = [({"小区编码": "AL-1", "小区名称": "别名小区", "BUILT_YR": 1988, "户数": 300,
               "物业费收缴率": "92%", "业委会": "formed", "地址": "某路1号", "楼栋数": 12,
               "建筑面积": 23456.5, "物业公司": "闵行物业", "电梯数": 0, "满意度": 88.5,
               "雨污分流": "done", "阶段": "planning", "创建版本": "基础版"},
              blob_polygon(121.4, 31.1))]
    path = write_geojson(tmp_path / "al.geojson", feats)
    import_ok(cli, base_db, "estates", path)
    row = rows(base_db, "estates")[0]
    assert row["code"] == "AL-1"
    assert row["name"] == "别名小区"
    assert row["built_year"] == 1988
    assert row["households"] == 300
    assert row["fee_collection_rate"] == pytest.approx(0.92)
    assert row["owners_committee"] == "formed"
    assert row["address"] == "某路1号"
    assert row["buildings"] == 12
    assert row["floor_area_m2"] == pytest.approx(23456.5)
    assert row["property_company"] == "闵行物业"
    assert row["elevator_count"] == 0
    assert row["satisfaction"] == pytest.approx(88.5)
    assert row["rain_sewage_works"] == "done"
    assert row["stage"] == "planning"
    assert row["tier"] == "基础版"
    assert row["extra"] is None or json.loads(row["extra"]) == {}


def test_field_names_match_case_insensitively(cli, base_db, tmp_path):
    feats = [({"CODE": "CI-1", "Name": "大小写", "Built_Year": 1999}, blob_polygon(121.4, 31.1))]
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "ci.geojson", feats))
    row = rows(base_db, "estates")[0]
    assert (row["code"], row["name"], row["built_year"]) == ("CI-1", "大小写", 1999)


def test_violation_aliases(cli, base_db, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("案件编号,经度,纬度,问题类别,上报时间,结案时间,状态,问题描述,来源\n"
                    "AJ-1,121.45,31.15,无序设摊,2016/03/01 08:00,2016/03/02 09:30,resolved,"
                    "路边摆摊,12345热线\n", encoding="utf-8")
    import_ok(cli, base_db, "violations", path)
    row = rows(base_db, "violations")[0]
    assert row["code"] == "AJ-1"
    assert row["category"] == "无序设摊"
    assert row["reported_at"] == "2016-03-01T08:00:00"
    assert row["resolved_at"] == "2016-03-02T09:30:00"
    assert row["status"] == "resolved"
    assert row["description"] == "路边摆摊"
    assert row["source"] == "12345热线"
    assert abs(row["geom"].x - 121.45) < 1e-12 and abs(row["geom"].y - 31.15) < 1e-12


def test_unknown_fields_are_kept_in_extra_with_types(cli, base_db, tmp_path):
    feats = [({"code": "EX-1", "name": "额外", "楼长": "张三", "parking": 120, "green_ratio": 0.35,
               "note": "含\"引号\"和/斜杠", "zero": 0},
              blob_polygon(121.4, 31.1)),
             ({"code": "EX-2", "name": "无额外"}, blob_polygon(121.5, 31.1))]
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "x.geojson", feats))
    got = by_key(base_db, "estates")
    extra = json.loads(got["EX-1"]["extra"])
    assert extra == {"楼长": "张三", "parking": 120, "green_ratio": 0.35,
                     "note": "含\"引号\"和/斜杠", "zero": 0}
    assert isinstance(extra["parking"], int) and isinstance(extra["green_ratio"], float)
    assert got["EX-2"]["extra"] is None or json.loads(got["EX-2"]["extra"]) == {}


def test_unknown_shapefile_fields_are_kept_in_extra_with_types(cli, base_db, tmp_path):
    feats = [({"code": "EX-1", "name": "额外", "LZ": "李四", "PARKING": 77, "GREEN": 0.4},
              blob_polygon(121.4, 31.1))]
    import_ok(cli, base_db, "estates", write_shapefile(tmp_path / "x.shp", feats))
    extra = json.loads(rows(base_db, "estates")[0]["extra"])
    assert extra == {"LZ": "李四", "PARKING": 77, "GREEN": pytest.approx(0.4)}
    assert isinstance(extra["PARKING"], int)


def test_unknown_csv_fields_are_kept_in_extra(cli, base_db, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("lon,lat,category,reported_at,status,网格员,phone\n"
                    "121.45,31.15,乱停车,2016-05-01,open,王五,021-6412\n", encoding="utf-8")
    import_ok(cli, base_db, "violations", path)
    extra = json.loads(rows(base_db, "violations")[0]["extra"])
    assert extra == {"网格员": "王五", "phone": "021-6412"}


@pytest.mark.parametrize("raw,expected", [("2016/10/01", "2016-10-01"), ("2016-10-01", "2016-10-01"),
                                          ("2016.10.01", "2016-10-01"), ("20161001", "2016-10-01"),
                                          (" 2016/1/5 ", "2016-01-05"),
                                          ("2016-10-01T08:00:00", "2016-10-01")])
def test_dates_are_normalised(cli, base_db, tmp_path, raw, expected):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "d.geojson", [({**a, "plan_date": raw, "开工日期": raw}, g)])
    import_ok(cli, base_db, "estates", path)
    row = rows(base_db, "estates")[0]
    assert row["plan_date"] == expected
    assert row["start_date"] == expected


@pytest.mark.parametrize("raw,expected", [("是", 1), ("否", 0), ("yes", 1), ("NO", 0), ("1", 1),
                                          ("0", 0), ("true", 1), ("False", 0), ("有", 1), ("无", 0)])
def test_booleans_are_normalised(cli, base_db, tmp_path, raw, expected):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "b.geojson",
                         [({**a, "owners_cofund": raw, "田园模式": raw, "FOUR_IN_1": raw}, g)])
    import_ok(cli, base_db, "estates", path)
    row = rows(base_db, "estates")[0]
    assert row["owners_cofund"] == expected
    assert row["tianyuan_model"] == expected
    assert row["four_in_one"] == expected


def test_bad_boolean_is_rejected(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "b.geojson", [({**a, "owners_cofund": "maybe"}, g)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=1, key="OK-1",
                 reason="owners_cofund.*maybe")


@pytest.mark.parametrize("raw,expected", [("85%", 0.85), ("0.85", 0.85), (" 100% ", 1.0),
                                          (0.5, 0.5), ("0%", 0.0)])
def test_rates_are_normalised(cli, base_db, tmp_path, raw, expected):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "r.geojson", [({**a, "fee_collection_rate": raw}, g)])
    import_ok(cli, base_db, "estates", path)
    assert rows(base_db, "estates")[0]["fee_collection_rate"] == pytest.approx(expected)


def test_rate_above_one_is_rejected(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "r.geojson", [({**a, "fee_collection_rate": "185%"}, g)])
    r = import_fails(cli, base_db, "estates", path)
    assert "feature 1" in r.err and "OK-1" in r.err


def test_integral_reals_are_whole_numbers(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "i.geojson",
                         [({**a, "built_year": "1998.0", "households": 420.0}, g)])
    import_ok(cli, base_db, "estates", path)
    row = rows(base_db, "estates")[0]
    assert row["built_year"] == 1998 and row["households"] == 420
    assert isinstance(row["built_year"], int)


def test_where_filters_the_source(cli, base_db, tmp_path):
    feats = [({"code": f"W{i}", "name": f"小区{i}", "kind": "a" if i % 2 else "b"},
              blob_polygon(121.3 + 0.01 * i, 31.1)) for i in range(6)]
    path = write_geojson(tmp_path / "w.geojson", feats)
    r = import_ok(cli, base_db, "estates", path, "--where", "kind = 'a'")
    assert "read 3, imported 3" in r.out
    assert set(by_key(base_db, "estates")) == {"W1", "W3", "W5"}


def test_quiet_prints_nothing_on_success(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "BOW", "name": "蝴蝶"}, BOWTIE)]
    r = import_ok(cli, base_db, "estates", write_geojson(tmp_path / "q.geojson", feats), "-q")
    assert r.out == "" and r.err == ""


def test_summary_goes_to_stdout_and_rejections_to_stderr(cli, base_db, tmp_path):
    feats = [good_estate(1), ({"code": "FLAT", "name": "扁"}, COLLINEAR)]
    path = write_geojson(tmp_path / "s.geojson", feats)
    r = import_ok(cli, base_db, "estates", path, "--skip-invalid")
    assert re.search(r"read 2, imported 1, repaired 0, rejected 1", r.out)
    assert "FLAT" in r.err


def test_progress_bar_only_on_a_terminal(bin_path, base_db, tmp_path):
    """On a terminal the import draws a progress bar; piped, it does not."""
    import os
    import pty
    import subprocess
    feats = many_estates(500)
    path = write_geojson(tmp_path / "p.geojson", feats)
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("ESTATEMAP_DB", None)
    proc = subprocess.Popen([str(bin_path), "import", "estates", str(path), "--db", str(base_db)],
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    tty_err = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "%" in tty_err and "500/500" in tty_err
    assert table_count(base_db, "estates") == 500


# ---------------------------------------------------------------- derived links


def test_violation_gets_estate_and_grid_cell(cli, base_db, tmp_path):
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    e1 = shapely_wkt.loads(ESTATES[0][1])
    e2 = shapely_wkt.loads(ESTATES[1][1])
    inside1 = e1.representative_point()
    inside2 = e2.representative_point()
    pts = [("IN1", inside1.x, inside1.y), ("IN2", inside2.x, inside2.y),
           ("NONE", 121.55, 31.22)]
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"],
                     [[c, repr(x), repr(y), "乱停车", "2016-01-01", "open"] for c, x, y in pts])
    import_ok(cli, base_db, "violations", path)
    got = by_key(base_db, "violations")
    assert got["IN1"]["estate_code"] == "MH-XZ-001"
    assert got["IN2"]["estate_code"] == "MH-QB-002"
    assert got["NONE"]["estate_code"] is None
    for c, x, y in pts:
        assert got[c]["grid_code"] == grid_cell_of(x, y) and got[c]["grid_code"] is not None


def test_violation_in_a_hole_is_not_in_the_estate(cli, base_db, tmp_path):
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"],
                     [["HOLE", "121.5126", "31.0526", "乱停车", "2016-01-01", "open"],
                      ["RING", "121.5111", "31.0511", "乱停车", "2016-01-01", "open"],
                      ["PART2", "121.5215", "31.0510", "乱停车", "2016-01-01", "open"]])
    import_ok(cli, base_db, "violations", path)
    got = by_key(base_db, "violations")
    assert got["HOLE"]["estate_code"] is None
    assert got["RING"]["estate_code"] == "MH-PJ-004"
    assert got["PART2"]["estate_code"] == "MH-PJ-004"


def test_violation_on_estate_boundary_counts_as_inside(cli, base_db, tmp_path):
    square = "POLYGON((121.375 31.125,121.4375 31.125,121.4375 31.1875,121.375 31.1875,121.375 31.125))"
    import_ok(cli, base_db, "estates",
              write_geojson(tmp_path / "e.geojson", [({"code": "SQ", "name": "方"}, square)]))
    # binary-exact coordinates: on an edge, and on a corner
    pts = [("EDGE", "121.40625", "31.125"), ("CORNER", "121.4375", "31.1875"),
           ("OUTSIDE", "121.40625", "31.1249")]
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"],
                     [[c, x, y, "乱停车", "2016-01-01", "open"] for c, x, y in pts])
    import_ok(cli, base_db, "violations", path)
    got = by_key(base_db, "violations")
    assert got["EDGE"]["estate_code"] == "SQ"
    assert got["CORNER"]["estate_code"] == "SQ"
    assert got["OUTSIDE"]["estate_code"] is None


def test_violation_on_shared_grid_boundary_gets_one_cell(cli, base_db, tmp_path):
    x, y = 121.4, 31.0  # on the line between cells ...0101 and ...0102
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"],
                     [["B", repr(x), repr(y), "乱停车", "2016-01-01", "open"]])
    import_ok(cli, base_db, "violations", path)
    assert rows(base_db, "violations")[0]["grid_code"] in (f"{TOWN_CODE}0101", f"{TOWN_CODE}0102")
    check_ok(cli, base_db)


def test_estate_gets_town_of_the_town_containing_it(cli, db, tmp_path):
    towns = [({"code": "310112101", "name": "莘庄镇"}, box_wkt(121.2, 31.0, 121.4, 31.3)),
             ({"code": "310112102", "name": "七宝镇"}, box_wkt(121.4, 31.0, 121.6, 31.3))]
    import_ok(cli, db, "towns", write_geojson(tmp_path / "t.geojson", towns))
    estates = [({"code": "W", "name": "西"}, blob_polygon(121.3, 31.1)),
               ({"code": "E", "name": "东", "town_code": "999999999"}, blob_polygon(121.5, 31.1)),
               ({"code": "OUT", "name": "外", "town_code": "310112199"}, blob_polygon(121.8, 31.1)),
               ({"code": "OUT2", "name": "外2"}, blob_polygon(121.9, 31.1))]
    import_ok(cli, db, "estates", write_geojson(tmp_path / "e.geojson", estates))
    got = by_key(db, "estates")
    assert got["W"]["town_code"] == "310112101"
    assert got["E"]["town_code"] == "310112102"   # computed beats the file's wrong value
    assert got["OUT"]["town_code"] == "310112199"  # kept: no town holds it
    assert got["OUT2"]["town_code"] is None


def test_estate_straddling_towns_gets_one_of_them(cli, db, tmp_path):
    towns = [({"code": "310112101", "name": "莘庄镇"}, box_wkt(121.2, 31.0, 121.4, 31.3)),
             ({"code": "310112102", "name": "七宝镇"}, box_wkt(121.4, 31.0, 121.6, 31.3))]
    import_ok(cli, db, "towns", write_geojson(tmp_path / "t.geojson", towns))
    # mostly in the east town
    straddle = box_wkt(121.399, 31.1, 121.41, 31.11)
    import_ok(cli, db, "estates",
              write_geojson(tmp_path / "e.geojson", [({"code": "S", "name": "跨"}, straddle)]))
    assert by_key(db, "estates")["S"]["town_code"] in ("310112101", "310112102")


def test_reimporting_estates_recomputes_violation_links(cli, base_db, tmp_path):
    p = shapely_wkt.loads(ESTATES[0][1]).representative_point()
    vpath = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                           "status"],
                      [["V", repr(p.x), repr(p.y), "乱停车", "2016-01-01", "open"]])
    import_ok(cli, base_db, "violations", vpath)
    assert rows(base_db, "violations")[0]["estate_code"] is None
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    assert rows(base_db, "violations")[0]["estate_code"] == "MH-XZ-001"
    # the estate is re-coded and moved over the point under a new code
    moved = [({"code": "RENAMED", "name": "改名小区"}, ESTATES[0][1])]
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e2.geojson", moved), "--replace")
    assert rows(base_db, "violations")[0]["estate_code"] == "RENAMED"
    # and away from it
    away = [({"code": "AWAY", "name": "远"}, blob_polygon(121.55, 31.22))]
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e3.geojson", away), "--replace")
    assert rows(base_db, "violations")[0]["estate_code"] is None


def test_importing_grid_after_violations_links_them(cli, bin_path, db, tmp_path):
    vpath = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                           "status"],
                      [["V", "121.45", "31.15", "乱停车", "2016-01-01", "open"]])
    import_ok(cli, db, "violations", vpath)
    assert rows(db, "violations")[0]["grid_code"] is None
    import_base_layers(bin_path, db, tmp_path)
    assert rows(db, "violations")[0]["grid_code"] == f"{TOWN_CODE}0202"


def test_importing_towns_after_estates_links_them(cli, db, tmp_path):
    import_ok(cli, db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES[:2]))
    assert {r["town_code"] for r in rows(db, "estates")} == {None}
    towns = [({"code": TOWN_CODE, "name": "镇"}, box_wkt(*TOWN_BOX))]
    import_ok(cli, db, "towns", write_geojson(tmp_path / "t.geojson", towns))
    assert {r["town_code"] for r in rows(db, "estates")} == {TOWN_CODE}


def test_links_of_many_violations(cli, base_db, tmp_path):
    """A few thousand points against a few hundred estates: every link agrees with
    shapely's own point-in-polygon."""
    estates = many_estates(300)
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", estates))
    shapes = [(a["code"], shapely_wkt.loads(g)) for a, g in estates]
    rnd = random.Random(5)
    pts = [(f"P{i}", rnd.uniform(121.255, 121.58), rnd.uniform(30.955, 30.99)) for i in range(3000)]
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status"],
                     [[c, repr(x), repr(y), "乱晾晒", "2016-01-01", "open"] for c, x, y in pts])
    import_ok(cli, base_db, "violations", path)
    got = by_key(base_db, "violations")
    inside = 0
    for c, x, y in pts:
        expected = [code for code, s in shapes if s.intersects(Point(x, y))]
        if expected:
            inside += 1
            assert got[c]["estate_code"] in expected, c
        else:
            assert got[c]["estate_code"] is None, c
        assert got[c]["grid_code"] == grid_cell_of(x, y)
    assert inside > 100


# ---------------------------------------------------------------- more geometry and CRS cases


def test_unclosed_ring_is_repaired(cli, base_db, tmp_path):
    """A GeoJSON ring whose last point is not the first: closing it is the obvious
    repair, and the import must report it rather than fail."""
    open_ring = {"type": "Polygon", "coordinates": [[[121.4, 31.1], [121.41, 31.1],
                                                      [121.41, 31.11], [121.4, 31.11]]]}
    path = write_geojson(tmp_path / "open.geojson",
                         [good_estate(1), ({"code": "OPEN", "name": "开口"}, open_ring)])
    r = cli("import", "estates", path, "--db", base_db)
    assert r.rc == 0, r
    assert "repaired" in r.text and "OPEN" in r.text
    stored = by_key(base_db, "estates")["OPEN"]["geom"]
    assert stored.is_valid
    assert stored.area == pytest.approx(0.0001, rel=1e-6)


def test_overlapping_multipolygon_parts_are_repaired_to_their_union(cli, base_db, tmp_path):
    """Two parts of one estate that overlap (digitised in pieces): the repaired estate
    covers both parts, overlap included. GEOS's default "linework" MakeValid keeps only
    the symmetric difference, punching a hole where the parts overlap, so violations
    there would no longer link to the estate."""
    ov = ("MULTIPOLYGON(((121.4 31.1,121.42 31.1,121.42 31.12,121.4 31.12,121.4 31.1)),"
          "((121.41 31.11,121.43 31.11,121.43 31.13,121.41 31.13,121.41 31.11)))")
    path = write_geojson(tmp_path / "ov.geojson", [({"code": "OV", "name": "叠"}, ov)])
    r = import_ok(cli, base_db, "estates", path)
    assert "repaired" in r.text and "OV" in r.text and "feature 1" in r.text
    stored = by_key(base_db, "estates")["OV"]["geom"]
    assert stored.is_valid
    union = shapely_wkt.loads(ov).buffer(0)
    assert union.area == pytest.approx(0.0007, rel=1e-6)
    assert stored.area == pytest.approx(union.area, rel=0.01), \
        f"stored area {stored.area:.6g}, union {union.area:.6g}"
    assert stored.covers(Point(121.415, 31.115))  # in the overlap


def test_3d_geometry_is_flattened(cli, base_db, tmp_path):
    feats = [({"code": "Z3", "name": "三维"},
              {"type": "Polygon", "coordinates": [[[121.5, 31.1, 5], [121.51, 31.1, 5],
                                                   [121.51, 31.11, 6], [121.5, 31.1, 5]]]})]
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "z.geojson", feats))
    g = by_key(base_db, "estates")["Z3"]["geom"]  # the reader refuses Z blobs
    assert not g.has_z
    assert same_geometry(g, "MULTIPOLYGON(((121.5 31.1,121.51 31.1,121.51 31.11,121.5 31.1)))")
    vfeats = [({"code": "PZ", "category": "乱停车", "reported_at": "2016-01-01", "status": "open"},
               {"type": "Point", "coordinates": [121.45, 31.15, 12.5]})]
    import_ok(cli, base_db, "violations", write_geojson(tmp_path / "pz.geojson", vfeats))
    p = rows(base_db, "violations")[0]["geom"]
    assert (p.x, p.y) == (121.45, 31.15) and not p.has_z


def test_multipoint_violations(cli, base_db, tmp_path):
    feats = [({"code": "ONE", "category": "乱停车", "reported_at": "2016-01-01", "status": "open"},
              "MULTIPOINT((121.45 31.15))"),
             ({"code": "TWO", "category": "乱停车", "reported_at": "2016-01-01", "status": "open"},
              "MULTIPOINT((121.45 31.15),(121.46 31.16))")]
    path = write_geojson(tmp_path / "mp.geojson", feats)
    r = import_fails(cli, base_db, "violations", path)
    assert re.search(r"rejected feature 2 \(code=TWO\)", r.err), r
    assert "ONE" not in r.err
    import_ok(cli, base_db, "violations", path, "--skip-invalid")
    got = by_key(base_db, "violations")
    assert set(got) == {"ONE"} and got["ONE"]["geom"].geom_type == "Point"


@pytest.mark.parametrize("crs", ["urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326",
                                 "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG::4490"])
def test_geojson_crs_member_in_degrees_keeps_lon_lat_order(cli, base_db, tmp_path, crs):
    """Old-style GeoJSON crs members name geographic CRSs whose EPSG axis order is
    lat/lon, but GeoJSON coordinates are lon/lat: nothing may be swapped."""
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": crs}},
           "features": [{"type": "Feature",
                         "properties": {"code": "C", "category": "乱停车",
                                        "reported_at": "2016-01-01", "status": "open"},
                         "geometry": {"type": "Point", "coordinates": [121.4, 31.1]}}]}
    path = tmp_path / "c.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_ok(cli, base_db, "violations", path)
    p = rows(base_db, "violations")[0]["geom"]
    assert geodesic_m((p.x, p.y), (121.4, 31.1)) < 0.01


def test_crs_option_overrides_a_wrong_prj(cli, base_db, tmp_path):
    feats = projected_estates(2)
    shp = write_shapefile(tmp_path / "wrongprj.shp", feats, epsg=4326)  # .prj lies
    before = snapshot(base_db)
    r = import_fails(cli, base_db, "estates", shp)
    assert "--crs" in r.err
    assert snapshot(base_db) == before
    import_ok(cli, base_db, "estates", shp, "--crs", "EPSG:4549")
    assert_within_1cm_of_proj(base_db, feats)


def test_csv_with_utf8_bom(cli, base_db, tmp_path):
    """Excel writes UTF-8 CSV with a byte-order mark before the first header."""
    path = tmp_path / "bom.csv"
    path.write_bytes("lon,lat,category,reported_at,status,code\n"
                     "121.45,31.15,乱停车,2016-01-01,open,BOM\n".encode("utf-8-sig"))
    import_ok(cli, base_db, "violations", path)
    row = rows(base_db, "violations")[0]
    assert row["code"] == "BOM" and row["geom"].x == 121.45


def _raw_text_values(db_path, table, column):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con.text_factory = bytes
    try:
        return [r[0] for r in con.execute(f"SELECT {column} FROM {table}")]
    finally:
        con.close()


def test_gbk_csv_text_is_never_stored_as_invalid_utf8(cli, base_db, tmp_path):
    """Excel on Chinese Windows saves CSV in GBK. Whatever the importer does with such a
    file (decode it, or reject it by feature), it must not store bytes that are not
    UTF-8: SQLite, the web UI and every client expect UTF-8 text."""
    path = tmp_path / "gbk.csv"
    path.write_bytes("lon,lat,reported_at,status,code,description\n"
                     "121.45,31.15,2016-01-01,open,GBK1,消防通道停车\n".encode("gbk"))
    r = cli("import", "violations", path, "--db", base_db, "--set", "category=乱停车")
    stored = _raw_text_values(base_db, "violations", "description")
    for value in stored:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            pytest.fail(f"invalid UTF-8 stored: {value!r} (import: {r})")
        assert text == "消防通道停车", r
    if r.rc == 0:
        assert stored == ["消防通道停车".encode("utf-8")]
    else:
        assert r.rc == 1 and "GBK1" in r.err and stored == []


def test_gbk_csv_with_encoding_option(cli, base_db, tmp_path):
    """--encoding GBK on a CSV either decodes it, or is refused as a usage error; it is
    never silently ignored."""
    path = tmp_path / "gbk.csv"
    path.write_bytes("lon,lat,category,reported_at,status,code,description\n"
                     "121.45,31.15,乱停车,2016-01-01,open,GBK1,消防通道停车\n".encode("gbk"))
    r = cli("import", "violations", path, "--db", base_db, "--encoding", "GBK")
    if r.rc == 2:
        assert "--encoding" in r.err
        return
    assert r.rc == 0, r
    row = rows(base_db, "violations")[0]
    assert row["category"] == "乱停车" and row["description"] == "消防通道停车"


def test_replace_with_the_same_codes_succeeds(cli, populated_db, tmp_path):
    changed = [({**a, "name": a["name"] + "（新）"}, g) for a, g in ESTATES]
    import_ok(cli, populated_db, "estates", write_geojson(tmp_path / "same.geojson", changed),
              "--replace")
    got = by_key(populated_db, "estates")
    assert {c: r["name"] for c, r in got.items()} == {a["code"]: a["name"] for a, _ in changed}
    # the violations still point at the (re-created) estates
    assert scalar(populated_db,
                  "SELECT count(*) FROM violations WHERE estate_code = 'MH-XZ-001'") == 1


DATA_TABLES = ["towns", "estates", "grid", "violations", "corridors", "zones",
               "estate_renovation", "violation_categories", "corridor_types", "settings"]


def test_empty_file_changes_no_data(cli, populated_db, tmp_path):
    path = write_csv(tmp_path / "none.csv", ["code", "name", "wkt"], [])
    before = {t: v for t, v in snapshot(populated_db).items() if t in DATA_TABLES}
    r = import_ok(cli, populated_db, "estates", path)
    assert "read 0, imported 0" in r.out
    after = {t: v for t, v in snapshot(populated_db).items() if t in DATA_TABLES}
    assert after == before
    check_ok(cli, populated_db)


def layer_versions(db_path):
    return dict(query(db_path, "SELECT layer, version FROM layer_versions"))


def test_import_bumps_only_the_versions_of_layers_that_changed(cli, populated_db, tmp_path):
    """layer_versions exists so that caches (tiles, ETags) can tell stale from fresh.
    Importing zones changes no estate and no violation (no link depends on zones), so
    their versions must stay; otherwise every import invalidates every cache."""
    before_data = {t: v for t, v in snapshot(populated_db).items() if t in DATA_TABLES}
    before = layer_versions(populated_db)
    zones = [({"name": "新区域"}, box_wkt(121.45, 31.15, 121.46, 31.16))]
    import_ok(cli, populated_db, "zones", write_geojson(tmp_path / "z.geojson", zones),
              "--set", "kind=key_remediation")
    after = layer_versions(populated_db)
    assert after["zones"] > before["zones"]
    after_data = {t: v for t, v in snapshot(populated_db).items() if t in DATA_TABLES}
    for t in ["towns", "estates", "grid", "violations", "corridors"]:
        assert after_data[t] == before_data[t], f"{t} data changed"
        assert after[t] == before[t], \
            f"{t} version bumped {before[t]} -> {after[t]} by a zones import that changed no {t}"


def test_derived_violation_links_in_the_file_are_recomputed(cli, base_db, tmp_path):
    """estate_code and grid_code of violations are derived: values in the file are not
    trusted."""
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    p = shapely_wkt.loads(ESTATES[1][1]).representative_point()
    path = write_csv(tmp_path / "v.csv", ["code", "lon", "lat", "category", "reported_at",
                                          "status", "estate_code", "grid_code"],
                     [["IN", repr(p.x), repr(p.y), "乱停车", "2016-01-01", "open", "MH-XZ-001",
                       "FAKE"],
                      ["OUT", "121.55", "31.22", "乱停车", "2016-01-01", "open", "MH-XZ-001",
                       "FAKE"]])
    import_ok(cli, base_db, "violations", path)
    got = by_key(base_db, "violations")
    assert got["IN"]["estate_code"] == "MH-QB-002"
    assert got["OUT"]["estate_code"] is None
    assert got["IN"]["grid_code"] == grid_cell_of(p.x, p.y)
    assert got["OUT"]["grid_code"] == grid_cell_of(121.55, 31.22)


def test_negative_count_is_rejected_by_name(cli, base_db, tmp_path):
    a, g = good_estate(1)
    path = write_geojson(tmp_path / "neg.geojson", [good_estate(2), ({**a, "households": -5}, g)])
    _reject_case(cli, base_db, tmp_path, "estates", path, feature=2, key="OK-1",
                 reason="households")


def test_concurrent_imports_all_succeed(bin_path, base_db, tmp_path):
    """Imports from several processes at once queue on the write lock (WAL, busy
    timeout) instead of failing with 'database is locked'."""
    import subprocess
    procs = []
    for k in range(4):
        feats = many_estates(150, prefix=f"K{k}-")
        path = write_geojson(tmp_path / f"k{k}.geojson", feats)
        procs.append(subprocess.Popen([str(bin_path), "import", "estates", str(path), "--db",
                                       str(base_db), "-q"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    for rc, err in results:
        assert rc == 0, err
    assert table_count(base_db, "estates") == 600


def schema_of(db_path):
    """Every index and trigger definition, and every table's SQL, by name."""
    return {(t, n): sql for t, n, sql in
            query(db_path, "SELECT type, name, sql FROM sqlite_master "
                           "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")}


def test_imports_leave_the_schema_as_init_made_it(cli, db, tmp_path):
    """An import may drop indexes and triggers to load faster, but every index, trigger
    (SpatiaLite's geometry checks, the spatial index upkeep, layer_versions bumps) and
    table must be back afterwards, whether the import succeeded, appended or failed."""
    initial = schema_of(db)
    assert any(t == "trigger" and n.startswith("ggi_estates") for t, n in initial)
    assert ("index", "estates_town") in initial
    towns = write_geojson(tmp_path / "t.geojson",
                          [({"code": TOWN_CODE, "name": "镇"}, box_wkt(*TOWN_BOX))])
    import_ok(cli, db, "towns", towns)
    assert schema_of(db) == initial
    import_ok(cli, db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    assert schema_of(db) == initial
    import_ok(cli, db, "estates", write_geojson(tmp_path / "e2.geojson", many_estates(5)))
    assert schema_of(db) == initial
    import_ok(cli, db, "violations", write_geojson(tmp_path / "v.geojson", VIOLATIONS))
    assert schema_of(db) == initial
    import_ok(cli, db, "estates", write_geojson(tmp_path / "e3.geojson", many_estates(3, "R")),
              "--replace")
    assert schema_of(db) == initial
    bad = write_geojson(tmp_path / "bad.geojson",
                        many_estates(3, "B", bad_last=({"code": "FLAT", "name": "扁"}, COLLINEAR)))
    import_fails(cli, db, "estates", bad)
    assert schema_of(db) == initial


def test_geometry_type_triggers_still_guard_the_layer_after_an_import(cli, base_db, tmp_path):
    """After an import, SpatiaLite's triggers still refuse a geometry of the wrong type or
    SRID written by any other client."""
    import_ok(cli, base_db, "estates", write_geojson(tmp_path / "e.geojson", ESTATES))
    con = spatialite_connect(base_db)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            con.execute("INSERT INTO estates(code, name, geom) VALUES ('PT', 'p', "
                        "GeomFromText('POINT(121.4 31.1)', 4326))")
        with pytest.raises(sqlite3.DatabaseError):
            con.execute("INSERT INTO estates(code, name, geom) VALUES ('SRID', 's', "
                        "CastToMultiPolygon(GeomFromText(?, 3857)))",
                        (blob_polygon(121.4, 31.1),))
    finally:
        con.close()
    assert table_count(base_db, "estates") == len(ESTATES)
