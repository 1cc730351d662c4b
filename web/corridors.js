// The corridor tool (四类沿线): tick corridor types, set a buffer per type with a slider; the
// estates along them highlight at once and fill a sortable list that is the same as
// /api/analysis/corridors for the same settings, and the result exports through /api/export.
//
// One request (`/api/analysis/corridors?all=true`) gives every estate's distance to the nearest
// corridor of each type; the buffers only decide which distances count, so moving a slider
// needs no new request: an estate is along a type when its distance is at or under the buffer,
// exactly the server's rule.

import { analysis, ApiError, exportDownload } from './api.js';
import { collator, fmtNum, t } from './i18n.js';
import { compileTheme, swatch } from './styles.js';
import { CORRIDOR_TYPES } from './layers.js';

export const DEFAULT_BUFFERS = { railway: 20, expressway: 30, river: 30, rail_transit: 30 };
const MAX_BUFFER = 200;
const MAX_ROWS = 2000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class CorridorTool {
  constructor(ctx) {
    this.ctx = ctx;
    this.rows = null;
    this.error = null;
    this.sort = { key: 'distance', dir: 1 };
    this.theme = compileTheme(ctx.styles.analysis_corridors || ctx.styles.corridors, ctx.styles.analysis_corridors ? 'along_types' : 'type');
    this.lineTheme = compileTheme(ctx.styles.corridors, 'type');
  }

  state() {
    return this.ctx.state.corridor;
  }

  async load() {
    if (this.rows || this.loading) return this.loading;
    this.loading = (async () => {
      try {
        let res;
        try {
          res = await analysis('corridors', { all: 'true' });
        } catch (e) {
          if (!(e instanceof ApiError) || e.parameter !== 'all') throw e;
          // a server without --all: every estate within the 10 km search radius of a type
          res = await analysis('corridors', { buffer: CORRIDOR_TYPES.map((k) => `${k}=10000`).join(',') });
        }
        this.rows = res.rows;
        const defaults = (res.summary && res.summary.buffers_m) || {};
        const c = this.state();
        for (const k of CORRIDOR_TYPES) {
          if (c.fromHash && c.buffers[k] !== undefined) continue;
          if (defaults[k] !== undefined && defaults[k] <= 10000) c.buffers[k] = Math.round(defaults[k]);
        }
        this.error = null;
      } catch (e) {
        this.error = e.unavailable ? t('ui.unavailable', { path: '/api/analysis/corridors' }) : t('ui.error', { msg: e.message });
      }
      this.loading = null;
      this.render();
      this.apply();
    })();
    return this.loading;
  }

  // The estates along the ticked types, with their nearest corridor.
  result() {
    if (!this.rows) return [];
    const c = this.state();
    const out = [];
    for (const r of this.rows) {
      if (c.pre2000 && !(r.built_year !== null && r.built_year < 2000)) continue;
      let best = null;
      const along = [];
      for (const k of CORRIDOR_TYPES) {
        if (!c.types[k]) continue;
        const d = r[`${k}_dist_m`];
        if (d === null || d === undefined || d > c.buffers[k]) continue;
        along.push(k);
        if (!best || d < best.dist) best = { type: k, dist: d, name: r[`${k}_name`] };
      }
      if (best) out.push({ code: r.code, name: r.name, town_code: r.town_code, built_year: r.built_year, along, nearest: best });
    }
    return out;
  }

  // Parameters that give the same list from /api/analysis/corridors and /api/export.
  params() {
    const c = this.state();
    const types = CORRIDOR_TYPES.filter((k) => c.types[k]);
    return {
      types: types.join(','),
      buffer: types.map((k) => `${k}=${c.buffers[k]}`).join(','),
      'built-before': c.pre2000 ? 2000 : null,
    };
  }

  active() {
    return this.ctx.state.panel === 'corridors';
  }

  // Map highlight while the tool is open.
  apply() {
    const layers = this.ctx.layers;
    layers.buffersChanged();
    if (!this.active() || !this.rows) {
      if (layers.estateOverride) {
        layers.overrideLegend = null;
        layers.setEstateOverride(null);
      }
      return;
    }
    const res = this.result();
    const byCode = new Map(res.map((r) => [r.code, r]));
    this.current = res;
    layers.overrideLegend = () => {
      const counts = {};
      for (const r of res) counts[r.nearest.type] = (counts[r.nearest.type] || 0) + 1;
      const list = this.theme.entries().filter((e) => !e.other).map((e) => ({ ...e, label: t('corr.legend_width', { label: e.label, w: t('corridor.col.nearest') }), count: fmtNum(counts[e.value] || 0) }));
      list.push({ label: t('ui.none'), symbol: { fillColor: '#e6e6e6', color: '#bdbdbd', weight: 0.5, fillOpacity: 0.5 }, count: fmtNum(this.rows.length - res.length), other: true });
      return list;
    };
    layers.setEstateOverride((f) => {
      const r = byCode.get(f.properties.code);
      if (!r) return { color: '#c7c7c7', weight: 0.5, opacity: 1, fillColor: '#e6e6e6', fillOpacity: 0.45 };
      const s = this.theme.symbolFor(r.nearest.type);
      return { ...s, color: '#1f1f1f', weight: 1.2, opacity: 1, fillOpacity: 0.9 };
    });
    this.renderList();
  }

  // ---------------------------------------------------------------- panel

  render() {
    const root = document.getElementById('panel-corridors');
    root.textContent = '';
    const c = this.state();
    const block = el('section', 'block');
    block.appendChild(el('h3', 'block-title', t('corridor.title')));
    block.appendChild(el('p', 'note', t('corridor.intro')));
    for (const k of CORRIDOR_TYPES) {
      const row = el('div', 'corr-type');
      row.dataset.type = k;
      const lab = el('label', 'check');
      const cb = el('input');
      cb.type = 'checkbox';
      cb.checked = !!c.types[k];
      cb.dataset.corrType = k;
      cb.addEventListener('change', () => {
        c.types[k] = cb.checked;
        row.classList.toggle('off', !cb.checked);
        this.changed();
      });
      lab.appendChild(cb);
      lab.appendChild(swatch(this.lineTheme.symbolFor(k), 'line'));
      lab.appendChild(el('span', 'corr-name', t(`type.${k}`)));
      row.appendChild(lab);
      const out = el('output', 'corr-value', t('ui.m', { n: c.buffers[k] }));
      const slider = el('input', 'corr-slider');
      slider.type = 'range';
      slider.min = '0';
      slider.max = String(MAX_BUFFER);
      slider.step = '1';
      slider.value = String(Math.min(c.buffers[k], MAX_BUFFER));
      slider.dataset.corrBuffer = k;
      slider.setAttribute('aria-label', `${t(`type.${k}`)} ${t('corridor.reference')}`);
      slider.addEventListener('input', () => {
        c.buffers[k] = Number(slider.value);
        out.textContent = t('ui.m', { n: c.buffers[k] });
        this.changed();
      });
      row.appendChild(slider);
      row.appendChild(out);
      row.appendChild(el('small', 'corr-ref', t(`corridor.ref.${k}`)));
      row.classList.toggle('off', !c.types[k]);
      block.appendChild(row);
    }
    const pre = el('label', 'check');
    const pcb = el('input');
    pcb.type = 'checkbox';
    pcb.id = 'corr-pre2000';
    pcb.checked = !!c.pre2000;
    pcb.addEventListener('change', () => {
      c.pre2000 = pcb.checked;
      this.changed();
    });
    pre.appendChild(pcb);
    pre.appendChild(el('span', null, t('corridor.pre2000')));
    block.appendChild(pre);
    root.appendChild(block);

    const listBlock = el('section', 'block corr-list-block');
    const head = el('div', 'corr-list-head');
    head.appendChild(el('h3', 'block-title', ''));
    listBlock.appendChild(head);
    const msg = el('p', 'layer-msg');
    msg.id = 'corr-msg';
    listBlock.appendChild(msg);
    const tableWrap = el('div', 'table-wrap');
    const table = el('table', 'data-table');
    table.id = 'corr-table';
    const thead = el('thead');
    const tr = el('tr');
    for (const [key, label] of [
      ['name', 'corridor.col.name'],
      ['town', 'corridor.col.town'],
      ['built', 'corridor.col.built'],
      ['type', 'corridor.col.type'],
      ['nearest', 'corridor.col.nearest'],
      ['distance', 'corridor.col.distance'],
    ]) {
      const th = el('th');
      const b = el('button', 'sort', t(label));
      b.type = 'button';
      b.dataset.sort = key;
      b.addEventListener('click', () => {
        this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
        this.renderList();
      });
      th.appendChild(b);
      if (['built', 'distance'].includes(key)) th.className = 'num';
      tr.appendChild(th);
    }
    thead.appendChild(tr);
    table.appendChild(thead);
    table.appendChild(el('tbody'));
    tableWrap.appendChild(table);
    listBlock.appendChild(tableWrap);
    root.appendChild(listBlock);

    root.appendChild(this.ctx.exportForm('corridors', (fmt) => this.exportAs(fmt)));
    this.renderList();
  }

  renderList() {
    const root = document.getElementById('panel-corridors');
    const tbody = root.querySelector('#corr-table tbody');
    if (!tbody) return;
    const msg = root.querySelector('#corr-msg');
    const title = root.querySelector('.corr-list-head .block-title');
    const c = this.state();
    const anyType = CORRIDOR_TYPES.some((k) => c.types[k]);
    if (this.error || !this.rows) {
      msg.textContent = this.error || t('ui.loading');
      msg.hidden = false;
      title.textContent = t('corridor.count', { n: '—' });
      tbody.textContent = '';
      root.querySelectorAll('.export-form button, .export-form select').forEach((x) => (x.disabled = !!this.error));
      return;
    }
    const res = this.result();
    title.textContent = t('corridor.count', { n: fmtNum(res.length) });
    msg.textContent = anyType ? (res.length > MAX_ROWS ? t('corridor.more_rows', { n: MAX_ROWS }) : '') : t('corridor.none_ticked');
    msg.hidden = !msg.textContent;
    const col = collator();
    const town = (r) => this.ctx.townName(r.town_code);
    const { key, dir } = this.sort;
    const cmp = {
      name: (a, b) => col.compare(a.name || '', b.name || ''),
      town: (a, b) => col.compare(town(a), town(b)),
      built: (a, b) => (a.built_year ?? 9999) - (b.built_year ?? 9999),
      type: (a, b) => CORRIDOR_TYPES.indexOf(a.nearest.type) - CORRIDOR_TYPES.indexOf(b.nearest.type),
      nearest: (a, b) => col.compare(a.nearest.name || '', b.nearest.name || ''),
      distance: (a, b) => a.nearest.dist - b.nearest.dist,
    }[key];
    res.sort((a, b) => dir * cmp(a, b) || col.compare(a.code, b.code));
    for (const b of root.querySelectorAll('button.sort')) {
      b.classList.toggle('asc', b.dataset.sort === key && dir > 0);
      b.classList.toggle('desc', b.dataset.sort === key && dir < 0);
      b.parentElement.setAttribute('aria-sort', b.dataset.sort === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    const frag = document.createDocumentFragment();
    for (const r of res.slice(0, MAX_ROWS)) {
      const tr = el('tr');
      tr.dataset.code = r.code;
      tr.tabIndex = 0;
      tr.title = r.code;
      tr.appendChild(el('td', 'name', r.name));
      tr.appendChild(el('td', null, town(r)));
      tr.appendChild(el('td', 'num', r.built_year ?? '—'));
      const tdType = el('td', 'type');
      tdType.appendChild(swatch(this.lineTheme.symbolFor(r.nearest.type), 'line'));
      tdType.appendChild(document.createTextNode(r.along.map((k) => t(`type_short.${k}`)).join('、')));
      tdType.title = r.along.map((k) => t(`type.${k}`)).join('、');
      tr.appendChild(tdType);
      tr.appendChild(el('td', null, r.nearest.name || t('corridor.unnamed')));
      tr.appendChild(el('td', 'num', r.nearest.dist.toFixed(1)));
      tr.addEventListener('click', () => this.ctx.focusEstate(r.code));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') this.ctx.focusEstate(r.code);
      });
      frag.appendChild(tr);
    }
    tbody.textContent = '';
    tbody.appendChild(frag);
    root.querySelectorAll('.export-form button, .export-form select').forEach((x) => (x.disabled = !anyType));
  }

  changed() {
    clearTimeout(this._t);
    this.ctx.layers.buffersChanged();
    this._t = setTimeout(() => {
      this.apply();
      this.ctx.changed();
    }, 30);
  }

  exportAs(opts) {
    return exportDownload('analysis:corridors', opts, this.params(), 'corridors');
  }
}

