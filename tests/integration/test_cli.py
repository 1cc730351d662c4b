"""The command line: help, exit codes, database selection, init, schema migration,
check and the demo (issue 2, sections 1, 3, 5, 6 and 7)."""

import json
import re
import sqlite3
import time

import pytest

from conftest import (GRID_CELLS, LAYER_TABLES, REPO, SCHEMA_VERSION, TOWN_CODE, blob_polygon,
                      box_wkt, init_db, query, rows, run_cli, scalar, snapshot,
                      spatialite_connect, table_count, user_version, write_geojson)

# Every option each command accepts, as in src/cli.c's option tables.
OPTIONS = {
    "init": ["--db", "--schema-version", "--help"],
    "import": ["--db", "--crs", "--coords", "--encoding", "--map", "--set", "--source-layer",
               "--where", "--replace", "--skip-invalid", "--quiet", "--help"],
    "demo": ["--db", "--geodata", "--force", "--quiet", "--help"],
    "check": ["--db", "--json", "--help"],
}
COMMANDS = list(OPTIONS)


# ---------------------------------------------------------------- help and exit codes


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_program_help_lists_commands_and_options(cli, flag):
    r = cli(flag)
    assert r.rc == 0, r
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", r.out, re.M), f"{command} missing from help"
    for opt in ["--help", "--version", "--db", "ESTATEMAP_DB", "estatemap.sqlite"]:
        assert opt in r.out, f"{opt} missing from help"
    # the exit codes are documented
    assert re.search(r"0\W+success.*1\W+runtime error.*2\W+usage error", r.out, re.S), r.out


def test_version(cli):
    r = cli("--version")
    assert r.rc == 0, r
    assert re.match(r"estatemap \S+", r.out)


def test_no_arguments_is_a_usage_error(cli):
    r = cli()
    assert r.rc == 2, r
    assert "usage" in r.err.lower()


@pytest.mark.parametrize("command", COMMANDS)
def test_subcommand_help_mentions_every_option(cli, command):
    r = cli(command, "--help")
    assert r.rc == 0, r
    assert r.out.startswith(f"usage: estatemap {command}")
    for opt in OPTIONS[command]:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", r.out), \
            f"{command} --help does not mention {opt}"
    # short forms work too
    r2 = cli(command, "-h")
    assert r2.rc == 0 and r2.out == r.out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_via_help_command(cli, command):
    r = cli("help", command)
    assert r.rc == 0, r
    assert r.out.startswith(f"usage: estatemap {command}")


def test_import_help_names_layers_formats_and_coordinate_systems(cli):
    out = cli("import", "--help").out
    for word in ["towns", "estates", "grid", "violations", "corridors", "zones", "Shapefile",
                 "GeoJSON", "GeoPackage", "KML", "CSV", "WKT", "gcj02", "bd09", "wgs84",
                 "extra", "EPSG"]:
        assert word in out, f"import --help does not mention {word}"


def test_unknown_command_exits_2(cli):
    r = cli("frobnicate")
    assert r.rc == 2, r
    assert "frobnicate" in r.err
    assert r.out == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_option_exits_2(cli, tmp_path, command):
    r = cli(command, "--no-such-option", "--db", tmp_path / "x.sqlite")
    assert r.rc == 2, r
    assert "no-such-option" in r.err
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.parametrize("command", ["init", "check", "demo"])
def test_stray_argument_exits_2(cli, tmp_path, command):
    r = cli(command, "--db", tmp_path / "x.sqlite", "stray")
    assert r.rc == 2, r
    assert "stray" in r.err


def test_import_usage_errors_exit_2(cli, db, tmp_path):
    f = write_geojson(tmp_path / "e.geojson", [({"code": "E1", "name": "n"},
                                                 blob_polygon(121.4, 31.1))])
    cases = [
        ("import", "--db", db),                                        # no LAYER FILE
        ("import", "estates", "--db", db),                             # no FILE
        ("import", "estates", f, "extra-arg", "--db", db),             # too many
        ("import", "nosuchlayer", f, "--db", db),                      # unknown layer
        ("import", "estates", f, "--coords", "mars", "--db", db),      # bad --coords
        ("import", "estates", f, "--map", "novalue", "--db", db),      # bad --map
        ("import", "estates", f, "--set", "=x", "--db", db),           # bad --set
        ("import", "estates", f, "--set", "nocolumn=1", "--db", db),   # unknown column
        ("import", "estates", f, "--map", "code=nocolumn", "--db", db),
        ("import", "estates", f, "--map", "nofield=name", "--db", db),
        ("import", "estates", f, "--crs", "EPSG:99999999", "--db", db),
        ("import", "estates", f, "--where", "no_field = 1", "--db", db),
    ]
    before = snapshot(db)
    for args in cases:
        r = cli(*args)
        assert r.rc == 2, r
        assert r.err.strip(), r
    assert snapshot(db) == before


def test_unknown_layer_lists_the_layers(cli, db, tmp_path):
    f = write_geojson(tmp_path / "e.geojson", [({"code": "E1", "name": "n"},
                                                 blob_polygon(121.4, 31.1))])
    r = cli("import", "estate", f, "--db", db)
    assert r.rc == 2, r
    assert "estate" in r.err and "estates" in r.err and "violations" in r.err


def test_init_bad_schema_version_exits_2(cli, tmp_path):
    for bad in ["0", str(SCHEMA_VERSION + 1), "x", ""]:
        r = cli("init", "--db", tmp_path / "x.sqlite", "--schema-version", bad)
        assert r.rc == 2, r
        assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.parametrize("command", ["import", "check"])
def test_missing_database_exits_1_naming_the_path(cli, tmp_path, command):
    missing = tmp_path / "sub dir" / "nothere.sqlite"
    args = [command]
    if command == "import":
        f = write_geojson(tmp_path / "e.geojson", [({"code": "E1", "name": "n"},
                                                     blob_polygon(121.4, 31.1))])
        args += ["estates", f]
    r = cli(*args, "--db", missing)
    assert r.rc == 1, r
    assert str(missing) in r.err
    assert not missing.exists()


def test_missing_database_from_environment_names_the_path(cli, tmp_path):
    missing = tmp_path / "env-missing.sqlite"
    r = cli("check", env={"ESTATEMAP_DB": str(missing)}, cwd=tmp_path)
    assert r.rc == 1, r
    assert str(missing) in r.err


def test_not_a_database_exits_1(cli, tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    r = cli("check", "--db", junk)
    assert r.rc == 1, r
    assert str(junk) in r.err
    assert junk.read_bytes() == b"this is not sqlite" * 100


def test_plain_sqlite_file_is_not_an_estatemap_database(cli, tmp_path):
    plain = tmp_path / "plain.sqlite"
    con = sqlite3.connect(plain)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    r = cli("check", "--db", plain)
    assert r.rc == 1, r
    assert "not an estatemap database" in r.err


# ---------------------------------------------------------------- which database


def test_database_defaults_to_estatemap_sqlite_in_cwd(cli, tmp_path):
    r = cli("init", cwd=tmp_path)
    assert r.rc == 0, r
    assert (tmp_path / "estatemap.sqlite").is_file()
    assert cli("check", cwd=tmp_path).rc == 0


def test_environment_variable_beats_default(cli, tmp_path):
    env_db = tmp_path / "from-env.sqlite"
    r = cli("init", cwd=tmp_path, env={"ESTATEMAP_DB": str(env_db)})
    assert r.rc == 0, r
    assert env_db.is_file()
    assert not (tmp_path / "estatemap.sqlite").exists()
    r = cli("check", cwd=tmp_path, env={"ESTATEMAP_DB": str(env_db)})
    assert r.rc == 0, r


def test_db_option_beats_environment(cli, tmp_path):
    env_db = tmp_path / "from-env.sqlite"
    opt_db = tmp_path / "from-option.sqlite"
    r = cli("init", "--db", opt_db, cwd=tmp_path, env={"ESTATEMAP_DB": str(env_db)})
    assert r.rc == 0, r
    assert opt_db.is_file()
    assert not env_db.exists()
    assert not (tmp_path / "estatemap.sqlite").exists()


def test_import_and_check_follow_the_same_precedence(cli, bin_path, tmp_path):
    """An import with $ESTATEMAP_DB set and no --db writes to the env database; with
    --db it writes to that one; the cwd default is untouched throughout."""
    env_db = init_db(bin_path, tmp_path / "env.sqlite")
    opt_db = init_db(bin_path, tmp_path / "opt.sqlite")
    cwd_db = init_db(bin_path, tmp_path / "estatemap.sqlite")
    f = write_geojson(tmp_path / "e.geojson", [({"code": "E1", "name": "一村"},
                                                 blob_polygon(121.4, 31.1))])
    env = {"ESTATEMAP_DB": str(env_db)}
    assert cli("import", "estates", f, cwd=tmp_path, env=env).rc == 0
    assert table_count(env_db, "estates") == 1
    assert table_count(opt_db, "estates") == 0
    assert table_count(cwd_db, "estates") == 0
    assert cli("import", "estates", f, "--db", opt_db, cwd=tmp_path, env=env).rc == 0
    assert table_count(opt_db, "estates") == 1
    assert table_count(env_db, "estates") == 1
    assert cli("import", "estates", f, cwd=tmp_path).rc == 0
    assert table_count(cwd_db, "estates") == 1


# ---------------------------------------------------------------- init


def test_init_creates_wal_database_with_schema_version(cli, tmp_path):
    path = tmp_path / "new.sqlite"
    r = cli("init", "--db", path)
    assert r.rc == 0, r
    assert str(path) in r.out
    assert scalar(path, "PRAGMA journal_mode") == "wal"
    assert user_version(path) == SCHEMA_VERSION
    assert scalar(path, "PRAGMA integrity_check") == "ok"


def test_init_creates_the_six_layers_with_geometry_and_spatial_index(db):
    gc = {r[0]: r[1:] for r in query(
        db, "SELECT f_table_name, f_geometry_column, srid, spatial_index_enabled, "
            "coord_dimension FROM geometry_columns")}
    assert set(gc) == set(LAYER_TABLES)
    for table in LAYER_TABLES:
        column, srid, indexed, dims = gc[table]
        assert column == "geom"
        assert srid == 4326, table
        assert indexed == 1, table
        assert dims == 2, table
        # the R*Tree really exists
        assert scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = ?",
                      (f"idx_{table}_geom",)) == 1


EXPECTED_COLUMNS = {
    "towns": {"code", "name", "area_km2", "extra", "geom"},
    "estates": {"code", "name", "address", "town_code", "built_year", "housing_type",
                "households", "fee_collection_rate", "owners_committee", "owners_cofund",
                "tier", "stage", "extra", "geom"},
    "grid": {"code", "town_code", "extra", "geom"},
    "violations": {"code", "category", "reported_at", "resolved_at", "status", "estate_code",
                   "grid_code", "extra", "geom"},
    "corridors": {"type", "name", "extra", "geom"},
    "zones": {"kind", "name", "extra", "geom"},
    "estate_renovation": {"estate_code", "item_id", "status", "budget_yuan", "owners_share"},
}


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_init_layer_columns(db, table):
    cols = {r[1] for r in query(db, f'PRAGMA table_info("{table}")')}
    missing = EXPECTED_COLUMNS[table] - cols
    assert not missing, f"{table} lacks {missing}"


def test_init_violation_categories(db):
    cats = dict(query(db, "SELECT name, group_name FROM violation_categories"))
    assert len(cats) == 12
    assert set(cats.values()) == {"五违", "违法使用房屋", "六乱"}
    groups = {}
    for name, group in cats.items():
        groups.setdefault(group, set()).add(name)
    assert groups["五违"] == {"违法用地", "违法建筑", "违法经营", "违法排污", "违法居住"}
    assert groups["违法使用房屋"] == {"违法使用房屋"}
    assert len(groups["六乱"]) == 6
    assert "黑色小广告" in groups["六乱"] and "无序设摊" in groups["六乱"]


def test_init_corridor_types(db):
    types = {r[0]: r[1:] for r in query(db, "SELECT type, label_zh, buffer_m FROM corridor_types")}
    assert set(types) == {"railway", "expressway", "river", "rail_transit"}
    for t, (label, buffer_m) in types.items():
        assert label and any("\u4e00" <= ch <= "\u9fff" for ch in label), t
        assert buffer_m is not None and buffer_m > 0, t


def test_init_policy_lookup_tables(db):
    assert table_count(db, "renovation_items") == 15
    assert [r[0] for r in query(db, "SELECT id FROM renovation_items ORDER BY id")] == \
        list(range(1, 16))
    assert table_count(db, "remediation_tasks") == 4
    assert table_count(db, "governance_tasks") == 7
    for t in ["renovation_items", "remediation_tasks", "governance_tasks"]:
        assert scalar(db, f"SELECT count(*) FROM {t} WHERE name_zh IS NULL OR name_zh = ''") == 0


def test_init_settings_table(db):
    settings = dict(query(db, "SELECT key, value FROM settings"))
    assert settings, "settings table is empty"
    assert float(settings["fee_collection_min"]) == pytest.approx(0.8)
    for key, value in settings.items():
        assert value != ""


def test_init_layers_are_empty_and_versions_start_at_zero(db):
    for t in LAYER_TABLES:
        assert table_count(db, t) == 0
    versions = dict(query(db, "SELECT layer, version FROM layer_versions"))
    assert versions == {t: 0 for t in LAYER_TABLES}


def test_init_on_existing_file_exits_2_and_leaves_it_untouched(cli, db):
    before_bytes = db.read_bytes()
    before = snapshot(db)
    mtime = db.stat().st_mtime_ns
    r = cli("init", "--db", db)
    assert r.rc == 2, r
    assert str(db) in r.err
    assert db.read_bytes() == before_bytes
    assert db.stat().st_mtime_ns == mtime
    assert snapshot(db) == before


def test_init_on_existing_non_database_file_leaves_it_untouched(cli, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    r = cli("init", "--db", f)
    assert r.rc == 2, r
    assert f.read_text() == "keep me"


# ---------------------------------------------------------------- schema migration


def test_init_older_schema_version(cli, tmp_path):
    old = tmp_path / "old.sqlite"
    r = cli("init", "--schema-version", "1", "--db", old)
    assert r.rc == 0, r
    assert user_version(old) == 1
    assert scalar(old, "SELECT count(*) FROM sqlite_master WHERE name = 'layer_versions'") == 0
    assert table_count(old, "violation_categories") == 12


def test_import_migrates_an_older_database(cli, tmp_path):
    old = tmp_path / "old.sqlite"
    assert cli("init", "--schema-version", "1", "--db", old).rc == 0
    # data that is in the file before the migration: a changed setting and a
    # renovation row (plain tables, writable without SpatiaLite)
    con = sqlite3.connect(old)
    con.execute("UPDATE settings SET value = '0.75' WHERE key = 'fee_collection_min'")
    con.execute("INSERT INTO estate_renovation(estate_code, item_id, status, budget_yuan) "
                "VALUES ('MH-OLD', 3, 'done', 120000)")
    con.commit()
    con.close()
    before = {t: snapshot(old)[t] for t in ["settings", "estate_renovation",
                                            "violation_categories", "renovation_items"]}

    estates = [({"code": f"E{i}", "name": f"老村{i}", "built_year": 1985 + i},
                blob_polygon(121.3 + 0.01 * i, 31.05)) for i in range(5)]
    f = write_geojson(tmp_path / "estates.geojson", estates)
    r = cli("import", "estates", f, "--db", old)
    assert r.rc == 0, r
    assert user_version(old) == SCHEMA_VERSION
    assert scalar(old, "SELECT count(*) FROM sqlite_master WHERE name = 'layer_versions'") == 1
    after = snapshot(old)
    for t, v in before.items():
        assert after[t] == v, f"{t} changed in the migration"
    got = {r["code"]: r for r in rows(old, "estates")}
    assert set(got) == {f"E{i}" for i in range(5)}
    assert got["E3"]["name"] == "老村3" and got["E3"]["built_year"] == 1988
    versions = dict(query(old, "SELECT layer, version FROM layer_versions"))
    assert set(versions) == set(LAYER_TABLES)
    assert versions["estates"] >= 1
    assert cli("check", "--db", old).rc in (0, 1)  # opens fine after the migration
    assert scalar(old, "PRAGMA integrity_check") == "ok"


def test_migration_keeps_layer_data_written_by_version_1(cli, tmp_path):
    """Features that a version-1 build stored survive the migration, with their spatial
    index, and get linked like new ones."""
    old = tmp_path / "old.sqlite"
    assert cli("init", "--schema-version", "1", "--db", old).rc == 0
    con = spatialite_connect(old)
    con.execute("INSERT INTO towns(code, name, geom) VALUES (?, ?, "
                "CastToMultiPolygon(GeomFromText(?, 4326)))",
                (TOWN_CODE, "老镇", box_wkt(121.0, 30.8, 121.8, 31.4)))
    # as a version-1 import left it: town_code already derived
    con.execute("INSERT INTO estates(code, name, built_year, town_code, geom) VALUES (?, ?, ?, ?, "
                "CastToMultiPolygon(GeomFromText(?, 4326)))",
                ("V1-EST", "老小区", 1979, TOWN_CODE, blob_polygon(121.4, 31.1)))
    con.commit()
    con.close()
    before = {t: snapshot(old)[t] for t in ["towns", "estates"]}
    r = cli("check", "--db", old)
    assert r.rc == 0, r
    assert user_version(old) == SCHEMA_VERSION
    after = snapshot(old)
    for t, v in before.items():
        assert after[t] == v, f"{t} changed in the migration"
    f = write_geojson(tmp_path / "e.geojson", [({"code": "V2-EST", "name": "新小区"},
                                                 blob_polygon(121.5, 31.2))])
    assert cli("import", "estates", f, "--db", old).rc == 0
    got = {r["code"]: r for r in rows(old, "estates")}
    assert set(got) == {"V1-EST", "V2-EST"}
    assert got["V1-EST"]["built_year"] == 1979 and got["V1-EST"]["town_code"] == TOWN_CODE
    assert got["V2-EST"]["town_code"] == TOWN_CODE
    assert cli("check", "--db", old).rc == 0


def test_check_migrates_an_older_database(cli, tmp_path):
    old = tmp_path / "old.sqlite"
    assert cli("init", "--schema-version", "1", "--db", old).rc == 0
    r = cli("check", "--db", old)
    assert r.rc == 0, r
    assert user_version(old) == SCHEMA_VERSION
    # migrated triggers work: an import bumps the version
    f = write_geojson(tmp_path / "t.geojson", [({"code": TOWN_CODE, "name": "镇"},
                                                 box_wkt(121.0, 30.8, 121.8, 31.4))])
    assert cli("import", "towns", f, "--db", old).rc == 0
    assert scalar(old, "SELECT version FROM layer_versions WHERE layer='towns'") >= 1


def test_newer_schema_version_is_refused(cli, db, tmp_path):
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = snapshot(db)
    r = cli("check", "--db", db)
    assert r.rc == 1, r
    assert "newer" in r.err and str(SCHEMA_VERSION + 1) in r.err and str(SCHEMA_VERSION) in r.err
    f = write_geojson(tmp_path / "e.geojson", [({"code": "E1", "name": "n"},
                                                 blob_polygon(121.4, 31.1))])
    r = cli("import", "estates", f, "--db", db)
    assert r.rc == 1, r
    assert "newer" in r.err
    assert snapshot(db) == before
    assert user_version(db) == SCHEMA_VERSION + 1


# ---------------------------------------------------------------- check


def check_json(cli, db):
    r = cli("check", "--db", db, "--json")
    report = json.loads(r.out)
    return r, report


def test_check_empty_database(cli, db):
    r = cli("check", "--db", db)
    assert r.rc == 0, r
    for t in LAYER_TABLES:
        assert re.search(rf"^{t}\s+0\s", r.out, re.M), r.out
    assert "integrity_check: ok" in r.out


def test_check_json_report(cli, base_db):
    r, report = check_json(cli, base_db)
    assert r.rc == 0, r
    assert report["problems"] == 0
    assert report["integrity_check"] == "ok"
    assert set(report["layers"]) == set(LAYER_TABLES)
    assert report["layers"]["towns"]["features"] == 1
    assert report["layers"]["grid"]["features"] == len(GRID_CELLS)
    for layer in report["layers"].values():
        assert layer["invalid"] == 0 and layer["wrong_srid"] == 0
        assert layer["orphans"] == 0 and layer["spatial_index_ok"] is True


def test_check_reports_violation_outside_every_grid_cell(cli, base_db, tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("lon,lat,category,reported_at,status,code\n"
                 "121.45,31.15,乱停车,2016-05-01,open,IN\n"
                 "120.50,31.15,乱停车,2016-05-01,open,OUT\n", encoding="utf-8")
    r = cli("import", "violations", f, "--db", base_db)
    assert r.rc == 0, r
    r, report = check_json(cli, base_db)
    assert r.rc == 1, r
    assert report["layers"]["violations"]["orphans"] == 1
    assert report["problems"] >= 1
    r = cli("check", "--db", base_db)
    assert r.rc == 1
    assert re.search(r"^violations\s+2\s+0\s+0\s+1\s", r.out, re.M), r.out


def test_check_reports_estate_outside_every_town(cli, base_db, tmp_path):
    f = write_geojson(tmp_path / "e.geojson", [
        ({"code": "IN", "name": "镇内小区"}, blob_polygon(121.45, 31.15)),
        ({"code": "OUT", "name": "镇外小区"}, blob_polygon(120.5, 31.15)),
    ])
    r = cli("import", "estates", f, "--db", base_db)
    assert r.rc == 0, r
    r, report = check_json(cli, base_db)
    assert r.rc == 1, r
    assert report["layers"]["estates"]["orphans"] == 1
    assert report["layers"]["violations"]["orphans"] == 0


def test_check_reports_invalid_geometry(cli, base_db):
    con = spatialite_connect(base_db)
    con.execute("INSERT INTO estates(code, name, geom) VALUES ('BAD', '坏', "
                "CastToMultiPolygon(GeomFromText('POLYGON((121.40 31.10,121.41 31.11,"
                "121.41 31.10,121.40 31.11,121.40 31.10))', 4326)))")
    con.commit()
    con.close()
    r, report = check_json(cli, base_db)
    assert r.rc == 1, r
    assert report["layers"]["estates"]["invalid"] == 1
    assert report["layers"]["towns"]["invalid"] == 0


def test_check_reports_broken_spatial_index(cli, base_db):
    con = sqlite3.connect(base_db)
    con.execute("DELETE FROM idx_grid_geom WHERE pkid = (SELECT min(id) FROM grid)")
    con.commit()
    con.close()
    r, report = check_json(cli, base_db)
    assert r.rc == 1, r
    assert report["layers"]["grid"]["spatial_index_ok"] is False
    assert report["layers"]["towns"]["spatial_index_ok"] is True
    assert "BROKEN" in cli("check", "--db", base_db).out


def test_check_passes_when_orphans_are_removed(cli, base_db, tmp_path):
    bad = write_geojson(tmp_path / "e1.geojson",
                        [({"code": "OUT", "name": "镇外"}, blob_polygon(120.5, 31.15))])
    good = write_geojson(tmp_path / "e2.geojson",
                         [({"code": "IN", "name": "镇内"}, blob_polygon(121.45, 31.15))])
    assert cli("import", "estates", bad, "--db", base_db).rc == 0
    assert cli("check", "--db", base_db).rc == 1
    assert cli("import", "estates", good, "--db", base_db, "--replace").rc == 0
    assert cli("check", "--db", base_db).rc == 0


# ---------------------------------------------------------------- demo


def demo_geodata():
    return REPO / "geodata"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from conftest import estatemap_bin
    geodata = demo_geodata()
    if not (geodata / "towns.geojson").exists():
        pytest.skip(f"{geodata}/towns.geojson does not exist yet (demo data not generated)")
    missing = [f for f in ["corridors.geojson", "zones.geojson", "estates.geojson",
                           "grid.geojson", "violations.csv", "renovation.csv"]
               if not (geodata / f).exists()]
    if missing:
        pytest.skip(f"demo data incomplete in {geodata}: missing {', '.join(missing)}")
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    t0 = time.monotonic()
    r = run_cli(estatemap_bin(), "demo", "--db", path, timeout=300)
    elapsed = time.monotonic() - t0
    return path, r, elapsed


def test_demo_builds(demo_db):
    # Its speed (well under a minute) is measured by scripts/bench, not asserted here:
    # test machines are shared and noisy.
    path, r, elapsed = demo_db
    assert r.rc == 0, r
    print(f"demo built in {elapsed:.1f} s")
    assert user_version(path) == SCHEMA_VERSION


def test_demo_passes_check(cli, demo_db):
    path, r, _ = demo_db
    assert r.rc == 0, r
    c = cli("check", "--db", path)
    assert c.rc == 0, c


def test_demo_layer_counts_are_plausible(demo_db):
    path, r, _ = demo_db
    assert r.rc == 0, r
    assert table_count(path, "towns") == 13
    codes = [c for (c,) in query(path, "SELECT code FROM towns")]
    assert all(re.fullmatch(r"\d{9}", c) for c in codes), codes
    assert table_count(path, "estates") > 1000
    assert table_count(path, "violations") > 20000
    assert table_count(path, "grid") > 100
    types = {t for (t,) in query(path, "SELECT DISTINCT type FROM corridors")}
    assert types == {"railway", "expressway", "river", "rail_transit"}
    assert table_count(path, "zones") >= 2
    # every category occurs, and the links were computed
    assert scalar(path, "SELECT count(DISTINCT category) FROM violations") == 12
    assert scalar(path, "SELECT count(*) FROM violations WHERE estate_code IS NOT NULL") > 0
    assert scalar(path, "SELECT count(*) FROM estates WHERE town_code IS NULL") == 0


def test_demo_refuses_existing_database_without_force(cli, demo_db, tmp_path):
    path, r, _ = demo_db
    assert r.rc == 0, r
    before = snapshot(path)
    r2 = cli("demo", "--db", path)
    assert r2.rc == 2, r2
    assert "--force" in r2.err
    assert snapshot(path) == before


def test_demo_with_missing_geodata_dir_fails(cli, tmp_path):
    r = cli("demo", "--db", tmp_path / "d.sqlite", "--geodata", tmp_path / "nothing")
    assert r.rc == 1, r
    assert not (tmp_path / "d.sqlite").exists()
