/* global L */
// Select estates by drawing a rectangle or a polygon; list them and export the selection.
// Every format comes from /api/export, the same export as `estatemap export`: a rectangle is
// its `bbox`, a polygon its `polygon` (lon/lat WKT); the server keeps the estates that
// intersect it, as the list here does, in the CRS and encoding the user picks.

import { exportDownload } from './api.js';
import { collator, fmtNum, t } from './i18n.js';
import { DrawTool, geometryMeetsRing, layerRing } from './draw.js';

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

export class Selection {
  constructor(ctx) {
    this.ctx = ctx;
    this.features = [];
    this.overlay = null;
    this.draw = new DrawTool(ctx.map, {
      onStart: (kind) => {
        ctx.mode = 'draw';
        this.hint(kind === 'rect' ? t('sel.hint_rect') : t('sel.hint_poly'));
        this.render();
      },
      onDone: (layer, kind) => {
        ctx.mode = null;
        this.hint(null);
        this.select(layer, kind);
      },
      onCancel: () => {
        ctx.mode = null;
        this.hint(null);
        this.render();
      },
    });
  }

  hint(text) {
    const h = document.getElementById('draw-hint');
    h.textContent = text || '';
    h.hidden = !text;
  }

  select(layer, kind) {
    const ring = layerRing(layer);
    this.ring = ring;
    const b = layer.getBounds();
    this.kind = kind;
    this.bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    this.features = this.ctx.estateFeatures().filter((f) => geometryMeetsRing(f.geometry, ring));
    if (this.overlay) this.overlay.remove();
    this.overlay = L.geoJSON({ type: 'FeatureCollection', features: this.features }, {
      pane: 'selectionPane',
      interactive: false,
      style: { color: '#0b57d0', weight: 2.5, fillColor: '#0b57d0', fillOpacity: 0.25 },
    }).addTo(this.ctx.map);
    this.render();
    this.ctx.changed();
  }

  clear() {
    this.draw.cancel(true);
    this.draw.clearShape();
    if (this.overlay) this.overlay.remove();
    this.overlay = null;
    this.features = [];
    this.ctx.mode = null;
    this.hint(null);
    this.render();
  }

  render() {
    const root = document.getElementById('panel-selection');
    root.textContent = '';
    const block = el('section', 'block');
    block.appendChild(el('h3', 'block-title', t('sel.title')));
    const seg = el('div', 'seg');
    for (const [kind, key] of [['rect', 'sel.rect'], ['poly', 'sel.poly']]) {
      const b = el('button', 'btn', t(key));
      b.type = 'button';
      b.dataset.draw = kind;
      b.setAttribute('aria-pressed', String(this.draw.kind === kind));
      b.addEventListener('click', () => this.draw.start(kind));
      seg.appendChild(b);
    }
    const c = el('button', 'btn', t('sel.clear'));
    c.type = 'button';
    c.dataset.draw = 'clear';
    c.addEventListener('click', () => this.clear());
    seg.appendChild(c);
    block.appendChild(seg);
    root.appendChild(block);

    const list = el('section', 'block');
    if (!this.features.length) {
      list.appendChild(el('p', 'note', t('sel.empty')));
      root.appendChild(list);
      return;
    }
    const households = this.features.reduce((a, f) => a + (f.properties.households || 0), 0);
    const title = el('h3', 'block-title', t('sel.count', { n: fmtNum(this.features.length), h: fmtNum(households) }));
    title.id = 'sel-count';
    list.appendChild(title);
    const wrap = el('div', 'table-wrap short');
    const table = el('table', 'data-table');
    table.id = 'sel-table';
    const thead = el('thead');
    const hr = el('tr');
    for (const k of ['corridor.col.name', 'corridor.col.town', 'corridor.col.built', 'f.tier']) hr.appendChild(el('th', null, t(k)));
    thead.appendChild(hr);
    table.appendChild(thead);
    const tb = el('tbody');
    const col = collator();
    const sorted = [...this.features].sort((a, b) => col.compare(a.properties.code, b.properties.code));
    for (const f of sorted) {
      const p = f.properties;
      const tr = el('tr');
      tr.dataset.code = p.code;
      tr.appendChild(el('td', 'name', p.name));
      tr.appendChild(el('td', null, this.ctx.townName(p.town_code)));
      tr.appendChild(el('td', 'num', p.built_year));
      tr.appendChild(el('td', null, p.tier || '—'));
      tr.addEventListener('click', () => this.ctx.focusEstate(p.code));
      tb.appendChild(tr);
    }
    table.appendChild(tb);
    wrap.appendChild(table);
    list.appendChild(wrap);
    root.appendChild(list);
    const form = this.ctx.exportForm('selection', (opts) => this.exportAs(opts));
    const note = el('p', 'note', t('sel.server_note'));
    form.appendChild(note);
    root.appendChild(form);
  }

  // The drawn shape as the export's filter: a rectangle's bbox, a polygon's lon/lat WKT.
  filter() {
    if (this.kind === 'rect') return { bbox: this.bbox.map((v) => v.toFixed(7)).join(',') };
    const ring = [...this.ring, this.ring[0]];
    return { polygon: `POLYGON((${ring.map(([x, y]) => `${x.toFixed(7)} ${y.toFixed(7)}`).join(', ')}))` };
  }

  exportAs(opts) {
    return exportDownload('estates', opts, this.filter(), 'estates_selection');
  }
}
