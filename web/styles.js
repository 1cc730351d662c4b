// Layer styles from styles/*.json (copied to web/styles/ by scripts/vendor-web): the same
// files make the QGIS styles that go with the exports. Symbols are Leaflet Path options.

import { styleLabel, t } from './i18n.js';

const cache = new Map();

export async function loadStyle(name) {
  if (!cache.has(name)) {
    cache.set(
      name,
      fetch(`styles/${name}.json`, { cache: 'no-cache' }).then((r) => {
        if (!r.ok) throw new Error(`styles/${name}.json: HTTP ${r.status}`);
        return r.json();
      }),
    );
  }
  return cache.get(name);
}

export async function loadStyles(names) {
  const out = {};
  await Promise.all(
    names.map(async (n) => {
      try {
        out[n] = await loadStyle(n);
      } catch (e) {
        console.warn(String(e));
        out[n] = null;
      }
    }),
  );
  return out;
}

const SYMBOL_KEYS = ['color', 'weight', 'opacity', 'dashArray', 'fillColor', 'fillOpacity', 'radius'];

function pick(o) {
  const s = {};
  if (!o) return s;
  for (const k of SYMBOL_KEYS) if (k in o) s[k] = o[k];
  return s;
}

// A compiled theme: symbolFor(value) and legend entries, from one style file.
export function compileTheme(style, themeName) {
  const base = pick(style && style.default);
  const theme = style && style.themes && themeName ? style.themes[themeName] : null;
  if (!theme) {
    return {
      field: null,
      title: styleLabel(style, 'title'),
      symbolFor: () => base,
      entries: () => [{ label: styleLabel(style, 'title'), symbol: base }],
      base,
    };
  }
  const other = { ...base, ...pick(theme.other) };
  let symbolFor;
  let entries;
  if (theme.classes) {
    const byValue = new Map();
    for (const c of theme.classes) byValue.set(String(c.value), { ...base, ...pick(c) });
    symbolFor = (v) => (v === null || v === undefined ? other : byValue.get(String(v)) || other);
    entries = () => theme.classes.map((c) => ({ value: c.value, label: styleLabel(c), symbol: byValue.get(String(c.value)) }));
  } else {
    const ranges = theme.ranges.map((r) => ({ ...r, symbol: { ...base, ...pick(r) } }));
    symbolFor = (v) => {
      if (v === null || v === undefined || v === '' || Number.isNaN(Number(v))) return other;
      const x = Number(v);
      for (const r of ranges) {
        if ((r.min === undefined || x >= r.min) && (r.max === undefined || x < r.max)) return r.symbol;
      }
      return other;
    };
    entries = () => ranges.map((r) => ({ label: styleLabel(r), symbol: r.symbol }));
  }
  const withOther = () => {
    const list = entries();
    if (theme.other) list.push({ label: styleLabel(theme.other) || t('theme.other_none'), symbol: other, other: true });
    return list;
  };
  return { field: theme.field, title: styleLabel(theme), symbolFor, entries: withOther, base, other };
}

// A legend swatch as an inline SVG element: a filled square, a line or a circle.
export function swatch(symbol, kind = 'polygon') {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 16');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '16');
  svg.setAttribute('class', 'swatch');
  svg.setAttribute('aria-hidden', 'true');
  let el;
  const stroke = symbol.color || '#555';
  const weight = Math.min(symbol.weight ?? 1, 4);
  if (kind === 'line') {
    el = document.createElementNS(ns, 'path');
    el.setAttribute('d', 'M2 8 L22 8');
    el.setAttribute('fill', 'none');
    el.setAttribute('stroke', stroke);
    el.setAttribute('stroke-width', Math.max(weight, 2));
    if (symbol.dashArray) el.setAttribute('stroke-dasharray', symbol.dashArray);
  } else if (kind === 'point') {
    el = document.createElementNS(ns, 'circle');
    el.setAttribute('cx', '12');
    el.setAttribute('cy', '8');
    el.setAttribute('r', Math.min(symbol.radius || 5, 6));
    el.setAttribute('fill', symbol.fillColor || stroke);
    el.setAttribute('stroke', stroke === '#ffffff' ? '#666' : stroke);
    el.setAttribute('stroke-width', '1');
  } else {
    el = document.createElementNS(ns, 'rect');
    el.setAttribute('x', '2');
    el.setAttribute('y', '2');
    el.setAttribute('width', '20');
    el.setAttribute('height', '12');
    el.setAttribute('rx', '2');
    const fo = symbol.fillOpacity ?? 0.2;
    el.setAttribute('fill', fo > 0 ? symbol.fillColor || stroke : 'none');
    el.setAttribute('fill-opacity', String(fo > 0 ? Math.max(fo, 0.3) : 0));
    if ((symbol.weight ?? 1) > 0) {
      el.setAttribute('stroke', stroke);
      el.setAttribute('stroke-width', String(Math.min(Math.max(weight, 1), 2.5)));
      if (symbol.dashArray) el.setAttribute('stroke-dasharray', '4 2');
    }
  }
  svg.appendChild(el);
  return svg;
}

// A legend list element.
export function legendList(entries, kind) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const e of entries) {
    const li = document.createElement('li');
    if (e.other) li.className = 'legend-other';
    li.appendChild(swatch(e.symbol, e.kind || kind));
    const span = document.createElement('span');
    span.textContent = e.label;
    li.appendChild(span);
    if (e.count !== undefined) {
      const c = document.createElement('span');
      c.className = 'legend-count';
      c.textContent = e.count;
      li.appendChild(c);
    }
    ul.appendChild(li);
  }
  return ul;
}
