/* global L */
// 闵行区“美丽家园”建设 地图: the planners' map. Bootstraps the map, the panels, the header
// (search, language, settings), the time slider and the URL hash that keeps the view.

import { getJSON, prefetchItems, probe } from './api.js';
import { applyI18n, collator, fmtNum, has, lang, onLang, setLang, t } from './i18n.js';
import { loadStyles } from './styles.js';
import { CORRIDOR_TYPES, ESTATE_THEMES, escapeHTML, GRID_THEMES, Layers } from './layers.js';
import { CorridorTool, DEFAULT_BUFFERS } from './corridors.js';
import { EstateCard } from './card.js';
import { Dashboard } from './dashboard.js';
import { Selection } from './selection.js';
import { Report } from './report.js';

const DISTRICT_BOUNDS = L.latLngBounds([30.9778, 121.2358], [31.2618, 121.5716]);
const PANELS = ['layers', 'corridors', 'dashboard', 'selection'];
const LAYER_IDS = ['towns', 'estates', 'grid', 'violations', 'corridors', 'zones'];
const DEFAULT_LAYERS = ['towns', 'estates', 'corridors', 'zones'];
const STORAGE = { token: 'estatemap.token', tdt: 'estatemap.tdt_key', lang: 'estatemap.lang' };

// ---------------------------------------------------------------- state and the URL hash

const state = {
  layers: [...DEFAULT_LAYERS],
  theme: 'tier',
  grid: 'density',
  viol: 'cluster',
  openOnly: false,
  date: null,
  panel: 'layers',
  estate: null,
  town: null,
  basemap: 'none',
  corridor: { types: Object.fromEntries(CORRIDOR_TYPES.map((k) => [k, true])), buffers: { ...DEFAULT_BUFFERS }, pre2000: false },
  view: null,
};

function readHash() {
  const h = new URLSearchParams(location.hash.replace(/^#/, ''));
  const out = {};
  const m = /^(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(h.get('map') || '');
  if (m) out.view = { zoom: Number(m[1]), center: L.latLng(Number(m[2]), Number(m[3])) };
  if (h.has('layers')) out.layers = h.get('layers').split(',').filter((x) => LAYER_IDS.includes(x));
  if (ESTATE_THEMES[h.get('theme')]) out.theme = h.get('theme');
  if (GRID_THEMES[h.get('grid')]) out.grid = h.get('grid');
  if (['cluster', 'heat'].includes(h.get('viol'))) out.viol = h.get('viol');
  if (h.has('open')) out.openOnly = h.get('open') === '1';
  if (/^\d{4}-\d{2}-\d{2}$/.test(h.get('date') || '')) out.date = h.get('date');
  if (PANELS.includes(h.get('panel'))) out.panel = h.get('panel');
  if (h.get('estate')) out.estate = h.get('estate');
  if (/^\d{9}$/.test(h.get('town') || '')) out.town = h.get('town');
  if (['none', 'osm', 'tdt', 'tdt_img'].includes(h.get('base'))) out.basemap = h.get('base');
  if (['zh', 'en'].includes(h.get('lang'))) out.lang = h.get('lang');
  if (h.has('corr')) {
    const types = {};
    const buffers = {};
    for (const part of h.get('corr').split(',')) {
      const mm = /^(-?)([a-z_]+):(\d+)$/.exec(part);
      if (mm && CORRIDOR_TYPES.includes(mm[2])) {
        types[mm[2]] = mm[1] !== '-';
        buffers[mm[2]] = Math.min(10000, Number(mm[3]));
      }
    }
    out.corridor = { types: { ...state.corridor.types, ...types }, buffers: { ...state.corridor.buffers, ...buffers }, fromHash: true };
  }
  if (h.has('pre2000')) out.pre2000 = h.get('pre2000') === '1';
  return out;
}

function writeHash(map) {
  const c = map.getCenter();
  const z = map.getZoom();
  const prec = Math.max(4, Math.ceil(Math.log10(2 ** z)));
  const parts = [
    `map=${z}/${c.lat.toFixed(prec)}/${c.lng.toFixed(prec)}`,
    `layers=${state.layers.join(',')}`,
    `theme=${state.theme}`,
  ];
  if (state.layers.includes('grid')) parts.push(`grid=${state.grid}`);
  if (state.layers.includes('violations')) parts.push(`viol=${state.viol}`, `open=${state.openOnly ? 1 : 0}`);
  if (state.date) parts.push(`date=${state.date}`);
  parts.push(`panel=${state.panel}`);
  if (state.panel === 'corridors') {
    parts.push(`corr=${CORRIDOR_TYPES.map((k) => `${state.corridor.types[k] ? '' : '-'}${k}:${state.corridor.buffers[k]}`).join(',')}`);
    if (state.corridor.pre2000) parts.push('pre2000=1');
  }
  if (state.town) parts.push(`town=${state.town}`);
  if (state.estate) parts.push(`estate=${encodeURIComponent(state.estate)}`);
  if (state.basemap !== 'none') parts.push(`base=${state.basemap}`);
  parts.push(`lang=${lang()}`);
  const h = `#${parts.join('&')}`;
  if (h !== location.hash) history.replaceState(null, '', h);
}

// ---------------------------------------------------------------- small UI helpers

function $(id) {
  return document.getElementById(id);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

let toastTimer;
function toast(text, kind) {
  const box = $('toast');
  box.textContent = text;
  box.className = `toast ${kind || ''}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4500);
}

function busy(text) {
  $('busy').hidden = !text;
  $('busy-text').textContent = text || '';
}

function hint(text) {
  const h = $('draw-hint');
  h.textContent = text || '';
  h.hidden = !text;
}

function storageGet(k) {
  try {
    return sessionStorage.getItem(k) ?? localStorage.getItem(k);
  } catch (e) {
    return null;
  }
}

// ---------------------------------------------------------------- the app

async function main() {
  const fromHash = readHash();
  Object.assign(state, fromHash);
  // the visible layers' features first: everything else below is small
  for (const l of state.layers) if (['towns', 'estates', 'corridors', 'zones'].includes(l)) prefetchItems(l);
  const violationsCollection = getJSON('/ogc/collections/violations').catch(() => null);
  probe('tiles', '/tiles/grid.json');
  if (fromHash.pre2000 !== undefined) state.corridor.pre2000 = fromHash.pre2000;
  setLang(fromHash.lang || storageGet(STORAGE.lang) || 'zh');

  const map = L.map('map', {
    zoomControl: false,
    minZoom: 9,
    maxZoom: 19,
    zoomSnap: 0.5,
    zoomDelta: 1,
    wheelPxPerZoomLevel: 90,
    maxBounds: DISTRICT_BOUNDS.pad(1.5),
    attributionControl: true,
  });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>');
  L.control.zoom({ position: 'topright', zoomInTitle: t('ui.zoom_to'), zoomOutTitle: '−' }).addTo(map);
  L.control.scale({ position: 'bottomleft', metric: true, imperial: false, maxWidth: 140 }).addTo(map);
  const coords = L.control({ position: 'bottomleft' });
  coords.onAdd = () => {
    const d = L.DomUtil.create('div', 'coords-readout');
    d.id = 'coords';
    return d;
  };
  coords.addTo(map);
  const showCoords = (ll) => {
    const d = $('coords');
    const z = map.getZoom();
    d.textContent = ll ? `E ${ll.lng.toFixed(5)}°  N ${ll.lat.toFixed(5)}°  z${z}` : `z${z}  ${t('coords.crs')}`;
    d.title = `${t('coords.lon')} / ${t('coords.lat')} · ${t('coords.crs')}`;
  };
  map.on('mousemove', (e) => showCoords(e.latlng));
  map.on('mouseout', () => showCoords(null));
  map.on('zoomend', () => showCoords(null));

  if (state.view) map.setView(state.view.center, state.view.zoom);
  else map.fitBounds(DISTRICT_BOUNDS, { padding: [8, 8] });
  showCoords(null);

  const styles = await loadStyles([
    'towns', 'estates', 'grid', 'violations', 'corridors', 'zones',
    'analysis_tiers', 'analysis_eligibility', 'analysis_density', 'analysis_hotspots', 'analysis_corridors',
  ]);
  for (const k of ['towns', 'estates', 'grid', 'violations', 'corridors', 'zones']) {
    if (!styles[k]) toast(t('ui.offline_data', { msg: `styles/${k}.json` }), 'bad');
  }

  // ---- the context every module gets
  let townFeatures = [];
  let estateFeatures = [];
  let estateIndex = new Map();
  const townNames = new Map();
  let hashTimer;
  const ctx = {
    map,
    state,
    styles,
    mode: null,
    lang,
    toast,
    busy,
    hint,
    status: (s) => {
      $('status-line').dataset.debug = s;
    },
    changed: () => {
      clearTimeout(hashTimer);
      hashTimer = setTimeout(() => writeHash(map), 120);
    },
    towns: (features) => {
      townFeatures = features;
      for (const f of features) townNames.set(f.properties.code, f.properties.name);
      if (state.panel === 'dashboard') dashboard.render();
    },
    townList: () => townFeatures.map((f) => f.properties),
    townName: (code) => townNames.get(code) || (code === '310112' ? t('ui.district') : code || '—'),
    estates: (features) => {
      estateFeatures = features;
      estateIndex = new Map(features.map((f) => [f.properties.code, f]));
    },
    estateFeatures: () => estateFeatures,
    estateFeature: (code) => estateIndex.get(code),
    token: () => storageGet(STORAGE.token),
    rememberToken: (tok) => {
      try {
        sessionStorage.setItem(STORAGE.token, tok);
      } catch (e) {
        /* private mode */
      }
    },
    setBasemap: (id) => setBasemap(id),
    openTown: (code) => openTown(code),
    focusEstate: (code) => focusEstate(code),
    zoomToEstate: (code) => zoomToEstate(code),
    clickAt: (latlng, estate, gridFeature) => clickAt(latlng, estate, gridFeature),
    popupViolation: (latlng, p) => popupViolation(latlng, p),
    popupCorridor: (latlng, p) => popupCorridor(latlng, p),
    exportForm: (id, fn) => exportForm(id, fn),
    estateChanged: () => {
      layers.restyleEstates();
      if (state.panel === 'dashboard') dashboard.render();
    },
    violationsChanged: () => {
      if (layers.violTiles) layers.violTiles.redraw();
    },
  };

  const layers = new Layers(ctx);
  ctx.layers = layers;
  await layers.init();
  const corridorTool = new CorridorTool(ctx);
  const card = new EstateCard(ctx);
  const dashboard = new Dashboard(ctx);
  const selection = new Selection(ctx);
  new Report(ctx);

  // ---- base maps
  let currentBase = null;
  function tdtLayers(kind, key) {
    const url = (layer) => `https://t{s}.tianditu.gov.cn/${layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${encodeURIComponent(key)}`;
    const opts = { subdomains: '01234567', maxZoom: 18, attribution: t('basemap.tdt_credit') };
    return L.layerGroup([L.tileLayer(url(kind === 'img' ? 'img' : 'vec'), opts), L.tileLayer(url(kind === 'img' ? 'cia' : 'cva'), { ...opts, attribution: '' })]);
  }
  function setBasemap(id) {
    if (currentBase) currentBase.remove();
    currentBase = null;
    ctx.basemapNote = null;
    if (id === 'osm') {
      currentBase = L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', { maxZoom: 19, attribution: t('basemap.osm_credit') });
    } else if (id === 'tdt' || id === 'tdt_img') {
      const key = storageGet(STORAGE.tdt);
      if (!key) {
        ctx.basemapNote = t('basemap.tdt_nokey');
        id = 'none';
      } else currentBase = tdtLayers(id === 'tdt_img' ? 'img' : 'vec', key);
    }
    if (currentBase) currentBase.addTo(map);
    state.basemap = id;
    map.getContainer().classList.toggle('basemap-none', id === 'none');
    for (const b of document.querySelectorAll('[data-basemap]')) b.setAttribute('aria-pressed', String(b.dataset.basemap === id));
    const note = $('basemap-note');
    if (note) {
      note.textContent = ctx.basemapNote || t('basemap.note');
      note.classList.toggle('warn', !!ctx.basemapNote);
    }
    ctx.changed();
  }

  // ---- panels
  function showPanel(id) {
    if (!PANELS.includes(id)) id = 'layers';
    state.panel = id;
    for (const b of document.querySelectorAll('.tabs [data-panel]')) {
      const on = b.dataset.panel === id;
      b.setAttribute('aria-selected', String(on));
      b.classList.toggle('active', on);
    }
    for (const p of PANELS) $(`panel-${p}`).hidden = p !== id;
    const wide = id === 'corridors';
    if (document.body.classList.contains('panel-wide') !== wide) {
      document.body.classList.toggle('panel-wide', wide);
      map.invalidateSize({ pan: false });
    }
    if (id === 'corridors') {
      if (!state.layers.includes('corridors')) layers.setVisible('corridors', true);
      corridorTool.render();
      corridorTool.load().then(() => corridorTool.apply());
    }
    corridorTool.apply();
    if (id === 'dashboard') dashboard.render();
    if (id === 'selection') selection.render();
    if (id !== 'selection' && selection.draw.active()) selection.draw.cancel();
    ctx.changed();
  }
  ctx.showPanel = showPanel;
  for (const b of document.querySelectorAll('.tabs [data-panel]')) b.addEventListener('click', () => showPanel(b.dataset.panel));

  function openTown(code) {
    state.town = code || null;
    if (code) {
      const f = townFeatures.find((x) => x.properties.code === code);
      if (f) map.fitBounds(L.geoJSON(f).getBounds(), { padding: [20, 20] });
    }
    if (state.panel !== 'dashboard') showPanel('dashboard');
    else dashboard.render();
    document.body.classList.add('panel-open');
    ctx.changed();
  }

  function zoomToEstate(code) {
    const f = estateIndex.get(code);
    if (!f) return;
    const b = L.geoJSON(f).getBounds();
    const wide = window.innerWidth > 760;
    map.fitBounds(b, { maxZoom: 16, paddingTopLeft: [40, 40], paddingBottomRight: [wide && !$('card').hidden ? 420 : 40, wide ? 40 : Math.round(window.innerHeight * 0.5)] });
  }

  function focusEstate(code) {
    if (!estateIndex.has(code)) return;
    if (!state.layers.includes('estates')) layers.setVisible('estates', true);
    card.open(code); // shows the card at once, fills it when the server answers
    zoomToEstate(code);
    if (window.innerWidth <= 760) document.body.classList.remove('panel-open');
  }

  // ---- clicks and popups
  function popupViolation(latlng, p) {
    const n = p.point_count ?? p.count;
    const rows = [];
    if (n > 1) rows.push(`<strong>${escapeHTML(t('viol.cluster_n', { n: fmtNum(n) }))}</strong>`);
    else {
      rows.push(`<strong>${escapeHTML(p.category || '')}</strong> <span class="chip small ${p.status === 'open' ? 'bad' : 'ok'}">${escapeHTML(t(`status.${p.status}`))}</span>`);
      if (p.description) rows.push(escapeHTML(p.description));
      rows.push(`<span class="tip-sub">${escapeHTML(t('viol.popup_reported'))} ${escapeHTML((p.reported_at || '').replace('T', ' '))}${p.resolved_at ? ` · ${escapeHTML(t('viol.popup_resolved'))} ${escapeHTML(p.resolved_at.replace('T', ' '))}` : ''}</span>`);
      const meta = [p.code, p.source, p.estate_code ? `${t('f.estate_code')} ${p.estate_code}` : null].filter(Boolean).map(escapeHTML).join(' · ');
      if (meta) rows.push(`<span class="tip-sub">${meta}</span>`);
    }
    L.popup({ className: 'em-popup', maxWidth: 300 }).setLatLng(latlng).setContent(rows.join('<br>')).openOn(map);
  }

  function popupCorridor(latlng, p) {
    const label = t(`type.${p.type}`);
    const buf = state.corridor.types[p.type] ? ` · ${t('ui.m', { n: state.corridor.buffers[p.type] })}` : '';
    L.popup({ className: 'em-popup' }).setLatLng(latlng).setContent(`<strong>${escapeHTML(p.name || t('corridor.unnamed'))}</strong><br><span class="tip-sub">${escapeHTML(label)}${escapeHTML(buf)}</span>`).openOn(map);
  }

  function popupGrid(latlng, p) {
    const rows = [`<strong>${escapeHTML(t('layer.grid'))} ${escapeHTML(p.code || '')}</strong>`];
    if (p.town_code) rows.push(`<span class="tip-sub">${escapeHTML(ctx.townName(p.town_code))}${p.community ? ` · ${escapeHTML(t('f.community'))} ${escapeHTML(p.community)}` : ''}</span>`);
    const th = layers.gridTheme;
    if (th && th.dataKey && layers.data[th.dataKey]) {
      const r = layers.data[th.dataKey].get(p.code);
      if (r) {
        if (th.id === 'density') rows.push(`${escapeHTML(t('f.count'))} ${r.count} · ${escapeHTML(t('f.per_ha'))} ${fmtNum(r.per_ha, 2)} · ${escapeHTML(t('f.class'))} ${r.class}`);
        else {
          const e = th.compiled.entries().find((x) => x.value === r.class);
          rows.push(`${escapeHTML(e ? e.label : r.class)} · ${escapeHTML(t('f.z_score'))} ${fmtNum(r.z_score, 2)} · ${escapeHTML(t('f.count'))} ${r.count}`);
        }
      }
    }
    L.popup({ className: 'em-popup' }).setLatLng(latlng).setContent(rows.join('<br>')).openOn(map);
  }

  function clickAt(latlng, estate, gridFeature) {
    if (ctx.mode) return;
    if (state.layers.includes('violations') && layers.violTiles && state.viol !== 'heat') {
      const hit = layers.violTiles.featuresAt(latlng);
      if (hit.length) return popupViolation(latlng, hit[0].tags || {});
    }
    if (estate) return card.open(estate.properties.code);
    if (gridFeature) return popupGrid(latlng, gridFeature.properties);
    if (state.layers.includes('grid') && layers.gridTiles) {
      const hit = layers.gridTiles.featuresAt(latlng);
      if (hit.length) return popupGrid(latlng, hit[0].tags || {});
    }
    return null;
  }
  map.on('click', (e) => {
    if (document.body.classList.contains('panel-open') && window.innerWidth <= 760) {
      document.body.classList.remove('panel-open'); // a tap on the map closes the phone's panel
      return;
    }
    clickAt(e.latlng);
  });

  // ---- export form (corridor tool, selection)
  function exportForm(id, fn) {
    const form = el('form', 'block export-form');
    form.noValidate = true;
    form.dataset.export = id;
    form.appendChild(el('h3', 'block-title', t('corridor.export_title')));
    const grid = el('div', 'form-grid');
    const field = (labelKey, control) => {
      const l = el('label', 'field');
      l.appendChild(el('span', null, t(labelKey)));
      l.appendChild(control);
      grid.appendChild(l);
      return l;
    };
    const fmt = el('select');
    fmt.name = 'format';
    for (const f of ['shp', 'gpkg', 'csv', 'geojson']) {
      const o = el('option', null, t(`export.${f}`));
      o.value = f;
      fmt.appendChild(o);
    }
    field('export.format', fmt);
    const crs = el('select');
    crs.name = 'crs';
    for (const c of ['4549', '4490', '4326', '4550', '3857']) {
      const o = el('option', null, t(`crs.${c}`));
      o.value = `EPSG:${c}`;
      crs.appendChild(o);
    }
    const crsField = field('export.crs', crs);
    const enc = el('select');
    enc.name = 'encoding';
    for (const [v, k] of [['UTF-8', 'enc.utf8'], ['GBK', 'enc.gbk']]) {
      const o = el('option', null, t(k));
      o.value = v;
      enc.appendChild(o);
    }
    const encField = field('export.encoding', enc);
    const zh = el('input');
    zh.type = 'checkbox';
    zh.name = 'lang';
    zh.checked = lang() === 'zh';
    const zhl = el('label', 'check');
    zhl.appendChild(zh);
    zhl.appendChild(el('span', null, t('export.lang')));
    grid.appendChild(zhl);
    form.appendChild(grid);
    const sync = () => {
      encField.hidden = fmt.value !== 'shp';
      // GeoJSON is lon/lat by definition (RFC 7946)
      crsField.hidden = fmt.value === 'geojson';
    };
    fmt.addEventListener('change', sync);
    sync();
    const go = el('button', 'btn btn-primary', t('export.go'));
    go.type = 'submit';
    go.dataset.exportGo = id;
    form.appendChild(go);
    const msg = el('p', 'form-message');
    msg.setAttribute('role', 'status');
    form.appendChild(msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      go.disabled = true;
      msg.textContent = t('export.working');
      busy(t('export.working'));
      try {
        const name = await fn({
          format: fmt.value,
          crs: fmt.value === 'geojson' ? 'EPSG:4326' : crs.value,
          encoding: enc.value,
          lang: zh.checked ? 'zh' : 'en',
        });
        msg.textContent = t('export.done', { name });
        form.dataset.lastExport = name;
      } catch (err) {
        const why = err.unavailable ? t('ui.unavailable', { path: '/api/export' }) : err.message;
        msg.textContent = t('export.failed', { msg: why });
        form.dataset.lastError = err.message;
      } finally {
        busy(null);
        go.disabled = false;
      }
    });
    return form;
  }

  // ---- date slider
  const dateRange = { start: '2015-01-01', end: '2017-12-31' };
  const coll = await violationsCollection;
  const iv = coll && coll.extent && coll.extent.temporal && coll.extent.temporal.interval && coll.extent.temporal.interval[0];
  if (iv && iv[0]) dateRange.start = `${iv[0].slice(0, 7)}-01`;
  if (iv && iv[1] && iv[1].slice(0, 10) > dateRange.end) dateRange.end = iv[1].slice(0, 10);
  const day = 86400000;
  const d0 = Date.parse(`${dateRange.start}T00:00:00Z`);
  const nDays = Math.round((Date.parse(`${dateRange.end}T00:00:00Z`) - d0) / day);
  const slider = $('date-slider');
  slider.max = String(nDays);
  const iso = (i) => new Date(d0 + i * day).toISOString().slice(0, 10);
  if (!state.date || state.date < dateRange.start || state.date > dateRange.end) state.date = dateRange.end;
  ctx.lastDate = dateRange.end;
  slider.value = String(Math.round((Date.parse(`${state.date}T00:00:00Z`) - d0) / day));
  const showDate = () => {
    $('date-value').textContent = state.date;
    slider.title = t('date.help');
    slider.setAttribute('aria-valuetext', state.date);
  };
  showDate();
  let dateTimer;
  slider.addEventListener('input', () => {
    state.date = iso(Number(slider.value));
    showDate();
    clearTimeout(dateTimer);
    dateTimer = setTimeout(async () => {
      await layers.dateChanged();
      if (state.panel === 'dashboard') dashboard.render();
      if (card.isOpen()) card.refresh();
      ctx.changed();
    }, 250);
  });

  // ---- search
  const input = $('search');
  const results = $('search-results');
  let hits = [];
  let active = -1;
  const renderHits = () => {
    results.textContent = '';
    results.hidden = !input.value.trim();
    if (!hits.length) {
      results.appendChild(el('li', 'empty', t('search.none')));
      return;
    }
    hits.forEach((h, i) => {
      const li = el('li', i === active ? 'active' : '');
      li.setAttribute('role', 'option');
      li.dataset.code = h.code;
      li.appendChild(el('span', 'hit-kind', t(h.kind === 'town' ? 'search.town' : 'search.estate')));
      li.appendChild(el('span', 'hit-name', h.name));
      li.appendChild(el('span', 'hit-sub', h.sub));
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        choose(h);
      });
      results.appendChild(li);
    });
  };
  const choose = (h) => {
    results.hidden = true;
    input.blur();
    if (h.kind === 'town') openTown(h.code);
    else focusEstate(h.code);
  };
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    active = -1;
    if (!q) {
      hits = [];
      results.hidden = true;
      return;
    }
    const col = collator();
    const towns = townFeatures
      .filter((f) => f.properties.name.toLowerCase().includes(q) || f.properties.code.includes(q))
      .map((f) => ({ kind: 'town', code: f.properties.code, name: f.properties.name, sub: f.properties.code }));
    const est = estateFeatures
      .filter((f) => (f.properties.name || '').toLowerCase().includes(q) || f.properties.code.toLowerCase().includes(q) || (f.properties.address || '').toLowerCase().includes(q))
      .sort((a, b) => {
        const as = (a.properties.name || '').toLowerCase().startsWith(q) || a.properties.code.toLowerCase().startsWith(q) ? 0 : 1;
        const bs = (b.properties.name || '').toLowerCase().startsWith(q) || b.properties.code.toLowerCase().startsWith(q) ? 0 : 1;
        return as - bs || col.compare(a.properties.name || '', b.properties.name || '');
      })
      .slice(0, 12)
      .map((f) => ({ kind: 'estate', code: f.properties.code, name: f.properties.name, sub: `${f.properties.code} · ${ctx.townName(f.properties.town_code)}` }));
    hits = [...towns, ...est];
    renderHits();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!hits.length) return;
      active = (active + (e.key === 'ArrowDown' ? 1 : -1) + hits.length) % hits.length;
      renderHits();
    } else if (e.key === 'Enter') {
      if (hits.length) choose(hits[Math.max(active, 0)]);
    } else if (e.key === 'Escape') {
      results.hidden = true;
    }
  });
  input.addEventListener('blur', () =>
    setTimeout(() => {
      if (document.activeElement !== input) results.hidden = true;
    }, 150),
  );
  input.addEventListener('focus', () => {
    if (input.value.trim()) renderHits();
  });

  // ---- language, settings, phone panel
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.addEventListener('click', () => {
      setLang(b.dataset.lang);
      try {
        localStorage.setItem(STORAGE.lang, b.dataset.lang);
      } catch (e) {
        /* ignore */
      }
    });
  }
  const markLang = () => {
    for (const b of document.querySelectorAll('[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang()));
  };
  markLang();
  onLang(() => {
    markLang();
    showDate();
    showCoords(null);
    const view = state.panel;
    if (view === 'corridors') corridorTool.render();
    if (view === 'dashboard') dashboard.render();
    if (view === 'selection') selection.render();
    if (card.isOpen()) card.refresh();
    setBasemap(state.basemap);
    ctx.changed();
  });

  const dlg = $('settings-dialog');
  $('btn-settings').addEventListener('click', async () => {
    $('set-token').value = storageGet(STORAGE.token) || '';
    $('set-tdt').value = storageGet(STORAGE.tdt) || '';
    $('set-remember').checked = !!localStorage.getItem(STORAGE.token);
    const about = $('about');
    about.textContent = '';
    try {
      const [hz, vendor] = await Promise.all([getJSON('/healthz'), fetch('vendor/versions.json').then((r) => r.json())]);
      const counts = Object.entries(hz.layers || {}).map(([k, v]) => `${has(`layer.${k}`) ? t(`layer.${k}`) : k} ${fmtNum(v)}`).join('，');
      about.textContent = t('settings.about', { layers: counts, vendor: Object.entries(vendor).map(([k, v]) => `${k} ${v}`).join(', ') }) + (hz.version ? ` · estatemap ${hz.version}` : '');
    } catch (e) {
      /* the about line is optional */
    }
    dlg.showModal();
  });
  $('settings-cancel').addEventListener('click', () => dlg.close());
  $('settings-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const tok = $('set-token').value.trim();
    const tdt = $('set-tdt').value.trim();
    try {
      sessionStorage.removeItem(STORAGE.token);
      localStorage.removeItem(STORAGE.token);
      if (tok) ($('set-remember').checked ? localStorage : sessionStorage).setItem(STORAGE.token, tok);
      if (tdt) localStorage.setItem(STORAGE.tdt, tdt);
      else localStorage.removeItem(STORAGE.tdt);
    } catch (err) {
      /* storage refused */
    }
    dlg.close();
    toast(t('settings.saved'));
    if (state.basemap.startsWith('tdt')) setBasemap(state.basemap);
  });

  $('btn-panel').addEventListener('click', () => document.body.classList.toggle('panel-open'));
  $('brand').addEventListener('click', (e) => {
    e.preventDefault();
    map.fitBounds(DISTRICT_BOUNDS, { padding: [8, 8] });
  });

  // ---- start
  applyI18n(document);
  layers.renderPanel();
  setBasemap(state.basemap);
  map.on('moveend', () => ctx.changed());
  const t0 = performance.now();
  await layers.showInitial();
  showPanel(state.panel);
  if (state.estate && estateIndex.has(state.estate)) card.open(state.estate);
  if (state.town && state.panel !== 'dashboard') state.town = fromHash.town;
  ctx.changed();

  // the panel's footer: what the server holds
  let health = null;
  const showHealth = () => {
    if (!health) return;
    const parts = ['estates', 'grid', 'violations'].filter((k) => health.layers && k in health.layers).map((k) => `${t(`layer.${k}`)} ${fmtNum(health.layers[k])}`);
    $('status-line').textContent = `${parts.join(' · ')}${health.version ? ` · v${health.version}` : ''}`;
  };
  getJSON('/healthz').then((h) => {
    health = h;
    showHealth();
  }, () => {});
  onLang(showHealth);

  window.addEventListener('hashchange', () => {
    const h = readHash();
    if (h.view) {
      const c = map.getCenter();
      if (Math.abs(c.lat - h.view.center.lat) > 1e-5 || Math.abs(c.lng - h.view.center.lng) > 1e-5 || map.getZoom() !== h.view.zoom) map.setView(h.view.center, h.view.zoom);
    }
    if (h.lang && h.lang !== lang()) setLang(h.lang);
    if (h.panel && h.panel !== state.panel) showPanel(h.panel);
    if (h.estate && h.estate !== state.estate && estateIndex.has(h.estate)) card.open(h.estate);
  });

  // the hook the browser tests and the benchmark read
  window.estatemap = {
    map,
    state,
    counts: () => layers.counts(),
    // the violation tiles on the map now (for the browser tests)
    violationTiles: () => (layers.violTiles ? Object.values(layers.violTiles._tiles).filter((t) => t.current).map((t) => t.coords) : []),
    loading: () => layers.loading(),
    tiles: layers.tiles,
    initialLoadMs: performance.now() - t0,
    showPanel,
    openTown,
    focusEstate,
    selection,
    estateLayer: (code) => (layers.estateByCode ? layers.estateByCode.get(code) : null),
    // a container point that lies on the estate's own SVG path (for a real click)
    estatePoint: (code) => {
      const l = layers.estateByCode && layers.estateByCode.get(code);
      if (!l || !l.getElement()) return null;
      const b = l.getBounds();
      const rect = map.getContainer().getBoundingClientRect();
      for (let n = 2; n <= 12; n++) {
        for (let i = 1; i < n; i++) {
          for (let j = 1; j < n; j++) {
            const ll = L.latLng(b.getSouth() + ((b.getNorth() - b.getSouth()) * i) / n, b.getWest() + ((b.getEast() - b.getWest()) * j) / n);
            const p = map.latLngToContainerPoint(ll);
            const hit = document.elementFromPoint(rect.left + p.x, rect.top + p.y);
            if (hit === l.getElement()) return { x: rect.left + p.x, y: rect.top + p.y };
          }
        }
      }
      return null;
    },
  };
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  console.error(e);
  const box = document.getElementById('toast');
  box.textContent = `启动失败 / Start-up failed: ${e.message}`;
  box.hidden = false;
  box.className = 'toast bad';
});

