"""The short forms of scripts/faults (issue 8, §5), for CI: 3 rounds of kill -9 during
a write load and 3 during an import, and the full-disk cases (when a tmpfs can be
mounted here: as root). The full forms (20 rounds each) are `scripts/faults`."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
import harness  # noqa: E402


@pytest.fixture(scope="module")
def demo_db(bin_path, tmp_path_factory):
    return harness.demo_database(bin_path, tmp_path_factory.mktemp("demo"))


def test_kill_during_writes(bin_path, demo_db, tmp_path):
    res = harness.run_write_kills(bin_path, tmp_path, rounds=3, writers=6, db_source=demo_db,
                                  seed=5)
    assert not res["problems"], "\n".join(res["problems"][:20])
    assert res["rounds_ok"] == 3 and res["writes_acknowledged"] > 0, res


def test_kill_during_import(bin_path, demo_db, tmp_path):
    res = harness.run_import_kills(bin_path, tmp_path, rounds=3, copies=1, db_source=demo_db,
                                   seed=5)
    assert not res["problems"], "\n".join(res["problems"][:20])
    assert res["rounds_ok"] == 3 and res["rolled_back"] + res["completed"] == 3, res


def test_full_disk(bin_path, demo_db, tmp_path):
    if not harness.SmallDisk.available(tmp_path):
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
    res = harness.run_full_disk(bin_path, tmp_path, db_source=demo_db)
    assert not res["problems"], "\n".join(res["problems"][:20])
    assert len(res["cases"]) == 11, res["cases"]


@pytest.mark.parametrize("fmt", ["xlsx", "kml", "geojson", "csv", "gpkg"])
def test_complete_exports_pass_the_read_back(bin_path, demo_db, tmp_path, fmt):
    """An export written through GDAL is read back, and its features counted, before it
    is published (what catches a file cut short by a full disk); a complete file must
    pass, whatever its columns: zones and corridors have only text ones, which GDAL's
    XLSX reader would otherwise take for a data row instead of the header."""
    for layer in ("zones", "corridors", "towns"):
        out = tmp_path / f"{layer}.{fmt}"
        rc, stdout, stderr = harness.run_cli(bin_path, "export", layer, "--db", demo_db,
                                             "--format", fmt, "-o", out)
        assert rc == 0 and out.is_file(), stderr
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".estatemap-export")]
