/* global L */
// The estate card: every attribute, the seven prerequisites with pass/fail and reason, the
// priority criteria, the tier (editable with a planner token), a chart of violations by month
// and the renovation items. From GET /api/estates/{code}; PATCH /api/estates/{code} saves a tier.
// A server without /api/estates gets a card of the attributes alone, and says so.

import { analysis, getJSON, request } from './api.js';
import { fmtNum, fmtPct, lang, t } from './i18n.js';
import { monthlyColumns } from './charts.js';
import { compileTheme } from './styles.js';

const TIERS = ['示范版', '提升版', '基础版'];
const ATTRS = [
  'code', 'address', 'town_code', 'built_year', 'housing_type', 'households', 'buildings', 'floor_area_m2',
  'property_company', 'fee_collection_rate', 'owners_committee', 'owners_cofund', 'tianyuan_model', 'four_in_one',
  'elevator_count', 'elevator_valid_until', 'rain_sewage_works', 'water_supply_works', 'roof_works', 'tier', 'stage',
  'plan_date', 'start_date', 'completed_date', 'accepted_date', 'satisfaction',
];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function pick(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

function reasonOf(o) {
  if (!o) return '';
  const zh = pick(o, 'reason_zh', 'message_zh');
  const en = pick(o, 'reason', 'reason_en', 'message');
  return lang() === 'zh' ? zh ?? en ?? '' : en ?? zh ?? '';
}

// Prerequisites in any of the shapes a card may give them: an array of {id|n, pass, reason},
// an object keyed p1..p7, or an eligibility row with p1_pass / p1_reason(_zh).
export function normalisePrereqs(src) {
  const out = [];
  if (!src) return out;
  const list = src.prerequisites ?? src.prereqs ?? (src.eligibility && src.eligibility.prerequisites);
  if (Array.isArray(list)) {
    list.forEach((p, i) => {
      const n = Number(String(pick(p, 'n', 'number', 'id', 'key') ?? i + 1).replace(/\D/g, '')) || i + 1;
      out.push({ n, pass: !!pick(p, 'pass', 'passed', 'ok', 'met'), reason: reasonOf(p), label: lang() === 'zh' ? p.label_zh || p.name_zh : p.label_en || p.name_en });
    });
  } else if (list && typeof list === 'object') {
    for (let n = 1; n <= 7; n++) {
      const p = list[`p${n}`] ?? list[n];
      if (p !== undefined) out.push({ n, pass: typeof p === 'object' ? !!pick(p, 'pass', 'passed', 'ok') : !!p, reason: typeof p === 'object' ? reasonOf(p) : '' });
    }
  } else {
    for (let n = 1; n <= 7; n++) {
      if (src[`p${n}_pass`] === undefined) continue;
      out.push({ n, pass: !!src[`p${n}_pass`], reason: lang() === 'zh' ? src[`p${n}_reason_zh`] ?? src[`p${n}_reason`] : src[`p${n}_reason`] ?? src[`p${n}_reason_zh`] });
    }
  }
  return out.sort((a, b) => a.n - b.n);
}

export function normalisePriority(src) {
  const out = [];
  if (!src) return out;
  const list = src.priority_criteria ?? (Array.isArray(src.priority) ? src.priority : src.priority && typeof src.priority === 'object' ? src.priority.criteria ?? src.priority : null);
  if (Array.isArray(list)) {
    list.forEach((p, i) => {
      const n = Number(String(pick(p, 'n', 'number', 'id', 'key') ?? i + 1).replace(/\D/g, '')) || i + 1;
      out.push({ n, met: !!pick(p, 'met', 'pass', 'value', 'holds'), reason: reasonOf(p) });
    });
  } else if (list && typeof list === 'object') {
    for (let n = 1; n <= 3; n++) {
      const p = list[`prio${n}`] ?? list[`p${n}`] ?? list[n];
      if (p !== undefined) out.push({ n, met: typeof p === 'object' ? !!pick(p, 'met', 'pass', 'value') : !!p, reason: typeof p === 'object' ? reasonOf(p) : '' });
    }
  } else {
    for (let n = 1; n <= 3; n++) {
      if (src[`prio${n}`] === undefined) continue;
      out.push({ n, met: !!src[`prio${n}`], reason: lang() === 'zh' ? src[`prio${n}_reason_zh`] ?? src[`prio${n}_reason`] : src[`prio${n}_reason`] ?? src[`prio${n}_reason_zh`] });
    }
  }
  return out;
}

// Monthly series: [{month, count, open}] from an array or a {month: count} object.
export function normaliseMonthly(v) {
  if (!v) return [];
  const series = v.monthly ?? v.by_month ?? v.series ?? v.months;
  let list = [];
  if (Array.isArray(series)) {
    list = series.map((s) => ({ month: String(pick(s, 'month', 'period', 'date') ?? '').slice(0, 7), count: Number(pick(s, 'reported', 'count', 'total', 'n') ?? 0), open: pick(s, 'open_at_end', 'open', 'open_count') }));
  } else if (series && typeof series === 'object') {
    list = Object.entries(series).map(([m, c]) => ({ month: m.slice(0, 7), count: typeof c === 'object' ? Number(pick(c, 'count', 'reported', 'total') ?? 0) : Number(c), open: typeof c === 'object' ? c.open : undefined }));
  }
  list = list.filter((s) => /^\d{4}-\d{2}$/.test(s.month)).sort((a, b) => (a.month < b.month ? -1 : 1));
  if (!list.length) return list;
  // fill the gaps, so the time axis is even
  const full = [];
  let [y, m] = list[0].month.split('-').map(Number);
  const last = list[list.length - 1].month;
  const byMonth = new Map(list.map((s) => [s.month, s]));
  for (let guard = 0; guard < 600; guard++) {
    const key = `${y}-${String(m).padStart(2, '0')}`;
    full.push(byMonth.get(key) || { month: key, count: 0, open: 0 });
    if (key === last) break;
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
  return full;
}

export class EstateCard {
  constructor(ctx) {
    this.ctx = ctx;
    this.root = document.getElementById('card');
    this.code = null;
    this.highlight = null;
    this.estStyle = compileTheme(ctx.styles.estates, 'owners_committee');
    this.tierStyle = compileTheme(ctx.styles.estates, 'tier');
  }

  isOpen() {
    return !this.root.hidden;
  }

  close() {
    this.root.hidden = true;
    this.code = null;
    if (this.highlight) {
      this.highlight.remove();
      this.highlight = null;
    }
    document.body.classList.remove('card-open');
    this.ctx.state.estate = null;
    this.ctx.changed();
  }

  async open(code) {
    const feature = this.ctx.estateFeature(code);
    if (!feature) return;
    this.code = code;
    this.ctx.state.estate = code;
    this.feature = feature;
    this.root.hidden = false;
    document.body.classList.add('card-open');
    if (this.highlight) this.highlight.remove();
    this.highlight = L.geoJSON(feature, { pane: 'selectionPane', interactive: false, style: { color: '#f2b705', weight: 4, fill: false, opacity: 1 } }).addTo(this.ctx.map);
    this.data = null;
    this.partial = false;
    this.render(true);
    this.ctx.changed();
    try {
      this.data = await getJSON(`/api/estates/${encodeURIComponent(code)}?as-of=${this.ctx.state.date}`);
    } catch (e) {
      if (!e.unavailable) {
        this.error = e.message;
      }
      this.partial = true;
      // without the card API, the eligibility analysis still gives the prerequisites
      try {
        const el2 = await analysis('eligibility', { 'as-of': this.ctx.state.date });
        this.eligRow = (el2.rows || []).find((r) => r.code === code) || null;
      } catch (e2) {
        this.eligRow = null;
      }
    }
    if (this.code !== code) return;
    this.render(false);
  }

  refresh() {
    if (this.isOpen() && this.code) this.render(!this.data && !this.partial);
  }

  attrs() {
    const d = this.data;
    const base = { ...this.feature.properties };
    if (!d) return base;
    const a = d.properties ?? d.attributes ?? d.estate ?? d;
    return { ...base, ...(typeof a === 'object' ? a : {}) };
  }

  fmtValue(k, v) {
    if (v === null || v === undefined || v === '') return '—';
    if (typeof v === 'boolean') return v ? t('ui.yes') : t('ui.no');
    if (k === 'town_code') return t('ui.paren', { a: this.ctx.townName(v), b: v });
    if (k === 'fee_collection_rate') return fmtPct(v, 0);
    if (k === 'owners_committee') {
      const e = this.estStyle.entries().find((x) => x.value === v);
      return e ? e.label : v;
    }
    if (k === 'tier') {
      const e = this.tierStyle.entries().find((x) => x.value === v);
      return e ? e.label : v;
    }
    if (k === 'stage') {
      const st = compileTheme(this.ctx.styles.estates, 'stage').entries().find((x) => x.value === v);
      return st ? st.label : v;
    }
    if (/_works$/.test(k)) return t(`works.${v}`) === `works.${v}` ? v : t(`works.${v}`);
    if (typeof v === 'number') return fmtNum(v, k === 'satisfaction' ? 1 : 2);
    return String(v);
  }

  render(loading) {
    const root = this.root;
    root.textContent = '';
    const a = this.attrs();
    const d = this.data || {};

    const head = el('header', 'card-head');
    const titles = el('div', 'card-titles');
    titles.appendChild(el('div', 'card-kicker', t('card.title')));
    titles.appendChild(el('h2', 'card-name', a.name));
    titles.appendChild(el('div', 'card-sub', `${a.code} · ${this.ctx.townName(a.town_code)} · ${t('f.built_year')} ${a.built_year ?? '—'}`));
    head.appendChild(titles);
    const close = el('button', 'icon-btn card-close', '×');
    close.type = 'button';
    close.title = t('ui.close');
    close.setAttribute('aria-label', t('ui.close'));
    close.addEventListener('click', () => this.close());
    head.appendChild(close);
    root.appendChild(head);

    const body = el('div', 'card-body');
    root.appendChild(body);

    const src = this.data || this.eligRow;
    const prereqs = normalisePrereqs(src);
    const prio = normalisePriority(src);
    const eligible = pick(d, 'eligible') ?? (d.eligibility ? d.eligibility.eligible : undefined) ?? (this.eligRow ? this.eligRow.eligible : prereqs.length ? prereqs.every((p) => p.pass) : undefined);

    // chips
    const chips = el('div', 'chips');
    const tierChip = el('span', 'chip tier-chip', a.tier ? this.fmtValue('tier', a.tier) : t('dash.unassigned'));
    tierChip.dataset.tier = a.tier || 'none';
    chips.appendChild(tierChip);
    if (eligible !== undefined) chips.appendChild(el('span', `chip ${eligible ? 'ok' : 'bad'}`, eligible ? t('card.eligible') : t('card.not_eligible')));
    const scope = a.built_year !== null && a.built_year < 2000;
    chips.appendChild(el('span', 'chip muted', scope ? t('card.in_scope') : t('theme.not_in_scope')));
    body.appendChild(chips);

    if (this.partial) body.appendChild(el('p', 'notice', t('card.partial')));
    if (loading) body.appendChild(el('p', 'note', t('ui.loading')));

    // tier
    const tierSec = this.section(body, 'card.tier');
    tierSec.classList.add('card-tier');
    // the card's `tiers`: its row of the tiers analysis on the card's date (none out of scope)
    const tiers = d.tiers || null;
    const dl = el('dl', 'kv');
    dl.appendChild(el('dt', null, t('card.assigned')));
    dl.appendChild(el('dd', null, a.tier ? this.fmtValue('tier', a.tier) : t('dash.unassigned')));
    if (tiers) {
      const rec = el('dd', null, tiers.recommended_tier ? this.fmtValue('tier', tiers.recommended_tier) : '—');
      rec.dataset.recommendedTier = tiers.recommended_tier || '';
      dl.appendChild(el('dt', null, t('card.recommended')));
      dl.appendChild(rec);
    }
    tierSec.appendChild(dl);
    const why = tiers && (lang() === 'zh' ? tiers.note_zh : tiers.note);
    if (why) tierSec.appendChild(el('p', 'note tier-note', why));
    tierSec.appendChild(this.tierEditor(a));

    // prerequisites
    const pSec = this.section(body, 'card.prereq');
    const ul = el('ul', 'checklist prereqs');
    if (!prereqs.length && !loading) pSec.appendChild(el('p', 'note', t('ui.unavailable', { path: '/api/estates' })));
    for (const p of prereqs) {
      const li = el('li', p.pass ? 'pass' : 'fail');
      li.dataset.prereq = String(p.n);
      li.appendChild(el('span', 'mark', p.pass ? '✓' : '✗'));
      const txt = el('div', 'check-text');
      txt.appendChild(el('span', 'check-label', `${p.n}. ${p.label || t(`p.${p.n}`)}`));
      txt.appendChild(el('span', 'check-reason', `${p.pass ? t('card.pass') : t('card.fail')}：${p.reason || ''}`));
      li.appendChild(txt);
      ul.appendChild(li);
    }
    pSec.appendChild(ul);

    // priority
    if (prio.length) {
      const sec = this.section(body, 'card.priority');
      const ul2 = el('ul', 'checklist priority');
      for (const p of prio) {
        const li = el('li', p.met ? 'pass' : 'none');
        li.appendChild(el('span', 'mark', p.met ? '★' : '·'));
        const txt = el('div', 'check-text');
        txt.appendChild(el('span', 'check-label', `${p.n}. ${t(`prio.${p.n}`)}`));
        if (p.reason) txt.appendChild(el('span', 'check-reason', p.reason));
        li.appendChild(txt);
        ul2.appendChild(li);
      }
      sec.appendChild(ul2);
    }

    // violations by month
    const v = d.violations ?? d.violations_summary ?? null;
    if (v || !this.partial) {
      const sec = this.section(body, 'card.violations');
      if (v) {
        const total = pick(v, 'total', 'count', 'reported');
        const open = pick(v, 'open', 'open_count') ?? (v.by_status ? v.by_status.open : undefined);
        if (total !== undefined) sec.appendChild(el('p', 'note', t('card.viol_total', { n: fmtNum(total), open: fmtNum(open ?? 0) })));
        const series = normaliseMonthly(v);
        if (series.length) {
          sec.appendChild(monthlyColumns(series, { markDate: this.ctx.state.date, labelAll: t('card.reported_month'), labelOpen: t('card.open_month_end') }));
        } else if (!total) sec.appendChild(el('p', 'note', t('card.no_violations')));
        const byCat = v.by_category ?? v.categories;
        if (byCat && typeof byCat === 'object') {
          const list = el('ul', 'tags');
          const entries = Array.isArray(byCat) ? byCat.map((c) => [c.category ?? c.name, c.total ?? c.count]) : Object.entries(byCat);
          for (const [k, n] of entries) if (n) list.appendChild(el('li', null, `${k} ${n}`));
          sec.appendChild(list);
        }
      } else if (!loading) sec.appendChild(el('p', 'note', t('card.no_violations')));
    }

    // renovation items
    const items = d.renovation ?? d.renovation_items ?? null;
    if (items || !this.partial) {
      const sec = this.section(body, 'card.renovation');
      const list = Array.isArray(items) ? items : items && Array.isArray(items.items) ? items.items : [];
      if (items && items.budget_yuan) {
        sec.appendChild(el('p', 'note', t('card.budget', { total: fmtNum(items.budget_yuan / 10000, 1), owners: fmtNum((items.owners_yuan || 0) / 10000, 1), totalY: fmtNum(items.budget_yuan), ownersY: fmtNum(items.owners_yuan || 0) })));
      }
      if (!list.length) sec.appendChild(el('p', 'note', t('card.no_items')));
      else {
        const table = el('table', 'data-table compact renovation');
        const tb = el('tbody');
        for (const it of list) {
          const tr = el('tr');
          const id = pick(it, 'item_id', 'id', 'item');
          const name = lang() === 'zh' ? pick(it, 'name_zh', 'name', 'item_name') : pick(it, 'name_en', 'name', 'name_zh');
          const group = pick(it, 'category', 'group');
          tr.appendChild(el('td', 'num', id ?? ''));
          tr.appendChild(el('td', null, name ?? ''));
          tr.appendChild(el('td', 'muted', group ? t(`group.${group}`) === `group.${group}` ? group : t(`group.${group}`) : ''));
          const status = pick(it, 'status');
          const st = el('td', `status status-${status || 'none'}`, status ? (t(`works.${status}`) === `works.${status}` ? status : t(`works.${status}`)) : '');
          tr.appendChild(st);
          tb.appendChild(tr);
        }
        table.appendChild(tb);
        sec.appendChild(table);
      }
    }

    // attributes
    const aSec = this.section(body, 'card.attributes');
    const kv = el('dl', 'kv attrs');
    for (const k of ATTRS) {
      if (!(k in a)) continue;
      kv.appendChild(el('dt', null, t(`f.${k}`)));
      kv.appendChild(el('dd', null, this.fmtValue(k, a[k])));
    }
    const extra = a.extra && typeof a.extra === 'object' ? a.extra : {};
    for (const [k, val] of Object.entries(extra)) {
      kv.appendChild(el('dt', null, k));
      kv.appendChild(el('dd', null, String(val)));
    }
    aSec.appendChild(kv);

    const foot = el('div', 'card-foot');
    const zoom = el('button', 'btn', t('card.show_on_map'));
    zoom.type = 'button';
    zoom.addEventListener('click', () => this.ctx.zoomToEstate(this.code));
    foot.appendChild(zoom);
    body.appendChild(foot);
  }

  section(parent, key) {
    const s = el('section', 'card-sec');
    s.appendChild(el('h3', 'card-sec-title', t(key)));
    parent.appendChild(s);
    return s;
  }

  tierEditor(a) {
    const wrap = el('form', 'tier-edit');
    wrap.noValidate = true;
    const sel = el('select');
    sel.setAttribute('aria-label', t('card.edit_tier'));
    const none = el('option', null, t('dash.unassigned'));
    none.value = '';
    sel.appendChild(none);
    for (const tier of TIERS) {
      const o = el('option', null, this.fmtValue('tier', tier));
      o.value = tier;
      sel.appendChild(o);
    }
    sel.value = a.tier || '';
    const token = el('input');
    token.type = 'password';
    token.placeholder = t('settings.token');
    token.autocomplete = 'off';
    token.value = this.ctx.token() || '';
    const save = el('button', 'btn btn-primary', t('ui.save'));
    save.type = 'submit';
    const msg = el('p', 'form-message');
    msg.setAttribute('role', 'alert');
    wrap.appendChild(el('span', 'label', t('card.edit_tier')));
    wrap.appendChild(sel);
    wrap.appendChild(token);
    wrap.appendChild(save);
    wrap.appendChild(msg);
    wrap.addEventListener('submit', async (e) => {
      e.preventDefault();
      const tok = token.value.trim();
      if (!tok) {
        msg.textContent = t('card.token_needed');
        return;
      }
      save.disabled = true;
      msg.textContent = '';
      try {
        const res = await request(`/api/estates/${encodeURIComponent(a.code)}`, { method: 'PATCH', body: { tier: sel.value || null }, token: tok });
        this.ctx.rememberToken(tok);
        const props = (res && (res.properties ?? res.attributes)) || {};
        this.feature.properties.tier = props.tier !== undefined ? props.tier : sel.value || null;
        if (this.data) {
          const target = this.data.properties ?? this.data.attributes ?? this.data;
          if (target && typeof target === 'object') target.tier = this.feature.properties.tier;
        }
        this.ctx.estateChanged(a.code);
        this.ctx.toast(t('card.tier_saved'));
        this.render(false);
      } catch (err) {
        msg.textContent = err.status === 401 ? t('err.401') : err.status === 403 ? t('err.403') : err.unavailable ? t('ui.unavailable', { path: 'PATCH /api/estates' }) : t('ui.error', { msg: err.message });
      } finally {
        save.disabled = false;
      }
    });
    return wrap;
  }
}

