/* http_static.h -- the web app's files, served from web/ and nothing outside it.
 *
 * A request path is refused (403) before it touches the file system if it holds
 * "..", a hidden segment, a backslash, or a %-encoded dot, slash or backslash;
 * then the file's real path must still lie under web/, so a symlink cannot lead
 * out either. Files get a strong ETag (the SHA-256 of their bytes, cut to 128
 * bits; If-None-Match gets a 304) and Cache-Control: the app's own files (HTML,
 * JS, CSS, i18n, styles) are `no-cache`, revalidated on every load so an upgrade is
 * never hidden behind a stale copy; the npm packages under /vendor/ are kept a week. */
#ifndef ESTATEMAP_HTTP_STATIC_H
#define ESTATEMAP_HTTP_STATIC_H

#include "http.h"

/* `web_root` is the real path of web/, or NULL when none was found. */
int em_static_serve(em_http_request *req, const char *web_root);

/* The Cache-Control for a request path under web/. */
const char *em_static_cache_control(const char *path);

/* The Content-Type for a file name, by extension. */
const char *em_static_mime_type(const char *path);

#endif
