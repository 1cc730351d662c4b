/* http_static.h -- the web app's files, served from web/ and nothing outside it.
 *
 * A request path is refused (403) before it touches the file system if it holds
 * "..", a hidden segment, a backslash, or a %-encoded dot, slash or backslash;
 * then the file's real path must still lie under web/, so a symlink cannot lead
 * out either. Files get an ETag (mtime and size) and Cache-Control: HTML is
 * revalidated on every load, other assets are cached for an hour. */
#ifndef ESTATEMAP_HTTP_STATIC_H
#define ESTATEMAP_HTTP_STATIC_H

#include "http.h"

/* `web_root` is the real path of web/, or NULL when none was found. */
int em_static_serve(em_http_request *req, const char *web_root);

/* The Content-Type for a file name, by extension. */
const char *em_static_mime_type(const char *path);

#endif
