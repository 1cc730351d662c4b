/* gzip.h -- HTTP response compression with zlib (Debian's CivetWeb is built without it).
 * Tiles and JSON answers share these. */
#ifndef ESTATEMAP_GZIP_H
#define ESTATEMAP_GZIP_H

#include <stddef.h>

/* Does this Accept-Encoding header value take gzip (gzip, x-gzip or *, with q > 0)? */
int em_gzip_accepted(const char *accept_encoding);
/* A gzip member of `in` (caller frees), or NULL when zlib fails. */
unsigned char *em_gzip(const void *in, size_t len, size_t *out_len);

#endif
