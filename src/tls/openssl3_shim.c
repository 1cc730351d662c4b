/* openssl3_shim.c -- lets Debian 12's CivetWeb speak TLS with OpenSSL 3.
 *
 * Debian's libcivetweb 1.15 is built to load OpenSSL at run time (dlopen of
 * "libssl.so" and "libcrypto.so", then dlsym of the 59 functions it uses), for the
 * OpenSSL 1.1 API. One of them, SSL_get_peer_certificate, is a macro in OpenSSL 3
 * (for SSL_get1_peer_certificate) and no longer an exported symbol, so CivetWeb
 * refuses to start TLS: "load_tls_dll: libssl.so: cannot find
 * SSL_get_peer_certificate".
 *
 * This library is built as libssl.so with the SONAME libssl.so, links the real
 * libssl.so.3, and defines that one function. The estatemap executable links it
 * (found through its RPATH), so it is loaded before CivetWeb asks for "libssl.so";
 * the dynamic loader then hands CivetWeb this library (an object already loaded
 * under that SONAME), and dlsym on it finds the other 58 functions in libssl.so.3
 * and libcrypto.so.3, which it depends on. */
#include <openssl/ssl.h>

/* OpenSSL 3's header makes the name a macro for the new function: define the old one. */
#undef SSL_get_peer_certificate

X509 *SSL_get_peer_certificate(const SSL *ssl);

X509 *SSL_get_peer_certificate(const SSL *ssl) {
    return SSL_get1_peer_certificate(ssl);
}
