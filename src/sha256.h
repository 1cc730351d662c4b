/* sha256.h -- SHA-256 (FIPS 180-4), for checking bearer tokens against the hashes
 * in the --tokens file.
 *
 * Our own small implementation rather than a new library: OpenSSL, GnuTLS and
 * nettle only reach this program indirectly (through GDAL and curl), so using one
 * would add a direct dependency for 150 lines of well-known code. The NIST test
 * vectors are in tests/unit/test_auth.c. */
#ifndef ESTATEMAP_SHA256_H
#define ESTATEMAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define EM_SHA256_BYTES 32

typedef struct {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in `block` */
} em_sha256_ctx;

void em_sha256_init(em_sha256_ctx *c);
void em_sha256_update(em_sha256_ctx *c, const void *data, size_t len);
void em_sha256_final(em_sha256_ctx *c, unsigned char out[EM_SHA256_BYTES]);

/* One-shot digest, and the same as 64 lowercase hex digits plus a NUL. */
void em_sha256(const void *data, size_t len, unsigned char out[EM_SHA256_BYTES]);
void em_sha256_hex(const void *data, size_t len, char out[2 * EM_SHA256_BYTES + 1]);

#endif
