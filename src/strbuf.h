/* strbuf.h -- a growable byte buffer for building HTTP response bodies.
 *
 * Responses are built whole in memory and then sent with a Content-Length, so
 * keep-alive works and a failure half way never leaves a truncated 200 on the
 * wire. Appends never fail loudly: an allocation failure sets `failed`, further
 * appends are ignored, and the caller checks once at the end. */
#ifndef ESTATEMAP_STRBUF_H
#define ESTATEMAP_STRBUF_H

#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated when len > 0 or after em_strbuf_cstr() */
    size_t len;
    size_t cap;
    int failed;
} em_strbuf;

void em_strbuf_init(em_strbuf *b);
void em_strbuf_free(em_strbuf *b);
void em_strbuf_reset(em_strbuf *b);
void em_strbuf_append(em_strbuf *b, const char *s, size_t n);
void em_strbuf_puts(em_strbuf *b, const char *s);
void em_strbuf_putc(em_strbuf *b, char c);
void em_strbuf_printf(em_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" when empty). */
const char *em_strbuf_cstr(em_strbuf *b);

#endif
