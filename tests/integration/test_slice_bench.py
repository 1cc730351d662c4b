"""estatemap-slice-bench (tools/slice_bench.c), which scripts/bench's slice rows time,
makes the very tiles `estatemap serve` sends: the same tiles non-empty, the same
features and the same GeoJSON bytes, for single and combined layers, at low and high
zooms, with violations clustered and not. So the benchmark measures the server's work.
Also its errors: a bad layer, a bad tile line, a missing database."""
import json
import math
import subprocess

import pytest

from conftest import RunningServer, run_cli

LAYER_SETS = ["towns", "estates", "violations", "towns,estates,violations"]


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


# Around the middle of Minhang and its edge, from z6 to z16, with a tile of open sea.
TILES = sorted({tile_of(lon, lat, z) for z in range(6, 17)
                for lon, lat in ((121.40, 31.10), (121.46, 31.05), (121.33, 31.20))} |
               {tile_of(lon, lat, z) for z in (12, 15) for lon in (121.38, 121.39, 121.41)
                for lat in (31.09, 31.11)} | {(10, 900, 430)})


@pytest.fixture(scope="module")
def work(bin_path, tmp_path_factory):
    """A folder with the demo database (demo.sqlite) and the tile list (tiles.txt)."""
    folder = tmp_path_factory.mktemp("slice_bench")
    r = run_cli(bin_path, "demo", "--db", folder / "demo.sqlite", "-q", timeout=300)
    assert r.rc == 0, r
    (folder / "tiles.txt").write_text("".join(f"{z} {x} {y}\n" for z, x, y in TILES))
    return folder


@pytest.fixture(scope="module")
def demo_db(work):
    return work / "demo.sqlite"


@pytest.fixture(scope="module")
def tiles_file(work):
    return work / "tiles.txt"


@pytest.fixture(scope="module")
def bench_bin(bin_path):
    path = bin_path.parent / "estatemap-slice-bench"
    if not path.is_file():
        pytest.fail(f"{path} is missing: it is built with estatemap (CMake target "
                    f"estatemap-slice-bench)")
    return path


def run_bench(bench_bin, *args):
    return subprocess.run([str(bench_bin), *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("layers", LAYER_SETS)
def test_makes_the_servers_tiles(bin_path, bench_bin, demo_db, work, tiles_file, layers):
    r = run_bench(bench_bin, "--db", demo_db, "--layers", layers, "--tiles", tiles_file)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    # the server with no byte cap to speak of, so that it drops nothing
    server = RunningServer(bin_path, demo_db, work, "--tile-max-bytes", 1 << 30,
                           prefix=layers.replace(",", "-"))
    try:
        nonempty = features = size = 0
        for z, x, y in TILES:
            resp = server.get(f"/tiles/{layers}/{z}/{x}/{y}.geojson")
            assert resp.status in (200, 204), resp
            if resp.status == 200:
                nonempty += 1
                size += len(resp.body)
                features += sum(len(layer["features"]) for layer in resp.json().values())
    finally:
        assert server.stop() == 0, server.stderr()
    assert nonempty > 0 and features > nonempty
    assert got["tiles"] == len(TILES)
    assert (got["nonempty"], got["features"], got["bytes"]) == (nonempty, features, size)
    assert got["slice_s"] > 0 and got["encode_s"] > 0


def test_repeat_counts_every_pass(bench_bin, demo_db, tiles_file):
    once = json.loads(run_bench(bench_bin, "--db", demo_db, "--layers", "estates", "--tiles",
                                tiles_file).stdout)
    r = run_bench(bench_bin, "--db", demo_db, "--layers", "estates", "--tiles", tiles_file,
                  "--repeat", 3)
    assert r.returncode == 0, r.stderr
    thrice = json.loads(r.stdout)
    for key in ("tiles", "nonempty", "features", "bytes"):
        assert thrice[key] == 3 * once[key], key


def test_errors(bench_bin, demo_db, work, tiles_file):
    r = run_bench(bench_bin, "--db", demo_db, "--layers", "towns,renovation", "--tiles",
                  tiles_file)
    assert r.returncode == 2 and "'renovation' is not a tile layer" in r.stderr
    bad = work / "bad-tiles.txt"
    bad.write_text("12 3425 1672\n3 9 0\n")
    r = run_bench(bench_bin, "--db", demo_db, "--layers", "towns", "--tiles", bad)
    assert r.returncode == 2 and "line 2: no tile 3/9/0" in r.stderr
    bad.write_text("12 3425 1672\ntwelve\n")
    r = run_bench(bench_bin, "--db", demo_db, "--layers", "towns", "--tiles", bad)
    assert r.returncode == 2 and 'line 2 is not "z x y"' in r.stderr
    r = run_bench(bench_bin, "--db", work / "missing.sqlite", "--layers", "towns", "--tiles",
                  tiles_file)
    assert r.returncode == 1 and "missing.sqlite" in r.stderr
    r = run_bench(bench_bin, "--db", demo_db, "--layers", "towns", "--tiles", tiles_file,
                  "--repeat", 0)
    assert r.returncode == 2 and "--repeat" in r.stderr
