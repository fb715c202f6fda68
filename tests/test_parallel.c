/* The thread team (core/parallel.h), the row-split sgemm on it
 * (core/par_gemm.h), and the autoencoder's step on a team. */
#include "testkit.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fp_mode.h"
#include "models/autoencoder.h"
#include "models/rnn.h"
#include "par_gemm.h"
#include "parallel.h"
#include "rng.h"

extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

typedef struct cover {
    atomic_int *hits;   /* per index                                      */
    atomic_int calls;   /* bodies run                                     */
} cover;

static void mark(void *ctx, size_t i0, size_t i1) {
    cover *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    for (size_t i = i0; i < i1; i++) atomic_fetch_add(&c->hits[i], 1);
}

/* Every index exactly once, in at most team-size chunks, none smaller than
 * min_chunk unless the range itself is. */
static void check_cover(size_t n, size_t min_chunk) {
    cover c = {.hits = calloc(n ? n : 1, sizeof(atomic_int))};
    assert_non_null(c.hits);
    ob_par_for(n, min_chunk, mark, &c);
    for (size_t i = 0; i < n; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    int calls = atomic_load(&c.calls);
    assert_true(calls <= ob_par_threads());
    if (n == 0) assert_int_equal(calls, 0);
    if (n > 0 && n < 2 * min_chunk) assert_int_equal(calls, 1); /* ran inline */
    free(c.hits);
}

static void test_every_index_once(void **s) {
    (void)s;
    const int teams[] = {1, 2, 3, 5};
    const size_t sizes[] = {0, 1, 2, 7, 64, 1000, 100003};
    const size_t chunks[] = {1, 16, 1000, 1u << 20};
    for (size_t t = 0; t < 4; t++) {
        assert_int_equal(ob_par_start(teams[t]), 0);
        assert_int_equal(ob_par_threads(), teams[t]);
        for (size_t i = 0; i < 7; i++)
            for (size_t k = 0; k < 4; k++) check_cover(sizes[i], chunks[k]);
    }
    ob_par_stop();
    assert_int_equal(ob_par_threads(), 1);
}

/* A loop published right after the workers were created must reach them
 * (a worker that first ran after the publication once slept through it). */
static void test_loop_right_after_start(void **s) {
    (void)s;
    for (int round = 0; round < 200; round++) {
        assert_int_equal(ob_par_start(2 + round % 3), 0);
        check_cover(5000, 1);
        ob_par_stop();
    }
}

static void nested(void *ctx, size_t i0, size_t i1) {
    cover *c = ctx;
    /* a body that starts a loop of its own: runs inline, no deadlock */
    ob_par_for(i1 - i0, 1, mark, &(cover){.hits = c->hits + i0});
}

static void test_nested_loop_runs_inline(void **s) {
    (void)s;
    assert_int_equal(ob_par_start(3), 0);
    cover c = {.hits = calloc(3000, sizeof(atomic_int))};
    ob_par_for(3000, 1, nested, &c);
    for (size_t i = 0; i < 3000; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    free(c.hits);
    ob_par_stop();
}

/* A team of more than one takes OpenBLAS down to one thread, and gives the
 * count back when it stops. */
static void test_team_owns_the_blas_threads(void **s) {
    (void)s;
    openblas_set_num_threads(2);
    const int before = openblas_get_num_threads();
    assert_int_equal(before, 2);
    assert_int_equal(ob_par_start(2), 0);
    assert_int_equal(openblas_get_num_threads(), 1);
    ob_par_stop();
    assert_int_equal(openblas_get_num_threads(), before);
    openblas_set_num_threads(1);
}

static float draw(ob_rng *r) { return (float)(ob_rng_uniform(r) - 0.5); }

/* ob_par_sgemm against a double-precision reference, every transpose
 * combination, M around the row-block size, beta 0 and 1. Tolerance: the
 * standard float dot-product bound, K u sum |a b| with u = 2^-24, doubled
 * for the beta C term. */
static void check_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float beta) {
    ob_rng r;
    ob_rng_seed(&r, 7, M * 131 + N * 7 + K, 0);
    float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float));
    float *C = malloc(M * N * sizeof(float));
    double *C0 = malloc(M * N * sizeof(double));
    for (size_t i = 0; i < M * K; i++) A[i] = draw(&r);
    for (size_t i = 0; i < K * N; i++) B[i] = draw(&r);
    for (size_t i = 0; i < M * N; i++) C0[i] = C[i] = draw(&r);
    const size_t lda = ta ? M : K, ldb = tb ? K : N;
    ob_par_sgemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, beta, C, N);
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double dot = 0, mag = 0;
            for (size_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + m] : A[m * lda + k];
                double b = tb ? B[n * ldb + k] : B[k * ldb + n];
                dot += a * b;
                mag += fabs(a * b);
            }
            double want = 0.5 * dot + beta * C0[m * N + n];
            double tol = 2.0 * (double)(K + 2) * 0x1p-24 * (0.5 * mag + fabs(C0[m * N + n]));
            assert_true(fabs((double)C[m * N + n] - want) <= tol);
        }
    free(A);
    free(B);
    free(C);
    free(C0);
}

/* fp_mode.h: with the mode on, a product whose exact value is denormal
 * (1e-20 x 1e-20 = 1e-40) comes out 0 and a denormal operand counts as 0,
 * on the calling thread and on every worker of a team started after; with
 * it off they are IEEE's (1e-40 and the denormal itself), on every thread.
 * The operands are volatile so the compiler cannot fold the products. */
typedef struct fp_probe {
    float out[64];
    int flushes[64];
} fp_probe;

static volatile float tiny_a = 1e-20f, tiny_b = 1e-20f, one = 1.0f;

static void probe_body(void *ctx, size_t i0, size_t i1) {
    fp_probe *p = ctx;
    uint32_t bits = 1; /* the smallest denormal, 1.4e-45 */
    volatile float den;
    float d;
    memcpy(&d, &bits, sizeof d);
    den = d;
    for (size_t i = i0; i < i1; i++) {
        p->out[i] = (i % 2 ? den * one : tiny_a * tiny_b);
        p->flushes[i] = ob_fp_flushes_denormals();
    }
}

static void check_team_mode(int flush) {
    const unsigned saved = ob_fp_mode_get();
    if (flush) ob_fp_flush_denormals();
    else ob_fp_mode_set(0);
    assert_int_equal(ob_fp_flushes_denormals(), flush);
    assert_int_equal(ob_par_start(2), 0);
    fp_probe p;
    memset(&p, 0xff, sizeof p);
    ob_par_for(64, 1, probe_body, &p); /* one item per chunk: both threads take some */
    ob_par_stop();
    ob_fp_mode_set(saved);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(p.flushes[i], flush);
        if (flush) assert_true(p.out[i] == 0.0f);
        else assert_true(p.out[i] > 0.0f && p.out[i] < 1.2e-38f);
    }
}

static void test_denormal_mode_reaches_the_workers(void **s) {
    (void)s;
    check_team_mode(1);
    check_team_mode(0);
}

/* Both splits, with 1, 2 and 3 threads: by rows of C (100, 200 and 257
 * rows of 90 columns, 257 leaving a block of one row; 40 rows of 70, wider
 * than tall but not twice) and by columns (C more than twice as wide as
 * tall: 31 rows of 90 columns, 100 rows of 301, 301 leaving a block of 13
 * columns). One row of 90 is below the size worth splitting and runs on the
 * calling thread. */
static void test_split_sgemm(void **s) {
    (void)s;
    const size_t Ms[] = {1, 31, 100, 200, 257, 40, 100}, Ns[] = {90, 90, 90, 90, 90, 70, 301};
    for (int team = 1; team <= 3; team++) {
        assert_int_equal(ob_par_start(team), 0);
        for (size_t i = 0; i < 7; i++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    check_sgemm(ta, tb, Ms[i], Ns[i], 120, 0.0f);
                    check_sgemm(ta, tb, Ms[i], Ns[i], 120, 1.0f);
                }
    }
    ob_par_stop();
}

/* The autoencoder's loss and gradient on a team of 1, 2 and 3 threads. The
 * element-wise passes give the same bits on any team; the products, split
 * by rows or columns, may round differently in the last bits (as OpenBLAS's own thread
 * counts do), so the gradient is compared with a tolerance: 1e-5 of its
 * largest element, far below any change a bug in the split would make (a
 * missing or doubled row block changes elements by their full size). */
static void test_autoencoder_on_a_team(void **s) {
    (void)s;
    const size_t sizes[] = {784, 400, 200, 100, 50, 25, 6, 25, 50, 100, 200, 400, 784};
    ob_ae ae;
    assert_int_equal(ob_ae_init(&ae, sizes, 13, OB_LOSS_CROSS_ENTROPY, 200, NULL), OB_OK);
    ob_rng r;
    ob_rng_seed(&r, 3, 4, 0);
    float *theta = malloc(ae.n_params * sizeof(float)), *X = malloc(300 * 784 * sizeof(float));
    float *g[3];
    for (size_t i = 0; i < ae.n_params; i++) theta[i] = 0.1f * draw(&r);
    for (size_t i = 0; i < 300 * 784; i++) X[i] = (float)ob_rng_uniform(&r);
    double loss[3];
    for (int t = 0; t < 3; t++) {
        g[t] = malloc(ae.n_params * sizeof(float));
        assert_int_equal(ob_par_start(t + 1), 0);
        /* 300 cases: a full 200-row chunk and a 100-row one */
        loss[t] = ob_ae_loss_grad(&ae, theta, X, 300, g[t]);
    }
    ob_par_stop();
    double gmax = 0;
    for (size_t i = 0; i < ae.n_params; i++) gmax = fmax(gmax, fabs(g[0][i]));
    assert_true(gmax > 0);
    for (int t = 1; t < 3; t++) {
        assert_true(fabs(loss[t] - loss[0]) <= 1e-6 * fabs(loss[0]));
        for (size_t i = 0; i < ae.n_params; i++)
            assert_true(fabs((double)g[t][i] - g[0][i]) <= 1e-5 * gmax);
    }
    for (int t = 0; t < 3; t++) free(g[t]);
    free(theta);
    free(X);
    ob_ae_free(&ae);
}

/* The RNN's recurrences run per block of 16 batch rows on the team: its
 * loss, gradient and Gauss-Newton product (with structural damping, which
 * has its own per-row term) on teams of 1, 2 and 3 threads. 50 sequences
 * make 4 row blocks. Tolerance as above: the row-block products may round
 * differently in the last bits; a wrong block would be off by its size. */
static void test_rnn_on_a_team(void **s) {
    (void)s;
    enum { NI = 3, H = 20, O = 2, T = 12, B = 50 };
    ob_rnn r;
    assert_int_equal(ob_rnn_init(&r, NI, H, O, OB_RNN_LINEAR, 0, T, B, 1, NULL), OB_OK);
    ob_rng g;
    ob_rng_seed(&g, 5, 6, 0);
    static float X[T * B * NI], Y[T * B * O], M[T * B];
    static uint8_t E[T * B];
    static int32_t len[B];
    for (size_t b = 0; b < B; b++) len[b] = b == 0 ? T : 1 + (int32_t)ob_rng_below(&g, T);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            size_t i = t * B + b;
            for (size_t k = 0; k < NI; k++) X[i * NI + k] = (float)ob_rng_normal(&g);
            for (size_t k = 0; k < O; k++) Y[i * O + k] = (float)ob_rng_normal(&g);
            M[i] = (int32_t)t < len[b] ? 1.0f : 0.0f;
            E[i] = M[i] != 0;
        }
    ob_rnn_batch d = {.B = B, .T = T, .X = X, .Y = Y, .M = M, .E = E, .len = len, .version = 1};
    const size_t n = r.n_params;
    float *theta = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        theta[i] = (float)(0.3 * ob_rng_normal(&g));
        v[i] = (float)ob_rng_normal(&g);
    }
    float *grad[3], *gv[3];
    double loss[3];
    for (int t = 0; t < 3; t++) {
        grad[t] = malloc(n * sizeof(float));
        gv[t] = malloc(n * sizeof(float));
        assert_int_equal(ob_par_start(t + 1), 0);
        d.version++; /* no forward pass reused from another team */
        loss[t] = ob_rnn_loss_grad(&r, theta, &d, grad[t]);
        assert_int_equal(ob_rnn_gn_product(&r, theta, &d, v, 0.3, gv[t]), OB_OK);
    }
    ob_par_stop();
    double gmax = 0, vmax = 0;
    for (size_t i = 0; i < n; i++) {
        gmax = fmax(gmax, fabs(grad[0][i]));
        vmax = fmax(vmax, fabs(gv[0][i]));
    }
    assert_true(gmax > 0 && vmax > 0);
    for (int t = 1; t < 3; t++) {
        assert_true(fabs(loss[t] - loss[0]) <= 1e-6 * fabs(loss[0]));
        for (size_t i = 0; i < n; i++) {
            assert_true(fabs((double)grad[t][i] - grad[0][i]) <= 1e-5 * gmax);
            assert_true(fabs((double)gv[t][i] - gv[0][i]) <= 1e-5 * vmax);
        }
    }
    for (int t = 0; t < 3; t++) {
        free(grad[t]);
        free(gv[t]);
    }
    free(theta);
    free(v);
    ob_rnn_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_loop_right_after_start),
        cmocka_unit_test(test_nested_loop_runs_inline),
        cmocka_unit_test(test_team_owns_the_blas_threads),
        cmocka_unit_test(test_denormal_mode_reaches_the_workers),
        cmocka_unit_test(test_split_sgemm),
        cmocka_unit_test(test_autoencoder_on_a_team),
        cmocka_unit_test(test_rnn_on_a_team),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
