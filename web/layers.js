/* global L */
// The map's thematic layers, their themes and legends, and the layer panel.
//   towns      OGC items: outlines and name labels
//   estates    OGC items: SVG polygons, filled by a theme, highlighted on hover, click for the card
//   grid       GeoJSON tiles (or OGC items by view at z >= 15): outlines, density, Gi* hot spots
//   violations GeoJSON tiles (or every OGC item, clustered): category colours, clusters, heat
//   corridors  OGC items: lines by type, buffers drawn at the corridor tool's widths
//   zones      OGC items: key remediation and civilised-district key areas

import { analysis, indexRows, ogcItems, probe } from './api.js';
import { fmtNum, onLang, styleLabel, t } from './i18n.js';
import { compileTheme, legendList, swatch } from './styles.js';
import { GeoJSONTileLayer } from './tilelayer.js';

const HEAT_GRADIENT = { 0.15: '#fee391', 0.35: '#fec44f', 0.55: '#fe9929', 0.75: '#d95f0e', 1: '#8c2d04' };

export const CORRIDOR_TYPES = ['railway', 'expressway', 'river', 'rail_transit'];

// Estate themes: the style file and theme that colour them, and where the value comes from.
export const ESTATE_THEMES = {
  tier: { style: 'estates', theme: 'tier', label: 'theme.tier' },
  recommended: { style: 'analysis_tiers', theme: 'recommended_tier', label: 'theme.recommended', api: 'tiers' },
  built_era: { style: 'estates', theme: 'built_era', label: 'theme.built_era' },
  eligibility: { style: 'analysis_eligibility', theme: 'eligible', label: 'theme.eligibility', api: 'eligibility' },
  violation_rate: { style: 'analysis_density', theme: 'class', label: 'theme.violation_rate', api: 'density' },
  stage: { style: 'estates', theme: 'stage', label: 'theme.stage' },
  housing_type: { style: 'estates', theme: 'housing_type', label: 'theme.housing_type' },
  owners_committee: { style: 'estates', theme: 'owners_committee', label: 'theme.owners_committee' },
};

export const GRID_THEMES = {
  outline: { style: 'grid', theme: null, label: 'grid.outline' },
  density: { style: 'analysis_density', theme: 'class', label: 'grid.density', api: 'density' },
  hotspots: { style: 'analysis_hotspots', theme: 'class', label: 'grid.hotspots', api: 'hotspots' },
};

export function stageOn(p, d) {
  if (!p.plan_date && !p.start_date && !p.completed_date && !p.accepted_date) return p.stage || 'none';
  if (p.accepted_date && p.accepted_date <= d) return 'accepted';
  if (p.completed_date && p.completed_date <= d) return 'completed';
  if (p.start_date && p.start_date <= d) return 'implementing';
  if (p.plan_date && p.plan_date <= d) return 'planning';
  return 'none';
}

// Metres per screen pixel at a latitude and zoom (web mercator).
export function metresPerPixel(map, lat) {
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / 2 ** (map.getZoom() + 8);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A label point inside a polygon: the centre of the widest span on the horizontal line
// through the centre of the largest ring's bounds.
function labelPoint(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let best = null;
  let bestArea = -1;
  for (const poly of polys) {
    const ring = poly[0];
    let a = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
    if (Math.abs(a) > bestArea) {
      bestArea = Math.abs(a);
      best = poly;
    }
  }
  const ring = best[0];
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of ring) {
    minY = Math.min(minY, p[1]);
    maxY = Math.max(maxY, p[1]);
  }
  let bestSpan = null;
  for (const f of [0.5, 0.42, 0.58, 0.35, 0.65]) {
    const y = minY + (maxY - minY) * f;
    const xs = [];
    for (const r of best) {
      for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        const [x1, y1] = r[i];
        const [x2, y2] = r[j];
        if (y1 > y !== y2 > y) xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
      }
    }
    xs.sort((a, b) => a - b);
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const w = xs[i + 1] - xs[i];
      if (!bestSpan || w > bestSpan.w) bestSpan = { w, x: (xs[i] + xs[i + 1]) / 2, y };
    }
    if (bestSpan && f === 0.5) break;
  }
  return bestSpan ? L.latLng(bestSpan.y, bestSpan.x) : L.latLng((minY + maxY) / 2, ring[0][0]);
}

// ============================================================== the layers

export class Layers {
  constructor(ctx) {
    this.ctx = ctx;
    this.map = ctx.map;
    this.styles = ctx.styles;
    this.defs = {};
    this.data = {}; // theme data: key -> Map
    this.messages = {};
    this.estateOverride = null;
    this.tiles = false;
  }

  async init() {
    const map = this.map;
    const pane = (name, z) => {
      const p = map.createPane(name);
      p.style.zIndex = String(z);
      return p;
    };
    pane('gridPane', 380);
    pane('zonesPane', 390);
    pane('bufferPane', 395).classList.add('buffer-pane');
    pane('estatesPane', 410);
    pane('corridorsPane', 420);
    pane('maskPane', 425);
    pane('townsPane', 430);
    pane('selectionPane', 440);
    pane('violPane', 450);
    pane('labelsPane', 460);
    this.svgEstates = L.svg({ pane: 'estatesPane', padding: 0.3 });
    // SVG for what can be clicked, so a click passes between the lines to the estates below
    // (a canvas in a higher pane would take every click); canvas for what cannot
    this.svgCorr = L.svg({ pane: 'corridorsPane', padding: 0.3 });
    this.svgViol = L.svg({ pane: 'violPane', padding: 0.3 });
    this.canvasBuf = L.canvas({ pane: 'bufferPane', padding: 0.3 });
    this.canvasGrid = L.canvas({ pane: 'gridPane', padding: 0.2 });

    this.tiles = await probe('tiles', '/tiles/grid.json');
    this.ctx.status(`tiles=${this.tiles}`);

    this.defs = {
      towns: { name: 'layer.towns', layer: L.layerGroup(), load: () => this._loadTowns() },
      estates: { name: 'layer.estates', layer: L.layerGroup(), load: () => this._loadEstates() },
      grid: { name: 'layer.grid', layer: L.layerGroup(), load: () => this._loadGrid() },
      violations: { name: 'layer.violations', layer: L.layerGroup(), load: () => this._loadViolations() },
      corridors: { name: 'layer.corridors', layer: L.layerGroup(), load: () => this._loadCorridors() },
      zones: { name: 'layer.zones', layer: L.layerGroup(), load: () => this._loadZones() },
    };
    map.on('zoomend', () => {
      this._zoomStyles();
      this._updateBuffers();
      this._updateGridFallback();
      this._updateLabels();
    });
    map.on('moveend', () => this._updateGridFallback());
    onLang(() => {
      this.renderPanel();
      this._updateLabels();
    });
  }

  order() {
    return ['towns', 'estates', 'grid', 'violations', 'corridors', 'zones'];
  }

  isOn(id) {
    return this.ctx.state.layers.includes(id);
  }

  async setVisible(id, on) {
    const st = this.ctx.state;
    const d = this.defs[id];
    if (on && !st.layers.includes(id)) st.layers.push(id);
    if (!on) st.layers = st.layers.filter((x) => x !== id);
    if (on) {
      d.layer.addTo(this.map);
      if (!d.loaded) {
        d.loaded = d.load().then(() => {
          d.done = true;
        }, (e) => {
          console.warn(e);
          d.loaded = null;
          this.messages[id] = t('ui.offline_data', { msg: e.message });
          this.renderLegend(id);
        });
      }
      await d.loaded;
    } else {
      d.layer.remove();
    }
    this.ctx.changed();
    this.renderLegend(id);
  }

  async showInitial() {
    await Promise.all(this.ctx.state.layers.map((id) => (this.defs[id] ? this.setVisible(id, true) : null)));
  }

  // ---------------------------------------------------------------- towns

  async _loadTowns() {
    const fc = await ogcItems('towns');
    this.townFeatures = fc.features;
    const style = this.styles.towns;
    const sym = compileTheme(style, null).base;
    this.townsGeo = L.geoJSON(fc, {
      renderer: L.svg({ pane: 'townsPane' }),
      pane: 'townsPane',
      interactive: false,
      style: () => ({ ...sym, fill: false }),
    }).addTo(this.defs.towns.layer);
    this.townLabels = L.layerGroup().addTo(this.defs.towns.layer);
    for (const f of fc.features) {
      const m = L.marker(labelPoint(f.geometry), {
        pane: 'labelsPane',
        icon: L.divIcon({ className: 'town-label', html: '', iconSize: null }),
        keyboard: false,
        riseOnHover: true,
      });
      m.feature = f;
      m.on('click', () => this.ctx.openTown(f.properties.code));
      m.addTo(this.townLabels);
    }
    // everything outside the district is veiled, so the district reads without a base map
    const world = [[-85, -180], [-85, 180], [85, 180], [85, -180]];
    const holes = [];
    for (const f of fc.features) {
      const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
      for (const poly of polys) holes.push(poly[0].map(([x, y]) => [y, x]));
    }
    this.mask = L.polygon([world, ...holes], {
      pane: 'maskPane',
      renderer: L.svg({ pane: 'maskPane' }),
      interactive: false,
      stroke: false,
      fillColor: '#ffffff',
      fillOpacity: 0.62,
    }).addTo(this.defs.towns.layer);
    this._updateLabels();
    this.ctx.towns(fc.features);
  }

  _updateLabels() {
    if (!this.townLabels) return;
    const z = this.map.getZoom();
    this.townLabels.eachLayer((m) => {
      const elx = m.getElement();
      if (!elx) return;
      const name = m.feature.properties.name;
      elx.textContent = name;
      elx.title = `${name} ${m.feature.properties.code}`;
      elx.classList.toggle('small', z >= 14);
      elx.classList.toggle('tiny', z < 11);
    });
  }

  // ---------------------------------------------------------------- estates

  async _loadEstates() {
    const fc = await ogcItems('estates');
    this.estateFeatures = fc.features;
    this.estateByCode = new Map();
    this.estateGeo = L.geoJSON(fc, {
      renderer: this.svgEstates,
      pane: 'estatesPane',
      style: (f) => this.estateStyle(f),
      onEachFeature: (f, layer) => {
        this.estateByCode.set(f.properties.code, layer);
        layer.on('mouseover', (e) => this._hover(layer, e));
        layer.on('mouseout', () => this._unhover(layer));
        layer.on('click', (e) => {
          if (this.ctx.mode) return; // drawing or picking: the map takes the click
          L.DomEvent.stopPropagation(e);
          this.ctx.clickAt(e.latlng, f);
        });
      },
    }).addTo(this.defs.estates.layer);
    this.ctx.estates(fc.features);
    await this.setEstateTheme(this.ctx.state.theme, true);
  }

  _hover(layer, e) {
    if (this.ctx.mode) return;
    const p = layer.feature.properties;
    layer.setStyle({ weight: 3, color: '#0b57d0', opacity: 1 });
    layer.bringToFront();
    if (!layer.getTooltip()) {
      layer.bindTooltip('', { sticky: true, direction: 'top', offset: [0, -6], className: 'estate-tip', opacity: 1 });
    }
    layer.setTooltipContent(this._tipText(p));
    layer.openTooltip(e.latlng);
    this.hovered = layer;
  }

  _unhover(layer) {
    layer.setStyle(this.estateStyle(layer.feature));
    layer.closeTooltip();
    if (this.hovered === layer) this.hovered = null;
  }

  _tipText(p) {
    const town = this.ctx.townName(p.town_code);
    const v = this._themeValueText(p);
    return `<strong>${escapeHTML(p.name)}</strong><br><span class="tip-sub">${escapeHTML(town)} · ${p.built_year ?? '—'}</span>${v ? `<br><span class="tip-theme">${escapeHTML(v)}</span>` : ''}`;
  }

  _themeValueText(p) {
    const th = this.estateTheme;
    if (!th) return '';
    const sym = this._estateSymbol(p);
    const entry = th.compiled.entries().find((e) => e.symbol === sym);
    return entry ? `${th.compiled.title}: ${entry.label}` : '';
  }

  estateValue(themeId, p) {
    const d = this.ctx.state.date;
    switch (themeId) {
      case 'stage':
        return stageOn(p, d);
      case 'recommended': {
        const r = this.data.tiers && this.data.tiers.get(p.code);
        return r ? r.recommended_tier : null;
      }
      case 'eligibility': {
        const r = this.data.eligibility && this.data.eligibility.get(p.code);
        return r ? r.eligible : null;
      }
      case 'violation_rate': {
        const r = this.data.density_estate && this.data.density_estate.get(p.code);
        return r ? r.class : null;
      }
      default: {
        const th = ESTATE_THEMES[themeId];
        const c = compileTheme(this.styles[th.style], th.theme);
        return p[c.field];
      }
    }
  }

  _estateSymbol(p) {
    const th = this.estateTheme;
    return th.compiled.symbolFor(this.estateValue(th.id, p));
  }

  estateStyle(f) {
    let s = null;
    if (this.estateOverride) s = this.estateOverride(f);
    if (!s) s = this.estateTheme ? this._estateSymbol(f.properties) : compileTheme(this.styles.estates, null).base;
    const z = this.map.getZoom();
    if (z < 13) return { ...s, weight: Math.min(s.weight ?? 1, z < 12 ? 0.35 : 0.6), fillOpacity: Math.max(s.fillOpacity ?? 0.7, 0.85) };
    return s;
  }

  restyleEstates() {
    if (!this.estateGeo) return;
    this.estateGeo.eachLayer((l) => {
      if (l !== this.hovered) l.setStyle(this.estateStyle(l.feature));
    });
    this.renderLegend('estates');
  }

  setEstateOverride(fn) {
    this.estateOverride = fn;
    this.restyleEstates();
  }

  async setEstateTheme(id, quiet) {
    if (!ESTATE_THEMES[id]) id = 'tier';
    const th = ESTATE_THEMES[id];
    this.ctx.state.theme = id;
    this.estateTheme = { id, ...th, compiled: compileTheme(this.styles[th.style], th.theme) };
    this.messages.estates = null;
    if (th.api) {
      this.messages.estates = t('ui.loading');
      this.renderLegend('estates');
      try {
        await this._loadEstateThemeData(id);
        this.messages.estates = null;
      } catch (e) {
        this.messages.estates = e.unavailable ? t('ui.unavailable', { path: `/api/analysis/${th.api}` }) : t('ui.error', { msg: e.message });
      }
    }
    if (this.ctx.state.theme !== id) return; // another theme was picked meanwhile
    this.restyleEstates();
    if (!quiet) this.ctx.changed();
  }

  async _loadEstateThemeData(id) {
    const d = this.ctx.state.date;
    if (id === 'recommended') this.data.tiers = indexRows(await analysis('tiers', { by: 'estate', 'as-of': d }));
    if (id === 'eligibility') this.data.eligibility = indexRows(await analysis('eligibility', { 'as-of': d }));
    if (id === 'violation_rate') this.data.density_estate = indexRows(await analysis('density', { by: 'estate', to: d }));
  }

  // ---------------------------------------------------------------- grid

  async _loadGrid() {
    if (this.tiles) {
      this.gridTiles = new GeoJSONTileLayer({
        url: '/tiles/grid/{z}/{x}/{y}.geojson',
        layer: 'grid',
        pane: 'gridPane',
        minZoom: 9,
        style: (tags, f, z) => this._gridSymbol(tags, z),
      });
      this.gridTiles.on('load', () => this.renderLegendCount('grid'));
      this.gridTiles.addTo(this.defs.grid.layer);
    } else {
      this.gridFallback = L.geoJSON(null, {
        renderer: this.canvasGrid,
        pane: 'gridPane',
        style: (f) => this._gridSymbol(f.properties, this.map.getZoom()) || { opacity: 0, fillOpacity: 0 },
        onEachFeature: (f, layer) => layer.on('click', (e) => {
          if (this.ctx.mode) return;
          L.DomEvent.stopPropagation(e);
          this.ctx.clickAt(e.latlng, null, f);
        }),
      }).addTo(this.defs.grid.layer);
      this._updateGridFallback();
    }
    await this.setGridTheme(this.ctx.state.grid, true);
  }

  _gridSymbol(tags, z) {
    const th = this.gridTheme;
    if (!th) return null;
    if (th.id === 'outline' || !this.data[th.dataKey]) {
      if (z < 14) return null; // 1-hectare cells are a grey smear further out
      return th.id === 'outline' ? th.compiled.base : compileTheme(this.styles.grid, null).base;
    }
    const r = this.data[th.dataKey].get(tags.code);
    const sym = th.compiled.symbolFor(r ? r.class : null);
    if (z < 13) return { ...sym, weight: 0 };
    if (z < 16) return { ...sym, color: '#ffffff', weight: 0.5, opacity: 0.7 };
    return sym;
  }

  async _updateGridFallback() {
    if (!this.gridFallback || !this.isOn('grid')) return;
    const z = this.map.getZoom();
    if (z < 15) {
      this.gridFallback.clearLayers();
      this.messages.grid = `${t('layer.tiles_missing')}。${t('layer.zoom_in', { z: 15 })}`;
      this.renderLegend('grid');
      return;
    }
    const b = this.map.getBounds().pad(0.1);
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(',');
    if (this._gridCtrl) this._gridCtrl.abort();
    this._gridCtrl = new AbortController();
    try {
      const fc = await ogcItems('grid', { bbox }, { signal: this._gridCtrl.signal });
      this.gridFallback.clearLayers();
      this.gridFallback.addData(fc);
      this.messages.grid = null;
      this.renderLegend('grid');
    } catch (e) {
      if (e.name !== 'AbortError') console.warn(e);
    }
  }

  async setGridTheme(id, quiet) {
    if (!GRID_THEMES[id]) id = 'density';
    const th = GRID_THEMES[id];
    this.ctx.state.grid = id;
    this.gridTheme = { id, ...th, dataKey: th.api ? `${th.api}_grid` : null, compiled: compileTheme(this.styles[th.style], th.theme) };
    this.gridMessage = null;
    if (th.api && this.isOn('grid')) {
      this.gridMessage = t('ui.loading');
      this.renderLegend('grid');
      try {
        const d = this.ctx.state.date;
        const params = th.api === 'density' ? { by: 'grid', to: d } : { to: d };
        this.data[`${th.api}_grid`] = indexRows(await analysis(th.api, params));
        this.gridMessage = null;
      } catch (e) {
        this.gridMessage = e.unavailable ? t('ui.unavailable', { path: `/api/analysis/${th.api}` }) : t('ui.error', { msg: e.message });
      }
    }
    if (this.ctx.state.grid !== id) return;
    this.restyleGrid();
    if (!quiet) this.ctx.changed();
  }

  restyleGrid() {
    if (this.gridTiles) this.gridTiles.restyle();
    if (this.gridFallback) this.gridFallback.setStyle((f) => this._gridSymbol(f.properties, this.map.getZoom()) || { opacity: 0, fillOpacity: 0 });
    this.renderLegend('grid');
  }

  // ---------------------------------------------------------------- violations

  // Which reports show on the date: reported by its end; with "open only", those not resolved
  // by then. Clusters (tiles at low zoom) carry point_count and open_count.
  _violFilter() {
    const st = this.ctx.state;
    const end = `${st.date}T23:59:59`;
    const asOf = this.violAsOf && st.date !== this.ctx.lastDate;
    return (tags) => {
      if (tags.cluster) return !st.openOnly || (tags.open_count ?? 1) > 0;
      if (tags.reported_at && tags.reported_at > end) return false;
      if (st.openOnly) {
        // resolved_at when the tiles carry it; else the status (as of the date with ?as-of)
        if (tags.resolved_at !== undefined && !asOf) return !tags.resolved_at || tags.resolved_at > end;
        return tags.status !== 'resolved';
      }
      return true;
    };
  }

  _violSymbol(tags) {
    const sym = this.violTheme.symbolFor(tags.category);
    if (tags.cluster) return { ...sym, clusterFill: '#b3261e', count: this.ctx.state.openOnly ? tags.open_count : tags.point_count };
    return sym;
  }

  _violQuery() {
    const st = this.ctx.state;
    return this.violAsOf && st.date !== this.ctx.lastDate ? `?as-of=${st.date}` : '';
  }

  // Violations: points from the viewport's GeoJSON tiles (server clusters at z <= 14 carry
  // point_count and open_count), or, without tiles, every report from OGC items. Either way
  // they are clustered again in the browser (leaflet.markercluster, counts summed) so bubbles
  // never overlap, or drawn as a heat map (leaflet.heat, weighted by the counts).
  async _loadViolations() {
    this.violTheme = compileTheme(this.styles.violations, 'category');
    this.violCluster = L.markerClusterGroup({
      chunkedLoading: true,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      disableClusteringAtZoom: 17,
      removeOutsideVisibleBounds: true,
      animate: false,
      maxClusterRadius: (z) => (z < 13 ? 64 : z < 15 ? 52 : 40),
      clusterPane: 'violPane',
      iconCreateFunction: (c) => {
        let n = 0;
        for (const m of c.getAllChildMarkers()) n += m.options.count || 1;
        return this._bubble(n);
      },
    });
    if (this.tiles) {
      // a server whose violation tiles take ?as-of=DATE (filtered and clustered for the date)
      // says so in its TileJSON; asking a tile would log a 400 on an older one
      try {
        const tj = await (await fetch('/tiles/violations.json')).json();
        this.violAsOf = JSON.stringify(tj).includes('as-of');
      } catch (e) {
        this.violAsOf = false;
      }
      // the tile layer only loads the viewport's tiles; it draws nothing itself
      this.violTiles = new GeoJSONTileLayer({
        url: '/tiles/violations/{z}/{x}/{y}.geojson',
        query: () => this._violQuery(),
        layer: 'violations',
        pane: 'violPane',
        minZoom: 9,
        opacity: 0,
        filter: this._violFilter(),
        style: () => null,
        weight: (tags) => this._violWeight(tags),
      });
      this.violTiles.on('load', () => this._refillViolations());
      this.violTiles.addTo(this.defs.violations.layer);
    } else {
      this.messages.violations = t('ui.loading');
      this.renderLegend('violations');
      const fc = await ogcItems('violations', {}, {
        onPage: (n, total) => {
          this.messages.violations = `${t('ui.loading')} ${fmtNum(n)} / ${fmtNum(total)}`;
          this.renderLegend('violations');
        },
      });
      this.messages.violations = null;
      this.violAll = fc.features.filter((f) => f.geometry).map((f) => ({
        latlng: L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]),
        tags: f.properties,
        weight: 1,
      }));
    }
    this.setViolMode(this.ctx.state.viol, true);
  }

  _violWeight(tags) {
    if (!tags.cluster) return 1;
    return (this.ctx.state.openOnly ? tags.open_count : tags.point_count) || 0;
  }

  _bubble(n) {
    const size = n < 50 ? 's' : n < 500 ? 'm' : 'l';
    const px = size === 's' ? 30 : size === 'm' ? 38 : 46;
    return L.divIcon({
      html: `<span>${n >= 10000 ? `${Math.round(n / 1000)}k` : n}</span>`,
      className: `viol-cluster viol-cluster-${size}`,
      iconSize: L.point(px, px),
    });
  }

  _violPoints() {
    if (this.violTiles) return this.violTiles.loadedPoints();
    if (!this.violAll) return [];
    const keep = this._violFilter();
    return this.violAll.filter((p) => keep(p.tags));
  }

  _violMarker(p) {
    let m;
    if (p.weight > 1) {
      m = L.marker(p.latlng, { icon: this._bubble(p.weight), count: p.weight, pane: 'violPane', keyboard: false });
    } else {
      m = L.circleMarker(p.latlng, { renderer: this.svgViol, pane: 'violPane', ...this._violSymbol(p.tags), count: 1 });
    }
    m.on('click', (e) => {
      if (this.ctx.mode) return;
      L.DomEvent.stopPropagation(e);
      if (p.weight > 1) this.map.setView(p.latlng, Math.min(this.map.getZoom() + 2, 18));
      else this.ctx.popupViolation(e.latlng, p.tags);
    });
    return m;
  }

  _refillViolations() {
    if (!this.isOn('violations')) return;
    const pts = this._violPoints().filter((p) => p.weight > 0);
    this.violShown = pts.reduce((a, p) => a + p.weight, 0);
    this.violMarkerCount = pts.length;
    if (this.ctx.state.viol === 'heat') {
      const heat = pts.map((p) => [p.latlng.lat, p.latlng.lng, Math.min(p.weight, 60)]);
      if (!this.heat) {
        this.heat = L.heatLayer(heat, { radius: 18, blur: 20, maxZoom: 15, minOpacity: 0.05, max: 8, pane: 'violPane', gradient: HEAT_GRADIENT });
        this.defs.violations.layer.addLayer(this.heat);
      } else this.heat.setLatLngs(heat);
    } else {
      this.violCluster.clearLayers();
      this.violCluster.addLayers(pts.map((p) => this._violMarker(p)));
    }
    this.renderLegendCount('violations');
  }

  setViolMode(mode, quiet) {
    const st = this.ctx.state;
    st.viol = mode === 'heat' ? 'heat' : 'cluster';
    const group = this.defs.violations.layer;
    if (!this.violCluster) return;
    if (st.viol === 'cluster') {
      if (this.heat) {
        group.removeLayer(this.heat);
        this.heat = null;
      }
      if (!group.hasLayer(this.violCluster)) group.addLayer(this.violCluster);
    } else {
      group.removeLayer(this.violCluster);
      this.violCluster.clearLayers();
    }
    this._refillViolations();
    this.renderLegend('violations');
    if (!quiet) this.ctx.changed();
  }

  restyleViolations() {
    if (this.violTiles) {
      this.violTiles.options.filter = this._violFilter();
      const q = this._violQuery();
      if (q !== this._lastViolQuery) {
        this._lastViolQuery = q;
        this.violTiles.redraw(); // new tiles for the date; 'load' refills
      } else this._refillViolations();
    } else this._refillViolations();
    this.renderLegend('violations');
  }

  // ---------------------------------------------------------------- corridors and buffers

  async _loadCorridors() {
    const fc = await ogcItems('corridors');
    this.corrTheme = compileTheme(this.styles.corridors, 'type');
    this.corrGeo = L.geoJSON(fc, {
      renderer: this.svgCorr,
      pane: 'corridorsPane',
      style: (f) => this._corrStyle(f),
      onEachFeature: (f, layer) => layer.on('click', (e) => {
        if (this.ctx.mode) return;
        L.DomEvent.stopPropagation(e);
        this.ctx.popupCorridor(e.latlng, f.properties);
      }),
    }).addTo(this.defs.corridors.layer);
    this.bufferGeo = L.geoJSON(fc, {
      renderer: this.canvasBuf,
      pane: 'bufferPane',
      interactive: false,
      style: (f) => this._bufferStyle(f),
    }).addTo(this.defs.corridors.layer);
    this.map.attributionControl.addAttribution(t('osm.credit'));
    this._credit = t('osm.credit');
    onLang(() => {
      this.map.attributionControl.removeAttribution(this._credit);
      this._credit = t('osm.credit');
      this.map.attributionControl.addAttribution(this._credit);
    });
  }

  _corrStyle(f) {
    const s = this.corrTheme.symbolFor(f.properties.type);
    const poly = f.geometry && /Polygon/.test(f.geometry.type);
    const z = this.map.getZoom();
    const k = z < 11.5 ? 0.5 : z < 12.5 ? 0.7 : z < 14 ? 0.85 : 1;
    // the dense river network would hide the estates at district scale: lighter there
    const river = f.properties.type === 'river';
    const opacity = z < 12.5 ? (river ? 0.45 : 0.8) : z < 14 && river ? 0.75 : 1;
    return { ...s, weight: (s.weight ?? 2) * k, opacity, fill: poly, fillOpacity: poly ? 0.5 : 0 };
  }

  _bufferStyle(f) {
    const c = this.ctx.state.corridor;
    const type = f.properties.type;
    if (!c.types[type]) return { stroke: false, fill: false, opacity: 0, fillOpacity: 0 };
    const m = c.buffers[type] || 0;
    const lat = this.map.getCenter().lat;
    const w = (2 * m) / metresPerPixel(this.map, lat);
    const color = this.corrTheme.symbolFor(type).color;
    const poly = /Polygon/.test(f.geometry.type);
    // under 2 px a buffer is no wider than its line: drawn from street scale on
    return { stroke: w >= 2, color, weight: w, opacity: 1, lineCap: 'round', lineJoin: 'round', fill: poly, fillColor: color, fillOpacity: 1 };
  }

  _updateBuffers() {
    if (this.bufferGeo) this.bufferGeo.setStyle((f) => this._bufferStyle(f));
  }

  _zoomStyles() {
    const z = this.map.getZoom();
    const band = z < 11.5 ? 0 : z < 12.5 ? 1 : z < 13 ? 2 : z < 14 ? 3 : 4;
    if (band === this._band) return;
    this._band = band;
    if (this.corrGeo) this.corrGeo.setStyle((f) => this._corrStyle(f));
    this.restyleEstates();
  }

  buffersChanged() {
    this._updateBuffers();
    this.renderLegend('corridors');
  }

  // ---------------------------------------------------------------- zones

  async _loadZones() {
    const fc = await ogcItems('zones');
    this.zoneTheme = compileTheme(this.styles.zones, 'kind');
    this.zonesGeo = L.geoJSON(fc, {
      renderer: L.svg({ pane: 'zonesPane' }),
      pane: 'zonesPane',
      style: (f) => this.zoneTheme.symbolFor(f.properties.kind),
      onEachFeature: (f, layer) => {
        layer.bindTooltip(() => `${escapeHTML(f.properties.name || '')}<br><span class="tip-sub">${escapeHTML(this._zoneKind(f.properties.kind))}</span>`, { sticky: true, className: 'estate-tip' });
      },
    }).addTo(this.defs.zones.layer);
  }

  _zoneKind(kind) {
    const e = this.zoneTheme.entries().find((x) => x.value === kind);
    return e ? e.label : kind;
  }

  // ---------------------------------------------------------------- date

  async dateChanged() {
    const st = this.ctx.state;
    if (this.estateTheme && ['stage'].includes(this.estateTheme.id)) this.restyleEstates();
    if (this.estateTheme && this.estateTheme.api) await this.setEstateTheme(this.estateTheme.id, true);
    if (this.isOn('violations')) this.restyleViolations();
    if (this.isOn('grid') && this.gridTheme && this.gridTheme.api) await this.setGridTheme(st.grid, true);
  }

  // ---------------------------------------------------------------- counts (tests, legends)

  counts() {
    const n = (g) => (g ? g.getLayers().length : 0);
    return {
      towns: n(this.townsGeo),
      town_labels: n(this.townLabels),
      estates: n(this.estateGeo),
      grid: this.gridTiles ? this.gridTiles.drawnCount() : n(this.gridFallback),
      violations: this.violShown || 0,
      violation_markers: this.violMarkerCount || 0,
      corridors: n(this.corrGeo),
      zones: n(this.zonesGeo),
    };
  }

  loading() {
    const pend = [];
    for (const id of this.ctx.state.layers) {
      const d = this.defs[id];
      if (d && d.loaded && !d.done) pend.push(id);
    }
    if (this.gridTiles && this.isOn('grid') && (this.gridTiles.isLoading() || this.gridTiles.pending())) pend.push('grid-tiles');
    if (this.violTiles && this.isOn('violations') && (this.violTiles.isLoading() || this.violTiles.pending())) pend.push('violation-tiles');
    return pend;
  }

  // ---------------------------------------------------------------- the panel

  renderPanel() {
    const root = document.getElementById('panel-layers');
    root.textContent = '';

    // base maps
    const base = el('section', 'block');
    base.appendChild(el('h3', 'block-title', t('basemap.title')));
    const seg = el('div', 'seg basemap-seg');
    for (const id of ['none', 'osm', 'tdt', 'tdt_img']) {
      const b = el('button', 'btn', t(`basemap.${id}`));
      b.type = 'button';
      b.dataset.basemap = id;
      b.setAttribute('aria-pressed', String(this.ctx.state.basemap === id));
      b.addEventListener('click', () => this.ctx.setBasemap(id));
      seg.appendChild(b);
    }
    base.appendChild(seg);
    const note = el('p', 'note', this.ctx.basemapNote || t('basemap.note'));
    note.id = 'basemap-note';
    base.appendChild(note);
    root.appendChild(base);

    const list = el('section', 'block');
    list.appendChild(el('h3', 'block-title', t('layers.title')));
    for (const id of this.order()) list.appendChild(this._layerRow(id));
    root.appendChild(list);
    for (const id of this.order()) this.renderLegend(id);
  }

  _layerRow(id) {
    const row = el('div', 'layer-row');
    row.dataset.layer = id;
    const head = el('div', 'layer-head');
    const label = el('label', 'layer-toggle');
    const cb = el('input');
    cb.type = 'checkbox';
    cb.checked = this.isOn(id);
    cb.dataset.layerToggle = id;
    cb.addEventListener('change', () => this.setVisible(id, cb.checked));
    label.appendChild(cb);
    label.appendChild(el('span', 'layer-name', t(this.defs[id].name)));
    head.appendChild(label);
    head.appendChild(el('span', 'layer-count'));
    row.appendChild(head);

    if (id === 'estates' || id === 'grid') {
      const themes = id === 'estates' ? ESTATE_THEMES : GRID_THEMES;
      const sel = el('select', 'theme-select');
      sel.dataset.themeSelect = id;
      sel.setAttribute('aria-label', t('layer.theme'));
      for (const [k, th] of Object.entries(themes)) {
        const o = el('option', null, t(th.label));
        o.value = k;
        sel.appendChild(o);
      }
      sel.value = id === 'estates' ? this.ctx.state.theme : this.ctx.state.grid;
      sel.addEventListener('change', () => (id === 'estates' ? this.setEstateTheme(sel.value) : this.setGridTheme(sel.value)));
      row.appendChild(sel);
    }
    if (id === 'violations') {
      const opts = el('div', 'layer-opts');
      const seg = el('div', 'seg small');
      for (const m of ['cluster', 'heat']) {
        const b = el('button', 'btn', t(`viol.${m}`));
        b.type = 'button';
        b.dataset.violMode = m;
        b.setAttribute('aria-pressed', String(this.ctx.state.viol === m));
        b.addEventListener('click', () => {
          for (const x of seg.children) x.setAttribute('aria-pressed', String(x === b));
          this.setViolMode(m);
        });
        seg.appendChild(b);
      }
      opts.appendChild(seg);
      const lab = el('label', 'check small');
      const c2 = el('input');
      c2.type = 'checkbox';
      c2.checked = this.ctx.state.openOnly;
      c2.addEventListener('change', () => {
        this.ctx.state.openOnly = c2.checked;
        this.restyleViolations();
        this.ctx.changed();
      });
      lab.appendChild(c2);
      lab.appendChild(el('span', null, t('viol.open_only')));
      opts.appendChild(lab);
      row.appendChild(opts);
    }
    row.appendChild(el('div', 'legend-wrap'));
    row.appendChild(el('p', 'layer-msg'));
    return row;
  }

  renderLegendCount(id) {
    const row = document.querySelector(`.layer-row[data-layer="${id}"] .layer-count`);
    if (!row) return;
    const c = this.counts();
    const n = c[id];
    row.textContent = this.isOn(id) && n ? fmtNum(n) : '';
  }

  renderLegend(id) {
    const row = document.querySelector(`.layer-row[data-layer="${id}"]`);
    if (!row) return;
    const wrap = row.querySelector('.legend-wrap');
    const msg = row.querySelector('.layer-msg');
    wrap.textContent = '';
    row.classList.toggle('off', !this.isOn(id));
    const cb = row.querySelector('input[data-layer-toggle]');
    if (cb) cb.checked = this.isOn(id);
    let entries = [];
    let kind = 'polygon';
    let m = this.messages[id] || null;
    if (id === 'towns') {
      entries = [{ label: styleLabel(this.styles.towns, 'title'), symbol: compileTheme(this.styles.towns, null).base }];
    } else if (id === 'estates' && this.estateTheme) {
      entries = this.estateTheme.compiled.entries();
      if (this.estateOverride && this.overrideLegend) entries = this.overrideLegend();
      else if (this.estateGeo) {
        const counts = new Map();
        this.estateGeo.eachLayer((l) => {
          const s = this._estateSymbol(l.feature.properties);
          counts.set(s, (counts.get(s) || 0) + 1);
        });
        entries = entries.map((e) => ({ ...e, count: fmtNum(counts.get(e.symbol) || 0) })).filter((e) => !e.other || e.count !== '0');
      }
    } else if (id === 'grid' && this.gridTheme) {
      entries = this.gridTheme.compiled.entries();
      if (this.gridTheme.id === 'density') wrap.appendChild(el('p', 'note', t('grid.legend_density')));
      m = m || this.gridMessage;
    } else if (id === 'grid') {
      entries = [{ label: styleLabel(this.styles.grid, 'title'), symbol: compileTheme(this.styles.grid, null).base }];
    } else if (id === 'violations') {
      kind = 'point';
      entries = compileTheme(this.styles.violations, 'category').entries().filter((e) => !e.other);
    } else if (id === 'corridors') {
      kind = 'line';
      entries = compileTheme(this.styles.corridors, 'type').entries().filter((e) => !e.other);
      const c = this.ctx.state.corridor;
      entries = entries.map((e) => ({ ...e, label: c.types[e.value] ? t('corr.legend_width', { label: e.label, w: t('ui.m', { n: c.buffers[e.value] }) }) : e.label }));
    } else if (id === 'zones') {
      entries = compileTheme(this.styles.zones, 'kind').entries().filter((e) => !e.other);
    }
    const legend = legendList(entries, kind);
    if (id === 'violations' && this.ctx.state.viol === 'heat') {
      legend.classList.add('dim');
      const hk = el('div', 'heat-key');
      hk.appendChild(el('span', null, t('heat.low')));
      hk.appendChild(el('span', 'heat-ramp'));
      hk.appendChild(el('span', null, t('heat.high')));
      wrap.appendChild(hk);
    }
    if (id === 'corridors') {
      const bl = el('p', 'note');
      bl.appendChild(swatch({ color: '#6a3d9a', weight: 4, opacity: 0.3 }, 'line'));
      bl.appendChild(document.createTextNode(` ${t('corr.buffers_note')}`));
      wrap.appendChild(bl);
    }
    wrap.prepend(legend);
    if (id === 'grid' && !this.tiles && !m && this.isOn('grid')) m = t('layer.tiles_missing');
    msg.textContent = this.isOn(id) ? m || '' : '';
    msg.hidden = !msg.textContent;
    this.renderLegendCount(id);
  }
}

export function escapeHTML(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

