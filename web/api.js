// Talking to estatemap serve: JSON errors, capability probes, and the downloads.
//
// Every endpoint the map uses beyond OGC API – Features may be missing on an older server;
// a 404 on a known route marks it "unavailable" and the feature that needs it hides itself
// with a message instead of failing.

export class ApiError extends Error {
  constructor(status, code, message, parameter, path) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
    this.path = path;
    // A route the server does not have (yet): 404 on a collection-independent path, 405, 501.
    this.unavailable = status === 404 || status === 405 || status === 501;
  }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '' || v === false) continue;
    u.append(k, v === true ? 'true' : String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

async function errorFrom(res, path) {
  let code = null;
  let message = res.statusText;
  let parameter = null;
  try {
    const body = await res.json();
    if (body && body.error) ({ code, message, parameter } = body.error);
  } catch (e) {
    /* not JSON */
  }
  return new ApiError(res.status, code, message, parameter, path);
}

export async function request(path, { method = 'GET', body, token, signal, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-cache',
  });
  if (!res.ok) throw await errorFrom(res, path);
  if (res.status === 204) return null;
  return res.json();
}

export const getJSON = (path, opts) => request(path, opts);

// ---------------------------------------------------------------- capabilities

const caps = new Map(); // route key -> true / false

export function capability(key) {
  return caps.get(key);
}

export function setCapability(key, value) {
  caps.set(key, value);
}

// Probes a route once; true when it answers 2xx.
const probes = new Map();
export function probe(key, path) {
  if (caps.has(key)) return Promise.resolve(caps.get(key));
  if (!probes.has(key)) {
    probes.set(
      key,
      fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-cache' }).then(
        (res) => {
          caps.set(key, res.ok);
          return res.ok;
        },
        () => {
          caps.set(key, false);
          return false;
        },
      ),
    );
  }
  return probes.get(key);
}

// ---------------------------------------------------------------- OGC API – Features

// A whole small collection, asked for once: the first caller starts the request (the app
// starts those of the visible layers before anything else), later ones share it.
const prefetched = new Map();
export function prefetchItems(collection) {
  if (!prefetched.has(collection)) prefetched.set(collection, ogcItemsFetch(collection, {}, {}));
  return prefetched.get(collection);
}

// All features of a collection, following `next` links.
export async function ogcItems(collection, params = {}, opts = {}) {
  if (Object.keys(params).length === 0 && !opts.signal && !opts.onPage) return prefetchItems(collection);
  return ogcItemsFetch(collection, params, opts);
}

async function ogcItemsFetch(collection, params = {}, { signal, onPage } = {}) {
  const features = [];
  let url = `/ogc/collections/${collection}/items${qs({ limit: 10000, ...params })}`;
  for (let guard = 0; url && guard < 100; guard++) {
    const page = await request(url, { signal, accept: 'application/geo+json' });
    features.push(...page.features);
    if (onPage) onPage(features.length, page.numberMatched);
    const next = (page.links || []).find((l) => l.rel === 'next');
    url = next && page.features.length ? next.href : null;
  }
  return { type: 'FeatureCollection', features };
}

// ---------------------------------------------------------------- analyses

const analysisCache = new Map();

// /api/analysis/NAME with the CLI's option names (types, buffer, built-before, as-of, by, ...).
export async function analysis(name, params = {}, { signal } = {}) {
  const path = `/api/analysis/${name}${qs({ format: 'json', ...params })}`;
  if (analysisCache.has(path)) return analysisCache.get(path);
  const key = `analysis.${name}`;
  if (caps.get(key) === false) throw new ApiError(404, 'not_found', 'unavailable', null, `/api/analysis/${name}`);
  const p = request(path, { signal }).then(
    (r) => {
      caps.set(key, true);
      return r;
    },
    (e) => {
      analysisCache.delete(path);
      if (e.unavailable) caps.set(key, false);
      throw e;
    },
  );
  analysisCache.set(path, p);
  return p;
}

export function clearAnalysisCache() {
  analysisCache.clear();
}

// Rows of a JSON table keyed by a column.
export function indexRows(table, key = 'code') {
  const m = new Map();
  for (const r of table.rows || []) m.set(r[key], r);
  return m;
}

// ---------------------------------------------------------------- downloads

function filenameFrom(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  let m = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (m) return decodeURIComponent(m[1]);
  m = /filename="?([^";]+)"?/i.exec(cd);
  return m ? m[1] : fallback;
}

export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    a.remove();
  }, 10000);
}

// GET /api/export?... and save the answer under the server's file name.
export async function download(path, fallbackName) {
  const res = await fetch(path, { cache: 'no-cache' });
  if (!res.ok) throw await errorFrom(res, path);
  const blob = await res.blob();
  const name = filenameFrom(res, fallbackName);
  saveBlob(blob, name);
  return name;
}

// /api/export of `source` with the export form's choices (format, CRS, encoding for a
// shapefile, language) and the caller's filter; saved as BASENAME.zip|.gpkg|...
export function exportDownload(source, opts, filter, basename) {
  const p = {
    source,
    format: opts.format,
    crs: opts.crs,
    encoding: opts.format === 'shp' ? opts.encoding : null,
    lang: opts.lang,
    ...filter,
  };
  return download(`/api/export${qs(p)}`, `${basename}.${opts.format === 'shp' ? 'zip' : opts.format}`);
}
