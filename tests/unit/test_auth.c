/* Who may write: SHA-256 against the NIST vectors, the tokens file (good and bad
 * lines), bearer headers, the role matrix, constant-time comparison, and the
 * failed-attempt limiter with a clock we control. */
#include "auth.h"
#include "sha256.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hex_of(const char *text, size_t len, char out[65]) {
    em_sha256_hex(text, len, out);
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"). */
START_TEST(sha256_nist_vectors) {
    char hex[65];
    hex_of("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    hex_of(m896, strlen(m896), hex);
    ck_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* one million 'a', fed in uneven pieces through the streaming interface */
    em_sha256_ctx c;
    em_sha256_init(&c);
    char block[1000];
    memset(block, 'a', sizeof block);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        em_sha256_update(&c, block, n);
        left -= n;
        step = step % 977 + 13; /* 13..989: within `block` */
    }
    unsigned char d[32];
    em_sha256_final(&c, d);
    static const unsigned char million_a[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                                0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                                0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                                0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    ck_assert_mem_eq(d, million_a, 32);
    /* lengths around the padding boundary (55, 56, 63, 64, 65 bytes) against
     * digests from Python's hashlib */
    static const struct {
        size_t n;
        const char *hex;
    } edges[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        hex_of(block, edges[i].n, hex);
        ck_assert_msg(strcmp(hex, edges[i].hex) == 0, "%zu bytes: %s", edges[i].n, hex);
    }
}
END_TEST

static char *token_line(char *buf, size_t n, const char *name, const char *role,
                        const char *token) {
    char hex[65];
    em_sha256_hex(token, strlen(token), hex);
    snprintf(buf, n, "%s %s %s", name, role, hex);
    return buf;
}

START_TEST(tokens_file) {
    char a[200], b[200], c[200], text[1024];
    snprintf(text, sizeof text,
             "# estatemap tokens\n\n%s # trailing comment\r\n  \t%s\n   # indented comment\n%s",
             token_line(a, sizeof a, "张网格", "inspector", "tok-inspector"),
             token_line(b, sizeof b, "planner.li", "planner", "tok-planner"),
             token_line(c, sizeof c, "root@district", "admin", "tok-admin"));
    em_error err = {0};
    em_tokens *t = em_tokens_parse(text, "tokens.txt", &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_uint_eq(em_tokens_count(t), 3);

    em_principal who;
    ck_assert_int_eq(em_tokens_authenticate(t, "Bearer tok-inspector", &who), EM_AUTH_OK);
    ck_assert_str_eq(who.name, "张网格");
    ck_assert_int_eq(who.role, EM_ROLE_INSPECTOR);
    ck_assert_int_eq(em_tokens_authenticate(t, "bearer   tok-planner  ", &who), EM_AUTH_OK);
    ck_assert_str_eq(who.name, "planner.li");
    ck_assert_int_eq(who.role, EM_ROLE_PLANNER);
    ck_assert_int_eq(em_tokens_authenticate(t, "BEARER tok-admin", &who), EM_AUTH_OK);
    ck_assert_int_eq(who.role, EM_ROLE_ADMIN);

    ck_assert_int_eq(em_tokens_authenticate(t, NULL, &who), EM_AUTH_MISSING);
    const char *bad[] = {"",
                         "Bearer",
                         "Bearer ",
                         "Bearertok-admin",
                         "Basic dG9rLWFkbWluOg==",
                         "Bearer tok-admin2",
                         "Bearer tok-admi",
                         "Bearer TOK-ADMIN",
                         "Bearer tok admin",
                         "Bearer tok-admin\x01",
                         "Bearer =abc",
                         NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(em_tokens_authenticate(t, bad[i], &who) == EM_AUTH_INVALID, "%s", bad[i]);
    char huge[EM_AUTH_MAX_TOKEN + 16];
    strcpy(huge, "Bearer ");
    memset(huge + 7, 'x', EM_AUTH_MAX_TOKEN + 1);
    huge[7 + EM_AUTH_MAX_TOKEN + 1] = '\0';
    ck_assert_int_eq(em_tokens_authenticate(t, huge, &who), EM_AUTH_INVALID);
    /* no tokens at all: nothing is valid */
    ck_assert_int_eq(em_tokens_authenticate(NULL, "Bearer tok-admin", &who), EM_AUTH_INVALID);
    em_tokens_free(t);

    /* upper-case hex is the same hash */
    char hex[65];
    em_sha256_hex("x", 1, hex);
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(text, sizeof text, "ops admin %s", hex); /* no final newline */
    t = em_tokens_parse(text, "t", &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    ck_assert_int_eq(em_tokens_authenticate(t, "Bearer x", &who), EM_AUTH_OK);
    em_tokens_free(t);
}
END_TEST

START_TEST(bad_tokens_files) {
    char hex[65], other[65];
    em_sha256_hex("one", 3, hex);
    em_sha256_hex("two", 3, other);
    char lines[8][300];
    snprintf(lines[0], 300, "alice inspector");                              /* 2 fields */
    snprintf(lines[1], 300, "alice inspector %s extra", hex);                /* 4 fields */
    snprintf(lines[2], 300, "alice superuser %s", hex);                      /* role */
    snprintf(lines[3], 300, "alice admin %.63s", hex);                       /* short hash */
    snprintf(lines[4], 300, "alice admin %.63sg", hex);                      /* not hex */
    snprintf(lines[5], 300, "alice admin %s\nalice planner %s", hex, other); /* name twice */
    snprintf(lines[6], 300, "alice admin %s\nbob planner %s", hex, hex);     /* hash twice */
    snprintf(lines[7], 300, "al\"ice admin %s", hex);                        /* name */
    for (int i = 0; i < 8; i++) {
        em_error err = {0};
        em_tokens *t = em_tokens_parse(lines[i], "tokens.txt", &err);
        ck_assert_msg(t == NULL, "line set %d accepted", i);
        ck_assert_int_eq(err.kind, EM_ERR_INPUT);
        ck_assert_msg(strstr(err.message, "tokens.txt line "), "%s", err.message);
    }
    em_error err = {0};
    ck_assert_ptr_null(em_tokens_parse("# only comments\n\n", "empty.txt", &err));
    ck_assert_ptr_nonnull(strstr(err.message, "no tokens"));
    ck_assert_ptr_null(em_tokens_load("/nonexistent/tokens.txt", &err));
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/tokens.txt"));

    /* from a file */
    char path[] = "/tmp/estatemap-unit-tokens-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    char line[200];
    snprintf(line, sizeof line, "grid-7 inspector %s\n", hex);
    ck_assert_int_eq(write(fd, line, strlen(line)), (int)strlen(line));
    close(fd);
    em_tokens *t = em_tokens_load(path, &err);
    ck_assert_msg(t != NULL, "%s", err.message);
    em_principal who;
    ck_assert_int_eq(em_tokens_authenticate(t, "Bearer one", &who), EM_AUTH_OK);
    ck_assert_str_eq(who.name, "grid-7");
    em_tokens_free(t);
    unlink(path);
}
END_TEST

START_TEST(roles) {
    em_role r;
    ck_assert_int_eq(em_role_parse("inspector", &r), 0);
    ck_assert_int_eq(r, EM_ROLE_INSPECTOR);
    ck_assert_int_eq(em_role_parse("Admin", &r), -1);
    ck_assert_int_eq(em_role_parse(NULL, &r), -1);
    ck_assert_str_eq(em_role_name(EM_ROLE_PLANNER), "planner");
    /* rows: inspector, planner, admin; columns: read, violations, estates, audit */
    static const int allowed[3][4] = {{1, 1, 0, 0}, {1, 1, 1, 0}, {1, 1, 1, 1}};
    static const em_role roles[3] = {EM_ROLE_INSPECTOR, EM_ROLE_PLANNER, EM_ROLE_ADMIN};
    static const em_access access[4] = {EM_ACCESS_READ, EM_ACCESS_WRITE_VIOLATIONS,
                                        EM_ACCESS_WRITE_ESTATES, EM_ACCESS_AUDIT};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_msg(em_role_allows(roles[i], access[j]) == allowed[i][j], "role %d access %d",
                          i, j);
}
END_TEST

START_TEST(constant_time_equal) {
    unsigned char a[32], b[32];
    memset(a, 7, sizeof a);
    memcpy(b, a, sizeof b);
    ck_assert(em_ct_equal(a, b, 32));
    b[0] ^= 1;
    ck_assert(!em_ct_equal(a, b, 32));
    b[0] ^= 1;
    b[31] ^= 0x80;
    ck_assert(!em_ct_equal(a, b, 32));
    ck_assert(em_ct_equal(a, b, 0));
}
END_TEST

START_TEST(rate_limit) {
    em_ratelimit *rl = em_ratelimit_new(3, 60);
    ck_assert_ptr_nonnull(rl);
    time_t t0 = 1000000;
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0), 0);
    em_ratelimit_failure(rl, "10.0.0.1", t0);
    em_ratelimit_failure(rl, "10.0.0.1", t0 + 10);
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0 + 10), 0);
    em_ratelimit_failure(rl, "10.0.0.1", t0 + 20);
    /* three failures: blocked until the window that began at t0 ends */
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0 + 20), 40);
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0 + 59), 1);
    /* another address is not affected */
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.2", t0 + 20), 0);
    /* the window ends: allowed, and the count starts again */
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0 + 60), 0);
    em_ratelimit_failure(rl, "10.0.0.1", t0 + 61);
    ck_assert_int_eq(em_ratelimit_blocked(rl, "10.0.0.1", t0 + 61), 0);
    /* many addresses: the table stays bounded and still works */
    char addr[32];
    for (int i = 0; i < EM_AUTH_MAX_CLIENTS + 100; i++) {
        snprintf(addr, sizeof addr, "192.168.%d.%d", i / 256, i % 256);
        em_ratelimit_failure(rl, addr, t0 + 100 + i);
    }
    for (int k = 0; k < 3; k++)
        em_ratelimit_failure(rl, "10.9.9.9", t0 + 5000);
    ck_assert_int_gt(em_ratelimit_blocked(rl, "10.9.9.9", t0 + 5000), 0);
    em_ratelimit_free(rl);
}
END_TEST

int main(void) {
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sha256_nist_vectors);
    tcase_add_test(tc, tokens_file);
    tcase_add_test(tc, bad_tokens_files);
    tcase_add_test(tc, roles);
    tcase_add_test(tc, constant_time_equal);
    tcase_add_test(tc, rate_limit);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
