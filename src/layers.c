#include "layers.h"

#include "shapefile_names.h"

#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const works_states[] = {"none", "planned", "in_progress", "done", NULL};
static const char *const committee_states[] = {"none", "formed", "operating", NULL};
static const char *const tiers[] = {"示范版", "提升版", "基础版", NULL};
static const char *const stages[] = {"none",      "planning", "implementing",
                                     "completed", "accepted", NULL};
static const char *const housing_types[] = {"售后公房", "系统公房", "直管公房", "动迁安置房",
                                            "商品房",   "混合",     NULL};
static const char *const violation_states[] = {"open", "resolved", NULL};
static const char *const zone_kinds[] = {"key_remediation", "civilised_key", NULL};
static const char *const item_states[] = {"planned", "in_progress", "done", "cancelled", NULL};

static const em_column town_columns[] = {
    {"code", EM_COL_TEXT, 1, NULL, "town_code|编码|代码|街镇代码", 0, NULL},
    {"name", EM_COL_TEXT, 1, NULL, "名称|街镇|街镇名称", 0, NULL},
    {"area_km2", EM_COL_REAL, 0, NULL, "面积", 0, NULL},
};

static const em_column estate_columns[] = {
    {"code", EM_COL_TEXT, 1, NULL, "estate_code|编码|小区编码|小区代码", 0, NULL},
    {"name", EM_COL_TEXT, 1, NULL, "名称|小区名称", 0, NULL},
    {"address", EM_COL_TEXT, 0, NULL, "地址", 0, NULL},
    {"town_code", EM_COL_TEXT, 0, NULL, "town|街镇代码|TOWN_CODE", 1, NULL},
    {"built_year", EM_COL_INTEGER, 0, NULL, "built|BUILT_YR|建成年份|建成年代", 0, NULL},
    {"housing_type", EM_COL_TEXT, 0, housing_types, "HOUSING|房屋类型|小区类型", 0, NULL},
    {"households", EM_COL_INTEGER, 0, NULL, "HOUSEHOLDS|户数", 0, NULL},
    {"buildings", EM_COL_INTEGER, 0, NULL, "BUILDINGS|楼栋数|幢数", 0, NULL},
    {"floor_area_m2", EM_COL_REAL, 0, NULL, "floor_area|FLOOR_AREA|建筑面积", 0, NULL},
    {"property_company", EM_COL_TEXT, 0, NULL, "PROPERTY|物业公司|物业", 0, NULL},
    {"fee_collection_rate", EM_COL_REAL, 0, NULL, "FEE_RATE|物业费收缴率|收缴率", 0, NULL},
    {"owners_committee", EM_COL_TEXT, 0, committee_states, "COMMITTEE|业委会", 0, NULL},
    {"owners_cofund", EM_COL_BOOL, 0, NULL, "COFUND|业主出资意愿|业主出资", 0, NULL},
    {"tianyuan_model", EM_COL_BOOL, 0, NULL, "TIANYUAN|田园模式", 0, NULL},
    {"four_in_one", EM_COL_BOOL, 0, NULL, "FOUR_IN_1|四位一体", 0, NULL},
    {"elevator_count", EM_COL_INTEGER, 0, NULL, "ELEVATORS|电梯数|电梯数量", 0, NULL},
    {"elevator_valid_until", EM_COL_DATE, 0, NULL, "ELEV_VALID|电梯年检有效期", 0, NULL},
    {"rain_sewage_works", EM_COL_TEXT, 0, works_states, "RAIN_SEW|雨污分流", 0, NULL},
    {"water_supply_works", EM_COL_TEXT, 0, works_states, "WATER_SUP|二次供水", 0, NULL},
    {"roof_works", EM_COL_TEXT, 0, works_states, "ROOF|平改坡", 0, NULL},
    {"tier", EM_COL_TEXT, 0, tiers, "TIER|创建版本|版本", 0, NULL},
    {"stage", EM_COL_TEXT, 0, stages, "STAGE|阶段", 0, NULL},
    {"plan_date", EM_COL_DATE, 0, NULL, "PLAN_DATE|方案日期", 0, NULL},
    {"start_date", EM_COL_DATE, 0, NULL, "START_DATE|开工日期", 0, NULL},
    {"completed_date", EM_COL_DATE, 0, NULL, "DONE_DATE|完工日期", 0, NULL},
    {"accepted_date", EM_COL_DATE, 0, NULL, "ACCEPT_DT|验收日期", 0, NULL},
    {"satisfaction", EM_COL_REAL, 0, NULL, "SATISFY|满意度", 0, NULL},
};

static const em_column grid_columns[] = {
    {"code", EM_COL_TEXT, 1, NULL, "grid_code|网格编码|网格代码", 0, NULL},
    {"community", EM_COL_TEXT, 0, NULL, "社区|居委", 0, NULL},
    {"town_code", EM_COL_TEXT, 0, NULL, "town|街镇代码", 0, NULL},
};

static const em_column violation_columns[] = {
    {"code", EM_COL_TEXT, 0, NULL, "id|编号|案件编号", 0, NULL},
    {"category", EM_COL_TEXT, 1, NULL, "类别|违法类型|问题类别", 0, NULL},
    {"reported_at", EM_COL_DATETIME, 1, NULL, "reported|上报时间|发现时间", 0, NULL},
    {"resolved_at", EM_COL_DATETIME, 0, NULL, "resolved|结案时间|处置时间", 0, NULL},
    /* without a status, a report with a resolution time is resolved, else open */
    {"status", EM_COL_TEXT, 0, violation_states, "状态", 0, "open"},
    {"source", EM_COL_TEXT, 0, NULL, "来源", 0, NULL},
    {"description", EM_COL_TEXT, 0, NULL, "desc|描述|问题描述", 0, NULL},
    {"estate_code", EM_COL_TEXT, 0, NULL, NULL, 1, NULL},
    {"grid_code", EM_COL_TEXT, 0, NULL, NULL, 1, NULL},
};

static const em_column corridor_columns[] = {
    {"type", EM_COL_TEXT, 1, NULL, "corridor_type|类型", 0, NULL},
    {"name", EM_COL_TEXT, 0, NULL, "名称", 0, NULL},
};

static const em_column zone_columns[] = {
    {"kind", EM_COL_TEXT, 1, zone_kinds, "类型", 0, NULL},
    {"name", EM_COL_TEXT, 1, NULL, "名称", 0, NULL},
};

static const em_column renovation_columns[] = {
    {"estate_code", EM_COL_TEXT, 1, NULL, "小区编码", 0, NULL},
    {"item_id", EM_COL_INTEGER, 1, NULL, "item|项目", 0, NULL},
    {"status", EM_COL_TEXT, 0, item_states, "状态", 0, "planned"},
    {"budget_yuan", EM_COL_REAL, 0, NULL, "budget|预算", 0, NULL},
    {"owners_share", EM_COL_REAL, 0, NULL, "业主分担比例", 0, NULL},
};

#define LAYER(n, t, zh, g, cols, key)                                                              \
    { n, t, zh, g, cols, COUNT(cols), key }
static const em_layer layers[] = {
    LAYER("towns", "towns", "街镇", EM_GEOM_MULTIPOLYGON, town_columns, "code"),
    LAYER("estates", "estates", "小区", EM_GEOM_MULTIPOLYGON, estate_columns, "code"),
    LAYER("grid", "grid", "网格", EM_GEOM_POLYGON, grid_columns, "code"),
    LAYER("violations", "violations", "违法/六乱", EM_GEOM_POINT, violation_columns, "code"),
    LAYER("corridors", "corridors", "沿线", EM_GEOM_LINEAL_OR_POLYGONAL, corridor_columns, "name"),
    LAYER("zones", "zones", "区域", EM_GEOM_MULTIPOLYGON, zone_columns, "name"),
    LAYER("renovation", "estate_renovation", "改造项目", EM_GEOM_NONE, renovation_columns,
          "estate_code"),
};

const em_layer *em_layer_find(const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < COUNT(layers); i++)
        if (strcmp(layers[i].name, name) == 0)
            return &layers[i];
    return NULL;
}

size_t em_layer_count(void) {
    return COUNT(layers);
}

const em_layer *em_layer_at(size_t i) {
    return i < COUNT(layers) ? &layers[i] : NULL;
}

int em_layer_is_spatial(const em_layer *layer) {
    return layer->geom != EM_GEOM_NONE;
}

const em_column *em_layer_column(const em_layer *layer, const char *name) {
    for (size_t i = 0; i < layer->ncolumns; i++)
        if (strcmp(layer->columns[i].name, name) == 0)
            return &layer->columns[i];
    return NULL;
}

/* `field` is one of the "|"-separated names in `list` (NULL: none), ignoring case. */
static int in_list(const char *field, const char *list) {
    size_t flen = strlen(field);
    for (const char *a = list; a && *a;) {
        const char *bar = strchr(a, '|');
        size_t len = bar ? (size_t)(bar - a) : strlen(a);
        if (len == flen && strncasecmp(a, field, len) == 0)
            return 1;
        a += len + (bar ? 1 : 0);
    }
    return 0;
}

/* The export's names are looked up in its own table rather than copied into the
 * aliases above: one source of truth, so a renamed short name cannot break the
 * re-import of an export (tests/unit/test_layers.c checks that every column has an
 * entry and that no name is claimed by two columns of a layer). */
int em_column_known_as(const em_layer *layer, const em_column *col, const char *field) {
    if (strcasecmp(field, col->name) == 0 || in_list(field, col->aliases))
        return 1;
    const em_dbf_name *m = em_dbf_name_find(layer->name, col->name);
    if (!m)
        return 0;
    const char *const exported[] = {m->dbf, m->zh_utf8, m->zh_gbk, m->zh};
    for (size_t i = 0; i < COUNT(exported); i++)
        if (exported[i] && strcasecmp(field, exported[i]) == 0)
            return 1;
    return 0;
}

const char *em_layer_names(void) {
    return "towns, estates, grid, violations, corridors, zones, renovation";
}
