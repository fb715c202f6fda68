/* fastmath.h -- exp, log, tanh and the logistic function in float, written so
 * that a loop over an array of them vectorizes (no calls, no branches the
 * compiler cannot turn into selects; the models compile with
 * -fno-trapping-math so that both sides of a select may be evaluated).
 * Plain IEEE float arithmetic, no FMA contraction (-std=c11): the same
 * bits on every x86-64 machine.
 *
 * Error bounds, measured against double-precision libm on a 1e-5 grid
 * (tests/test_fastmath.c asserts them):
 *   ob_exp_neg       relative error < 1.1e-7 on [-87, 0]
 *   ob_log_fast      at most 2 ulp on [1e-7, 1]
 *   ob_tanh_fast     at most 3.75 ulp on [-12, 12]; exactly +-1 beyond
 *   ob_logistic_fast at most 2.5 ulp on [-87, 40] (see its comment)
 * NaN in, NaN out (so divergence still shows as a non-finite loss). */
#ifndef OB_FASTMATH_H
#define OB_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* On x86-64 with GCC, the loops over these functions are compiled three
 * times (AVX-512, AVX2, baseline SSE2) and the loader picks the widest the
 * CPU has (function multiversioning). The lanes compute exactly what the
 * scalar code computes: no FMA contraction (-std=c11 turns it off, and the
 * model sources add -ffp-contract=off), no reassociation, so every clone
 * returns the same bits. Clang contracts differently and is left out. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define OB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define OB_VECTOR_CLONES
#endif

/* exp(x) for x <= 0 (x below -87 is taken as -87): x = n ln 2 + r with
 * |r| <= ln 2 / 2, e^r by its degree-7 Taylor polynomial (truncation
 * r^8/8! < 6e-9), times 2^n built in the exponent bits. */
static inline float ob_exp_neg(float x) {
    const float xc = x > -87.0f ? x : (x == x ? -87.0f : x);
    const float fn = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    const float r = (xc - fn * 0.693145752f) - fn * 1.42860677e-6f;  /* ln 2 = hi + lo  */
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float fc = fn > -126.0f ? fn : -126.0f; /* NaN: any exponent, p is NaN */
    const int32_t bits = ((int32_t)fc + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* log(x) for positive normal x (the cross-entropy loss calls it on
 * probabilities clamped to [1e-7, 1 - 1e-7]): x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with s = (m - 1)/(m + 1),
 * |s| <= 0.1716, by its odd series to s^9 (truncation 2 s^11/11 < 7e-10),
 * plus e ln 2 in two parts. m - 1 is exact, so x near 1 keeps its relative
 * accuracy. NaN in, NaN out; zero, negative, denormal and infinite x are
 * outside its range. */
static inline float ob_log_fast(float x) {
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    const int32_t mbits = (bits & 0x7fffff) | 0x3f800000; /* m in [1, 2) */
    float m;
    memcpy(&m, &mbits, sizeof m);
    const int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    e += big;
    const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    const float p = s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9))));
    const float fe = (float)e;
    const float r = fe * 0.693145752f + (fe * 1.42860677e-6f + (2.0f * s + 2.0f * s * p));
    return x == x ? r : x;
}

/* tanh: an odd Taylor polynomial below |z| = 1/8 (truncation < 2e-10),
 * above it (1 - e)/(1 + e) with e = exp(-2|z|) <= 0.78 (at most two bits
 * lost to cancellation). */
static inline float ob_tanh_fast(float z) {
    const float a = fabsf(z), z2 = z * z;
    const float small = z + z * z2 * (-1.0f / 3 + z2 * (2.0f / 15 + z2 * (-17.0f / 315)));
    const float e = ob_exp_neg(-2.0f * a), t = (1.0f - e) / (1.0f + e);
    return a < 0.125f ? small : copysignf(t, z);
}

/* 1 / (1 + exp(-z)): with e = exp(-|z|), 1/(1 + e) for z >= 0 and
 * e/(1 + e) for z < 0 (no cancellation on either side). Below z = -87 it
 * returns about exp(-87) (1.6e-38) instead of the smaller true value. */
static inline float ob_logistic_fast(float z) {
    const float e = ob_exp_neg(-fabsf(z)), d = 1.0f + e;
    return z >= 0 ? 1.0f / d : e / d;
}

#endif
