/* The random stream is part of the contract: pin it. */
#include "testkit.h"

#include <math.h>

#include "rng.h"

/* Known-answer vectors of Philox4x32-10 from the Random123 distribution. */
static void test_philox_known_answers(void **state) {
    (void)state;
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    ob_philox4x32_10(c0, k0, out);
    assert_int_equal(out[0], 0x6627e8d5u);
    assert_int_equal(out[1], 0xe169c58du);
    assert_int_equal(out[2], 0xbc57ac4cu);
    assert_int_equal(out[3], 0x9b00dbd8u);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                   k1[2] = {0xffffffffu, 0xffffffffu};
    ob_philox4x32_10(c1, k1, out);
    assert_int_equal(out[0], 0x408f276du);
    assert_int_equal(out[1], 0x41c83b0eu);
    assert_int_equal(out[2], 0xa20bc7c6u);
    assert_int_equal(out[3], 0x6d5451fdu);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                   k2[2] = {0xa4093822u, 0x299f31d0u};
    ob_philox4x32_10(c2, k2, out);
    assert_int_equal(out[0], 0xd16cfe09u);
    assert_int_equal(out[1], 0x94fdccebu);
    assert_int_equal(out[2], 0x5001e420u);
    assert_int_equal(out[3], 0x24126ea1u);
}

/* Streams of different purposes (or cells) differ; the same seed replays. */
static void test_streams_independent_and_replayable(void **state) {
    (void)state;
    ob_rng a, b, c, d;
    ob_rng_seed(&a, 2013, 42, OB_STREAM_DATA);
    ob_rng_seed(&b, 2013, 42, OB_STREAM_INIT);
    ob_rng_seed(&c, 2013, 43, OB_STREAM_DATA);
    ob_rng_seed(&d, 2013, 42, OB_STREAM_DATA);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t x = ob_rng_u32(&a), y = ob_rng_u32(&b), z = ob_rng_u32(&c), w = ob_rng_u32(&d);
        same_ab += x == y;
        same_ac += x == z;
        assert_int_equal(x, w);
    }
    assert_true(same_ab < 2);
    assert_true(same_ac < 2);
}

/* Moments of the derived draws over 200k samples: the tolerances are about
 * 5 standard errors (mean of U: sd 0.289/sqrt(n) = 6.5e-4). */
static void test_derived_distributions(void **state) {
    (void)state;
    ob_rng r;
    ob_rng_seed(&r, 1, 2, OB_STREAM_OPT);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    unsigned long counts[7] = {0};
    for (int i = 0; i < n; i++) {
        double u = ob_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        su += u;
        double z = ob_rng_normal(&r);
        sn += z;
        sn2 += z * z;
        counts[ob_rng_below(&r, 7)]++;
    }
    assert_true(fabs(su / n - 0.5) < 3.3e-3);
    assert_true(fabs(sn / n) < 1.2e-2);
    assert_true(fabs(sn2 / n - 1.0) < 1.6e-2);
    for (int k = 0; k < 7; k++) /* expected 28571, sd ~157 */
        assert_true(fabs((double)counts[k] - n / 7.0) < 800);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_streams_independent_and_replayable),
        cmocka_unit_test(test_derived_distributions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
