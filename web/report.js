/* global L */
// A grid inspector's report (网格巡查): at the phone's location or a point tapped on the map,
// a category, a description and a token; POST /api/violations as a GeoJSON Feature.

import { request } from './api.js';
import { styleLabel, t } from './i18n.js';

export class Report {
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = document.getElementById('report-dialog');
    this.form = document.getElementById('report-form');
    this.point = null;
    this.marker = null;
    this.msg = document.getElementById('report-message');
    document.getElementById('btn-report').addEventListener('click', () => this.open());
    document.getElementById('fab-report').addEventListener('click', () => this.open());
    document.getElementById('report-cancel').addEventListener('click', () => this.close());
    document.getElementById('report-gps').addEventListener('click', () => this.locate());
    document.getElementById('report-pick').addEventListener('click', () => this.pick());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.dialog.addEventListener('cancel', () => this.close());
  }

  fillCategories() {
    const sel = document.getElementById('report-category');
    const keep = sel.value;
    sel.textContent = '';
    const style = this.ctx.styles.violations;
    const classes = (style && style.themes && style.themes.category && style.themes.category.classes) || [];
    for (const c of classes) {
      const o = document.createElement('option');
      o.value = c.value;
      o.textContent = this.ctx.lang() === 'zh' ? c.value : `${c.value} · ${styleLabel(c)}`;
      sel.appendChild(o);
    }
    if (keep) sel.value = keep;
  }

  open() {
    this.fillCategories();
    this.msg.textContent = '';
    const tok = document.getElementById('report-token');
    if (!tok.value) tok.value = this.ctx.token() || '';
    this.showPoint();
    if (!this.dialog.open) this.dialog.showModal();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
    this.ctx.mode = null;
    this.ctx.hint(null);
  }

  setPoint(latlng) {
    this.point = L.latLng(latlng);
    if (!this.marker) {
      this.marker = L.circleMarker(this.point, { pane: 'labelsPane', radius: 9, color: '#ffffff', weight: 3, fillColor: '#b3261e', fillOpacity: 1, className: 'report-marker', interactive: false });
    }
    this.marker.setLatLng(this.point).addTo(this.ctx.map);
    this.showPoint();
  }

  showPoint() {
    const out = document.getElementById('report-point');
    out.textContent = this.point ? t('report.point', { lon: this.point.lng.toFixed(6), lat: this.point.lat.toFixed(6) }) : t('report.no_point');
    out.classList.toggle('empty', !this.point);
  }

  locate() {
    if (!navigator.geolocation) {
      this.msg.textContent = t('report.gps_fail', { msg: 'no geolocation' });
      return;
    }
    this.msg.textContent = t('ui.loading');
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        this.msg.textContent = '';
        this.setPoint([pos.coords.latitude, pos.coords.longitude]);
        this.ctx.map.setView(this.point, Math.max(this.ctx.map.getZoom(), 16));
      },
      (err) => {
        this.msg.textContent = t('report.gps_fail', { msg: err.message });
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
    );
  }

  pick() {
    this.dialog.close();
    this.ctx.mode = 'report';
    this.ctx.hint(t('report.pick_hint'));
    const once = (e) => {
      this.ctx.map.off('click', once);
      this.ctx.mode = null;
      this.ctx.hint(null);
      this.setPoint(e.latlng);
      this.open();
    };
    // the click that opened the pick mode must not count
    setTimeout(() => this.ctx.map.on('click', once), 0);
  }

  async submit() {
    const token = document.getElementById('report-token').value.trim();
    if (!this.point) {
      this.msg.textContent = t('report.no_point');
      return;
    }
    if (!token) {
      this.msg.textContent = t('report.token_needed');
      return;
    }
    const now = new Date();
    const local = new Date(now.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19); // Shanghai time
    const feature = {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [Number(this.point.lng.toFixed(7)), Number(this.point.lat.toFixed(7))] },
      properties: {
        category: document.getElementById('report-category').value,
        description: document.getElementById('report-description').value.trim() || null,
        source: '网格巡查',
        reported_at: local,
        status: 'open',
      },
    };
    const btn = document.getElementById('report-submit');
    btn.disabled = true;
    this.msg.textContent = '';
    try {
      const res = await request('/api/violations', { method: 'POST', body: feature, token });
      this.ctx.rememberToken(token);
      const id = (res && (res.properties?.code ?? res.id ?? res.code)) ?? '';
      this.close();
      if (this.marker) this.marker.remove();
      this.point = null;
      document.getElementById('report-description').value = '';
      this.ctx.toast(t('report.sent', { id }));
      this.ctx.violationsChanged();
      document.body.dataset.lastReport = String(id);
    } catch (e) {
      this.msg.textContent = e.status === 401 ? t('err.401') : e.status === 403 ? t('err.403') : e.unavailable ? t('ui.unavailable', { path: 'POST /api/violations' }) : t('ui.error', { msg: e.message });
    } finally {
      btn.disabled = false;
    }
  }
}
