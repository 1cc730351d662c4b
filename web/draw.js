/* global L */
// A small draw tool: a rectangle (press and drag) or a polygon (click the vertices, double-click
// or click the first vertex to finish). Mouse and touch through pointer events; Esc cancels.

const SHAPE = { color: '#0b57d0', weight: 2, fillColor: '#0b57d0', fillOpacity: 0.08, dashArray: '6 4' };

export class DrawTool {
  constructor(map, { onStart, onDone, onCancel } = {}) {
    this.map = map;
    this.onStart = onStart;
    this.onDone = onDone;
    this.onCancel = onCancel;
    this.kind = null;
    this.shape = null;
    this._keys = (e) => {
      if (e.key === 'Escape') this.cancel();
      if (e.key === 'Enter' && this.kind === 'poly') this._finishPoly();
    };
  }

  active() {
    return this.kind !== null;
  }

  start(kind) {
    this.cancel(true);
    this.clearShape();
    this.kind = kind;
    clearTimeout(this._dblTimer);
    const c = this.map.getContainer();
    c.classList.add('drawing');
    document.addEventListener('keydown', this._keys);
    this.map.doubleClickZoom.disable();
    if (kind === 'rect') {
      this.map.dragging.disable();
      this._down = (e) => {
        if (e.button !== undefined && e.button !== 0) return;
        e.preventDefault();
        c.setPointerCapture?.(e.pointerId);
        this._a = this.map.mouseEventToLatLng(e);
        this._rect = L.rectangle(L.latLngBounds(this._a, this._a), { ...SHAPE, pane: 'selectionPane', interactive: false }).addTo(this.map);
      };
      this._move = (e) => {
        if (!this._rect) return;
        this._rect.setBounds(L.latLngBounds(this._a, this.map.mouseEventToLatLng(e)));
      };
      this._up = (e) => {
        if (!this._rect) return;
        const b = L.latLngBounds(this._a, this.map.mouseEventToLatLng(e));
        const r = this._rect;
        this._rect = null;
        const p1 = this.map.latLngToContainerPoint(b.getSouthWest());
        const p2 = this.map.latLngToContainerPoint(b.getNorthEast());
        if (Math.abs(p1.x - p2.x) < 4 || Math.abs(p1.y - p2.y) < 4) {
          r.remove();
          return;
        }
        r.setBounds(b);
        this._finish(r, 'rect');
      };
      c.addEventListener('pointerdown', this._down);
      c.addEventListener('pointermove', this._move);
      c.addEventListener('pointerup', this._up);
    } else {
      this._pts = [];
      this._line = L.polyline([], { ...SHAPE, pane: 'selectionPane', interactive: false }).addTo(this.map);
      this._rubber = L.polyline([], { ...SHAPE, pane: 'selectionPane', interactive: false, opacity: 0.6 }).addTo(this.map);
      this._vertices = L.layerGroup().addTo(this.map);
      this._click = (e) => {
        const pts = this._pts;
        if (pts.length >= 3) {
          const first = this.map.latLngToContainerPoint(pts[0]);
          if (first.distanceTo(e.containerPoint) < 12) {
            this._finishPoly();
            return;
          }
        }
        pts.push(e.latlng);
        this._line.setLatLngs(pts);
        L.circleMarker(e.latlng, { pane: 'selectionPane', radius: 4, color: '#0b57d0', weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false }).addTo(this._vertices);
      };
      this._mm = (e) => {
        if (!this._pts.length) return;
        this._rubber.setLatLngs([this._pts[this._pts.length - 1], e.latlng, this._pts[0]]);
      };
      this._dbl = (e) => {
        L.DomEvent.stop(e);
        this._finishPoly();
      };
      this.map.on('click', this._click);
      this.map.on('mousemove', this._mm);
      this.map.on('dblclick', this._dbl);
    }
    if (this.onStart) this.onStart(kind);
  }

  _finishPoly() {
    // a double-click adds its two clicks as vertices: drop repeats
    const pts = [];
    for (const p of this._pts) {
      const last = pts[pts.length - 1];
      if (!last || this.map.latLngToContainerPoint(last).distanceTo(this.map.latLngToContainerPoint(p)) > 3) pts.push(p);
    }
    if (pts.length < 3) return;
    const poly = L.polygon(pts, { ...SHAPE, pane: 'selectionPane', interactive: false }).addTo(this.map);
    this._finish(poly, 'poly');
  }

  _finish(layer, kind) {
    this._teardown();
    this.shape = layer;
    this.shapeKind = kind;
    if (this.onDone) this.onDone(layer, kind);
  }

  _teardown() {
    const c = this.map.getContainer();
    c.classList.remove('drawing');
    document.removeEventListener('keydown', this._keys);
    if (this._down) {
      c.removeEventListener('pointerdown', this._down);
      c.removeEventListener('pointermove', this._move);
      c.removeEventListener('pointerup', this._up);
      this._down = this._move = this._up = null;
      this.map.dragging.enable();
    }
    if (this._click) {
      this.map.off('click', this._click);
      this.map.off('mousemove', this._mm);
      this.map.off('dblclick', this._dbl);
      this._click = this._mm = this._dbl = null;
    }
    for (const k of ['_line', '_rubber', '_vertices', '_rect']) {
      if (this[k]) {
        this[k].remove();
        this[k] = null;
      }
    }
    // re-enable after the dblclick that ended a polygon has passed, unless drawing again
    clearTimeout(this._dblTimer);
    this._dblTimer = setTimeout(() => {
      if (this.kind === null) this.map.doubleClickZoom.enable();
    }, 300);
    this.kind = null;
  }

  cancel(silent) {
    if (this.kind === null) return;
    this._teardown();
    if (!silent && this.onCancel) this.onCancel();
  }

  clearShape() {
    if (this.shape) {
      this.shape.remove();
      this.shape = null;
      this.shapeKind = null;
    }
  }
}

// ---------------------------------------------------------------- geometry tests (lon/lat)

function pointInRing(x, y, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function segmentsCross(a, b, c, d) {
  const o = (p, q, r) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  return o(a, b, c) !== o(a, b, d) && o(c, d, a) !== o(c, d, b);
}

function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

// Does a (Multi)Polygon feature geometry meet the ring (lon/lat, closed or not)?
export function geometryMeetsRing(geometry, ring) {
  for (const poly of polygonsOf(geometry)) {
    const outer = poly[0];
    // a vertex of the estate inside the shape, or of the shape inside the estate
    if (outer.some((p) => pointInRing(p[0], p[1], ring))) return true;
    if (ring.some((p) => pointInRing(p[0], p[1], outer) && !poly.slice(1).some((h) => pointInRing(p[0], p[1], h)))) return true;
    for (let i = 1; i < outer.length; i++)
      for (let j = 0; j < ring.length; j++)
        if (segmentsCross(outer[i - 1], outer[i], ring[j], ring[(j + 1) % ring.length])) return true;
  }
  return false;
}

export function layerRing(layer) {
  const lls = layer.getLatLngs();
  const ring = Array.isArray(lls[0]) ? lls[0] : lls;
  return ring.map((ll) => [ll.lng, ll.lat]);
}
