"""QGIS as a client of /ogc (issue 4, section 2: "the landing page passes QGIS's
checks"): Debian's python3-qgis, headless (QT_QPA_PLATFORM=offscreen, a
QgsApplication without GUI), loads the six layers with its `oapif` provider -- the
one behind QGIS's "WFS / OGC API - Features" connection, which reads the landing
page, the OpenAPI document and each collection before it accepts a layer -- from the
real server on the demo database.

QGIS runs in a process of its own (qgis_client.py). What it saw is checked against
the database file (read with sqlite3 and decoded here) and against shapely: layers
valid, feature counts, Chinese text unchanged, a bbox request answered with the
features that meet the box, and no request of QGIS refused by the server.
"""

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import box

from conftest import RunningServer, query, scalar, spatialite_blob_to_shape

CLIENT = Path(__file__).with_name("qgis_client.py")
LAYERS = ["towns", "estates", "grid", "violations", "corridors", "zones"]
# QGIS reads about 1000 features a second on its side: these two it only counts
COUNT_ONLY = ["grid", "violations"]
BOX = (121.38, 31.10, 121.42, 31.14)  # 莘庄 and around: estates and violations


def have_qgis():
    r = subprocess.run([sys.executable, "-c", "import qgis.core"], capture_output=True)
    return r.returncode == 0


pytestmark = pytest.mark.skipif(not have_qgis(),
                                reason="needs Debian's python3-qgis (scripts/setup --test)")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("qgis")


@pytest.fixture(scope="module")
def seen(bin_path, demo_db, work):
    """What QGIS made of the server, and the server's access log of it."""
    server = RunningServer(bin_path, demo_db, work)
    try:
        args = [sys.executable, str(CLIENT), server.url("/ogc")]
        for name in LAYERS:
            args += ["--count-only", name] if name in COUNT_ONLY else [name]
        for name in ["estates", "violations"]:
            args += ["--bbox", name, ",".join(map(str, BOX))]
        p = subprocess.run(args, capture_output=True, text=True, timeout=900,
                           env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(work),
                                "XDG_RUNTIME_DIR": str(work), "LC_ALL": "C.UTF-8",
                                "PATH": "/usr/bin:/bin"})
        assert p.returncode == 0 and p.stdout, f"QGIS failed ({p.returncode}): {p.stderr}"
        doc = json.loads(p.stdout)
    finally:
        assert server.stop() == 0, server.stderr()
    doc["log"] = server.log_path.read_text("utf-8")
    return doc


def test_qgis_has_the_oapif_provider(seen):
    assert "oapif" in seen["providers"], seen["providers"]
    assert seen["qgis"].startswith("3.")


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_loads_as_a_valid_layer(seen, name):
    layer = seen["layers"][name]
    assert layer["valid"] and layer["error"] is None, layer
    assert layer["crs"] == "EPSG:4326"


@pytest.mark.parametrize("name", LAYERS)
def test_feature_counts_match_the_database(seen, demo_db, name):
    layer = seen["layers"][name]
    n = scalar(demo_db, f"SELECT count(*) FROM {name}")
    assert n > 0 and layer["feature_count"] == n
    if layer["read_all"]:
        assert len(layer["features"]) == n
        assert sum(layer["geometry_types"].values()) == n  # every one with its geometry


@pytest.mark.parametrize("name", LAYERS)
def test_the_layer_has_the_columns_and_the_extent(seen, demo_db, name):
    layer = seen["layers"][name]
    columns = [c for (_, c, *_) in query(demo_db, f"PRAGMA table_info({name})")
               if c not in ("id", "geom", "extra")]
    assert layer["fields"] == columns
    if layer["read_all"]:  # QGIS's extent is that of the features it read
        rows = query(demo_db, f"SELECT geom FROM {name}")
        bounds = [spatialite_blob_to_shape(b).bounds for (b,) in rows]
        want = (min(b[0] for b in bounds), min(b[1] for b in bounds),
                max(b[2] for b in bounds), max(b[3] for b in bounds))
        got = layer["extent"]
        assert all(abs(a - b) < 1e-6 for a, b in zip(got, want)), (got, want)


def test_chinese_text_is_intact(seen, demo_db):
    towns = {f["code"]: f["name"] for f in seen["layers"]["towns"]["features"]}
    assert towns == dict(query(demo_db, "SELECT code, name FROM towns"))
    assert "莘庄镇" in towns.values()
    columns = ["name", "address", "property_company", "housing_type", "tier"]
    estates = {f["code"]: [f[c] for c in columns] for f in seen["layers"]["estates"]["features"]}
    want = {code: list(rest) for code, *rest in
            query(demo_db, f"SELECT code, {', '.join(columns)} FROM estates")}
    assert estates == want
    assert all(re.search("[\u4e00-\u9fff]", row[0]) for row in estates.values())
    zones = sorted((f["kind"], f["name"]) for f in seen["layers"]["zones"]["features"])
    assert zones == sorted(query(demo_db, "SELECT kind, name FROM zones"))
    corridors = collections.Counter((f["type"], f["name"])
                                    for f in seen["layers"]["corridors"]["features"])
    assert corridors == collections.Counter(query(demo_db, "SELECT type, name FROM corridors"))


def test_a_polygon_among_lines_is_not_lost(seen, demo_db):
    """corridors holds MultiLineStrings and a MultiPolygon (a river drawn as an area):
    QGIS keeps every feature with its own geometry."""
    kinds = seen["layers"]["corridors"]["geometry_types"]
    want = collections.Counter(spatialite_blob_to_shape(b).geom_type
                               for (b,) in query(demo_db, "SELECT geom FROM corridors"))
    assert sum(kinds.values()) == sum(want.values())
    assert sum(n for k, n in kinds.items() if "Polygon" in k) == want["MultiPolygon"] > 0


@pytest.mark.parametrize("name", ["estates", "violations"])
def test_a_bbox_request(seen, demo_db, name):
    got = seen["bbox"][name]
    assert got["valid"]
    area = box(*BOX)
    rows = query(demo_db, f"SELECT code, geom FROM {name}")
    want = {code for code, blob in rows if spatialite_blob_to_shape(blob).intersects(area)}
    assert 10 < len(want) < len(rows) / 5
    assert sorted(got["codes"]) == sorted(want)
    if name == "estates":
        names = dict(query(demo_db, "SELECT code, name FROM estates"))
        assert got["names"] == [names[c] for c in got["codes"]]
    # the box went to the server: QGIS asked for it, and the server answered 200
    asked = [line for line in seen["log"].splitlines()
             if f"/ogc/collections/{name}/items?" in line and "bbox=" in line]
    assert asked and all('" 200 ' in line for line in asked), asked


def test_the_server_refused_nothing_qgis_asked(seen):
    requests = re.findall(r'"(GET|HEAD|POST) (\S+) HTTP/1\.[01]" (\d{3}) ', seen["log"])
    assert len(requests) > 20
    paths = {p.split("?")[0] for _, p, _ in requests}
    assert {"/ogc", "/ogc/api"} <= paths  # the landing page and the API document were read
    refused = [(m, p, s) for m, p, s in requests if not s.startswith("2")]
    assert refused == []
