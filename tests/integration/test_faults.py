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
