#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void em_error_clear(em_error *err) {
    if (err) {
        err->kind = EM_OK;
        err->message[0] = '\0';
    }
}

int em_fail(em_error *err, em_error_kind kind, const char *fmt, ...) {
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->kind = kind;
    return -1;
}

void em_error_prefix(em_error *err, const char *fmt, ...) {
    if (!err)
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix), mlen = strlen(err->message), cap = sizeof err->message - 1;
    if (plen > cap)
        plen = cap;
    if (plen + mlen > cap)
        mlen = cap - plen;
    memmove(err->message + plen, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen + mlen] = '\0';
}
