#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void em_strbuf_init(em_strbuf *b) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void em_strbuf_free(em_strbuf *b) {
    free(b->data);
    em_strbuf_init(b);
}

void em_strbuf_reset(em_strbuf *b) {
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(em_strbuf *b, size_t extra) {
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void em_strbuf_append(em_strbuf *b, const char *s, size_t n) {
    if (reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void em_strbuf_puts(em_strbuf *b, const char *s) {
    em_strbuf_append(b, s, strlen(s));
}

void em_strbuf_putc(em_strbuf *b, char c) {
    em_strbuf_append(b, &c, 1);
}

void em_strbuf_printf(em_strbuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        em_strbuf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *em_strbuf_cstr(em_strbuf *b) {
    return b->data ? b->data : "";
}
