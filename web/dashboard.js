// The town dashboard: tier counts against the 10% / 40% quotas (§五(一)), progress against the
// timeline's milestones (§五(二)) and the estates with the highest violation rates, as on the
// date of the time slider. From /api/analysis/tiers, /progress and /density; without them the
// quotas are counted from the estates layer and the rest says it is not available.

import { analysis } from './api.js';
import { bulletRows, progressBar, rankBars, stackedBar } from './charts.js';
import { collator, fmtNum, fmtPct, lang, t } from './i18n.js';
import { compileTheme } from './styles.js';

const DISTRICT = '310112';

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

export class Dashboard {
  constructor(ctx) {
    this.ctx = ctx;
    this.tierTheme = compileTheme(ctx.styles.estates, 'tier');
    this.seq = 0;
  }

  color(tier) {
    const e = this.tierTheme.entries().find((x) => x.value === tier);
    return e ? e.symbol.fillColor : '#d9d9d9';
  }

  town() {
    return this.ctx.state.town || DISTRICT;
  }

  // Quotas counted in the browser from the estates layer (no analysis API).
  localTiers() {
    const rows = new Map();
    const scope = 2000;
    for (const f of this.ctx.estateFeatures()) {
      const p = f.properties;
      for (const code of [p.town_code, DISTRICT]) {
        if (!rows.has(code)) rows.set(code, { town_code: code, town_name: code === DISTRICT ? t('ui.district') : this.ctx.townName(code), in_scope: 0, assigned_demo: 0, assigned_upgrade: 0, assigned_basic: 0, unassigned: 0 });
        const r = rows.get(code);
        if (!(p.built_year !== null && p.built_year < scope)) continue;
        r.in_scope++;
        if (p.tier === '示范版') r.assigned_demo++;
        else if (p.tier === '提升版') r.assigned_upgrade++;
        else if (p.tier === '基础版') r.assigned_basic++;
        else r.unassigned++;
      }
    }
    for (const r of rows.values()) {
      r.demo_required = Math.ceil(r.in_scope * 0.1);
      r.upgrade_required = Math.ceil(r.in_scope * 0.4);
      r.demo_quota_met = r.assigned_demo >= r.demo_required;
      r.upgrade_quota_met = r.assigned_upgrade >= r.upgrade_required;
    }
    return [...rows.values()];
  }

  async render() {
    const seq = ++this.seq;
    const root = document.getElementById('panel-dashboard');
    const date = this.ctx.state.date;
    const code = this.town();
    root.textContent = '';

    const pick = el('section', 'block');
    const lab = el('label', 'field inline');
    lab.appendChild(el('span', null, t('dash.town')));
    const sel = el('select');
    sel.id = 'dash-town';
    const o0 = el('option', null, t('ui.district'));
    o0.value = DISTRICT;
    sel.appendChild(o0);
    const towns = [...this.ctx.townList()].sort((a, b) => (a.code < b.code ? -1 : 1));
    for (const tw of towns) {
      const o = el('option', null, tw.name);
      o.value = tw.code;
      sel.appendChild(o);
    }
    sel.value = code;
    sel.addEventListener('change', () => this.ctx.openTown(sel.value === DISTRICT ? null : sel.value));
    lab.appendChild(sel);
    pick.appendChild(lab);
    root.appendChild(pick);

    const quotas = el('section', 'block');
    root.appendChild(quotas);
    const progress = el('section', 'block');
    root.appendChild(progress);
    const top = el('section', 'block');
    root.appendChild(top);
    const overview = el('section', 'block');
    root.appendChild(overview);

    quotas.appendChild(el('h3', 'block-title', t('dash.quotas')));
    quotas.appendChild(el('p', 'note', t('ui.loading')));
    progress.appendChild(el('h3', 'block-title', t('dash.progress', { date })));
    top.appendChild(el('h3', 'block-title', t('dash.top')));

    // ---- tiers and quotas
    let tiers;
    let fallback = false;
    try {
      tiers = (await analysis('tiers', { 'as-of': date })).rows;
    } catch (e) {
      tiers = this.localTiers();
      fallback = true;
    }
    if (seq !== this.seq) return;
    quotas.querySelector('.note').remove();
    const row = tiers.find((r) => r.town_code === code) || this.localTiers().find((r) => r.town_code === code);
    if (fallback) quotas.appendChild(el('p', 'notice', t('dash.fallback')));
    if (row) {
      quotas.appendChild(el('p', 'big-number', t('dash.in_scope', { n: fmtNum(row.in_scope) })));
      quotas.appendChild(
        stackedBar([
          { label: t('dash.demo'), value: row.assigned_demo, color: this.color('示范版') },
          { label: t('dash.upgrade'), value: row.assigned_upgrade, color: this.color('提升版') },
          { label: t('dash.basic'), value: row.assigned_basic, color: this.color('基础版') },
          { label: t('dash.unassigned'), value: row.unassigned, color: '#e3e3e3' },
        ]),
      );
      quotas.appendChild(bulletRows([this.bulletRow(row, true)], { partLabels: [`${t('dash.demo')} ≥ 10%`, `${t('dash.upgrade')} ≥ 40%`] }));
      const kpis = el('div', 'kpis');
      for (const [k, n, req, met] of [
        ['dash.demo', row.assigned_demo, row.demo_required, row.demo_quota_met],
        ['dash.upgrade', row.assigned_upgrade, row.upgrade_required, row.upgrade_quota_met],
      ]) {
        const kp = el('div', `kpi ${met ? 'ok' : 'bad'}`);
        kp.appendChild(el('span', 'kpi-label', t(k)));
        kp.appendChild(el('span', 'kpi-value', `${n} / ${req}`));
        kp.appendChild(el('span', 'kpi-status', met ? t('dash.met') : t('dash.not_met')));
        kpis.appendChild(kp);
      }
      quotas.appendChild(kpis);
    }

    // ---- every town against the quotas
    overview.appendChild(el('h3', 'block-title', t('dash.towns_overview')));
    overview.appendChild(el('p', 'note', t('dash.quota_note')));
    const townRows = tiers.filter((r) => r.town_code !== DISTRICT && r.in_scope > 0).sort((a, b) => collator().compare(a.town_code, b.town_code));
    const chart = bulletRows(townRows.map((r) => this.bulletRow(r, false)), { partLabels: [`${t('dash.demo')} ≥ 10%`, `${t('dash.upgrade')} ≥ 40%`] });
    chart.addEventListener('click', (e) => {
      const g = e.target.closest('[data-code]');
      if (g) this.ctx.openTown(g.dataset.code);
    });
    overview.appendChild(chart);

    // ---- milestones
    try {
      const prog = await analysis('progress', { 'as-of': date, town: code === DISTRICT ? null : code });
      if (seq !== this.seq) return;
      const rows = prog.rows.filter((r) => r.town_code === code);
      const ul = el('ul', 'milestones');
      for (const r of rows) {
        const li = el('li', `milestone ${r.status || 'info'}`);
        li.dataset.milestone = r.milestone;
        const head = el('div', 'ms-head');
        head.appendChild(el('span', 'ms-desc', lang() === 'zh' ? r.description_zh || r.description : r.description || r.description_zh));
        head.appendChild(el('span', `chip small ${r.status === 'met' ? 'ok' : r.status === 'not_met' ? 'bad' : 'muted'}`, r.status ? t(`dash.${r.status}`) : t('dash.district_only')));
        li.appendChild(head);
        li.appendChild(progressBar(r.share ?? (r.target ? r.done / r.target : 0), r.status));
        const foot = el('div', 'ms-foot');
        foot.appendChild(el('span', null, `${t('dash.deadline')} ${r.deadline}`));
        foot.appendChild(el('span', null, r.target !== null && r.target !== undefined ? r.share !== null && r.share !== undefined ? t('ui.paren', { a: `${fmtNum(r.done)} / ${fmtNum(r.target)}`, b: fmtPct(r.share) }) : `${fmtNum(r.done)} / ${fmtNum(r.target)}` : fmtNum(r.done)));
        li.appendChild(foot);
        ul.appendChild(li);
      }
      progress.appendChild(ul);
    } catch (e) {
      progress.appendChild(el('p', 'notice', e.unavailable ? t('ui.unavailable', { path: '/api/analysis/progress' }) : t('ui.error', { msg: e.message })));
    }

    // ---- top violation rates
    try {
      const dens = await analysis('density', { by: 'estate', to: date, town: code === DISTRICT ? null : code });
      if (seq !== this.seq) return;
      const rows = dens.rows
        .filter((r) => r.per_1000_households !== null && r.per_1000_households !== undefined && r.count > 0)
        .sort((a, b) => b.per_1000_households - a.per_1000_households)
        .slice(0, 10);
      top.appendChild(el('p', 'note', t('dash.top_note')));
      const bars = rankBars(rows.map((r) => ({ label: r.name, value: r.per_1000_households, text: t('ui.paren', { a: fmtNum(r.per_1000_households, 1), b: r.count }), code: r.code })));
      bars.addEventListener('click', (e) => {
        const g = e.target.closest('[data-code]');
        if (g) this.ctx.focusEstate(g.dataset.code);
      });
      top.appendChild(bars);
    } catch (e) {
      top.appendChild(el('p', 'notice', e.unavailable ? t('ui.unavailable', { path: '/api/analysis/density' }) : t('ui.error', { msg: e.message })));
    }
  }

  bulletRow(r, single) {
    const s = r.in_scope || 1;
    return {
      label: single ? '' : r.town_name || this.ctx.townName(r.town_code),
      code: single ? null : r.town_code,
      parts: [
        { value: r.assigned_demo / s, target: 0.1, met: r.demo_quota_met, color: this.color('示范版'), text: `${r.assigned_demo}/${r.demo_required}`, title: `${t('dash.demo')} ${r.assigned_demo} / ${t('dash.required', { n: r.demo_required })}` },
        { value: r.assigned_upgrade / s, target: 0.4, met: r.upgrade_quota_met, color: this.color('提升版'), text: `${r.assigned_upgrade}/${r.upgrade_required}`, title: `${t('dash.upgrade')} ${r.assigned_upgrade} / ${t('dash.required', { n: r.upgrade_required })}` },
      ],
    };
  }
}
