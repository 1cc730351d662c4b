#include "schema.h"

#include <stdio.h>

/* v1: the six layers, lookup tables, per-estate renovation items and settings.
 * Geometry columns are added through SpatiaLite so that its metadata, triggers and
 * R*Tree indexes are the ones every SpatiaLite client (QGIS, GDAL) expects. */
static const char migration_1[] =
    "CREATE TABLE towns ("
    " id INTEGER PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE CHECK (length(code) = 9),"
    " name TEXT NOT NULL,"
    " area_km2 REAL,"
    " extra TEXT);"
    "SELECT AddGeometryColumn('towns', 'geom', 4326, 'MULTIPOLYGON', 'XY', 1);"
    "SELECT CreateSpatialIndex('towns', 'geom');"

    "CREATE TABLE estates ("
    " id INTEGER PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " address TEXT,"
    " town_code TEXT,"
    " built_year INTEGER CHECK (built_year BETWEEN 1900 AND 2100),"
    " housing_type TEXT,"
    " households INTEGER CHECK (households >= 0),"
    " buildings INTEGER CHECK (buildings >= 0),"
    " floor_area_m2 REAL CHECK (floor_area_m2 >= 0),"
    " property_company TEXT,"
    " fee_collection_rate REAL CHECK (fee_collection_rate BETWEEN 0 AND 1),"
    " owners_committee TEXT CHECK (owners_committee IN ('none','formed','operating')),"
    " owners_cofund INTEGER CHECK (owners_cofund IN (0,1)),"
    " tianyuan_model INTEGER CHECK (tianyuan_model IN (0,1)),"
    " four_in_one INTEGER CHECK (four_in_one IN (0,1)),"
    " elevator_count INTEGER CHECK (elevator_count >= 0),"
    " elevator_valid_until TEXT,"
    " rain_sewage_works TEXT CHECK (rain_sewage_works IN ('none','planned','in_progress','done')),"
    " water_supply_works TEXT CHECK (water_supply_works IN "
    "('none','planned','in_progress','done')),"
    " roof_works TEXT CHECK (roof_works IN ('none','planned','in_progress','done')),"
    " tier TEXT CHECK (tier IN ('示范版','提升版','基础版')),"
    " stage TEXT CHECK (stage IN ('none','planning','implementing','completed','accepted')),"
    " plan_date TEXT,"
    " start_date TEXT,"
    " completed_date TEXT,"
    " accepted_date TEXT,"
    " satisfaction REAL CHECK (satisfaction BETWEEN 0 AND 100),"
    " extra TEXT);"
    "SELECT AddGeometryColumn('estates', 'geom', 4326, 'MULTIPOLYGON', 'XY', 1);"
    "SELECT CreateSpatialIndex('estates', 'geom');"
    "CREATE INDEX estates_town ON estates(town_code);"

    "CREATE TABLE grid ("
    " id INTEGER PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE,"
    " community TEXT,"
    " town_code TEXT,"
    " extra TEXT);"
    "SELECT AddGeometryColumn('grid', 'geom', 4326, 'POLYGON', 'XY', 1);"
    "SELECT CreateSpatialIndex('grid', 'geom');"

    "CREATE TABLE violation_categories ("
    " name TEXT PRIMARY KEY,"
    " group_name TEXT NOT NULL,"
    " name_en TEXT NOT NULL,"
    " policy_ref TEXT NOT NULL);"
    "INSERT INTO violation_categories VALUES"
    " ('违法用地','五违','illegal land use','§四(一)1'),"
    " ('违法建筑','五违','illegal construction','§四(一)1'),"
    " ('违法经营','五违','illegal business','§四(一)2'),"
    " ('违法排污','五违','illegal discharge','§四(一)1'),"
    " ('违法居住','五违','illegal occupancy (group renting)','§四(一)1'),"
    " ('违法使用房屋','违法使用房屋','illegal use of housing','§四(一)3'),"
    " ('黑色小广告','六乱','illegal flyers','§四(一)4'),"
    " ('无序设摊','六乱','unlicensed stalls','§四(一)4'),"
    " ('乱堆杂物','六乱','dumped clutter','§四(一)4'),"
    " ('乱停车','六乱','disorderly parking','§四(一)4'),"
    " ('乱晾晒','六乱','disorderly drying','§四(一)4'),"
    " ('乱抛物','六乱','littering from height','§四(一)4');"

    "CREATE TABLE violations ("
    " id INTEGER PRIMARY KEY,"
    " code TEXT UNIQUE,"
    " category TEXT NOT NULL REFERENCES violation_categories(name),"
    " reported_at TEXT NOT NULL,"
    " resolved_at TEXT CHECK (resolved_at IS NULL OR resolved_at >= reported_at),"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','resolved')),"
    " source TEXT,"
    " description TEXT,"
    " estate_code TEXT,"
    " grid_code TEXT,"
    " extra TEXT);"
    "SELECT AddGeometryColumn('violations', 'geom', 4326, 'POINT', 'XY', 1);"
    "SELECT CreateSpatialIndex('violations', 'geom');"
    "CREATE INDEX violations_estate ON violations(estate_code);"
    "CREATE INDEX violations_grid ON violations(grid_code);"
    "CREATE INDEX violations_reported ON violations(reported_at);"

    "CREATE TABLE corridor_types ("
    " type TEXT PRIMARY KEY,"
    " label_zh TEXT NOT NULL,"
    " label_en TEXT NOT NULL,"
    " buffer_m REAL NOT NULL CHECK (buffer_m >= 0),"
    " basis TEXT NOT NULL);"
    "INSERT INTO corridor_types VALUES"
    " ('railway','铁路','railway',20,'铁路安全管理条例 第二十七条: 8-20 m'),"
    " ('expressway','高速公路/高架','expressway',30,'公路安全保护条例 第十一条: >= 30 m'),"
    " ('river','河道','river',30,'河道蓝线, set by the district'),"
    " ('rail_transit','轨道交通','rail transit',30,"
    "'上海市轨道交通管理条例 第三十七条: 30 m surface/elevated, 50 m underground');"

    "CREATE TABLE corridors ("
    " id INTEGER PRIMARY KEY,"
    " type TEXT NOT NULL REFERENCES corridor_types(type),"
    " name TEXT,"
    " extra TEXT);"
    "SELECT AddGeometryColumn('corridors', 'geom', 4326, 'GEOMETRY', 'XY', 1);"
    "SELECT CreateSpatialIndex('corridors', 'geom');"
    "CREATE INDEX corridors_type ON corridors(type);"

    "CREATE TABLE zones ("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('key_remediation','civilised_key')),"
    " name TEXT NOT NULL,"
    " extra TEXT);"
    "SELECT AddGeometryColumn('zones', 'geom', 4326, 'MULTIPOLYGON', 'XY', 1);"
    "SELECT CreateSpatialIndex('zones', 'geom');"

    "CREATE TABLE renovation_items ("
    " id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 15),"
    " category TEXT NOT NULL CHECK (category IN ('safety','function','environment')),"
    " name_zh TEXT NOT NULL,"
    " name_en TEXT NOT NULL);"
    "INSERT INTO renovation_items VALUES"
    " (1,'safety','房屋修缮','building repair (incl. flat-to-sloped roofs)'),"
    " (2,'function','楼道改造','stairwell renovation'),"
    " (3,'safety','老旧电梯安全改造','old elevator safety renovation'),"
    " (4,'function','小区停车设施改造','parking facilities'),"
    " (5,'environment','小区公共道路、围墙、门卫室改造','roads, walls and gatehouses'),"
    " (6,'function','二次供水设施及雨污水分流改造','secondary water supply and rain/sewage "
    "separation'),"
    " (7,'environment','小区内河道维护改造','estate watercourses'),"
    " (8,'safety','小区安防设施改造','security facilities'),"
    " (9,'environment','公共绿化改造','public greenery'),"
    " (10,'environment','环卫设施改造','sanitation facilities'),"
    " (11,'safety','公共消防设施改造','fire safety facilities'),"
    " (12,'safety','电瓶车集中充电设施改造','e-bike charging facilities'),"
    " (13,'function','小区文体等公共服务设施改造','culture and sports facilities'),"
    " (14,'function','小区无障碍设施改造','barrier-free access'),"
    " (15,'environment','其他项目','other items');"

    "CREATE TABLE remediation_tasks ("
    " id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4),"
    " name_zh TEXT NOT NULL,"
    " name_en TEXT NOT NULL);"
    "INSERT INTO remediation_tasks VALUES"
    " (1,'违法搭建、违法居住整治','illegal construction and occupancy'),"
    " (2,'违法经营行为整治','illegal business'),"
    " (3,'违法使用房屋行为整治','illegal use of housing'),"
    " (4,'“六乱”整治','the six disorders');"

    "CREATE TABLE governance_tasks ("
    " id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 7),"
    " name_zh TEXT NOT NULL,"
    " name_en TEXT NOT NULL);"
    "INSERT INTO governance_tasks VALUES"
    " (1,'居民区党组织“大党委”制','neighbourhood party committee system'),"
    " (2,'社区自治共治机制','community self-governance and co-governance'),"
    " (3,'业委会规范运作、物业行业监管','owners committees and property management oversight'),"
    " (4,'城市网格化管理全覆盖','full urban grid management coverage'),"
    " (5,'“田园模式”复制落地','the Tianyuan model'),"
    " (6,'法律顾问引入、纠纷调处','legal advisers and dispute mediation'),"
    " (7,'文明小区、文明楼道创建','civilised estates and stairwells');"

    "CREATE TABLE estate_renovation ("
    " estate_code TEXT NOT NULL,"
    " item_id INTEGER NOT NULL REFERENCES renovation_items(id),"
    " status TEXT NOT NULL DEFAULT 'planned'"
    "  CHECK (status IN ('planned','in_progress','done','cancelled')),"
    " budget_yuan REAL CHECK (budget_yuan >= 0),"
    " owners_share REAL CHECK (owners_share BETWEEN 0 AND 1),"
    " PRIMARY KEY (estate_code, item_id));"

    "CREATE TABLE settings ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " description TEXT NOT NULL);"
    "INSERT INTO settings VALUES"
    " ('fee_collection_min','0.8','§三(一)2: minimum property fee collection rate, 0-1'),"
    " ('grid_coverage_min','0.99','§三(一)6: minimum share of the estate area covered by grid "
    "cells'),"
    " ('wuwei_open_max','0','§三(一)1: most open 五违 reports an estate may have'),"
    " ('wuwei_new_days','365','§三(一)1: window in days in which no new 五违 may be reported'),"
    " ('scope_built_before','2000','§四(二): environmental renovation scope, built before "
    "this year'),"
    " ('demo_quota','0.10','§五(二)1: minimum share of 示范版 in each town'),"
    " ('upgrade_quota','0.40','§五(二)2: minimum share of 提升版 in each town');";

/* v2: a data version per layer, bumped by triggers on every write, so caches
 * (tiles, ETags) can tell stale from fresh without scanning the data. */
static const char migration_2[] =
    "CREATE TABLE layer_versions ("
    " layer TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO layer_versions(layer) VALUES"
    " ('towns'),('estates'),('grid'),('violations'),('corridors'),('zones');"
#define BUMP_TRIGGERS(t)                                                                           \
    "CREATE TRIGGER " t "_bump_ins AFTER INSERT ON " t " BEGIN UPDATE layer_versions SET "         \
    "version = version + 1 WHERE layer = '" t "'; END;"                                            \
    "CREATE TRIGGER " t "_bump_upd AFTER UPDATE ON " t " BEGIN UPDATE layer_versions SET "         \
    "version = version + 1 WHERE layer = '" t "'; END;"                                            \
    "CREATE TRIGGER " t "_bump_del AFTER DELETE ON " t " BEGIN UPDATE layer_versions SET "         \
    "version = version + 1 WHERE layer = '" t "'; END;"
    BUMP_TRIGGERS("towns") BUMP_TRIGGERS("estates") BUMP_TRIGGERS("grid")
        BUMP_TRIGGERS("violations") BUMP_TRIGGERS("corridors") BUMP_TRIGGERS("zones");
#undef BUMP_TRIGGERS

/* v3: the audit log of writes made through the HTTP API (audit.h): who (a token's
 * name and role, the client address), when (Shanghai time), what (method, path,
 * layer, feature) and the values before and after, as JSON. Append-only. */
static const char migration_3[] =
    "CREATE TABLE audit_log ("
    " id INTEGER PRIMARY KEY,"
    " at TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " role TEXT,"
    " client TEXT,"
    " method TEXT NOT NULL,"
    " path TEXT NOT NULL,"
    " layer TEXT NOT NULL,"
    " feature_id INTEGER,"
    " feature_code TEXT,"
    " before_json TEXT CHECK (before_json IS NULL OR json_valid(before_json)),"
    " after_json TEXT CHECK (after_json IS NULL OR json_valid(after_json)));"
    "CREATE INDEX audit_log_feature ON audit_log(layer, feature_id);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;";

static const char *const migrations[EM_SCHEMA_VERSION] = {migration_1, migration_2, migration_3};

int em_schema_version(sqlite3 *db, em_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return em_fail(err, EM_ERR_RUNTIME, "reading schema version: %s", sqlite3_errmsg(db));
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return em_fail(err, EM_ERR_RUNTIME, "reading schema version: %s", sqlite3_errmsg(db));
    return version;
}

int em_schema_migrate(sqlite3 *db, int target, em_error *err) {
    int version = em_schema_version(db, err);
    if (version < 0)
        return -1;
    if (target < 1 || target > EM_SCHEMA_VERSION)
        return em_fail(err, EM_ERR_USAGE, "schema version %d is not one this build knows (1-%d)",
                       target, EM_SCHEMA_VERSION);
    if (version > EM_SCHEMA_VERSION)
        return em_fail(err, EM_ERR_RUNTIME,
                       "database schema version %d is newer than this build's %d; upgrade "
                       "estatemap",
                       version, EM_SCHEMA_VERSION);
    for (int v = version + 1; v <= target; v++) {
        char *msg = NULL;
        char set_version[64];
        snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", v);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v - 1], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, set_version, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            em_fail(err, EM_ERR_RUNTIME, "migrating schema to version %d: %s", v,
                    msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}
