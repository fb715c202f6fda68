/* The MAT-file reader: exact round trips of files written here, the real
 * olivettifaces.mat when the mirror has it, and hostile input (every
 * truncation, corrupt zlib data, lying sizes) failing cleanly. The ASan
 * build (OB_SANITIZE=ON) proves "no out-of-bounds read": buffers handed to
 * the reader are malloc'd at their exact size. */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/dataset.h"
#include "mat_writer.h"
#include "data/matfile.h"

/* A file with four variables:
 *   "a"             3 x 4 double, plain miMATRIX
 *   "img"           2 x 5 uint8, compressed
 *   "b"             3 x 2 double stored as uint8 (as MATLAB does), compressed
 *   "a_longer_name" 2 x 2 single, plain (name not in the small format) */
static double A[12];
static uint8_t IMG[10];
static uint8_t B[6] = {0, 1, 2, 250, 251, 255};
static float S[4] = {1.5f, -2.25f, 3e-8f, 1e30f};

static mat_buf make_file(void) {
    for (int i = 0; i < 12; i++) A[i] = i * 0.5 - 1.0;
    for (int i = 0; i < 10; i++) IMG[i] = (uint8_t)(i * 25 + 3);
    mat_buf b = {0};
    mb_header(&b);
    mb_matrix(&b, "a", OB_MX_DOUBLE, TMI_DOUBLE, 3, 4, A, 8);
    mb_matrix_z(&b, "img", OB_MX_UINT8, TMI_UINT8, 2, 5, IMG, 1);
    mb_matrix_z(&b, "b", OB_MX_DOUBLE, TMI_UINT8, 3, 2, B, 1);
    mb_matrix(&b, "a_longer_name", OB_MX_SINGLE, TMI_SINGLE, 2, 2, S, 4);
    return b;
}

/* The reader on an exact-size heap copy of buf[0..len). */
static int read_exact(const uint8_t *buf, size_t len, const char *name, ob_mat_type want,
                      ob_mat_var *v, ob_error *e) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    int rc = ob_mat_read_mem(copy, len, "test.mat", name, want, v, e);
    free(copy);
    return rc;
}

static void test_round_trip(void **state) {
    (void)state;
    mat_buf f = make_file();
    char *dir = ob_test_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/t.mat", dir);
    assert_int_equal(ob_test_write(path, f.p, f.len), 0);
    ob_mat_var v;
    ob_error e;

    assert_int_equal(ob_mat_read(path, "a", OB_MAT_F64, &v, &e), OB_OK);
    assert_string_equal(v.name, "a");
    assert_int_equal(v.class_id, OB_MX_DOUBLE);
    assert_int_equal(v.ndims, 2);
    assert_int_equal(v.rows, 3);
    assert_int_equal(v.cols, 4);
    assert_memory_equal(v.data, A, sizeof A);
    ob_mat_var_free(&v);

    assert_int_equal(ob_mat_read(path, "img", OB_MAT_U8, &v, &e), OB_OK);
    assert_int_equal(v.class_id, OB_MX_UINT8);
    assert_int_equal(v.stored_type, OB_MI_UINT8);
    assert_int_equal(v.rows, 2);
    assert_int_equal(v.cols, 5);
    assert_memory_equal(v.data, IMG, sizeof IMG);
    ob_mat_var_free(&v);

    assert_int_equal(ob_mat_read(path, "img", OB_MAT_F32, &v, &e), OB_OK);
    for (int i = 0; i < 10; i++) assert_true(((float *)v.data)[i] == (float)IMG[i]);
    ob_mat_var_free(&v);

    assert_int_equal(ob_mat_read(path, "b", OB_MAT_F64, &v, &e), OB_OK);
    assert_int_equal(v.class_id, OB_MX_DOUBLE);
    for (int i = 0; i < 6; i++) assert_true(((double *)v.data)[i] == (double)B[i]);
    ob_mat_var_free(&v);
    assert_int_equal(ob_mat_read(path, "b", OB_MAT_U8, &v, &e), OB_OK); /* integral: exact */
    assert_memory_equal(v.data, B, sizeof B);
    ob_mat_var_free(&v);

    assert_int_equal(ob_mat_read(path, "a_longer_name", OB_MAT_F32, &v, &e), OB_OK);
    assert_memory_equal(v.data, S, sizeof S);
    ob_mat_var_free(&v);
    assert_int_equal(ob_mat_read(path, "a_longer_name", OB_MAT_F64, &v, &e), OB_OK);
    for (int i = 0; i < 4; i++) assert_true(((double *)v.data)[i] == (double)S[i]);
    ob_mat_var_free(&v);

    /* not exactly representable as uint8 */
    assert_int_equal(ob_mat_read(path, "a", OB_MAT_U8, &v, &e), OB_EFORMAT);
    fprintf(stderr, "expected failure: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "cannot be converted to uint8"));

    assert_int_equal(ob_mat_read(path, "zzz", OB_MAT_F64, &v, &e), OB_EFORMAT);
    assert_non_null(strstr(e.msg, "no variable named 'zzz'"));
    assert_non_null(strstr(e.msg, path));

    snprintf(path, sizeof path, "%s/missing.mat", dir);
    assert_int_equal(ob_mat_read(path, "a", OB_MAT_F64, &v, &e), OB_EIO);
    assert_non_null(strstr(e.msg, "missing.mat"));
    ob_test_rmtree(dir);
    free(dir);
    free(f.p);
}

/* Every cut point: no variable that does not fit entirely before the cut
 * can be read, every failure has a message naming the file, and nothing
 * reads past the buffer (ASan). */
static void test_truncated(void **state) {
    (void)state;
    mat_buf f = make_file();
    static const char *names[] = {"a", "img", "b", "a_longer_name"};
    ob_mat_var v;
    ob_error e;
    int shown = 0;
    for (size_t cut = 0; cut < f.len; cut++) {
        int rc = read_exact(f.p, cut, "a_longer_name", OB_MAT_F64, &v, &e);
        assert_int_not_equal(rc, OB_OK);
        assert_non_null(strstr(e.msg, "test.mat"));
        if (cut == 0 || cut == 127 || cut == 131 || cut == f.len / 2 || cut == f.len - 1) {
            fprintf(stderr, "cut at %zu of %zu: %s\n", cut, f.len, e.msg);
            shown++;
        }
        for (int k = 0; k < 3; k++) { /* the earlier variables: ok or a clean failure */
            ob_error_clear(&e);
            rc = read_exact(f.p, cut, names[k], OB_MAT_F64, &v, &e);
            if (rc == OB_OK)
                ob_mat_var_free(&v);
            else
                assert_true(strlen(e.msg) > 0);
        }
    }
    assert_int_equal(shown, 5);
    /* a cut inside an element says "truncated element at byte N" */
    assert_int_not_equal(read_exact(f.p, 200, "a_longer_name", OB_MAT_F64, &v, &e), OB_OK);
    assert_non_null(strstr(e.msg, "truncated element"));
    assert_non_null(strstr(e.msg, "at byte 128"));
    free(f.p);
}

/* Offset of the n-th top-level element's data (n from 0). */
static size_t element_data(const mat_buf *f, int n) {
    size_t off = 128;
    for (int i = 0; i < n; i++) {
        uint32_t type, nb;
        memcpy(&type, f->p + off, 4);
        memcpy(&nb, f->p + off + 4, 4);
        off += 8 + nb + (type == TMI_COMPRESSED ? 0 : (8 - nb % 8) % 8);
    }
    return off + 8;
}

static void test_corrupt_compressed(void **state) {
    (void)state;
    ob_mat_var v;
    ob_error e;
    mat_buf f = make_file();
    size_t z = element_data(&f, 1); /* "img": compressed */
    uint32_t zlen;
    memcpy(&zlen, f.p + z - 4, 4);
    int failures = 0;
    for (size_t i = 2; i < zlen; i++) { /* past the 2-byte zlib header */
        mat_buf g = {0};
        mb_put(&g, f.p, f.len);
        g.p[z + i] ^= 0x5A;
        int rc = read_exact(g.p, g.len, "img", OB_MAT_U8, &v, &e);
        if (rc == OB_OK) { /* only a flip of ignored padding bits may pass */
            assert_memory_equal(v.data, IMG, sizeof IMG);
            ob_mat_var_free(&v);
        } else {
            failures++;
            assert_non_null(strstr(e.msg, "test.mat"));
        }
        free(g.p);
    }
    /* zlib's Adler-32 trailer is checked, so a flip is either caught or (in
     * the unused bits of the last deflate byte) harmless */
    fprintf(stderr, "flipped bytes in a %u-byte zlib stream: %d of %u detected\n", zlen,
            failures, zlen - 2);
    assert_true(failures >= (int)zlen - 3);

    mat_buf g = {0};
    mb_put(&g, f.p, f.len);
    g.p[z + zlen / 2] ^= 0xFF;
    assert_int_not_equal(read_exact(g.p, g.len, "img", OB_MAT_U8, &v, &e), OB_OK);
    fprintf(stderr, "expected failure: %s\n", e.msg);
    assert_true(strstr(e.msg, "compressed") != NULL);
    free(g.p);
    free(f.p);
}

static void test_lies(void **state) {
    (void)state;
    ob_mat_var v;
    ob_error e;
    /* a compressed element whose inner tag claims 4 GB */
    {
        mat_buf b = {0};
        mb_header(&b);
        uint8_t inner[16] = {TMI_MATRIX, 0, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF};
        uLongf zl = compressBound(sizeof inner);
        uint8_t zb[64];
        compress2(zb, &zl, inner, sizeof inner, 6);
        mb_u32(&b, TMI_COMPRESSED);
        mb_u32(&b, (uint32_t)zl);
        mb_put(&b, zb, zl);
        assert_int_not_equal(read_exact(b.p, b.len, "x", OB_MAT_F64, &v, &e), OB_OK);
        fprintf(stderr, "expected failure: %s\n", e.msg);
        assert_non_null(strstr(e.msg, "more than its"));
        free(b.p);
    }
    /* dimensions whose product overflows, and a real part of the wrong size */
    {
        mat_buf b = {0};
        mb_header(&b);
        double one = 1;
        mb_matrix(&b, "x", OB_MX_DOUBLE, TMI_DOUBLE, 1, 1, &one, 8);
        uint32_t big = 0x7FFFFFFF; /* dims at bytes 160 (rows) and 164 (cols) */
        memcpy(b.p + 164, &big, 4);
        assert_int_not_equal(read_exact(b.p, b.len, "x", OB_MAT_F64, &v, &e), OB_OK);
        fprintf(stderr, "expected failure: %s\n", e.msg);
        assert_non_null(strstr(e.msg, "real part of 'x' holds 8 bytes"));
        memcpy(b.p + 160, &big, 4);
        assert_int_not_equal(read_exact(b.p, b.len, "x", OB_MAT_F64, &v, &e), OB_OK);
        fprintf(stderr, "expected failure: %s\n", e.msg);
        assert_non_null(strstr(e.msg, "overflow"));
        free(b.p);
    }
    /* an unsupported class */
    {
        mat_buf b = {0};
        mb_header(&b);
        uint8_t c = 1;
        mb_matrix(&b, "c", OB_MX_CELL, TMI_UINT8, 1, 1, &c, 1);
        assert_int_equal(read_exact(b.p, b.len, "c", OB_MAT_F64, &v, &e), OB_ENOTSUP);
        fprintf(stderr, "expected failure: %s\n", e.msg);
        assert_non_null(strstr(e.msg, "unsupported class 'cell'"));
        free(b.p);
    }
    /* a small element claiming 7 bytes, a big-endian header, not a MAT-file */
    {
        mat_buf b = {0};
        mb_header(&b);
        mb_u32(&b, 7u << 16 | TMI_INT8);
        mb_u32(&b, 0);
        assert_int_not_equal(read_exact(b.p, b.len, "c", OB_MAT_F64, &v, &e), OB_OK);
        assert_non_null(strstr(e.msg, "small data element claims 7 bytes"));
        b.p[126] = 'M';
        b.p[127] = 'I';
        assert_int_equal(read_exact(b.p, b.len, "c", OB_MAT_F64, &v, &e), OB_ENOTSUP);
        assert_non_null(strstr(e.msg, "big-endian"));
        b.p[126] = 'x';
        assert_int_equal(read_exact(b.p, b.len, "c", OB_MAT_F64, &v, &e), OB_EFORMAT);
        assert_non_null(strstr(e.msg, "not a level-5 MAT-file"));
        free(b.p);
    }
}

/* The real olivettifaces.mat (DATA README: 4096 x 400 uint8, mean 132.38,
 * equal to the .raw file after faces.T.reshape(400,64,64).transpose(0,2,1)). */
static void test_olivetti(void **state) {
    (void)state;
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    char mat[1200], raw[1200];
    snprintf(mat, sizeof mat, "%s/olivettifaces.mat", cfg.mirror_dir);
    snprintf(raw, sizeof raw, "%s/olivetti_400x64x64_u8.raw", cfg.mirror_dir);
    size_t rlen = 0;
    char *r = cfg.mirror_dir[0] ? ob_test_slurp(raw, &rlen) : NULL;
    if (!r) {
        fprintf(stderr, "SKIP: no Olivetti files in the mirror '%s' (set OPTBENCH_DATA_MIRROR)\n",
                cfg.mirror_dir);
        skip();
    }
    ob_mat_var v;
    ob_error e;
    int rc = ob_mat_read(mat, "faces", OB_MAT_U8, &v, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, OB_OK);
    assert_int_equal(v.rows, 4096);
    assert_int_equal(v.cols, 400);
    /* MATLAB class double, values stored as uint8 (what scipy reports as a
     * uint8 array): exact 0..255 integers either way */
    fprintf(stderr, "class %s, stored as type %d\n", ob_mat_class_name(v.class_id),
            v.stored_type);
    assert_int_equal(v.stored_type, OB_MI_UINT8);
    const uint8_t *m = v.data;
    double sum = 0;
    for (size_t i = 0; i < 4096 * 400; i++) sum += m[i];
    double mean = sum / (4096.0 * 400);
    fprintf(stderr, "olivettifaces.mat: faces %zu x %zu uint8, mean %.4f (README: 132.38)\n",
            v.rows, v.cols, mean);
    assert_true(fabs(mean - 132.38) < 0.01); /* README gives 2 decimals */
    assert_int_equal(rlen, 1638400);
    size_t diff = 0;
    for (size_t k = 0; k < 400; k++)
        for (size_t row = 0; row < 64; row++)
            for (size_t c = 0; c < 64; c++)
                diff += m[k * 4096 + c * 64 + row] != (uint8_t)r[k * 4096 + row * 64 + c];
    fprintf(stderr, "pixels differing from the .raw file: %zu\n", diff);
    assert_int_equal(diff, 0);
    ob_mat_var_free(&v);
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_compressed),
        cmocka_unit_test(test_lies),
        cmocka_unit_test(test_olivetti),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
