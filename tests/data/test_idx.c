/* The IDX reader: a valid file reads back exactly, and every malformed file
 * fails with its own message naming the file. Files are written into a
 * fresh temporary directory. */
#include "testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/idx.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = ob_test_mkdtemp();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    ob_test_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes <tmpdir>/<name>: magic, ndim dimensions, then payload_len bytes
 * (byte k = k * 7 mod 256); returns the path (static buffer). */
static const char *write_idx(const char *name, uint32_t magic, const uint32_t *dims,
                             uint32_t ndim, size_t payload_len) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    size_t hlen = 4 + 4 * (size_t)ndim;
    uint8_t *buf = malloc(hlen + payload_len + 1);
    put_be32(buf, magic);
    for (uint32_t d = 0; d < ndim; d++) put_be32(buf + 4 + 4 * d, dims[d]);
    for (size_t k = 0; k < payload_len; k++) buf[hlen + k] = (uint8_t)(k * 7);
    assert_int_equal(ob_test_write(path, buf, hlen + payload_len), 0);
    free(buf);
    return path;
}

/* Reads path expecting failure `code`; the message must name the file and
 * contain `want`. Copies the message into msg_out. */
static void expect_failure(const char *path, uint32_t magic, uint32_t ndim, int code,
                           const char *want, char *msg_out) {
    ob_idx idx;
    ob_error err = {0};
    int rc = ob_idx_read(path, magic, ndim, &idx, &err);
    fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, code);
    assert_null(idx.data);
    if (!strstr(err.msg, path)) fail_msg("message does not name %s: %s", path, err.msg);
    if (!strstr(err.msg, want)) fail_msg("message lacks \"%s\": %s", want, err.msg);
    strcpy(msg_out, err.msg);
}

static void test_valid_files_read_back(void **state) {
    (void)state;
    const uint32_t dims[3] = {2, 3, 4};
    const char *path = write_idx("images", OB_IDX_MAGIC_IMAGES, dims, 3, 24);
    ob_idx idx;
    ob_error err = {0};
    if (ob_idx_read(path, OB_IDX_MAGIC_IMAGES, 3, &idx, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_int_equal(idx.magic, OB_IDX_MAGIC_IMAGES);
    assert_int_equal(idx.ndim, 3);
    assert_int_equal(idx.dims[0], 2);
    assert_int_equal(idx.dims[1], 3);
    assert_int_equal(idx.dims[2], 4);
    assert_int_equal(idx.count, 24);
    for (size_t k = 0; k < 24; k++) assert_int_equal(idx.data[k], (uint8_t)(k * 7));
    ob_idx_free(&idx);
    assert_null(idx.data);
    ob_idx_free(&idx); /* twice is harmless */
    ob_idx_free(NULL);

    const uint32_t n[1] = {300};
    path = write_idx("labels", OB_IDX_MAGIC_LABELS, n, 1, 300);
    if (ob_idx_read(path, OB_IDX_MAGIC_LABELS, 1, &idx, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_int_equal(idx.count, 300);
    assert_int_equal(idx.data[299], (uint8_t)(299 * 7));
    ob_idx_free(&idx);
}

/* Each kind of damage has its own message; all of them differ. */
static void test_malformed_files_distinct_messages(void **state) {
    (void)state;
    enum { N_CASES = 10 };
    static char msgs[N_CASES][sizeof(((ob_error *)0)->msg)];
    const uint32_t ok[3] = {2, 3, 4};
    const char *p;
    int m = 0;

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/absent", tmpdir);
    expect_failure(missing, OB_IDX_MAGIC_IMAGES, 3, OB_EIO, "cannot open", msgs[m++]);

    p = write_idx("short", OB_IDX_MAGIC_IMAGES, ok, 0, 0); /* 4 bytes... */
    assert_int_equal(ob_test_write(p, "\0\0", 2), 0);     /* ...cut to 2 */
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT, "too short for an IDX file: 2 bytes",
                   msgs[m++]);

    p = write_idx("magic", 0x12345678u, ok, 3, 24);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT,
                   "wrong magic number 0x12345678, expected 0x00000803 (IDX images)", msgs[m++]);

    p = write_idx("gzip", 0x1f8b0808u, ok, 3, 24);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT, "gzip-compressed", msgs[m++]);

    const uint32_t four[4] = {2, 3, 4, 1};
    p = write_idx("ndim", 0x00000804u, four, 4, 24);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT,
                   "wrong number of dimensions: 4 (magic 0x00000804), expected 3", msgs[m++]);

    p = write_idx("header", OB_IDX_MAGIC_IMAGES, ok, 2, 0); /* 12 of 16 header bytes */
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT, "truncated header: 12 bytes",
                   msgs[m++]);

    const uint32_t zero[3] = {2, 0, 4};
    p = write_idx("zero", OB_IDX_MAGIC_IMAGES, zero, 3, 24);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT, "dimension 2 of 3 is 0", msgs[m++]);

    /* (2^32 - 1)^3 overflows 64 bits; checked before any allocation */
    const uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    p = write_idx("huge", OB_IDX_MAGIC_IMAGES, huge, 3, 24);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT,
                   "dimensions 4294967295x4294967295x4294967295 describe more than", msgs[m++]);

    p = write_idx("truncated", OB_IDX_MAGIC_IMAGES, ok, 3, 20);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT,
                   "truncated: 36 bytes, expected 40 for 2x3x4", msgs[m++]);

    p = write_idx("trailing", OB_IDX_MAGIC_IMAGES, ok, 3, 29);
    expect_failure(p, OB_IDX_MAGIC_IMAGES, 3, OB_EFORMAT,
                   "5 trailing bytes after the 40 expected for 2x3x4", msgs[m++]);

    assert_int_equal(m, N_CASES);
    /* Distinct even without the (distinct) file names. */
    for (int a = 0; a < N_CASES; a++)
        for (int b = a + 1; b < N_CASES; b++) {
            const char *ta = strstr(msgs[a], ": "), *tb = strstr(msgs[b], ": ");
            if (strcmp(ta, tb) == 0) fail_msg("cases %d and %d give the same message", a, b);
        }
}

/* A dimension product within 64 bits but above OB_IDX_MAX_BYTES is refused
 * before the file size matters (no huge allocation is attempted). */
static void test_implausible_size_refused(void **state) {
    (void)state;
    const uint32_t big[2] = {65536, 65536}; /* 4 GiB > the 2 GiB limit */
    const char *p = write_idx("big", 0x00000802u, big, 2, 10);
    char msg[sizeof(((ob_error *)0)->msg)];
    expect_failure(p, 0x00000802u, 2, OB_EFORMAT, "65536x65536 describe more than", msg);
}

/* Every prefix of a valid file, and the file with 1..8 extra bytes, fails
 * cleanly (under ASan this also proves no read goes out of bounds). */
static void test_every_cut_fails(void **state) {
    (void)state;
    const uint32_t dims[3] = {2, 3, 4};
    const char *p = write_idx("whole", OB_IDX_MAGIC_IMAGES, dims, 3, 32);
    size_t len;
    char *bytes = ob_test_slurp(p, &len);
    assert_int_equal(len, 48);
    char cut[4200];
    snprintf(cut, sizeof cut, "%s/cut", tmpdir);
    for (size_t n = 0; n <= 48; n++) {
        if (n == 40) continue; /* the one valid length */
        assert_int_equal(ob_test_write(cut, bytes, n), 0);
        ob_idx idx;
        ob_error err = {0};
        int rc = ob_idx_read(cut, OB_IDX_MAGIC_IMAGES, 3, &idx, &err);
        if (rc != OB_EFORMAT) fail_msg("length %zu: status %d (%s)", n, rc, err.msg);
        assert_null(idx.data);
    }
    free(bytes);
}

/* A caller asking for an unsupported number of dimensions gets OB_EINVAL. */
static void test_bad_request(void **state) {
    (void)state;
    ob_idx idx;
    ob_error err = {0};
    assert_int_equal(ob_idx_read("x", 0x00000800u, 0, &idx, &err), OB_EINVAL);
    assert_int_equal(ob_idx_read("x", 0x00000809u, 9, &idx, &err), OB_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_files_read_back),
        cmocka_unit_test(test_malformed_files_distinct_messages),
        cmocka_unit_test(test_implausible_size_refused),
        cmocka_unit_test(test_every_cut_fails),
        cmocka_unit_test(test_bad_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
