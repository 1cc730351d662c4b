// The one translation table of the map: every label of the interface, [Chinese, English].
// Legend classes come with their own label_zh / label_en from styles/*.json, the same files
// the QGIS styles of the exports are made from.

const TABLE = {
  'app.title': ['闵行区“美丽家园”建设 地图', 'Minhang “Beautiful Homes” Programme Map'],
  'app.title_short': ['美丽家园 地图', 'Beautiful Homes Map'],
  'app.subtitle': ['闵行区住宅小区综合治理 · 区房管局 推进办', 'Minhang District residential estates · Housing Bureau programme office'],
  'map.aria': ['地图', 'Map'],

  'ui.menu': ['菜单', 'Menu'],
  'ui.close': ['关闭', 'Close'],
  'ui.cancel': ['取消', 'Cancel'],
  'ui.save': ['保存', 'Save'],
  'ui.loading': ['正在加载…', 'Loading…'],
  'ui.yes': ['是', 'yes'],
  'ui.no': ['否', 'no'],
  'ui.none': ['无', 'none'],
  'ui.unknown': ['未知', 'unknown'],
  'ui.not_set': ['未填', 'not set'],
  'ui.count': ['{n} 个', '{n}'],
  'ui.export': ['导出', 'Export'],
  'ui.download': ['下载', 'Download'],
  'ui.more': ['更多', 'More'],
  'ui.zoom_to': ['定位', 'Zoom to'],
  'ui.error': ['出错：{msg}', 'Error: {msg}'],
  'ui.retry': ['重试', 'Retry'],
  'ui.unavailable': ['服务器尚未提供此功能（{path}），暂不可用。', 'The server does not offer this yet ({path}); not available.'],
  'ui.offline_data': ['数据加载失败：{msg}', 'Could not load data: {msg}'],
  'ui.paren': ['{a}（{b}）', '{a} ({b})'],
  'ui.m': ['{n} 米', '{n} m'],
  'ui.ha': ['公顷', 'ha'],
  'ui.district': ['闵行区（全区）', 'Minhang District (all)'],

  'tab.layers': ['图层', 'Layers'],
  'tab.corridors': ['沿线分析', 'Corridors'],
  'tab.dashboard': ['街镇看板', 'Towns'],
  'tab.selection': ['框选导出', 'Select'],

  'search.placeholder': ['搜索小区名称或编码、街镇', 'Search estate name or code, town'],
  'search.none': ['无匹配结果', 'No match'],
  'search.town': ['街镇', 'town'],
  'search.estate': ['小区', 'estate'],

  'date.label': ['日期', 'Date'],
  'date.help': ['查看该日的违法点与创建阶段', 'Violations and stages as on this date'],

  'coords.lon': ['经度', 'Lon'],
  'coords.lat': ['纬度', 'Lat'],
  'coords.crs': ['CGCS2000', 'CGCS2000'],

  'basemap.title': ['底图', 'Base map'],
  'basemap.none': ['无底图', 'None'],
  'basemap.osm': ['OpenStreetMap', 'OpenStreetMap'],
  'basemap.tdt': ['天地图 矢量', 'Tianditu vector'],
  'basemap.tdt_img': ['天地图 影像', 'Tianditu imagery'],
  'basemap.tdt_credit': ['© <a href="https://www.tianditu.gov.cn/">天地图</a> 国家地理信息公共服务平台', '© <a href="https://www.tianditu.gov.cn/">Tianditu</a> National Platform for Common Geospatial Information Services'],
  'basemap.osm_credit': ['© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> 贡献者', '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'],
  'basemap.tdt_nokey': ['天地图需要密钥：请在设置中填写', 'Tianditu needs a key: enter it in Settings'],
  'basemap.note': ['无底图时以街镇界与沿线定位；底图仅为可选参考。', 'Without a base map, town boundaries and corridors orient the map; base maps are optional.'],

  'layers.title': ['专题图层', 'Thematic layers'],
  'layer.towns': ['街镇', 'Towns'],
  'layer.estates': ['小区', 'Estates'],
  'layer.grid': ['网格', 'Grid cells'],
  'layer.violations': ['违法/六乱', 'Violations'],
  'layer.corridors': ['四类沿线', 'Corridors'],
  'layer.zones': ['重点区域', 'Zones'],
  'layer.theme': ['分类', 'Theme'],
  'layer.count': ['{n} 个要素', '{n} features'],
  'layer.loading': ['加载中…', 'loading…'],
  'layer.zoom_in': ['放大至第 {z} 级以上显示', 'Zoom to level {z} or closer to see it'],
  'layer.tiles_missing': ['服务器尚未提供瓦片（/tiles），改为按视野加载', 'The server has no tiles (/tiles) yet; loading by view instead'],

  'theme.tier': ['创建版本（已定）', 'Assigned tier'],
  'theme.recommended': ['建议版本', 'Recommended tier'],
  'theme.built_era': ['建成年代', 'Build era'],
  'theme.eligibility': ['前置条件（七项）', 'Eligibility (7 prerequisites)'],
  'theme.violation_rate': ['违法密度（每公顷）', 'Violation rate (per ha)'],
  'theme.stage': ['创建阶段（按日期）', 'Stage (on the date)'],
  'theme.housing_type': ['房屋类型', 'Housing type'],
  'theme.owners_committee': ['业委会', 'Owners’ committee'],
  'theme.other_none': ['无数据', 'no data'],
  'theme.not_in_scope': ['不在改造范围（2000年后建成）', 'out of scope (built 2000 or later)'],
  'grid.outline': ['网格边界', 'Cell outlines'],
  'grid.density': ['违法密度（五分位）', 'Violation density (quintiles)'],
  'grid.hotspots': ['热点分析 Gi*', 'Hot spots (Gi*)'],
  'grid.legend_density': ['每公顷违法数，五分位分级', 'reports per hectare, quintile classes'],
  'viol.cluster': ['聚合点', 'Clustered points'],
  'viol.heat': ['热力图', 'Heat map'],
  'viol.open_only': ['仅显示该日未处置的', 'Only those open on the date'],
  'viol.popup_reported': ['上报', 'Reported'],
  'viol.popup_resolved': ['处置', 'Resolved'],
  'heat.low': ['少', 'few'],
  'heat.high': ['多', 'many'],
  'viol.cluster_n': ['{n} 条', '{n} reports'],
  'viol.shown': ['显示 {n} 条', '{n} shown'],
  'corr.legend_width': ['{label}（{w}）', '{label} ({w})'],
  'corr.buffers_note': ['缓冲区按“沿线分析”中的宽度绘制', 'Buffers drawn at the widths set under Corridors'],
  'osm.credit': ['沿线数据 © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> 贡献者（ODbL）', 'Corridor data © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors (ODbL)'],

  'type.railway': ['铁路', 'Railway'],
  'type.expressway': ['高速公路/高架', 'Expressway'],
  'type.river': ['河道', 'River'],
  'type.rail_transit': ['轨道交通', 'Rail transit'],
  'type_short.railway': ['铁路', 'rail'],
  'type_short.expressway': ['高架', 'expwy'],
  'type_short.river': ['河道', 'river'],
  'type_short.rail_transit': ['轨交', 'metro'],

  'corridor.title': ['四类沿线小区', 'Estates along the four corridor types'],
  'corridor.intro': ['勾选沿线类型并调整缓冲宽度，地图与名单即时更新。', 'Tick corridor types and set each buffer; the map and list update at once.'],
  'corridor.reference': ['参考宽度', 'Reference'],
  'corridor.ref.railway': ['8–20 米（铁路安全管理条例 第二十七条）', '8–20 m (Railway Safety Regulations art. 27)'],
  'corridor.ref.expressway': ['≥ 30 米 建筑控制区（公路安全保护条例 第十一条）', '≥ 30 m building-control zone (Highway Safety Protection Regulations art. 11)'],
  'corridor.ref.river': ['河道蓝线，由区确定', 'River blue line, set by the district'],
  'corridor.ref.rail_transit': ['地面/高架 30 米，地下 50 米（上海市轨道交通管理条例 第三十七条）', '30 m surface/elevated, 50 m underground (Shanghai Rail Transit Regulations art. 37)'],
  'corridor.pre2000': ['仅 2000 年前建成（改造范围）', 'Only built before 2000 (renovation scope)'],
  'corridor.count': ['沿线小区 {n} 个', '{n} estates along'],
  'corridor.col.name': ['小区', 'Estate'],
  'corridor.col.town': ['街镇', 'Town'],
  'corridor.col.built': ['建成', 'Built'],
  'corridor.col.type': ['沿线类型', 'Type'],
  'corridor.col.nearest': ['最近沿线', 'Nearest corridor'],
  'corridor.col.distance': ['距离(米)', 'Distance (m)'],
  'corridor.unnamed': ['（未命名）', '(unnamed)'],
  'corridor.export_title': ['导出结果', 'Export the result'],
  'corridor.none_ticked': ['请至少勾选一类沿线', 'Tick at least one corridor type'],
  'corridor.more_rows': ['名单仅显示前 {n} 行，导出包含全部', 'The list shows the first {n} rows; exports hold all'],

  'export.format': ['格式', 'Format'],
  'export.shp': ['Shapefile（zip）', 'Shapefile (zip)'],
  'export.gpkg': ['GeoPackage', 'GeoPackage'],
  'export.csv': ['CSV（Excel）', 'CSV (Excel)'],
  'export.geojson': ['GeoJSON', 'GeoJSON'],
  'export.crs': ['坐标系', 'CRS'],
  'export.encoding': ['编码', 'Encoding'],
  'export.lang': ['中文字段名', 'Chinese field names'],
  'export.go': ['导出', 'Export'],
  'export.working': ['正在生成文件…', 'Making the file…'],
  'export.done': ['已下载 {name}', 'Downloaded {name}'],
  'export.failed': ['导出失败：{msg}', 'Export failed: {msg}'],
  'crs.4326': ['WGS84 经纬度 (EPSG:4326)', 'WGS84 lon/lat (EPSG:4326)'],
  'crs.4490': ['CGCS2000 经纬度 (EPSG:4490)', 'CGCS2000 lon/lat (EPSG:4490)'],
  'crs.4549': ['CGCS2000 高斯 3度带 120°E (EPSG:4549)', 'CGCS2000 3° GK CM 120E (EPSG:4549)'],
  'crs.4550': ['CGCS2000 高斯 3度带 123°E (EPSG:4550)', 'CGCS2000 3° GK CM 123E (EPSG:4550)'],
  'crs.3857': ['Web 墨卡托 (EPSG:3857)', 'Web Mercator (EPSG:3857)'],
  'enc.utf8': ['UTF-8', 'UTF-8'],
  'enc.gbk': ['GBK（中文 Windows ArcGIS）', 'GBK (ArcGIS on Chinese Windows)'],

  'card.title': ['小区档案', 'Estate card'],
  'card.attributes': ['基本信息', 'Attributes'],
  'card.prereq': ['七项前置条件（§三(一)）', 'Seven prerequisites (§三(一))'],
  'card.priority': ['优先条件（§三(二)）', 'Priority criteria (§三(二))'],
  'card.tier': ['创建版本', 'Tier'],
  'card.violations': ['违法/六乱 月度趋势', 'Violations by month'],
  'card.renovation': ['改造项目', 'Renovation items'],
  'card.eligible': ['符合全部前置条件', 'Meets all prerequisites'],
  'card.not_eligible': ['未满足前置条件，仅可为基础版', 'Fails a prerequisite: basic tier only'],
  'card.pass': ['符合', 'pass'],
  'card.fail': ['不符合', 'fail'],
  'card.recommended': ['建议版本', 'Recommended'],
  'card.assigned': ['已定版本', 'Assigned'],
  'card.edit_tier': ['修改版本', 'Change tier'],
  'card.tier_saved': ['版本已保存', 'Tier saved'],
  'card.token_needed': ['修改版本需要令牌（规划人员）', 'Changing the tier needs a planner token'],
  'card.no_items': ['暂无改造项目', 'No renovation items'],
  'card.no_violations': ['无违法记录', 'No reports'],
  'card.partial': ['服务器尚未提供小区档案接口（/api/estates），仅显示基本信息。', 'The server has no estate card API (/api/estates) yet; attributes only.'],
  'card.viol_total': ['共 {n} 条，未处置 {open} 条', '{n} reports, {open} open'],
  'card.group': ['类别', 'Group'],
  'card.status': ['状态', 'Status'],
  'card.item': ['项目', 'Item'],
  'card.planned': ['计划', 'Planned'],
  'card.in_scope': ['改造范围内（2000年前建成）', 'In scope (built before 2000)'],
  'card.reported_month': ['当月上报', 'reported in month'],
  'card.open_month_end': ['月末未处置', 'open at month end'],
  'card.budget': ['预算 {total} 万元，其中业主出资 {owners} 万元', 'Budget ¥{totalY}, of which owners ¥{ownersY}'],
  'card.show_on_map': ['在地图上定位', 'Show on map'],

  'p.1': ['无违法建筑等“五违”存量、无新增', 'No standing or new 五违'],
  'p.2': ['物业费收缴率达标', 'Fee collection at the set ratio'],
  'p.3': ['业主愿意出资', 'Owners willing to co-fund'],
  'p.4': ['“田园模式”已落地', '田园模式 in place'],
  'p.5': ['“四位一体”已建立', '四位一体 in place'],
  'p.6': ['网格全覆盖', 'Fully covered by grid cells'],
  'p.7': ['电梯均在检验有效期内', 'Elevators within inspection date'],
  'prio.1': ['沿线或重点整治区域，五违整治配合好', 'Along a corridor or in a key remediation area, with good 五违 cooperation'],
  'prio.2': ['创全重点区域内', 'Inside a civilised-district key area'],
  'prio.3': ['雨污分流、二次供水或平改坡在建或计划', 'Rain/sewage, water supply or roof works under way or planned'],

  'f.code': ['小区编码', 'Code'],
  'f.name': ['小区名称', 'Name'],
  'f.address': ['地址', 'Address'],
  'f.town_code': ['所属街镇', 'Town'],
  'f.built_year': ['建成年份', 'Built'],
  'f.housing_type': ['房屋类型', 'Housing type'],
  'f.households': ['户数', 'Households'],
  'f.buildings': ['楼栋数', 'Buildings'],
  'f.floor_area_m2': ['建筑面积(㎡)', 'Floor area (m²)'],
  'f.property_company': ['物业公司', 'Property company'],
  'f.fee_collection_rate': ['物业费收缴率', 'Fee collection rate'],
  'f.owners_committee': ['业委会', 'Owners’ committee'],
  'f.owners_cofund': ['业主出资意愿', 'Owners co-fund'],
  'f.tianyuan_model': ['田园模式', '田园模式'],
  'f.four_in_one': ['四位一体', '四位一体'],
  'f.elevator_count': ['电梯数', 'Elevators'],
  'f.elevator_valid_until': ['电梯检验有效期至', 'Elevator inspection valid until'],
  'f.rain_sewage_works': ['雨污分流', 'Rain/sewage separation'],
  'f.water_supply_works': ['二次供水', 'Secondary water supply'],
  'f.roof_works': ['平改坡', 'Flat-to-sloped roof'],
  'f.tier': ['创建版本', 'Tier'],
  'f.stage': ['阶段', 'Stage'],
  'f.plan_date': ['方案日期', 'Plan date'],
  'f.start_date': ['开工日期', 'Start date'],
  'f.completed_date': ['完工日期', 'Completed'],
  'f.accepted_date': ['验收日期', 'Accepted'],
  'f.satisfaction': ['满意度', 'Satisfaction'],
  'f.category': ['类别', 'Category'],
  'f.status': ['状态', 'Status'],
  'f.source': ['来源', 'Source'],
  'f.description': ['描述', 'Description'],
  'f.reported_at': ['上报时间', 'Reported'],
  'f.resolved_at': ['处置时间', 'Resolved'],
  'f.estate_code': ['所属小区', 'Estate'],
  'f.grid_code': ['网格编码', 'Grid cell'],
  'f.kind': ['类型', 'Kind'],
  'f.type': ['类型', 'Type'],
  'f.community': ['社区', 'Community'],
  'f.count': ['违法数', 'Reports'],
  'f.per_ha': ['每公顷', 'Per ha'],
  'f.class': ['分级', 'Class'],
  'f.z_score': ['Gi* z 值', 'Gi* z-score'],
  'f.p_value': ['p 值', 'p-value'],
  'works.none': ['无', 'none'],
  'works.planned': ['计划', 'planned'],
  'works.under_way': ['在建', 'under way'],
  'works.done': ['已完成', 'done'],
  'works.in_progress': ['在建', 'in progress'],
  'works.cancelled': ['已取消', 'cancelled'],
  'group.safety': ['安全', 'safety'],
  'group.function': ['功能', 'function'],
  'group.environment': ['环境', 'environment'],
  'oc.none': ['未成立', 'none'],
  'oc.formed': ['已成立', 'formed'],
  'oc.operating': ['规范运作', 'operating'],
  'status.open': ['未处置', 'open'],
  'status.resolved': ['已处置', 'resolved'],

  'dash.title': ['街镇看板', 'Town dashboard'],
  'dash.town': ['街镇', 'Town'],
  'dash.quotas': ['创建版本与配额（示范版≥10%，提升版≥40%）', 'Tiers against quotas (demonstration ≥10%, upgrade ≥40%)'],
  'dash.quota_note': ['按改造范围内小区数计算；竖线为配额', 'Share of estates in scope; the ticks mark the quotas'],
  'dash.in_scope': ['范围内 {n} 个小区', '{n} estates in scope'],
  'dash.demo': ['示范版', 'Demonstration'],
  'dash.upgrade': ['提升版', 'Upgrade'],
  'dash.basic': ['基础版', 'Basic'],
  'dash.unassigned': ['未定', 'Not assigned'],
  'dash.required': ['应 ≥ {n}', 'needs ≥ {n}'],
  'dash.met': ['达标', 'met'],
  'dash.not_met': ['未达标', 'not met'],
  'dash.pending': ['进行中', 'pending'],
  'dash.progress': ['进度节点（截至 {date}）', 'Milestones (as of {date})'],
  'dash.district_only': ['全区指标', 'district target'],
  'dash.deadline': ['期限', 'Deadline'],
  'dash.top': ['违法密度最高的小区', 'Estates with the highest violation rates'],
  'dash.top_note': ['每千户违法数（截至所选日期）', 'Reports per 1000 households (up to the date)'],
  'dash.towns_overview': ['各街镇配额完成情况', 'Quotas by town'],
  'dash.fallback': ['服务器尚未提供分析接口，配额按小区图层的已定版本计算。', 'No analysis API on the server yet: quotas counted from the estates layer.'],

  'sel.title': ['框选小区并导出', 'Select estates and export'],
  'sel.rect': ['矩形', 'Rectangle'],
  'sel.poly': ['多边形', 'Polygon'],
  'sel.clear': ['清除', 'Clear'],
  'sel.hint_rect': ['按住并拖动鼠标画矩形；Esc 取消', 'Press and drag to draw a rectangle; Esc cancels'],
  'sel.hint_poly': ['单击添加顶点，双击或单击起点结束；Esc 取消', 'Click to add points; double-click or click the first point to finish; Esc cancels'],
  'sel.count': ['已选 {n} 个小区，{h} 户', '{n} estates selected, {h} households'],
  'sel.empty': ['在地图上画一个矩形或多边形，与之相交的小区被选中。', 'Draw a rectangle or polygon on the map; the estates it meets are selected.'],
  'sel.server_note': ['导出文件由服务器生成：与所画矩形或多边形相交的小区，坐标系与编码按所选。', 'The server makes the file: the estates that intersect the drawn rectangle or polygon, in the CRS and encoding chosen.'],

  'report.open': ['上报问题', 'Report'],
  'report.title': ['网格巡查 上报违法/六乱', 'Grid inspection: report a violation'],
  'report.where': ['位置', 'Location'],
  'report.gps': ['当前位置', 'My location'],
  'report.pick': ['在地图上点选', 'Tap on the map'],
  'report.pick_hint': ['请在地图上点选问题位置', 'Tap the map where the problem is'],
  'report.no_point': ['请先确定位置', 'Choose a location first'],
  'report.category': ['问题类别', 'Category'],
  'report.description': ['情况描述', 'Description'],
  'report.submit': ['提交', 'Submit'],
  'report.sent': ['已上报，编号 {id}', 'Reported, id {id}'],
  'report.gps_fail': ['无法获取当前位置：{msg}', 'Could not get your location: {msg}'],
  'report.token_needed': ['请填写巡查令牌', 'Enter your inspector token'],
  'report.point': ['经度 {lon}，纬度 {lat}', 'lon {lon}, lat {lat}'],

  'settings.title': ['设置', 'Settings'],
  'settings.token': ['令牌（Token）', 'Token'],
  'settings.token_help': ['修改版本、上报问题时使用；由管理员发放。', 'Used to change tiers and file reports; issued by the administrator.'],
  'settings.remember': ['在本机记住令牌', 'Remember the token on this device'],
  'settings.tdt_key': ['天地图密钥（tk）', 'Tianditu key (tk)'],
  'settings.tdt_help': ['在 console.tianditu.gov.cn 申请“浏览器端”密钥。', 'Get a browser key at console.tianditu.gov.cn.'],
  'settings.saved': ['设置已保存', 'Settings saved'],
  'settings.about': ['数据：{layers}。软件包：{vendor}', 'Data: {layers}. Packages: {vendor}'],

  'err.401': ['令牌无效或缺失（401）', 'Missing or wrong token (401)'],
  'err.403': ['该令牌无此权限（403）', 'This token may not do that (403)'],
};

const LANGS = ['zh', 'en'];
let current = 'zh';
const listeners = [];

export function lang() {
  return current;
}

export function t(key, vars) {
  const row = TABLE[key];
  let s;
  if (!row) {
    console.warn('i18n: no entry for', key);
    s = key;
  } else {
    s = row[current === 'en' ? 1 : 0];
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function has(key) {
  return key in TABLE;
}

// A style file's label (label_zh / label_en, title_zh / title_en).
export function styleLabel(obj, base = 'label') {
  if (!obj) return '';
  return obj[`${base}_${current}`] ?? obj[`${base}_zh`] ?? obj[`${base}_en`] ?? '';
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

export function setLang(l) {
  if (!LANGS.includes(l)) l = 'zh';
  current = l;
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  applyI18n(document);
  for (const f of listeners) f(l);
}

export function onLang(f) {
  listeners.push(f);
}

// Numbers and dates the local way.
export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return Number(n).toLocaleString(current === 'zh' ? 'zh-CN' : 'en-GB', {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

export function fmtPct(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  return `${(x * 100).toFixed(digits)}%`;
}

export function collator() {
  return new Intl.Collator(current === 'zh' ? 'zh-CN' : 'en', { numeric: true });
}
