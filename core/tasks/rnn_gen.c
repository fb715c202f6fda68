#include "tasks/rnn_gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static size_t f(const ob_rnn_gen *g, size_t x) { return x * g->T / 100; }

/* [a, b) and [a, b] */
static size_t randint(ob_rng *r, size_t a, size_t b) { return a + (size_t)ob_rng_below(r, b - a); }
static size_t randint_incl(ob_rng *r, size_t a, size_t b) { return randint(r, a, b + 1); }

size_t ob_rnn_gen_min_T(const ob_rnn_gen *g) {
    switch (g->kind) {
    case OB_GEN_MEM: return 2 * g->n + 1;
    case OB_GEN_PERM: return 2;
    default: return 20; /* f(10) >= 2, so I has a range; f(55) > f(50) */
    }
}

int ob_rnn_gen_setup(ob_rnn_gen *g, ob_error *err) {
    if (g->kind == OB_GEN_MEM && (g->n < 1 || g->c < 2 || g->n > 1000 || g->c > 1000))
        return ob_fail(err, OB_EINVAL, "memorization needs n >= 1 positions and c >= 2 symbols");
    if (g->center_targets && g->kind != OB_GEN_ADD && g->kind != OB_GEN_MUL)
        return ob_fail(err, OB_EINVAL, "only the linear-output tasks (add, mul) center targets");
    if (g->center_inputs && g->kind != OB_GEN_ADD && g->kind != OB_GEN_MUL && g->kind != OB_GEN_XOR)
        return ob_fail(err, OB_EINVAL, "only the value-channel tasks (add, mul, xor) center inputs");
    size_t lo = ob_rnn_gen_min_T(g);
    if (g->T < lo || g->T > 100000)
        return ob_fail(err, OB_EINVAL, "T = %zu is out of range for this task: use %zu..100000",
                       g->T, lo);
    switch (g->kind) {
    case OB_GEN_ADD:
    case OB_GEN_MUL:
        g->NI = 2, g->O = 1, g->out = OB_RNN_LINEAR, g->max_T = f(g, 110);
        break;
    case OB_GEN_XOR:
        g->NI = 2, g->O = 1, g->out = OB_RNN_LOGISTIC, g->max_T = f(g, 55);
        break;
    case OB_GEN_MEM:
        g->NI = g->c + 2, g->O = g->c, g->out = OB_RNN_SOFTMAX, g->max_T = g->T;
        break;
    case OB_GEN_TEMPORAL2:
    case OB_GEN_TEMPORAL3:
        g->NI = 8, g->O = g->kind == OB_GEN_TEMPORAL2 ? 4 : 8, g->out = OB_RNN_SOFTMAX,
        g->max_T = f(g, 110);
        break;
    case OB_GEN_PERM:
        g->NI = 100, g->O = 100, g->out = OB_RNN_SOFTMAX, g->max_T = f(g, 100);
        break;
    }
    return OB_OK;
}

/* The population mean of the generated target, before centering. */
static double raw_mean(const ob_rnn_gen *g) {
    if (g->kind == OB_GEN_ADD) return 0.5;  /* E[(A+B)/2]           */
    if (g->kind == OB_GEN_MUL) return 0.25; /* E[A] E[B]            */
    if (g->kind == OB_GEN_XOR) return 0.5;  /* P(A xor B = 1)       */
    return NAN;
}

double ob_rnn_gen_mean_target(const ob_rnn_gen *g) {
    return g->center_targets ? 0.0 : raw_mean(g);
}

void ob_rnn_gen_hint(const ob_rnn_gen *g, float *hint) {
    switch (g->kind) {
    case OB_GEN_ADD:
    case OB_GEN_MUL: hint[0] = (float)ob_rnn_gen_mean_target(g); break;
    case OB_GEN_XOR: hint[0] = 0.0f; break; /* logit(1/2) */
    case OB_GEN_PERM: {
        /* scored steps: L-1 next-symbol targets uniform over 2..99, and the
         * last target, 0 or 1 */
        double L = (double)g->max_T;
        for (size_t k = 0; k < g->O; k++)
            hint[k] = (float)log(k < 2 ? 0.5 / L : (L - 1) / L / 98.0);
        break;
    }
    default: /* uniform classes */
        for (size_t k = 0; k < g->O; k++) hint[k] = (float)log(1.0 / (double)g->O);
    }
}

int ob_rnn_gen_alloc(const ob_rnn_gen *g, size_t max_B, ob_rnn_batch *bat, void **mem,
                     ob_error *err) {
    memset(bat, 0, sizeof *bat);
    const size_t TB = g->max_T * max_B, soft = g->out == OB_RNN_SOFTMAX;
    size_t bytes[6] = {TB * g->NI * sizeof(float), soft ? 0 : TB * g->O * sizeof(float),
                       TB * sizeof(float), soft ? TB * sizeof(int32_t) : 0, TB,
                       max_B * sizeof(int32_t)};
    size_t total = 0;
    for (int k = 0; k < 6; k++) total += (bytes[k] + 63) & ~(size_t)63;
    char *p = aligned_alloc(64, total);
    *mem = p;
    if (!p)
        return ob_fail(err, OB_ENOMEM, "rnn task: cannot allocate %zu MiB of sequence buffers",
                       total >> 20);
    memset(p, 0, total);
    void *views[6];
    for (int k = 0; k < 6; k++) {
        views[k] = bytes[k] ? p : NULL;
        p += (bytes[k] + 63) & ~(size_t)63;
    }
    bat->X = views[0];
    bat->Y = views[1];
    bat->M = views[2];
    bat->C = views[3];
    bat->E = views[4];
    bat->len = views[5];
    bat->B = max_B;
    bat->T = 1;
    return OB_OK;
}

/* Writers for row r of a batch of B rows (time-major, stride B). */
typedef struct rowref {
    const ob_rnn_gen *g;
    ob_rnn_batch *d;
    size_t B, r;
} rowref;

static float *xin(const rowref *w, size_t t) { return w->d->X + (t * w->B + w->r) * w->g->NI; }
static void onehot(const rowref *w, size_t t, size_t sym) {
    float *x = xin(w, t);
    memset(x, 0, w->g->NI * sizeof(float));
    x[sym] = 1.0f;
}
static void score(const rowref *w, size_t t, float weight, int counts) {
    w->d->M[t * w->B + w->r] = weight;
    w->d->E[t * w->B + w->r] = (uint8_t)counts;
}

/* add, mul, xor: value channel 0, marker channel 1 */
static size_t gen_two_channel(const ob_rnn_gen *g, ob_rng *rng, const rowref *w) {
    const int is_xor = g->kind == OB_GEN_XOR;
    const size_t first = f(g, 1) > 1 ? f(g, 1) : 1;
    const size_t Tl = is_xor ? randint(rng, f(g, 50), f(g, 55)) : randint(rng, f(g, 100), f(g, 110));
    const size_t I1 = randint(rng, first, f(g, 10));
    const size_t J = is_xor ? randint(rng, f(g, 15), f(g, 25)) : randint(rng, f(g, 10), f(g, 50));
    const float shift = g->center_inputs ? 0.5f : 0.0f;
    double A = 0, Bv = 0;
    for (size_t t = 0; t <= Tl; t++) {
        double v = is_xor ? (double)ob_rng_below(rng, 2) : ob_rng_uniform(rng);
        if (t == I1) A = v;
        if (t == J) Bv = v;
        float *x = xin(w, t);
        x[0] = (float)v - shift;
        x[1] = t == 0 || t == Tl - 3 ? -1.0f : (t == I1 || t == J ? 1.0f : 0.0f);
    }
    double y = g->kind == OB_GEN_ADD ? (A + Bv) / 2 : g->kind == OB_GEN_MUL ? A * Bv
                                                                            : (double)((int)A ^ (int)Bv);
    if (g->center_targets) y -= raw_mean(g);
    w->d->Y[Tl * w->B + w->r] = (float)y;
    score(w, Tl, 1.0f, 1);
    return Tl + 1;
}

static size_t gen_mem(const ob_rnn_gen *g, ob_rng *rng, const rowref *w) {
    const size_t L = g->T, n = g->n, go = g->c, blank = g->c + 1;
    const float weight = g->per_step ? 1.0f / (float)n : 1.0f;
    for (size_t k = 0; k < n; k++) {
        size_t s = (size_t)ob_rng_below(rng, g->c);
        onehot(w, k, s);
        w->d->C[(L - n + k) * w->B + w->r] = (int32_t)s;
    }
    for (size_t t = n; t < L; t++) onehot(w, t, t == L - n - 1 ? go : blank);
    for (size_t t = L - n; t < L; t++) score(w, t, weight, 1);
    return L;
}

static size_t gen_temporal(const ob_rnn_gen *g, ob_rng *rng, const rowref *w, size_t bal) {
    const int three = g->kind == OB_GEN_TEMPORAL3;
    const size_t first = f(g, 1) > 1 ? f(g, 1) : 1;
    const size_t Tl = randint(rng, f(g, 100), f(g, 110));
    const size_t I1 = randint_incl(rng, first, f(g, 10));
    const size_t J = three ? randint_incl(rng, f(g, 30), f(g, 40)) : randint_incl(rng, f(g, 40), f(g, 50));
    const size_t K = three ? randint_incl(rng, f(g, 50), f(g, 60)) : 0;
    for (size_t t = 0; t <= Tl; t++) onehot(w, t, (size_t)ob_rng_below(rng, 4));
    const size_t A = 4 + bal % 2, Bs = 4 + (bal / 2) % 2, Cs = 4 + (bal / 4) % 2;
    onehot(w, 0, 7);
    onehot(w, three ? Tl : Tl - 1, 6);
    onehot(w, I1, A);
    onehot(w, J, Bs);
    if (three) onehot(w, K, Cs);
    size_t cls = three ? 4 * (Cs - 4) + 2 * (Bs - 4) + (A - 4) : 2 * (A - 4) + (Bs - 4);
    w->d->C[Tl * w->B + w->r] = (int32_t)cls;
    score(w, Tl, 1.0f, 1);
    return Tl + 1;
}

static size_t gen_perm(const ob_rnn_gen *g, ob_rng *rng, const rowref *w, size_t bal) {
    const size_t L = g->max_T, a = bal % 2;
    const float weight = g->per_step ? 1.0f / (float)L : 1.0f;
    onehot(w, 0, a);
    for (size_t t = 1; t < L; t++) {
        size_t s = 2 + (size_t)ob_rng_below(rng, 98);
        onehot(w, t, s);
        w->d->C[(t - 1) * w->B + w->r] = (int32_t)s;
    }
    w->d->C[(L - 1) * w->B + w->r] = (int32_t)a;
    for (size_t t = 0; t < L; t++) score(w, t, weight, t == L - 1);
    return L;
}

void ob_rnn_gen_batch(const ob_rnn_gen *g, ob_rng *rng, size_t B, size_t bal0, size_t bal_mod,
                      uint64_t version, ob_rnn_batch *d) {
    const size_t TB = g->max_T * B;
    memset(d->X, 0, TB * g->NI * sizeof(float));
    if (d->Y) memset(d->Y, 0, TB * g->O * sizeof(float));
    if (d->C) memset(d->C, 0, TB * sizeof(int32_t));
    memset(d->M, 0, TB * sizeof(float));
    memset(d->E, 0, TB);
    size_t T = 1;
    for (size_t r = 0; r < B; r++) {
        const rowref w = {g, d, B, r};
        const size_t bal = bal_mod ? (bal0 + r) % bal_mod : bal0 + r;
        size_t len;
        switch (g->kind) {
        case OB_GEN_MEM: len = gen_mem(g, rng, &w); break;
        case OB_GEN_TEMPORAL2:
        case OB_GEN_TEMPORAL3: len = gen_temporal(g, rng, &w, bal); break;
        case OB_GEN_PERM: len = gen_perm(g, rng, &w, bal); break;
        default: len = gen_two_channel(g, rng, &w); break;
        }
        d->len[r] = (int32_t)len;
        if (len > T) T = len;
    }
    d->B = B;
    d->T = T;
    d->version = version;
}

uint64_t ob_rnn_gen_hash_row(const ob_rnn_gen *g, const ob_rnn_batch *d, size_t r, uint64_t h) {
    const size_t B = d->B, len = (size_t)d->len[r];
    h = ob_hash64(&d->len[r], sizeof d->len[r], h);
    for (size_t t = 0; t < len; t++) {
        const size_t i = t * B + r;
        h = ob_hash64(d->X + i * g->NI, g->NI * sizeof(float), h);
        if (d->Y) h = ob_hash64(d->Y + i * g->O, g->O * sizeof(float), h);
        if (d->C) h = ob_hash64(&d->C[i], sizeof d->C[i], h);
        h = ob_hash64(&d->M[i], sizeof d->M[i], h);
        h = ob_hash64(&d->E[i], 1, h);
    }
    return h;
}
