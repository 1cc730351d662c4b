"""`estatemap export` (issue 6, the command line): every format read back with GDAL,
shapefiles with pyshp too, against the database the demo builds.

What the bureau must never get, and what these tests look for: Chinese text as '?'
(wrong or missing .cpg), field names truncated into clashes (DBF's 10 bytes), a
missing or wrong .prj. Geometry must survive projecting to the CRS and back (pyproj)
within 1 cm; a failing export must leave nothing at -o.
"""

import csv
import io
import math
import sqlite3
import xml.etree.ElementTree as ET
import zipfile

import pytest
import shapefile  # pyshp
from osgeo import gdal, ogr, osr
from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.geometry import shape as shapely_shape
from shapely.ops import transform as shapely_transform

from conftest import (as_multi, import_estate_gbk_cannot_hold, init_db, query, rows, run_cli,
                      same_geometry, scalar)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

CM = 0.01  # metres


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo_db(bin_path, tmp_path_factory):
    """The demo database, built once for the module (a few seconds)."""
    path = tmp_path_factory.mktemp("export_demo") / "demo.sqlite"
    r = run_cli(bin_path, "demo", "--db", path, "--quiet", timeout=300)
    assert r.rc == 0, r
    return path


@pytest.fixture(scope="module")
def db_estates(demo_db):
    return {r["code"]: r for r in rows(demo_db, "estates")}


@pytest.fixture
def export(bin_path, demo_db, tmp_path):
    """export(*args, env=None) runs `estatemap export ... --db demo`."""

    def _run(*args, env=None, db=None):
        return run_cli(bin_path, "export", *args, "--db", db or demo_db, env=env)

    return _run


# ---------------------------------------------------------------- helpers


def dbf_header(data):
    """(fields, ldid) of a DBF: fields are (raw name bytes, type, width, decimals)."""
    header_len = int.from_bytes(data[8:10], "little")
    fields = []
    for off in range(32, header_len - 1, 32):
        if data[off] == 0x0D:
            break
        raw = data[off:off + 11].split(b"\0", 1)[0]
        fields.append((raw, chr(data[off + 11]), data[off + 16], data[off + 17]))
    return fields, data[29]


def zip_members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def shapefiles_in(members):
    return sorted(n[:-4] for n in members if n.endswith(".dbf"))


def open_vsizip(path, base):
    return gdal.OpenEx(f"/vsizip/{path}/{base}.shp", gdal.OF_VECTOR)


def features(ds, layer=0):
    lyr = ds.GetLayer(layer) if isinstance(layer, int) else ds.GetLayerByName(layer)
    return [f for f in lyr]


def epsg_of_prj(text):
    """The EPSG code GDAL identifies an ESRI .prj as (AutoIdentifyEPSG, else the best
    FindMatches candidate at 100% confidence)."""
    srs = osr.SpatialReference()
    srs.SetFromUserInput(text)
    try:
        srs.AutoIdentifyEPSG()
        code = srs.GetAuthorityCode(None)
        if code:
            return int(code)
    except RuntimeError:
        pass
    matches = [(m.GetAuthorityCode(None), conf) for m, conf in srs.FindMatches()]
    best = [code for code, conf in matches if conf == 100 and code]
    return int(best[0]) if best else None


def metres_apart(a, b):
    """Largest distance in metres between matching vertices of two lon/lat geometries
    (after normalising ring order and start); inf when their shapes differ."""
    ca, cb = coords(a.normalize()), coords(b.normalize())
    if len(ca) != len(cb):
        return math.inf
    worst = 0.0
    for (x1, y1), (x2, y2) in zip(ca, cb):
        dy = (y1 - y2) * 111320.0
        dx = (x1 - x2) * 111320.0 * math.cos(math.radians(y1))
        worst = max(worst, math.hypot(dx, dy))
    return worst


def coords(g):
    if g.is_empty:
        return []
    if hasattr(g, "geoms"):
        return [c for part in g.geoms for c in coords(part)]
    if g.geom_type == "Polygon":
        out = [c[:2] for c in g.exterior.coords]
        for ring in g.interiors:
            out += [c[:2] for c in ring.coords]
        return out
    return [c[:2] for c in g.coords]


_transformers = {}


def back_to_lonlat(geom, epsg):
    if epsg in (4326, 4490):
        return geom
    if epsg not in _transformers:
        _transformers[epsg] = Transformer.from_crs(epsg, 4326, always_xy=True)
    return shapely_transform(_transformers[epsg].transform, geom)


def ogr_shape(feature):
    g = feature.GetGeometryRef()
    return shapely_wkt.loads(g.ExportToIsoWkt()) if g is not None else None


# ---------------------------------------------------------------- shapefile


@pytest.mark.parametrize("epsg", [4326, 4490, 4549, 3857])
def test_shapefile_estates_round_trip(export, demo_db, db_estates, tmp_path, epsg):
    out = tmp_path / f"estates_{epsg}.zip"
    r = export("estates", "--format", "shp", "--crs", f"EPSG:{epsg}", "-o", out)
    assert r.rc == 0, r
    members = zip_members(out)
    assert shapefiles_in(members) == ["estates"]
    for ext in ["shp", "shx", "dbf", "prj", "cpg", "qml"]:
        assert f"estates.{ext}" in members, ext
    assert "fields.csv" in members
    assert members["estates.cpg"].decode().strip() == "UTF-8"
    assert epsg_of_prj(members["estates.prj"].decode()) == epsg
    # ESRI WKT: PROJCS/GEOGCS with ESRI names, not WKT2
    assert members["estates.prj"].startswith((b"GEOGCS[", b"PROJCS["))

    ds = open_vsizip(out, "estates")
    feats = features(ds)
    assert len(feats) == len(db_estates)
    defn = ds.GetLayer(0).GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    assert {"CODE", "NAME", "BUILT_YR", "TIER", "FEE_RATE", "ELEV_VALID"} <= set(names)
    worst = 0.0
    for f in feats:
        src = db_estates[f["CODE"]]
        assert f["NAME"] == src["name"]
        assert (f["ADDRESS"] or None) == src["address"]
        assert (f["PROPERTY"] or None) == src["property_company"]
        assert (f["TIER"] or None) == src["tier"]
        assert f["BUILT_YR"] == src["built_year"]
        assert f["HOUSEHOLDS"] == src["households"]
        if src["fee_collection_rate"] is not None:
            assert f["FEE_RATE"] == pytest.approx(src["fee_collection_rate"], abs=5e-5)
        if src["elevator_valid_until"]:
            assert f["ELEV_VALID"].replace("/", "-") == src["elevator_valid_until"]
        back = back_to_lonlat(ogr_shape(f), epsg)
        worst = max(worst, metres_apart(as_multi(back), as_multi(src["geom"])))
    assert worst <= CM, f"geometry moved {worst:.4f} m through EPSG:{epsg}"


def test_shapefile_dbf_fields_are_typed_short_and_unique(export, demo_db, tmp_path):
    out = tmp_path / "estates.zip"
    assert export("estates", "--format", "shp", "-o", out).rc == 0
    members = zip_members(out)
    fields, ldid = dbf_header(members["estates.dbf"])
    by_name = {raw.decode("ascii"): (t, w, d) for raw, t, w, d in fields}
    assert len(by_name) == len(fields)  # unique
    assert all(len(raw) <= 10 for raw, *_ in fields)
    assert len({n.upper() for n in by_name}) == len(by_name)  # unique ignoring case
    # dates are DBF dates; numbers have width and decimals
    assert by_name["ELEV_VALID"][0] == "D" and by_name["PLAN_DATE"][0] == "D"
    assert by_name["BUILT_YR"] == ("N", 4, 0)
    assert by_name["FEE_RATE"][0] == "N" and by_name["FEE_RATE"][2] == 4
    assert by_name["FLOOR_AREA"][0] == "N" and by_name["FLOOR_AREA"][2] == 2
    assert by_name["COFUND"] == ("N", 1, 0)
    assert by_name["NAME"][0] == "C"
    # every name is in fields.csv with its column and a description
    text = members["fields.csv"].decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    listed = {r["field"]: r for r in table if r["file"] == "estates.dbf"}
    assert set(listed) == set(by_name)
    for name, r in listed.items():
        assert r["column"] and r["description"] and r["name_zh"], r
    assert listed["BUILT_YR"]["column"] == "built_year"
    assert listed["FEE_RATE"]["column"] == "fee_collection_rate"


def test_shapefile_pyshp_reads_the_same(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "estates.zip"
    assert export("estates", "--format", "shp", "-o", out).rc == 0
    m = zip_members(out)
    sf = shapefile.Reader(shp=io.BytesIO(m["estates.shp"]), shx=io.BytesIO(m["estates.shx"]),
                          dbf=io.BytesIO(m["estates.dbf"]), encoding="utf-8")
    assert len(sf) == len(db_estates)
    assert sf.shapeType == shapefile.POLYGON
    for rec in sf.iterRecords(fields=["CODE", "NAME", "ADDRESS"]):
        src = db_estates[rec["CODE"]]
        assert rec["NAME"] == src["name"]
        assert (rec["ADDRESS"] or None) == src["address"]


def test_shapefile_gbk_is_really_gbk(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "estates_gbk.zip"
    r = export("estates", "--format", "shp", "--encoding", "GBK", "--crs", "EPSG:4490",
               "-o", out)
    assert r.rc == 0, r
    m = zip_members(out)
    assert m["estates.cpg"].decode().strip() == "936"
    fields, ldid = dbf_header(m["estates.dbf"])
    assert ldid == 0x4D  # language driver: code page 936
    assert epsg_of_prj(m["estates.prj"].decode()) == 4490
    # pyshp, told GBK, reads the names; told UTF-8 it cannot
    sf = shapefile.Reader(shp=io.BytesIO(m["estates.shp"]), shx=io.BytesIO(m["estates.shx"]),
                          dbf=io.BytesIO(m["estates.dbf"]), encoding="gbk")
    chinese = 0
    for rec in sf.iterRecords(fields=["CODE", "NAME"]):
        assert rec["NAME"] == db_estates[rec["CODE"]]["name"]
        chinese += any(ord(c) > 0x2E80 for c in rec["NAME"])
    assert chinese > 100
    raw = m["estates.dbf"]
    sample = db_estates[next(iter(db_estates))]["name"]
    assert sample.encode("gbk") in raw
    assert sample.encode("utf-8") not in raw
    with pytest.raises(UnicodeDecodeError):
        raw[len(raw) // 2:].decode("utf-8")
    # GDAL reads the .cpg and decodes the same text
    ds = open_vsizip(out, "estates")
    for f in features(ds):
        assert f["NAME"] == db_estates[f["CODE"]]["name"]


@pytest.mark.parametrize("encoding,budget", [("UTF-8", "utf-8"), ("GBK", "gbk")])
def test_shapefile_chinese_field_names_fit(export, demo_db, tmp_path, encoding, budget):
    out = tmp_path / "zh.zip"
    r = export("estates,violations", "--format", "shp", "--lang", "zh", "--encoding",
               encoding, "-o", out)
    assert r.rc == 0, r
    m = zip_members(out)
    table = list(csv.DictReader(io.StringIO(m["fields.csv"].decode("utf-8-sig"))))
    for base in ["estates", "violations"]:
        fields, _ = dbf_header(m[f"{base}.dbf"])
        names = [raw.decode(budget) for raw, *_ in fields]
        assert all(len(raw) <= 10 for raw, *_ in fields)
        assert len(set(names)) == len(names), names
        assert sum(any(ord(c) > 0x2E80 for c in n) for n in names) >= len(names) - 1
        listed = [r["field"] for r in table if r["file"] == f"{base}.dbf"]
        assert listed == names
        # GDAL, reading the .cpg, gives the same names
        ds = open_vsizip(out, base)
        defn = ds.GetLayer(0).GetLayerDefn()
        assert [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())] == names
    if encoding == "GBK":
        assert "建成年份" in [r["field"] for r in table]
    else:
        assert "建成年" in [r["field"] for r in table]


def test_shapefile_points_lines_and_polygons_apart(export, demo_db, tmp_path):
    out = tmp_path / "all.zip"
    r = export("violations,corridors,zones", "--format", "shp", "-o", out)
    assert r.rc == 0, r
    m = zip_members(out)
    bases = shapefiles_in(m)
    assert "violations" in bases and "zones" in bases
    assert "corridors_lines" in bases and "corridors_polygons" in bases
    for base in bases:
        for ext in ["shp", "shx", "dbf", "prj", "cpg", "qml"]:
            assert f"{base}.{ext}" in m
    kinds = {}
    for base in bases:
        sf = shapefile.Reader(shp=io.BytesIO(m[f"{base}.shp"]), shx=io.BytesIO(m[f"{base}.shx"]),
                              dbf=io.BytesIO(m[f"{base}.dbf"]), encoding="utf-8")
        kinds[base] = (sf.shapeType, len(sf))
    assert kinds["violations"] == (shapefile.POINT, scalar(demo_db, "SELECT count(*) FROM violations"))
    assert kinds["corridors_lines"][0] == shapefile.POLYLINE
    assert kinds["corridors_polygons"][0] == shapefile.POLYGON
    assert kinds["corridors_lines"][1] + kinds["corridors_polygons"][1] == \
        scalar(demo_db, "SELECT count(*) FROM corridors")
    # violations: text identical, time as text, points exact
    db_v = {r["code"]: r for r in rows(demo_db, "violations")}
    ds = open_vsizip(out, "violations")
    for f in features(ds):
        src = db_v[f["CODE"]]
        assert f["CATEGORY"] == src["category"]
        assert (f["DESC"] or None) == src["description"]
        assert f["REPORTED"] == src["reported_at"].replace("T", " ")
        assert metres_apart(ogr_shape(f), src["geom"]) <= CM


def test_shapefile_splits_before_the_size_limit(export, demo_db, db_estates, tmp_path):
    limit = 150_000
    out = tmp_path / "split.zip"
    r = export("estates", "--format", "shp", "-o", out,
               env={"ESTATEMAP_SHP_PART_BYTES": str(limit)})
    assert r.rc == 0, r
    m = zip_members(out)
    bases = shapefiles_in(m)
    assert bases[0] == "estates" and len(bases) >= 3, bases
    assert all(b == "estates" or b.startswith("estates_part") for b in bases)
    total = 0
    codes = set()
    for base in bases:
        for ext in ["shp", "shx", "dbf", "prj", "cpg", "qml"]:
            assert f"{base}.{ext}" in m, (base, ext)
        assert len(m[f"{base}.shp"]) <= limit and len(m[f"{base}.dbf"]) <= limit
        ds = open_vsizip(out, base)
        for f in features(ds):
            codes.add(f["CODE"])
            total += 1
    assert total == len(db_estates) and codes == set(db_estates)
    # parts are full: each but the last closed only because the next record would not fit
    # (the sizes are counted exactly, not estimated)
    for base, following in zip(bases, bases[1:]):
        shx = m[f"{following}.shx"]
        next_shp = 8 + 2 * int.from_bytes(shx[104:108], "big")
        reclen = int.from_bytes(m[f"{base}.dbf"][10:12], "little")
        assert (len(m[f"{base}.shp"]) + next_shp > limit or
                len(m[f"{base}.dbf"]) + reclen > limit), base


def test_shapefile_qml_styles_the_exported_fields(export, demo_db, tmp_path):
    out = tmp_path / "estates.zip"
    assert export("estates", "--format", "shp", "--lang", "zh", "-o", out).rc == 0
    qml = ET.fromstring(zip_members(out)["estates.qml"].decode("utf-8").split("\n", 1)[1])
    assert qml.tag == "qgis"
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == "版本"  # tier, in 3 characters of UTF-8
    values = [c.get("value") for c in renderer.find("categories")]
    assert {"示范版", "提升版", "基础版"} <= set(values)
    aliases = {a.get("field"): a.get("name") for a in qml.find("aliases")}
    assert aliases["版本"] == "创建版本"
    symbols = renderer.find("symbols")
    assert len(symbols) == len(values)


# ---------------------------------------------------------------- GeoPackage


def test_geopackage_holds_every_layer_and_the_styles(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "minhang.gpkg"
    r = export("estates,violations,corridors", "--crs", "EPSG:4549", "-o", out)
    assert r.rc == 0, r
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    counts = {ds.GetLayer(i).GetName(): ds.GetLayer(i).GetFeatureCount()
              for i in range(ds.GetLayerCount())}
    for layer in ["estates", "violations", "corridors"]:
        assert counts[layer] == scalar(demo_db, f"SELECT count(*) FROM {layer}")
    lyr = ds.GetLayerByName("estates")
    assert epsg_of_prj(lyr.GetSpatialRef().ExportToWkt()) == 4549
    worst = 0.0
    for f in lyr:
        src = db_estates[f["code"]]
        assert f["name"] == src["name"] and (f["address"] or None) == src["address"]
        assert f["built_year"] == src["built_year"]
        worst = max(worst, metres_apart(as_multi(back_to_lonlat(ogr_shape(f), 4549)),
                                        as_multi(src["geom"])))
    assert worst <= CM
    # QGIS's layer_styles: one default per layer, QML naming real fields
    con = sqlite3.connect(out)
    styles = con.execute("SELECT f_table_name, f_geometry_column, styleName, styleQML, "
                         "useAsDefault, owner FROM layer_styles").fetchall()
    columns = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
    con.close()
    assert columns[1:] == ["f_table_catalog", "f_table_schema", "f_table_name",
                           "f_geometry_column", "styleName", "styleQML", "styleSLD",
                           "useAsDefault", "description", "owner", "ui", "update_time"]
    for layer in ["estates", "violations", "corridors"]:
        mine = [s for s in styles if s[0] == layer]
        assert sum(s[4] for s in mine) == 1, mine
        for _, geom_col, name, qml, _, owner in mine:
            assert geom_col == "geom" and owner == "estatemap"
            root = ET.fromstring(qml.split("\n", 1)[1])
            attr = root.find("renderer-v2").get("attr")
            assert attr is None or ds.GetLayerByName(layer).GetLayerDefn().GetFieldIndex(attr) >= 0
    assert {"tier", "built_era"} <= {s[2] for s in styles if s[0] == "estates"}


def test_geopackage_chinese_column_names(export, demo_db, tmp_path):
    out = tmp_path / "zh.gpkg"
    assert export("estates", "--lang", "zh", "-o", out).rc == 0
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    defn = ds.GetLayerByName("estates").GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    assert {"小区编码", "小区名称", "建成年份", "创建版本", "物业费收缴率"} <= set(names)
    assert defn.GetFieldDefn(defn.GetFieldIndex("电梯年检有效期")).GetType() == ogr.OFTDate


# ---------------------------------------------------------------- GeoJSON, CSV, KML, XLSX


def test_geojson(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "estates.geojson"
    assert export("estates", "-o", out).rc == 0
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    lyr = ds.GetLayer(0)
    assert lyr.GetFeatureCount() == len(db_estates)
    for f in lyr:
        src = db_estates[f["code"]]
        assert f["name"] == src["name"]
        assert metres_apart(as_multi(ogr_shape(f)), as_multi(src["geom"])) <= CM


def test_csv_points_have_lon_lat_and_a_bom(export, demo_db, tmp_path):
    out = tmp_path / "violations.csv"
    assert export("violations", "-o", out).rc == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    db_v = {r["code"]: r for r in rows(demo_db, "violations")}
    n = 0
    for rec in reader:
        src = db_v[rec["code"]]
        assert rec["category"] == src["category"]
        assert (rec["description"] or None) == src["description"]
        assert rec["reported_at"] == src["reported_at"].replace("T", " ")
        assert abs(float(rec["lon"]) - src["geom"].x) < 1e-9
        assert abs(float(rec["lat"]) - src["geom"].y) < 1e-9
        n += 1
    assert n == len(db_v)
    assert reader.fieldnames[-2:] == ["lon", "lat"]
    # GDAL reads it as points too
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR,
                     open_options=["X_POSSIBLE_NAMES=lon", "Y_POSSIBLE_NAMES=lat"])
    assert ds.GetLayer(0).GetFeatureCount() == n


def test_csv_polygons_have_wkt_in_a_projected_crs(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "estates.csv"
    assert export("estates", "--crs", "EPSG:4549", "--lang", "zh", "-o", out).rc == 0
    reader = csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline=""))
    n = 0
    worst = 0.0
    for rec in reader:
        src = db_estates[rec["小区编码"]]
        assert rec["小区名称"] == src["name"]
        g = back_to_lonlat(shapely_wkt.loads(rec["WKT"]), 4549)
        worst = max(worst, metres_apart(as_multi(g), as_multi(src["geom"])))
        n += 1
    assert n == len(db_estates) and worst <= CM


def test_kml(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "estates.kml"
    assert export("estates", "-o", out).rc == 0
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    feats = features(ds)
    assert len(feats) == len(db_estates)
    for f in feats:
        src = db_estates[f["code"]]
        assert f["Name"] == src["name"]
        assert metres_apart(as_multi(ogr_shape(f)), as_multi(src["geom"])) <= CM
    # placemarks are coloured as styles/estates.json colours tiers (示范版 #d7301f)
    text = out.read_text(encoding="utf-8")
    assert text.count("<color>FF1F30D7</color>") == \
        scalar(demo_db, "SELECT count(*) FROM estates WHERE tier = '示范版'")


def test_xlsx_sheets_with_wkt(export, demo_db, db_estates, tmp_path):
    out = tmp_path / "minhang.xlsx"
    assert export("estates,violations", "-o", out).rc == 0
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    lyr = ds.GetLayerByName("estates")
    assert lyr.GetFeatureCount() == len(db_estates)
    for f in lyr:
        src = db_estates[f["code"]]
        assert f["name"] == src["name"]
        assert metres_apart(as_multi(shapely_wkt.loads(f["WKT"])), as_multi(src["geom"])) <= CM
    assert ds.GetLayerByName("violations").GetFeatureCount() == \
        scalar(demo_db, "SELECT count(*) FROM violations")


# ---------------------------------------------------------------- filters


def test_filters(export, demo_db, tmp_path):
    def count(*args):
        out = tmp_path / "f.geojson"
        r = export(*args, "-o", out)
        assert r.rc == 0, r
        ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
        return ds.GetLayer(0).GetFeatureCount()

    town = scalar(demo_db, "SELECT code FROM towns ORDER BY code LIMIT 1")
    name = scalar(demo_db, "SELECT name FROM towns WHERE code = ?", (town,))
    assert count("estates", "--town", town) == \
        scalar(demo_db, "SELECT count(*) FROM estates WHERE town_code = ?", (town,)) > 0
    assert count("estates", "--town", name) == count("estates", "--town", town)
    assert count("estates", "--tier", "示范版") == \
        scalar(demo_db, "SELECT count(*) FROM estates WHERE tier = '示范版'") > 0
    assert count("estates", "--tier", "upgrade", "--built-before", "2000") == \
        scalar(demo_db, "SELECT count(*) FROM estates WHERE tier = '提升版' AND built_year < 2000")
    # violations by location in the town
    from shapely.geometry import box
    town_geom = rows(demo_db, "towns", where=f"WHERE code = '{town}'")[0]["geom"]
    v = rows(demo_db, "violations", columns="id, geom")
    assert count("violations", "--town", town) == sum(town_geom.intersects(r["geom"]) for r in v)
    bbox = (121.35, 31.05, 121.40, 31.10)
    assert count("violations", "--bbox", ",".join(map(str, bbox))) == \
        sum(box(*bbox).intersects(r["geom"]) for r in v) > 0


# ---------------------------------------------------------------- analyses


def analysis_geojson(bin_path, demo_db, name, *args):
    import json
    r = run_cli(bin_path, "analyze", name, *args, "--db", demo_db, "--format", "geojson")
    assert r.rc == 0, r
    return json.loads(r.out)


@pytest.mark.parametrize("fmt", ["shp", "gpkg"])
def test_corridor_analysis_round_trips(export, bin_path, demo_db, tmp_path, fmt):
    expected = analysis_geojson(bin_path, demo_db, "corridors", "--buffer", "railway=50")
    want = {f["properties"]["code"]: f for f in expected["features"]}
    assert want
    out = tmp_path / f"along.{'zip' if fmt == 'shp' else 'gpkg'}"
    r = export("analysis:corridors", "--buffer", "railway=50", "--format", fmt, "--crs",
               "EPSG:4549", "-o", out)
    assert r.rc == 0, r
    if fmt == "shp":
        m = zip_members(out)
        assert shapefiles_in(m) == ["corridors_analysis"]
        ds = open_vsizip(out, "corridors_analysis")
        key, name, dist, along = "CODE", "NAME", "RAIL_DIST", "RAIL_ALONG"
    else:
        ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
        key, name, dist, along = "code", "name", "railway_dist_m", "railway_along"
    feats = features(ds, "corridors_analysis")
    assert len(feats) == len(want)
    for f in feats:
        src = want[f[key]]
        p = src["properties"]
        assert f[name] == p["name"]
        if p["railway_dist_m"] is None:
            assert f[dist] is None
        else:
            assert f[dist] == pytest.approx(p["railway_dist_m"], abs=1e-6)
        assert bool(f[along]) == p["railway_along"]
        g = back_to_lonlat(ogr_shape(f), 4549)
        assert metres_apart(as_multi(g), as_multi(shapely_shape(src["geometry"]))) <= CM


def test_analysis_without_geometry_to_csv_and_xlsx(export, bin_path, demo_db, tmp_path):
    r = run_cli(bin_path, "analyze", "progress", "--db", demo_db, "--format", "csv")
    assert r.rc == 0, r
    expected = list(csv.DictReader(io.StringIO(r.out)))
    out = tmp_path / "progress.xlsx"
    r = export("progress", "-o", out)
    assert r.rc == 0, r
    ds = gdal.OpenEx(str(out), gdal.OF_VECTOR)
    got = [f for f in ds.GetLayer(0)]
    assert len(got) == len(expected)
    assert [f["milestone"] for f in got] == [e["milestone"] for e in expected]
    assert [f["description_zh"] for f in got] == [e["description_zh"] for e in expected]
    r = export("progress", "--format", "kml", "-o", tmp_path / "p.kml")
    assert r.rc == 2 and "geometry" in r.err


def test_other_analyses_export(export, bin_path, demo_db, tmp_path):
    for name in ["eligibility", "density", "hotspots"]:
        expected = analysis_geojson(bin_path, demo_db, name)
        out = tmp_path / f"{name}.zip"
        r = export(name, "--lang", "zh", "-o", out)
        assert r.rc == 0, r
        m = zip_members(out)
        total = 0
        for base in shapefiles_in(m):
            fields, _ = dbf_header(m[f"{base}.dbf"])
            names = [raw.decode("utf-8") for raw, *_ in fields]
            assert len(set(names)) == len(names) and all(len(r) <= 10 for r, *_ in fields)
            total += len(features(open_vsizip(out, base)))
        assert total == len(expected["features"]), name


# ---------------------------------------------------------------- exports import again

# In import order: estates take their town from towns, violations their estate and
# grid cell, so the derived columns can be compared too.
REIMPORT = [("towns", "towns", "code"), ("grid", "grid", "code"),
            ("estates", "estates", "code"), ("violations", "violations", "code"),
            ("renovation", "estate_renovation", "estate_code, item_id")]


@pytest.mark.parametrize("lang,encoding", [("en", "UTF-8"), ("zh", "UTF-8"), ("en", "GBK"),
                                           ("zh", "GBK")])
def test_shapefile_exports_import_again(export, bin_path, demo_db, tmp_path, lang, encoding):
    """Every short name (English; Chinese in 10 bytes of UTF-8 or GBK) imports as its
    column: the rows come back whole -- codes, names, numbers, dates, derived links --
    with nothing left over in `extra`."""
    out = tmp_path / "all.zip"
    r = export(",".join(layer for layer, _, _ in REIMPORT), "--format", "shp", "--lang", lang,
               "--encoding", encoding, "-o", out)
    assert r.rc == 0, r
    db = init_db(bin_path, tmp_path / "again.sqlite")
    for layer, _, _ in REIMPORT:
        r = run_cli(bin_path, "import", layer, out, "--db", db)
        assert r.rc == 0, r
        assert "rejected 0" in r.out, r
    for layer, table, order in REIMPORT:
        cols = [c for (c,) in query(demo_db, f"SELECT name FROM pragma_table_info('{table}')")
                if c not in ("id", "geom")]
        before = rows(demo_db, table, ", ".join(f'"{c}"' for c in cols), order=order)
        after = rows(db, table, ", ".join(f'"{c}"' for c in cols), order=order)
        assert len(after) == len(before) > 0, layer
        for a, b in zip(before, after):
            assert a == b, (layer, {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    for layer in ["estates", "violations"]:
        before = rows(demo_db, layer, "code, geom", order="code")
        after = rows(db, layer, "code, geom", order="code")
        for a, b in zip(before, after):
            assert a["code"] == b["code"]
            assert same_geometry(as_multi(a["geom"]), as_multi(b["geom"])), a["code"]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("args,option", [
    (["estates", "--format", "dwg"], "--format"),
    (["estates", "--format", "shp", "--crs", "EPSG:abc"], "--crs"),
    (["estates", "--format", "shp", "--crs", "EPSG:999999"], "--crs"),
    (["estates", "--format", "shp", "--encoding", "latin1"], "--encoding"),
    (["estates", "--format", "shp", "--lang", "fr"], "--lang"),
    (["estates", "--format", "gpkg", "--encoding", "GBK"], "--encoding"),
    (["estates", "--format", "kml", "--crs", "EPSG:4549"], "--crs"),
    (["estates", "--format", "shp", "--town", "310112999"], "--town"),
    (["estates", "--format", "shp", "--tier", "金牌版"], "--tier"),
    (["estates", "--format", "shp", "--built-before", "soon"], "--built-before"),
    (["estates", "--format", "shp", "--bbox", "121,31,120"], "--bbox"),
    (["violations", "--format", "shp", "--tier", "示范版"], "--tier"),
    (["corridors", "--format", "shp", "--buffer", "railway=50"], "analysis:corridors"),
    (["estates,violations", "--format", "geojson"], "--format"),
    (["nowhere", "--format", "shp"], "nowhere"),
    (["estates"], "--format"),
])
def test_bad_options_exit_2_naming_the_option(export, tmp_path, args, option):
    out = tmp_path / "out.bin"
    r = export(*args, "-o", out)
    assert r.rc == 2, r
    assert option in r.err, r
    assert not out.exists()
    assert not list(tmp_path.glob(".estatemap-export-*"))


def test_help(cli):
    r = cli("export", "--help")
    assert r.rc == 0 and r.out.startswith("usage: estatemap export")
    for word in ["--format", "--crs", "--encoding", "--lang", "--town", "--tier",
                 "--built-before", "--bbox", "-o", "analysis:corridors", "EPSG:4549", "GBK"]:
        assert word in r.out, word


# ---------------------------------------------------------------- failures leave nothing


def test_failed_export_leaves_no_file(bin_path, new_db, tmp_path):
    db = new_db()
    import_estate_gbk_cannot_hold(bin_path, db, tmp_path)
    out = tmp_path / "estates.zip"
    r = run_cli(bin_path, "export", "estates", "--format", "shp", "--encoding", "GBK",
                "--db", db, "-o", out)
    assert r.rc == 1, r
    assert "GBK" in r.err and "E2" in r.err
    assert not out.exists()
    # an existing file is left as it was
    out.write_bytes(b"previous")
    r = run_cli(bin_path, "export", "estates", "--format", "shp", "--encoding", "GBK",
                "--db", db, "-o", out)
    assert r.rc == 1 and out.read_bytes() == b"previous"
    assert not list(tmp_path.glob(".estatemap-export-*"))
    # UTF-8 holds it
    r = run_cli(bin_path, "export", "estates", "--format", "shp", "--db", db, "-o", out)
    assert r.rc == 0, r
    ds = open_vsizip(out, "estates")
    assert sorted(f["NAME"] for f in features(ds)) == sorted(["碧江花园", "𠀀家园"])
