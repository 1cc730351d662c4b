/* global L */
// A canvas layer for the server's GeoJSON tiles (/tiles/{layer}/{z}/{x}/{y}.geojson): features
// in tile coordinates 0..4096 as geojson-vt makes them ({features:[{geometry,type,tags}]},
// grouped by layer name for combined sources; 204 when a tile is empty). Only the tiles of
// the viewport are fetched. Features are kept per tile, so a new theme or date restyles the
// canvas without a request, and a click finds the feature under the pointer.

const EXTENT = 4096;

function tileFeatures(json, layer) {
  if (!json) return [];
  if (Array.isArray(json.features)) return json.features;
  if (json[layer] && Array.isArray(json[layer].features)) return json[layer].features;
  if (json.layers && json.layers[layer] && Array.isArray(json.layers[layer].features)) return json.layers[layer].features;
  return [];
}

export function clusterCount(tags) {
  const n = tags && (tags.point_count ?? tags.count ?? tags.cluster_count);
  return typeof n === 'number' && n > 1 ? n : 1;
}

function pointInRings(x, y, rings) {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const xi = ring[i][0];
      const yi = ring[i][1];
      const xj = ring[j][0];
      const yj = ring[j][1];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function distToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const l2 = dx * dx + dy * dy;
  let tt = l2 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
  tt = Math.max(0, Math.min(1, tt));
  const qx = ax + tt * dx - px;
  const qy = ay + tt * dy - py;
  return Math.sqrt(qx * qx + qy * qy);
}

export const GeoJSONTileLayer = L.GridLayer.extend({
  options: {
    url: '',
    layer: '',
    style: () => ({}),
    filter: null,
    updateWhenZooming: false,
    keepBuffer: 1,
    className: 'em-tiles',
  },

  initialize(options) {
    L.GridLayer.prototype.initialize.call(this, options);
    this._pending = 0;
    this.errors = 0;
  },

  onAdd(map) {
    L.GridLayer.prototype.onAdd.call(this, map);
    this.on('tileunload', this._onUnload, this);
  },

  onRemove(map) {
    this.off('tileunload', this._onUnload, this);
    L.GridLayer.prototype.onRemove.call(this, map);
  },

  _onUnload(e) {
    if (e.tile && e.tile._ctrl) e.tile._ctrl.abort();
  },

  createTile(coords, done) {
    const tile = L.DomUtil.create('canvas', 'em-tile');
    const size = this.getTileSize();
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    tile.width = size.x * dpr;
    tile.height = size.y * dpr;
    tile._coords = coords;
    const ctrl = new AbortController();
    tile._ctrl = ctrl;
    const url = L.Util.template(this.options.url, { z: coords.z, x: coords.x, y: coords.y }) + (this.options.query ? this.options.query() : '');
    this._pending++;
    fetch(url, { signal: ctrl.signal })
      .then((res) => {
        if (res.status === 204) return null;
        if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
        return res.json();
      })
      .then((json) => {
        tile._features = tileFeatures(json, this.options.layer);
        this._drawTile(tile);
        done(null, tile);
      })
      .catch((err) => {
        if (err.name === 'AbortError') return;
        tile._features = [];
        this.errors++;
        done(err, tile);
      })
      .finally(() => {
        this._pending--;
      });
    return tile;
  },

  pending() {
    return this._pending;
  },

  // Repaint every loaded tile (new theme, new date): no request.
  restyle() {
    for (const key in this._tiles) {
      const t = this._tiles[key];
      if (t.el._features) this._drawTile(t.el);
    }
    this.fire('restyle');
  },

  drawnCount() {
    let n = 0;
    for (const key in this._tiles) {
      const t = this._tiles[key];
      if (t.current && t.el._drawn) n += t.el._drawn;
    }
    return n;
  },

  // Every loaded feature of the current zoom (points with their lat/lng).
  loadedPoints() {
    const out = [];
    const size = this.getTileSize().x;
    const seen = new Set();
    for (const key in this._tiles) {
      const t = this._tiles[key];
      if (!t.current || !t.el._features) continue;
      const { x, y, z } = t.coords;
      for (const f of t.el._features) {
        if (f.type !== 1) continue;
        if (this.options.filter && !this.options.filter(f.tags || {})) continue;
        const id = f.id ?? (f.tags && (f.tags.id ?? f.tags.code));
        for (const p of f.geometry) {
          const px = x * size + (p[0] * size) / EXTENT;
          const py = y * size + (p[1] * size) / EXTENT;
          const uid = id !== undefined ? `${id}` : `${z}/${Math.round(px)}/${Math.round(py)}`;
          if (seen.has(uid)) continue; // the same point in a neighbour's buffer
          seen.add(uid);
          const ll = this._map.unproject(L.point(px, py), z);
          out.push({ latlng: ll, tags: f.tags || {}, weight: this.options.weight ? this.options.weight(f.tags || {}) : clusterCount(f.tags) });
        }
      }
    }
    return out;
  },

  _drawTile(tile) {
    const ctx = tile.getContext('2d');
    const size = this.getTileSize().x;
    const dpr = tile.width / size;
    const k = (size / EXTENT) * dpr;
    const z = tile._coords.z;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, tile.width, tile.height);
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    let drawn = 0;
    const styleFn = this.options.style;
    const filter = this.options.filter;
    for (const f of tile._features) {
      const tags = f.tags || {};
      if (filter && !filter(tags)) continue;
      const sym = styleFn(tags, f, z);
      if (!sym) continue;
      drawn++;
      if (f.type === 1) {
        const n = sym.count ?? clusterCount(tags);
        for (const p of f.geometry) this._drawPoint(ctx, p[0] * k, p[1] * k, sym, n, dpr);
        continue;
      }
      ctx.beginPath();
      for (const ring of f.geometry) {
        for (let i = 0; i < ring.length; i++) {
          const px = ring[i][0] * k;
          const py = ring[i][1] * k;
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        }
        if (f.type === 3) ctx.closePath();
      }
      if (f.type === 3 && (sym.fillOpacity ?? 0.2) > 0) {
        ctx.globalAlpha = sym.fillOpacity ?? 0.2;
        ctx.fillStyle = sym.fillColor || sym.color || '#3388ff';
        ctx.fill('evenodd');
      }
      if ((sym.weight ?? 1) > 0 && (sym.opacity ?? 1) > 0) {
        ctx.globalAlpha = sym.opacity ?? 1;
        ctx.strokeStyle = sym.color || '#3388ff';
        ctx.lineWidth = (sym.weight ?? 1) * dpr;
        ctx.setLineDash(sym.dashArray ? sym.dashArray.split(' ').map((d) => Number(d) * dpr) : []);
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    tile._drawn = drawn;
  },

  _drawPoint(ctx, x, y, sym, count, dpr) {
    if (count > 1) {
      const r = (9 + Math.min(14, Math.log2(count) * 2.2)) * dpr;
      ctx.globalAlpha = 0.85;
      ctx.fillStyle = sym.clusterFill || '#c0392b';
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.lineWidth = 2 * dpr;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      ctx.fillStyle = '#ffffff';
      ctx.font = `600 ${11 * dpr}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(count >= 1000 ? `${(count / 1000).toFixed(1)}k` : String(count), x, y + 0.5 * dpr);
      return;
    }
    const r = (sym.radius ?? 4) * dpr;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    ctx.globalAlpha = sym.fillOpacity ?? 0.9;
    ctx.fillStyle = sym.fillColor || '#e31a1c';
    ctx.fill();
    if ((sym.weight ?? 1) > 0) {
      ctx.globalAlpha = sym.opacity ?? 1;
      ctx.lineWidth = (sym.weight ?? 1) * dpr;
      ctx.strokeStyle = sym.color || '#ffffff';
      ctx.setLineDash([]);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  },

  // The features under a map position, top-most first.
  featuresAt(latlng, tolerancePx = 6) {
    if (!this._map || this._tileZoom === undefined) return [];
    const z = this._tileZoom;
    const size = this.getTileSize().x;
    const p = this._map.project(latlng, z);
    const tx = Math.floor(p.x / size);
    const ty = Math.floor(p.y / size);
    const t = this._tiles[`${tx}:${ty}:${z}`];
    if (!t || !t.el._features) return [];
    const scale = this._map.getZoomScale(this._map.getZoom(), z); // screen px per tile px
    const k = EXTENT / size;
    const lx = (p.x - tx * size) * k;
    const ly = (p.y - ty * size) * k;
    const tol = (tolerancePx / scale) * k;
    const hits = [];
    const filter = this.options.filter;
    for (const f of t.el._features) {
      const tags = f.tags || {};
      if (filter && !filter(tags)) continue;
      if (f.type === 3) {
        if (pointInRings(lx, ly, f.geometry)) hits.push(f);
      } else if (f.type === 2) {
        let best = Infinity;
        for (const line of f.geometry)
          for (let i = 1; i < line.length; i++)
            best = Math.min(best, distToSegment(lx, ly, line[i - 1][0], line[i - 1][1], line[i][0], line[i][1]));
        if (best <= tol) hits.push(f);
      } else {
        const count = clusterCount(tags);
        const r = count > 1 ? 16 * k : tol + 4 * k;
        for (const q of f.geometry) {
          if (Math.hypot(q[0] - lx, q[1] - ly) <= r) {
            hits.push(f);
            break;
          }
        }
      }
    }
    return hits.reverse();
  },
});
