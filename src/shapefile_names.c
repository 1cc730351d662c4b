#include "shapefile_names.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The importer reads this table too (em_column_known_as), so every name here
 * imports again as its column; English names are mostly layers.c's older aliases.
 * Chinese names are the column's usual name cut to 3 characters (UTF-8) or 5 (GBK),
 * chosen by hand to stay readable and distinct within a layer. */
static const em_dbf_name names[] = {
    /* towns 街镇 */
    {"towns", "code", "CODE", "街镇代码", "代码", "街镇代码", 0, 0,
     "9-digit town code (310112xxx)"},
    {"towns", "name", "NAME", "街镇名称", "名称", "街镇名称", 0, 0, "town name"},
    {"towns", "area_km2", "AREA_KM2", "面积", "面积", "面积", 12, 4, "area in km²"},

    /* estates 小区 */
    {"estates", "code", "CODE", "小区编码", "编码", "小区编码", 0, 0,
     "estate code: town code, dash, sequence"},
    {"estates", "name", "NAME", "小区名称", "名称", "小区名称", 0, 0, "estate name"},
    {"estates", "address", "ADDRESS", "地址", "地址", "地址", 0, 0, "street address"},
    {"estates", "town_code", "TOWN_CODE", "街镇代码", "街镇码", "街镇代码", 0, 0,
     "town the estate lies in (derived from location)"},
    {"estates", "built_year", "BUILT_YR", "建成年份", "建成年", "建成年份", 4, 0,
     "year built; environmental renovation covers estates built before 2000"},
    {"estates", "housing_type", "HOUSING", "房屋类型", "房屋类", "房屋类型", 0, 0,
     "housing type: 售后公房, 系统公房, 直管公房, 动迁安置房, 商品房, 混合"},
    {"estates", "households", "HOUSEHOLDS", "户数", "户数", "户数", 8, 0, "households"},
    {"estates", "buildings", "BUILDINGS", "楼栋数", "楼栋数", "楼栋数", 6, 0,
     "number of buildings"},
    {"estates", "floor_area_m2", "FLOOR_AREA", "建筑面积", "建面积", "建筑面积", 14, 2,
     "gross floor area in m²"},
    {"estates", "property_company", "PROPERTY", "物业公司", "物业", "物业公司", 0, 0,
     "property management company"},
    {"estates", "fee_collection_rate", "FEE_RATE", "物业费收缴率", "收缴率", "物业收缴率", 6, 4,
     "property fee collection rate, 0-1 (prerequisite 2)"},
    {"estates", "owners_committee", "COMMITTEE", "业委会", "业委会", "业委会", 0, 0,
     "owners' committee: none, formed, operating"},
    {"estates", "owners_cofund", "COFUND", "业主出资意愿", "出资", "业主出资", 1, 0,
     "owners willing to co-fund, 1/0 (prerequisite 3)"},
    {"estates", "tianyuan_model", "TIANYUAN", "田园模式", "田园", "田园模式", 1, 0,
     "Tianyuan model in place, 1/0 (prerequisite 4)"},
    {"estates", "four_in_one", "FOUR_IN_1", "四位一体", "四位一", "四位一体", 1, 0,
     "four-in-one management in place, 1/0 (prerequisite 5)"},
    {"estates", "elevator_count", "ELEVATORS", "电梯数", "电梯数", "电梯数", 4, 0, "elevators"},
    {"estates", "elevator_valid_until", "ELEV_VALID", "电梯年检有效期", "年检期", "年检有效期", 0,
     0, "elevator inspection valid until (prerequisite 7)"},
    {"estates", "rain_sewage_works", "RAIN_SEW", "雨污分流", "雨污", "雨污分流", 0, 0,
     "rain/sewage separation works: none, planned, in_progress, done"},
    {"estates", "water_supply_works", "WATER_SUP", "二次供水", "供水", "二次供水", 0, 0,
     "secondary water supply works: none, planned, in_progress, done"},
    {"estates", "roof_works", "ROOF", "平改坡", "平改坡", "平改坡", 0, 0,
     "flat-to-sloped roof works: none, planned, in_progress, done"},
    {"estates", "tier", "TIER", "创建版本", "版本", "创建版本", 0, 0,
     "tier: 示范版 demonstration, 提升版 upgrade, 基础版 basic"},
    {"estates", "stage", "STAGE", "阶段", "阶段", "阶段", 0, 0,
     "stage: none, planning, implementing, completed, accepted"},
    {"estates", "plan_date", "PLAN_DATE", "方案日期", "方案日", "方案日期", 0, 0,
     "date the estate's plan was made"},
    {"estates", "start_date", "START_DATE", "开工日期", "开工日", "开工日期", 0, 0,
     "works started"},
    {"estates", "completed_date", "DONE_DATE", "完工日期", "完工日", "完工日期", 0, 0,
     "works completed"},
    {"estates", "accepted_date", "ACCEPT_DT", "验收日期", "验收日", "验收日期", 0, 0,
     "works accepted"},
    {"estates", "satisfaction", "SATISFY", "满意度", "满意度", "满意度", 6, 2,
     "residents' satisfaction score, 0-100"},

    /* grid 网格 */
    {"grid", "code", "CODE", "网格编码", "编码", "网格编码", 0, 0,
     "grid cell code: town code, community, cell"},
    {"grid", "community", "COMMUNITY", "社区", "社区", "社区", 0, 0, "community (居委)"},
    {"grid", "town_code", "TOWN_CODE", "街镇代码", "街镇码", "街镇代码", 0, 0, "town code"},

    /* violations 违法/六乱 */
    {"violations", "code", "CODE", "案件编号", "编号", "案件编号", 0, 0, "report number"},
    {"violations", "category", "CATEGORY", "问题类别", "类别", "问题类别", 0, 0,
     "category: one of the 五违, 违法使用房屋 or the 六乱"},
    {"violations", "reported_at", "REPORTED", "上报时间", "上报时", "上报时间", 0, 0,
     "reported, Shanghai time (YYYY-MM-DD HH:MM:SS)"},
    {"violations", "resolved_at", "RESOLVED", "结案时间", "结案时", "结案时间", 0, 0,
     "resolved, Shanghai time (YYYY-MM-DD HH:MM:SS)"},
    {"violations", "status", "STATUS", "状态", "状态", "状态", 0, 0, "status: open, resolved"},
    {"violations", "source", "SOURCE", "来源", "来源", "来源", 0, 0, "who reported it"},
    {"violations", "description", "DESC", "问题描述", "描述", "问题描述", 0, 0, "description"},
    {"violations", "estate_code", "ESTATE", "小区编码", "小区码", "小区编码", 0, 0,
     "estate the report lies in (derived from location)"},
    {"violations", "grid_code", "GRID", "网格编码", "网格码", "网格编码", 0, 0,
     "grid cell the report lies in (derived from location)"},

    /* corridors 沿线 */
    {"corridors", "type", "TYPE", "类型", "类型", "类型", 0, 0,
     "corridor type: railway, expressway, river, rail_transit"},
    {"corridors", "name", "NAME", "名称", "名称", "名称", 0, 0, "name"},

    /* zones 区域 */
    {"zones", "kind", "KIND", "类型", "类型", "类型", 0, 0,
     "kind: key_remediation (重点整治区域), civilised_key (创全重点区域)"},
    {"zones", "name", "NAME", "名称", "名称", "名称", 0, 0, "name"},

    /* renovation 改造项目 (no geometry) */
    {"renovation", "estate_code", "ESTATE", "小区编码", "小区码", "小区编码", 0, 0, "estate code"},
    {"renovation", "item_id", "ITEM_ID", "改造项目", "项目", "改造项目", 2, 0,
     "renovation item 1-15 (policy §四(二))"},
    {"renovation", "status", "STATUS", "状态", "状态", "状态", 0, 0,
     "status: planned, in_progress, done, cancelled"},
    {"renovation", "budget_yuan", "BUDGET", "预算", "预算", "预算", 14, 2, "budget in yuan"},
    {"renovation", "owners_share", "OWN_SHARE", "业主分担比例", "业主比", "业主分担", 6, 4,
     "owners' share of the cost, 0-1"},

    /* analyses: the columns of their result tables */
    {"analysis:corridors", "railway_dist_m", "RAIL_DIST", "铁路距离(米)", "铁路距", "铁路距离", 10,
     1, "metres from the estate to the nearest railway (EPSG:4549); empty when none within 10 km"},
    {"analysis:corridors", "railway_name", "RAIL_NAME", "最近铁路", "铁路名", "最近铁路", 0, 0,
     "name of the nearest railway"},
    {"analysis:corridors", "railway_along", "RAIL_ALONG", "沿铁路", "沿铁路", "沿铁路", 1, 0,
     "1 when within the railway buffer"},
    {"analysis:corridors", "expressway_dist_m", "EXPR_DIST", "高速公路/高架距离(米)", "高速距",
     "高速距离", 10, 1,
     "metres from the estate to the nearest expressway (EPSG:4549); empty when none within 10 km"},
    {"analysis:corridors", "expressway_name", "EXPR_NAME", "最近高速公路/高架", "高速名",
     "最近高速", 0, 0, "name of the nearest expressway"},
    {"analysis:corridors", "expressway_along", "EXPR_ALONG", "沿高速公路/高架", "沿高速", "沿高速",
     1, 0, "1 when within the expressway buffer"},
    {"analysis:corridors", "river_dist_m", "RIVER_DIST", "河道距离(米)", "河道距", "河道距离", 10,
     1, "metres from the estate to the nearest river (EPSG:4549); empty when none within 10 km"},
    {"analysis:corridors", "river_name", "RIVER_NAME", "最近河道", "河道名", "最近河道", 0, 0,
     "name of the nearest river"},
    {"analysis:corridors", "river_along", "RIVR_ALONG", "沿河道", "沿河道", "沿河道", 1, 0,
     "1 when within the river buffer"},
    {"analysis:corridors", "rail_transit_dist_m", "METRO_DIST", "轨道交通距离(米)", "轨交距",
     "轨交距离", 10, 1,
     "metres from the estate to the nearest rail transit (EPSG:4549); empty when none within 10 "
     "km"},
    {"analysis:corridors", "rail_transit_name", "METRO_NAME", "最近轨道交通", "轨交名", "最近轨交",
     0, 0, "name of the nearest rail transit"},
    {"analysis:corridors", "rail_transit_along", "METRO_ALNG", "沿轨道交通", "沿轨交", "沿轨交", 1,
     0, "1 when within the rail transit buffer"},
    {"analysis:corridors", "along_types", "ALONG", "所沿类型", "沿线类", "所沿类型", 0, 0,
     "corridor types the estate is along, ;-separated"},
    {"analysis:density", "count", "COUNT", "违法数", "违法数", "违法数", 0, 0,
     "violation reports counted"},
    {"analysis:density", "area_ha", "AREA_HA", "面积(公顷)", "面积", "面积公顷", 0, 0,
     "area in hectares (EPSG:4549)"},
    {"analysis:density", "per_ha", "PER_HA", "每公顷", "每公顷", "每公顷", 0, 0,
     "reports per hectare"},
    {"analysis:density", "per_1000_households", "PER_1000HH", "每千户", "每千户", "每千户", 0, 0,
     "reports per 1000 households"},
    {"analysis:density", "class", "CLASS", "分级", "分级", "分级", 1, 0,
     "quintile class of per_ha, 1 (lowest) to 5"},
    {"analysis:hotspots", "count", "COUNT", "违法数", "违法数", "违法数", 0, 0,
     "violation reports in the cell"},
    {"analysis:hotspots", "neighbours", "NEIGHBOURS", "邻域网格数", "邻域数", "邻域网格数", 0, 0,
     "cells within the distance band, itself included"},
    {"analysis:hotspots", "z_score", "Z_SCORE", "Z得分", "Z得分", "Z得分", 0, 0,
     "Getis-Ord Gi* z-score"},
    {"analysis:hotspots", "p_value", "P_VALUE", "P值", "P值", "P值", 0, 0, "two-sided p-value"},
    {"analysis:hotspots", "class", "CLASS", "类别", "类别", "类别", 0, 0,
     "hot_99, hot_95, hot_90, cold_99, cold_95, cold_90 or not_significant"},
    {"analysis:eligibility", "in_scope", "IN_SCOPE", "改造范围内", "范围内", "改造范围内", 1, 0,
     "1 when built before the scope year (2000)"},
    {"analysis:eligibility", "eligible", "ELIGIBLE", "符合全部条件", "全符合", "符合条件", 1, 0,
     "1 when all seven prerequisites hold"},
    {"analysis:eligibility", "p1_pass", "P1_PASS", "条件1", "条件1", "条件1通过", 1, 0,
     "1 when prerequisite 1 (no 五违) holds"},
    {"analysis:eligibility", "p1_reason", "P1_REASON", "条件1说明(英文)", "条件1英", "条件1英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p1_reason_zh", "P1_REAS_ZH", "条件1说明", "条件1说", "条件1说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p2_pass", "P2_PASS", "条件2", "条件2", "条件2通过", 1, 0,
     "1 when prerequisite 2 (fee collection) holds"},
    {"analysis:eligibility", "p2_reason", "P2_REASON", "条件2说明(英文)", "条件2英", "条件2英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p2_reason_zh", "P2_REAS_ZH", "条件2说明", "条件2说", "条件2说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p3_pass", "P3_PASS", "条件3", "条件3", "条件3通过", 1, 0,
     "1 when prerequisite 3 (owners co-fund) holds"},
    {"analysis:eligibility", "p3_reason", "P3_REASON", "条件3说明(英文)", "条件3英", "条件3英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p3_reason_zh", "P3_REAS_ZH", "条件3说明", "条件3说", "条件3说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p4_pass", "P4_PASS", "条件4", "条件4", "条件4通过", 1, 0,
     "1 when prerequisite 4 (田园模式) holds"},
    {"analysis:eligibility", "p4_reason", "P4_REASON", "条件4说明(英文)", "条件4英", "条件4英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p4_reason_zh", "P4_REAS_ZH", "条件4说明", "条件4说", "条件4说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p5_pass", "P5_PASS", "条件5", "条件5", "条件5通过", 1, 0,
     "1 when prerequisite 5 (四位一体) holds"},
    {"analysis:eligibility", "p5_reason", "P5_REASON", "条件5说明(英文)", "条件5英", "条件5英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p5_reason_zh", "P5_REAS_ZH", "条件5说明", "条件5说", "条件5说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p6_pass", "P6_PASS", "条件6", "条件6", "条件6通过", 1, 0,
     "1 when prerequisite 6 (grid coverage) holds"},
    {"analysis:eligibility", "p6_reason", "P6_REASON", "条件6说明(英文)", "条件6英", "条件6英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p6_reason_zh", "P6_REAS_ZH", "条件6说明", "条件6说", "条件6说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "p7_pass", "P7_PASS", "条件7", "条件7", "条件7通过", 1, 0,
     "1 when prerequisite 7 (elevator inspection) holds"},
    {"analysis:eligibility", "p7_reason", "P7_REASON", "条件7说明(英文)", "条件7英", "条件7英文", 0,
     0, "why, in English"},
    {"analysis:eligibility", "p7_reason_zh", "P7_REAS_ZH", "条件7说明", "条件7说", "条件7说明", 0,
     0, "why, in Chinese"},
    {"analysis:eligibility", "prio1", "PRIO1", "优先1", "优先1", "优先1", 1, 0,
     "1 when priority criterion 1 holds: along a corridor or in a key remediation area, 五违 "
     "cooperation good"},
    {"analysis:eligibility", "prio1_reason", "PRIO1_RSN", "优先1说明(英文)", "优先1英", "优先1英文",
     0, 0, "why, in English"},
    {"analysis:eligibility", "prio1_reason_zh", "PRIO1_RSZH", "优先1说明", "优先1说", "优先1说明",
     0, 0, "why, in Chinese"},
    {"analysis:eligibility", "prio2", "PRIO2", "优先2", "优先2", "优先2", 1, 0,
     "1 when priority criterion 2 holds: in a civilised-district key area"},
    {"analysis:eligibility", "prio2_reason", "PRIO2_RSN", "优先2说明(英文)", "优先2英", "优先2英文",
     0, 0, "why, in English"},
    {"analysis:eligibility", "prio2_reason_zh", "PRIO2_RSZH", "优先2说明", "优先2说", "优先2说明",
     0, 0, "why, in Chinese"},
    {"analysis:eligibility", "prio3", "PRIO3", "优先3", "优先3", "优先3", 1, 0,
     "1 when priority criterion 3 holds: water or roof works planned or under way"},
    {"analysis:eligibility", "prio3_reason", "PRIO3_RSN", "优先3说明(英文)", "优先3英", "优先3英文",
     0, 0, "why, in English"},
    {"analysis:eligibility", "prio3_reason_zh", "PRIO3_RSZH", "优先3说明", "优先3说", "优先3说明",
     0, 0, "why, in Chinese"},
    {"analysis:eligibility", "priority_score", "PRIO_SCORE", "优先条件数", "优先数", "优先条件数",
     0, 0, "priority criteria met, 0-3"},
    {"analysis:eligibility", "grid_coverage_pct", "GRID_COV", "网格覆盖率%", "覆盖率", "网格覆盖率",
     0, 0, "share of the estate's area covered by grid cells, %"},
    {"analysis:eligibility", "open_wuwei", "OPEN_WUWEI", "未处置五违", "未处置", "未处置五违", 0, 0,
     "open 五违 reports in the estate"},
    {"analysis:eligibility", "along_types", "ALONG", "沿线类型", "沿线类", "沿线类型", 0, 0,
     "corridor types the estate is along"},
    {"analysis:tiers", "town_name", "TOWN_NAME", "街镇", "街镇", "街镇名称", 0, 0, "town name"},
    {"analysis:tiers", "in_scope", "IN_SCOPE", "应建小区数", "应建数", "应建小区数", 0, 0,
     "estates in scope"},
    {"analysis:tiers", "eligible", "ELIGIBLE", "符合条件", "符合", "符合条件", 0, 0,
     "eligible (all prerequisites hold): count per town, 1/0 per estate"},
    {"analysis:tiers", "assigned_demo", "ASG_DEMO", "已定示范版", "定示范", "已定示范版", 0, 0,
     "estates assigned 示范版"},
    {"analysis:tiers", "assigned_upgrade", "ASG_UPGR", "已定提升版", "定提升", "已定提升版", 0, 0,
     "estates assigned 提升版"},
    {"analysis:tiers", "assigned_basic", "ASG_BASIC", "已定基础版", "定基础", "已定基础版", 0, 0,
     "estates assigned 基础版"},
    {"analysis:tiers", "unassigned", "UNASSIGNED", "未定版本", "未定", "未定版本", 0, 0,
     "estates in scope with no tier"},
    {"analysis:tiers", "assigned_failing", "ASG_FAIL", "不符条件却定为示范/提升", "定不符",
     "不符却定", 0, 0, "assigned 示范版 or 提升版 although a prerequisite fails"},
    {"analysis:tiers", "recommended_demo", "REC_DEMO", "建议示范版", "荐示范", "建议示范版", 0, 0,
     "recommended 示范版"},
    {"analysis:tiers", "recommended_upgrade", "REC_UPGR", "建议提升版", "荐提升", "建议提升版", 0,
     0, "recommended 提升版"},
    {"analysis:tiers", "recommended_basic", "REC_BASIC", "建议基础版", "荐基础", "建议基础版", 0, 0,
     "recommended 基础版"},
    {"analysis:tiers", "demo_required", "DEMO_REQ", "示范版最少数", "示范需", "示范最少数", 0, 0,
     "示范版 the quota requires (10% of scope)"},
    {"analysis:tiers", "demo_quota_met", "DEMO_MET", "示范版达标", "示范达", "示范达标", 1, 0,
     "1 when the 示范版 quota is met"},
    {"analysis:tiers", "demo_needed", "DEMO_NEED", "示范版尚缺", "示范缺", "示范尚缺", 0, 0,
     "示范版 still to assign"},
    {"analysis:tiers", "upgrade_required", "UPGR_REQ", "提升版最少数", "提升需", "提升最少数", 0, 0,
     "提升版 the quota requires (40% of scope)"},
    {"analysis:tiers", "upgrade_quota_met", "UPGR_MET", "提升版达标", "提升达", "提升达标", 1, 0,
     "1 when the 提升版 quota is met"},
    {"analysis:tiers", "upgrade_needed", "UPGR_NEED", "提升版尚缺", "提升缺", "提升尚缺", 0, 0,
     "提升版 still to assign"},
    {"analysis:tiers", "failed", "FAILED", "未满足条件", "未满足", "未满足条件", 0, 0,
     "prerequisites that fail"},
    {"analysis:tiers", "priority_score", "PRIO_SCORE", "优先条件数", "优先数", "优先条件数", 0, 0,
     "priority criteria met, 0-3"},
    {"analysis:tiers", "rank", "RANK", "街镇内排名", "排名", "街镇内排名", 0, 0,
     "rank within the town"},
    {"analysis:tiers", "recommended_tier", "REC_TIER", "建议版本", "建议版", "建议版本", 0, 0,
     "recommended tier"},
    {"analysis:tiers", "assigned_tier", "ASG_TIER", "已定版本", "已定版", "已定版本", 0, 0,
     "tier assigned"},
    {"analysis:tiers", "matches", "MATCHES", "与建议一致", "一致", "与建议一致", 1, 0,
     "1 when the assigned tier is the recommended one"},
    {"analysis:tiers", "assigned_allowed", "ASG_OK", "已定版本符合条件", "定合规", "已定合条件", 1,
     0, "1 when the assigned tier is allowed by the prerequisites"},
    {"analysis:tiers", "note", "NOTE", "说明(英文)", "说明英", "说明英文", 0, 0,
     "note, in English"},
    {"analysis:tiers", "note_zh", "NOTE_ZH", "说明", "说明", "说明", 0, 0, "note, in Chinese"},
    {"analysis:progress", "town_name", "TOWN_NAME", "街镇", "街镇", "街镇名称", 0, 0,
     "town name (district row: 闵行区)"},
    {"analysis:progress", "milestone", "MILESTONE", "节点", "节点", "节点", 0, 0,
     "milestone of the §五(二) timeline"},
    {"analysis:progress", "description", "DESC", "说明(英文)", "说明英", "说明英文", 0, 0,
     "the milestone, in English"},
    {"analysis:progress", "description_zh", "DESC_ZH", "说明", "说明", "说明", 0, 0,
     "the milestone, in Chinese"},
    {"analysis:progress", "tier", "TIER", "版本", "版本", "版本", 0, 0,
     "tier the milestone is about"},
    {"analysis:progress", "deadline", "DEADLINE", "截止日期", "截止日", "截止日期", 0, 0,
     "deadline"},
    {"analysis:progress", "target", "TARGET", "目标数", "目标数", "目标数", 0, 0,
     "estates the milestone needs"},
    {"analysis:progress", "done", "DONE", "按期完成", "按期", "按期完成", 0, 0,
     "done by the deadline (or as-of date)"},
    {"analysis:progress", "late", "LATE", "逾期完成", "逾期", "逾期完成", 0, 0,
     "done after the deadline"},
    {"analysis:progress", "share", "SHARE", "完成率", "完成率", "完成率", 0, 0, "done / target"},
    {"analysis:progress", "status", "STATUS", "状态", "状态", "状态", 0, 0,
     "met, pending or not_met"},
};

#define NNAMES (sizeof names / sizeof names[0])

size_t em_dbf_name_count(void) {
    return NNAMES;
}

const em_dbf_name *em_dbf_name_at(size_t i) {
    return i < NNAMES ? &names[i] : NULL;
}

const em_dbf_name *em_dbf_name_find(const char *layer, const char *column) {
    const em_dbf_name *shared = NULL;
    for (size_t i = 0; i < NNAMES; i++) {
        if (strcmp(names[i].column, column) != 0)
            continue;
        if (layer && strcmp(names[i].layer, layer) == 0)
            return &names[i];
        if (!shared && strcmp(names[i].layer, "*") == 0)
            shared = &names[i];
    }
    return shared;
}

/* Any entry's ASCII name for a column: analyses repeat the layers' columns. */
static const char *any_dbf_name(const char *column) {
    for (size_t i = 0; i < NNAMES; i++)
        if (strcmp(names[i].column, column) == 0)
            return names[i].dbf;
    return NULL;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t char_len(const unsigned char *s) {
    if (*s < 0x80)
        return 1;
    size_t n = (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

static size_t encoded_len(size_t n, em_dbf_names_style style) {
    if (style != EM_DBF_NAMES_ZH_GBK)
        return n;
    return n == 1 ? 1 : 2;
}

size_t em_dbf_name_bytes(const char *utf8, em_dbf_names_style style) {
    size_t total = 0;
    for (const unsigned char *p = (const unsigned char *)utf8; *p;) {
        size_t n = char_len(p);
        total += encoded_len(n, style);
        p += n;
    }
    return total;
}

/* Copy at most `budget` encoded bytes of whole characters of `in` to `out`. */
static void cut(const char *in, size_t budget, em_dbf_names_style style,
                char out[EM_DBF_NAME_BUF]) {
    size_t used = 0, o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        size_t n = char_len(p);
        size_t e = encoded_len(n, style);
        if (used + e > budget || o + n >= EM_DBF_NAME_BUF)
            break;
        memcpy(out + o, p, n);
        o += n;
        used += e;
        p += n;
    }
    out[o] = '\0';
}

static int is_vowel(char c) {
    return strchr("AEIOU", c) != NULL;
}

/* An ASCII name from a column name: upper case; if too long, vowels that do not start
 * a word go, from the last word back (VIOLATIONS_OPEN -> VLTNS_OPN), then the end. */
static void derive_en(const char *column, char out[EM_DBF_NAME_BUF]) {
    char buf[128];
    size_t n = 0;
    for (const char *p = column; *p && n + 1 < sizeof buf; p++) {
        unsigned char c = (unsigned char)*p;
        buf[n++] = isalnum(c) ? (char)toupper(c) : '_';
    }
    buf[n] = '\0';
    if (n == 0 || isdigit((unsigned char)buf[0])) {
        memmove(buf + 1, buf, n + 1 < sizeof buf - 1 ? n + 1 : sizeof buf - 2);
        buf[0] = 'F';
        buf[sizeof buf - 1] = '\0';
        n = strlen(buf);
    }
    while (n > EM_DBF_NAME_MAX) {
        /* the last vowel that does not begin a word */
        ptrdiff_t drop = -1;
        for (size_t i = n; i-- > 1;)
            if (is_vowel(buf[i]) && buf[i - 1] != '_') {
                drop = (ptrdiff_t)i;
                break;
            }
        if (drop < 0)
            break;
        memmove(buf + drop, buf + drop + 1, n - (size_t)drop);
        n--;
    }
    n = n > EM_DBF_NAME_MAX ? EM_DBF_NAME_MAX : n; /* 10 < EM_DBF_NAME_BUF */
    memcpy(out, buf, n);
    out[n] = '\0';
}

/* Letters, digits, CJK and '_' of a label; punctuation such as （）% ² goes. */
static void derive_zh(const char *label, em_dbf_names_style style, char out[EM_DBF_NAME_BUF]) {
    char clean[256];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)label; *p && o + 4 < sizeof clean;) {
        size_t n = char_len(p);
        int keep = n == 1 ? (isalnum(*p) || *p == '_') : n == 3 && p[0] >= 0xE4 && p[0] <= 0xE9;
        if (keep) {
            memcpy(clean + o, p, n);
            o += n;
        }
        p += n;
    }
    clean[o] = '\0';
    cut(clean, EM_DBF_NAME_MAX, style, out);
}

void em_dbf_names_assign(const char *layer, int n, const char *const *columns,
                         const char *const *labels_zh, em_dbf_names_style style,
                         char (*out)[EM_DBF_NAME_BUF]) {
    for (int i = 0; i < n; i++) {
        const em_dbf_name *m = em_dbf_name_find(layer, columns[i]);
        const char *label = labels_zh ? labels_zh[i] : NULL;
        char want[EM_DBF_NAME_BUF];
        if (style == EM_DBF_NAMES_EN) {
            const char *known = m ? m->dbf : any_dbf_name(columns[i]);
            if (known)
                snprintf(want, sizeof want, "%s", known);
            else
                derive_en(columns[i], want);
        } else if (m) {
            snprintf(want, sizeof want, "%s",
                     style == EM_DBF_NAMES_ZH_GBK ? m->zh_gbk : m->zh_utf8);
        } else {
            derive_zh(label && *label ? label : columns[i], style, want);
        }
        if (!want[0])
            derive_en(columns[i], want);
        cut(want, EM_DBF_NAME_MAX, style, out[i]);

        /* unique, ignoring case: NAME, NAME_2, ... (Chinese: 名称, 名称2, ...) */
        for (int k = 2;; k++) {
            int clash = 0;
            for (int j = 0; j < i && !clash; j++)
                clash = strcasecmp(out[j], out[i]) == 0;
            if (!clash)
                break;
            char suffix[8], base[EM_DBF_NAME_BUF];
            snprintf(suffix, sizeof suffix, style == EM_DBF_NAMES_EN ? "_%d" : "%d", k);
            cut(want, EM_DBF_NAME_MAX - strlen(suffix), style, base);
            /* base is cut to leave room for the suffix, so this always fits */
            size_t blen = strlen(base), slen = strlen(suffix);
            if (blen + slen >= EM_DBF_NAME_BUF)
                blen = EM_DBF_NAME_BUF - 1 - slen;
            memcpy(out[i], base, blen);
            memcpy(out[i] + blen, suffix, slen + 1);
        }
    }
}
