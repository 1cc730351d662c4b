// Small SVG charts drawn with our own code: no chart library, nothing inline that the
// Content-Security-Policy would refuse (SVG presentation attributes are not styles).

const NS = 'http://www.w3.org/2000/svg';

export function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgRoot(w, h, cls) {
  return svgEl('svg', { viewBox: `0 0 ${w} ${h}`, width: '100%', class: `chart ${cls || ''}`, role: 'img', preserveAspectRatio: 'xMinYMin meet' });
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// Columns per month: [{month: 'YYYY-MM', count, open}] (open drawn darker inside the column).
export function monthlyColumns(series, { title, markDate, labelOpen, labelAll } = {}) {
  const W = 340;
  const H = 132;
  const L = 28;
  const B = 20;
  const T = 16;
  const svg = svgRoot(W, H, 'chart-monthly');
  if (title) svg.appendChild(svgEl('title', {}, title));
  const n = series.length;
  if (!n) return svg;
  const max = niceMax(Math.max(...series.map((s) => Math.max(s.count, s.open || 0))));
  const cw = (W - L - 4) / n;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    svg.appendChild(svgEl('line', { x1: L, x2: W - 2, y1: yy, y2: yy, class: 'grid-line' }));
    svg.appendChild(svgEl('text', { x: L - 4, y: yy + 3, class: 'axis-label', 'text-anchor': 'end' }, String(Math.round(max * f))));
  }
  series.forEach((s, i) => {
    const x = L + i * cw;
    const g = svgEl('g', { class: 'col' });
    g.appendChild(svgEl('title', {}, `${s.month}: ${labelAll || ''} ${s.count}${s.open !== undefined ? `，${labelOpen || 'open'} ${s.open}` : ''}`));
    g.appendChild(svgEl('rect', { x: x + 0.5, y: y(s.count), width: Math.max(cw - 1, 1), height: H - B - y(s.count), class: 'bar-all' }));
    svg.appendChild(g);
    if (s.month.endsWith('-01') || i === 0) {
      svg.appendChild(svgEl('line', { x1: x, x2: x, y1: H - B, y2: H - B + 4, class: 'axis-tick' }));
      svg.appendChild(svgEl('text', { x: x + 2, y: H - 5, class: 'axis-label' }, s.month.slice(0, 4)));
    }
  });
  svg.appendChild(svgEl('line', { x1: L, x2: W - 2, y1: H - B, y2: H - B, class: 'axis' }));
  // reports still open at each month's end: a step line over the columns
  if (series.some((s) => s.open !== undefined && s.open !== null)) {
    let d = '';
    series.forEach((s, i) => {
      const yy = y(s.open || 0);
      d += `${i ? 'L' : 'M'}${(L + i * cw).toFixed(1)} ${yy.toFixed(1)}H${(L + (i + 1) * cw).toFixed(1)}`;
    });
    svg.appendChild(svgEl('path', { d, class: 'line-open' }));
  }
  if (markDate) {
    const i = series.findIndex((s) => s.month === markDate.slice(0, 7));
    if (i >= 0) {
      const x = L + (i + 0.5) * cw;
      svg.appendChild(svgEl('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'mark-line' }));
    }
  }
  if (labelAll && labelOpen) {
    const lg = svgEl('g', { class: 'chart-key' });
    lg.appendChild(svgEl('rect', { x: W - 190, y: 2, width: 9, height: 9, class: 'bar-all' }));
    lg.appendChild(svgEl('text', { x: W - 177, y: 10, class: 'axis-label' }, labelAll));
    lg.appendChild(svgEl('path', { d: `M${W - 100} 6.5h12`, class: 'line-open' }));
    lg.appendChild(svgEl('text', { x: W - 84, y: 10, class: 'axis-label' }, labelOpen));
    svg.appendChild(lg);
  }
  return svg;
}

// Bullet bars: per row the share achieved against a target tick.
// rows: [{label, parts: [{value (0-1), target (0-1), color, text}]}]
export function bulletRows(rows, { max = 0.6, partLabels = [] } = {}) {
  const W = 340;
  const rowH = 26;
  const L = rows.some((r) => r.label) ? 78 : 4;
  const top = partLabels.length ? 18 : 4;
  const H = top + rows.length * rowH + 16;
  const svg = svgRoot(W, H, 'chart-bullets');
  const nparts = Math.max(1, ...rows.map((r) => r.parts.length));
  const gap = 16;
  const pw = (W - L - 6 - gap * (nparts - 1)) / nparts;
  const x = (p, v) => L + p * (pw + gap) + pw * Math.min(v, max) / max;
  partLabels.forEach((lab, p) => {
    svg.appendChild(svgEl('text', { x: L + p * (pw + gap), y: 11, class: 'axis-label strong' }, lab));
  });
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    const g = svgEl('g', { class: `bullet-row${r.code ? ' clickable' : ''}`, 'data-code': r.code });
    g.appendChild(svgEl('text', { x: L - 6, y: y0 + 14, class: 'row-label', 'text-anchor': 'end' }, r.label));
    r.parts.forEach((part, p) => {
      const bx = L + p * (pw + gap);
      g.appendChild(svgEl('rect', { x: bx, y: y0 + 4, width: pw, height: 14, class: 'bullet-bg' }));
      const w = Math.max(0, x(p, part.value) - bx);
      const bar = svgEl('rect', { x: bx, y: y0 + 6, width: w, height: 10, fill: part.color, class: 'bullet-bar' });
      g.appendChild(bar);
      const tx = x(p, part.target);
      g.appendChild(svgEl('line', { x1: tx, x2: tx, y1: y0 + 1, y2: y0 + 21, class: `bullet-target ${part.met ? 'met' : 'not-met'}` }));
      if (part.text) {
        g.appendChild(svgEl('text', { x: Math.min(bx + w + 3, bx + pw - 2), y: y0 + 15, class: 'bar-value', 'text-anchor': bx + w + 3 > bx + pw - 30 ? 'end' : 'start' }, part.text));
      }
      if (part.title) g.appendChild(svgEl('title', {}, part.title));
    });
    svg.appendChild(g);
  });
  // scale labels
  for (let p = 0; p < nparts; p++) {
    for (const f of [0, 0.2, 0.4].filter((v) => v < max)) {
      const xx = x(p, f);
      svg.appendChild(svgEl('text', { x: xx, y: H - 3, class: 'axis-label', 'text-anchor': f === 0 ? 'start' : 'middle' }, `${Math.round(f * 100)}%`));
    }
  }
  return svg;
}

// One stacked bar of counts with a key underneath: parts [{label, value, color}].
// The key is HTML, so it wraps in any language.
export function stackedBar(parts) {
  const W = 340;
  const H = 24;
  const wrap = document.createElement('div');
  wrap.className = 'stacked';
  const svg = svgRoot(W, H, 'chart-stacked');
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  let x = 0;
  for (const p of parts) {
    const w = ((W - 2) * p.value) / total;
    const g = svgEl('g');
    g.appendChild(svgEl('title', {}, `${p.label}: ${p.value}`));
    g.appendChild(svgEl('rect', { x: 1 + x, y: 2, width: Math.max(w, 0), height: 20, fill: p.color, class: 'stack-part' }));
    if (w > 24) g.appendChild(svgEl('text', { x: 1 + x + w / 2, y: 16, class: 'bar-value inside', 'text-anchor': 'middle' }, String(p.value)));
    svg.appendChild(g);
    x += w;
  }
  wrap.appendChild(svg);
  const key = document.createElement('ul');
  key.className = 'chart-key-list';
  for (const p of parts) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'key-swatch';
    sw.dataset.color = p.color;
    const s2 = svgEl('svg', { viewBox: '0 0 10 10', width: 10, height: 10 });
    s2.appendChild(svgEl('rect', { x: 0, y: 0, width: 10, height: 10, rx: 2, fill: p.color }));
    li.appendChild(s2);
    li.appendChild(document.createTextNode(` ${p.label} ${p.value}`));
    key.appendChild(li);
  }
  wrap.appendChild(key);
  return wrap;
}

// Horizontal bars for a ranking: rows [{label, value, text, code}].
export function rankBars(rows, { color = '#b3261e' } = {}) {
  const W = 340;
  const rowH = 20;
  const L = 120;
  const H = rows.length * rowH + 4;
  const svg = svgRoot(W, H, 'chart-rank');
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  rows.forEach((r, i) => {
    const y0 = 2 + i * rowH;
    const g = svgEl('g', { class: 'rank-row clickable', 'data-code': r.code, tabindex: '0' });
    g.appendChild(svgEl('title', {}, `${r.label}: ${r.text}`));
    const label = r.label.length > 9 ? `${r.label.slice(0, 8)}…` : r.label;
    g.appendChild(svgEl('text', { x: L - 6, y: y0 + 13, class: 'row-label', 'text-anchor': 'end' }, label));
    const w = ((W - L - 52) * r.value) / max;
    g.appendChild(svgEl('rect', { x: L, y: y0 + 3, width: Math.max(w, 1), height: 13, fill: color, class: 'rank-bar' }));
    g.appendChild(svgEl('text', { x: L + w + 4, y: y0 + 13, class: 'bar-value' }, r.text));
    svg.appendChild(g);
  });
  return svg;
}

// A progress bar for a milestone: share 0-1.
export function progressBar(share, status) {
  const W = 200;
  const H = 10;
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', height: H, class: `progress ${status || ''}`, preserveAspectRatio: 'none' });
  svg.appendChild(svgEl('rect', { x: 0, y: 0, width: W, height: H, rx: 5, class: 'progress-bg' }));
  const w = Math.max(0, Math.min(1, share || 0)) * W;
  if (w > 0) svg.appendChild(svgEl('rect', { x: 0, y: 0, width: w, height: H, rx: 5, class: 'progress-fg' }));
  return svg;
}
