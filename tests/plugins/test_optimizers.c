/* The optimizer plugins (sgd, cm, nag) against hand-computed trajectories,
 * and their contract: checkpoints, no allocation in step, errors passed on.
 *
 * Problem: f(x) = 0.5 x^T A x with A = diag(1, 10), x0 = (1, 1),
 * lr = 0.05, mu = 0.9 (so grad f(x) = (x1, 10 x2)).
 *
 * Tolerance for the hand-computed trajectories: 1e-6 absolute. The values
 * are O(1) and each step adds a handful of float32 roundings (unit roundoff
 * 2^-24 = 6e-8) to the previous error, so three steps stay well below 1e-6;
 * a wrong formula (e.g. NAG's gradient at theta instead of the look-ahead)
 * is off by 1e-2 or more. Losses are double sums of float points: 1e-6. */
#include "plugin_fixture.h"

static const double A2[4] = {1, 0, 0, 10};
#define LR 0.05
#define MU 0.9
#define TOL 1e-6

typedef struct expect {
    double loss;  /* loss_grad's value, at the point of the gradient */
    double v[2];  /* velocity after the step                         */
    double x[2];  /* parameters after the step                       */
} expect;

/* The three ways a problem can give an optimizer its gradient: loss_grad
 * alone; loss_grad_axpby too (plugin.h), which SGD, CM and NAG then use;
 * loss_grad_axpby answering OB_ENOTSUP, after which they call loss_grad. */
enum { PLAIN, AXPBY, AXPBY_UNSUPPORTED, N_FORMS };
static const char *const form_names[N_FORMS] = {"loss_grad", "loss_grad_axpby",
                                                "loss_grad_axpby unsupported"};

static ob_problem make_problem(quad *q, float *theta, int form) {
    q->axpby_unsupported = form == AXPBY_UNSUPPORTED;
    return form == PLAIN ? quad_problem(q, theta) : quad_problem_axpby(q, theta);
}

/* Each form served one gradient per step through the call it should. */
static void check_calls(const quad *q, int form, int steps) {
    assert_int_equal(q->calls, form == AXPBY ? 0 : steps);
    assert_int_equal(q->axpby_calls, form == PLAIN ? 0 : steps);
}

/* Runs three steps of `name` and compares with the hand values. */
static void check_trajectory_form(const char *name, const expect want[3], int form) {
    fprintf(stderr, "%s through %s\n", name, form_names[form]);
    ob_plugin p;
    fixture_open(name, OB_PLUGIN_OPTIMIZER, &p);
    quad q = {.n = 2, .A = A2};
    float theta[2] = {1, 1};
    ob_problem prob = make_problem(&q, theta, form);
    void *st = fixture_create(&p, &prob);
    const ob_optimizer_ops *ops = p.desc->optimizer;
    assert_int_equal(ops->state_size(st), 2 * sizeof(float));
    for (int t = 0; t < 3; t++) {
        ob_step_info info = {.struct_size = sizeof info, .loss = NAN};
        assert_int_equal(ops->step(st, &prob, (uint64_t)t, LR, MU, &info), OB_OK);
        float v[2];
        assert_int_equal(ops->save_state(st, v, sizeof v), OB_OK);
        char label[64];
        snprintf(label, sizeof label, "%s step %d theta", name, t);
        assert_true(fixture_max_abs_diff(label, theta, want[t].x, 2) < TOL);
        snprintf(label, sizeof label, "%s step %d velocity", name, t);
        assert_true(fixture_max_abs_diff(label, v, want[t].v, 2) < TOL);
        fprintf(stderr, "%s step %d loss %.9g, expected %.9g\n", name, t, info.loss,
                want[t].loss);
        assert_true(fabs(info.loss - want[t].loss) < TOL);
        assert_ptr_equal(ops->report_point(st, &prob, NULL), theta);
    }
    check_calls(&q, form, 3);
    ops->destroy(st);
    ob_plugin_close(&p);
}

static void check_trajectory(const char *name, const expect want[3]) {
    for (int form = 0; form < N_FORMS; form++) check_trajectory_form(name, want, form);
}

/* CM (SPEC 1.1): v' = mu v - lr g(x), x' = x + v'.
 *   t=0: g = (1, 10);          v = (-0.05, -0.5);               x = (0.95, 0.5)
 *   t=1: g = (0.95, 5);        v = (-0.045 - 0.0475, -0.45 - 0.25)
 *                                = (-0.0925, -0.7);             x = (0.8575, -0.2)
 *   t=2: g = (0.8575, -2);     v = (-0.08325 - 0.042875, -0.63 + 0.1)
 *                                = (-0.126125, -0.53);          x = (0.731375, -0.73)
 * Loss at x_t: 0.5 (x1^2 + 10 x2^2) = 5.5, 0.5 (0.9025 + 2.5) = 1.70125,
 *   0.5 (0.73530625 + 0.4) = 0.567653125. */
static void test_cm_three_steps_by_hand(void **state) {
    (void)state;
    const expect want[3] = {
        {5.5, {-0.05, -0.5}, {0.95, 0.5}},
        {1.70125, {-0.0925, -0.7}, {0.8575, -0.2}},
        {0.567653125, {-0.126125, -0.53}, {0.731375, -0.73}},
    };
    check_trajectory("cm", want);
}

/* NAG (SPEC 1.2): y = x + mu v, v' = mu v - lr g(y), x' = x + v'.
 *   t=0: y = (1, 1) (v = 0);   g = (1, 10);   v = (-0.05, -0.5);   x = (0.95, 0.5)
 *   t=1: y = (0.95 - 0.045, 0.5 - 0.45) = (0.905, 0.05);  g = (0.905, 0.5)
 *        v = (-0.045 - 0.04525, -0.45 - 0.025) = (-0.09025, -0.475)
 *        x = (0.85975, 0.025)
 *   t=2: y = (0.85975 - 0.081225, 0.025 - 0.4275) = (0.778525, -0.4025)
 *        g = (0.778525, -4.025)
 *        v = (-0.081225 - 0.03892625, -0.4275 + 0.20125) = (-0.12015125, -0.22625)
 *        x = (0.73959875, -0.20125)
 * Loss at y: 5.5, 0.5 (0.819025 + 0.025) = 0.4220125,
 *   0.5 (0.606101175625 + 1.620062500) = 1.1130818378125. */
static void test_nag_three_steps_by_hand(void **state) {
    (void)state;
    const expect want[3] = {
        {5.5, {-0.05, -0.5}, {0.95, 0.5}},
        {0.4220125, {-0.09025, -0.475}, {0.85975, 0.025}},
        {1.1130818378125, {-0.12015125, -0.22625}, {0.73959875, -0.20125}},
    };
    check_trajectory("nag", want);
}

/* NAG leaves the next look-ahead point from its update pass and reuses it
 * when mu stays the same; that must change no bit. Against the direct form
 * computed here in float32 (x = theta + mu v, g(x), v = mu v - lr g,
 * theta += v), memcmp after every step, with mu changing at steps 3, 6 and
 * 9, and before step 7 the checkpoint of step 4 restored into the same
 * state (parameters and velocity: its look-ahead must be computed again,
 * although mu is the same as at step 6). */
static void test_nag_reused_lookahead_is_bitwise_the_direct_form(void **state) {
    (void)state;
    ob_plugin p;
    fixture_open("nag", OB_PLUGIN_OPTIMIZER, &p);
    const ob_optimizer_ops *ops = p.desc->optimizer;
    static const double A3[9] = {3, 1, 0.5, 1, 2, 0.25, 0.5, 0.25, 1};
    quad q = {.n = 3, .A = A3}, qr = {.n = 3, .A = A3};
    float theta[3] = {1, -2, 0.5}, ref[3] = {1, -2, 0.5}, v[3] = {0, 0, 0};
    float theta4[3], v4[3];
    unsigned char ck4[3 * sizeof(float)];
    ob_problem prob = quad_problem(&q, theta);
    void *st = fixture_create(&p, &prob);
    const double mus[12] = {0.5, 0.5, 0.5, 0.9, 0.9, 0.99, 0.99, 0.99, 0.99, 0.7, 0.7, 0.7};
    const float e = 0.01f;
    for (int t = 0; t < 12; t++) {
        if (t == 7) {
            assert_int_equal(ops->load_state(st, ck4, sizeof ck4), OB_OK);
            memcpy(theta, theta4, sizeof theta);
            memcpy(ref, theta4, sizeof ref);
            memcpy(v, v4, sizeof v);
        }
        ob_step_info info = {.struct_size = sizeof info};
        assert_int_equal(ops->step(st, &prob, (uint64_t)t, (double)e, mus[t], &info), OB_OK);
        const float m = (float)mus[t];
        float x[3], g[3];
        for (int i = 0; i < 3; i++) x[i] = ref[i] + m * v[i];
        quad_loss_grad(&qr, x, g, NULL);
        for (int i = 0; i < 3; i++) {
            v[i] = m * v[i] - e * g[i];
            ref[i] += v[i];
        }
        if (memcmp(theta, ref, sizeof ref) != 0)
            fail_msg("step %d: nag %.9g %.9g %.9g, direct form %.9g %.9g %.9g", t, theta[0], theta[1],
                     theta[2], ref[0], ref[1], ref[2]);
        if (t == 4) {
            assert_int_equal(ops->save_state(st, ck4, sizeof ck4), OB_OK);
            memcpy(theta4, theta, sizeof theta4);
            memcpy(v4, v, sizeof v4);
        }
    }
    ops->destroy(st);
    ob_plugin_close(&p);
}

/* SGD: x' = x - lr g(x), mu ignored: from (1, 1), g = (1, 10), so
 * x' = (0.95, 0.5); loss 5.5. Its checkpoint is empty. */
static void test_sgd_one_step(void **state) {
    (void)state;
    for (int form = 0; form < N_FORMS; form++) {
        ob_plugin p;
        fixture_open("sgd", OB_PLUGIN_OPTIMIZER, &p);
        const ob_optimizer_ops *ops = p.desc->optimizer;
        quad q = {.n = 2, .A = A2};
        float theta[2] = {1, 1};
        ob_problem prob = make_problem(&q, theta, form);
        void *st = fixture_create(&p, &prob);
        ob_step_info info = {.struct_size = sizeof info, .loss = NAN};
        assert_int_equal(ops->step(st, &prob, 0, LR, MU, &info), OB_OK);
        const double want[2] = {0.95, 0.5};
        assert_true(fixture_max_abs_diff(form_names[form], theta, want, 2) < TOL);
        assert_true(fabs(info.loss - 5.5) < TOL);
        check_calls(&q, form, 1);
        assert_int_equal(ops->state_size(st), 0);
        assert_int_equal(ops->save_state(st, NULL, 0), OB_OK);
        assert_int_equal(ops->load_state(st, NULL, 0), OB_OK);
        char one;
        assert_int_equal(ops->load_state(st, &one, 1), OB_EINVAL);
        assert_ptr_equal(ops->report_point(st, &prob, NULL), theta);
        ops->destroy(st);
        ob_plugin_close(&p);
    }
}

/* The folded update (loss_grad_axpby) and the gradient-buffer update are
 * one method: against a problem whose loss_grad_axpby rounds as the update
 * loops do, every optimizer gives the same bits on all three forms, after
 * every one of 12 steps with mu changing at steps 3, 5, 9 (and 0 at step 11,
 * where CM is plain SGD); and a checkpoint taken on one form continues
 * bitwise on another (memcmp of parameters and state, no tolerance). */
static void test_folded_and_plain_updates_agree_bitwise(void **state) {
    (void)state;
    static const double A3[9] = {3, 1, 0.5, 1, 2, 0.25, 0.5, 0.25, 1};
    const double mus[12] = {0.5, 0.5, 0.5, 0.9, 0.9, 0.99, 0.99, 0.99, 0.99, 0.7, 0.7, 0};
    const char *names[] = {"sgd", "cm", "nag"};
    for (size_t k = 0; k < 3; k++) {
        ob_plugin p;
        fixture_open(names[k], OB_PLUGIN_OPTIMIZER, &p);
        const ob_optimizer_ops *ops = p.desc->optimizer;
        quad q[N_FORMS];
        float theta[N_FORMS][3];
        ob_problem prob[N_FORMS];
        void *st[N_FORMS];
        for (int f = 0; f < N_FORMS; f++) {
            q[f] = (quad){.n = 3, .A = A3};
            theta[f][0] = 1, theta[f][1] = -2, theta[f][2] = 0.5;
            prob[f] = make_problem(&q[f], theta[f], f);
            st[f] = fixture_create(&p, &prob[f]);
        }
        const size_t len = ops->state_size(st[0]);
        unsigned char ck[N_FORMS][16], ck6[16];
        float theta6[3];
        assert_true(len <= sizeof ck[0]);
        for (int t = 0; t < 12; t++) {
            for (int f = 0; f < N_FORMS; f++) {
                ob_step_info info = {.struct_size = sizeof info};
                assert_int_equal(ops->step(st[f], &prob[f], (uint64_t)t, 0.01, mus[t], &info),
                                 OB_OK);
                assert_int_equal(ops->save_state(st[f], ck[f], len), OB_OK);
            }
            for (int f = 1; f < N_FORMS; f++)
                if (memcmp(theta[f], theta[0], sizeof theta[0]) != 0 ||
                    memcmp(ck[f], ck[0], len) != 0)
                    fail_msg("%s step %d: %s gives %.9g %.9g %.9g, loss_grad %.9g %.9g %.9g",
                             names[k], t, form_names[f], theta[f][0], theta[f][1], theta[f][2],
                             theta[0][0], theta[0][1], theta[0][2]);
            if (t == 6) {
                memcpy(ck6, ck[AXPBY], len);
                memcpy(theta6, theta[AXPBY], sizeof theta6);
            }
        }
        for (int f = 0; f < N_FORMS; f++) check_calls(&q[f], f, 12);
        /* the checkpoint of step 6 on the folded form, continued plainly */
        quad qc = {.n = 3, .A = A3};
        float tc[3];
        memcpy(tc, theta6, sizeof tc);
        ob_problem pc = make_problem(&qc, tc, PLAIN);
        void *sc = fixture_create(&p, &pc);
        assert_int_equal(ops->load_state(sc, ck6, len), OB_OK);
        for (int t = 7; t < 12; t++) {
            ob_step_info info = {.struct_size = sizeof info};
            assert_int_equal(ops->step(sc, &pc, (uint64_t)t, 0.01, mus[t], &info), OB_OK);
        }
        assert_memory_equal(tc, theta[AXPBY], sizeof tc);
        ops->destroy(sc);
        for (int f = 0; f < N_FORMS; f++) ops->destroy(st[f]);
        ob_plugin_close(&p);
    }
}

/* A checkpoint after 3 steps, loaded into a fresh optimizer with the same
 * parameters, continues bitwise identically (memcmp, no tolerance). A
 * buffer of the wrong length is refused with OB_EINVAL. */
static void check_roundtrip(const char *name) {
    ob_plugin p;
    fixture_open(name, OB_PLUGIN_OPTIMIZER, &p);
    const ob_optimizer_ops *ops = p.desc->optimizer;
    /* a non-diagonal SPD matrix, so coordinates interact */
    static const double A3[9] = {3, 1, 0.5, 1, 2, 0.25, 0.5, 0.25, 1};
    quad q = {.n = 3, .A = A3};
    float theta[3] = {1, -2, 0.5};
    ob_problem prob = quad_problem(&q, theta);
    void *a = fixture_create(&p, &prob);
    ob_step_info info = {.struct_size = sizeof info};
    for (uint64_t t = 0; t < 3; t++) assert_int_equal(ops->step(a, &prob, t, 0.1, 0.9, &info), 0);

    size_t len = ops->state_size(a);
    assert_int_equal(len, 3 * sizeof(float));
    unsigned char buf[3 * sizeof(float)];
    assert_int_equal(ops->save_state(a, buf, len), OB_OK);
    assert_int_equal(ops->save_state(a, buf, len - 1), OB_EINVAL);
    float saved[3];
    memcpy(saved, theta, sizeof saved);

    for (uint64_t t = 3; t < 6; t++) assert_int_equal(ops->step(a, &prob, t, 0.1, 0.9, &info), 0);
    float cont_a[3];
    memcpy(cont_a, theta, sizeof cont_a);

    memcpy(theta, saved, sizeof saved);
    void *b = fixture_create(&p, &prob);
    assert_int_equal(ops->load_state(b, buf, len + 1), OB_EINVAL);
    assert_int_equal(ops->load_state(b, buf, len), OB_OK);
    for (uint64_t t = 3; t < 6; t++) assert_int_equal(ops->step(b, &prob, t, 0.1, 0.9, &info), 0);
    if (memcmp(cont_a, theta, sizeof theta) != 0)
        fail_msg("%s: continuation after load_state differs: %.9g %.9g %.9g vs %.9g %.9g %.9g",
                 name, cont_a[0], cont_a[1], cont_a[2], theta[0], theta[1], theta[2]);
    unsigned char va[sizeof buf], vb[sizeof buf];
    assert_int_equal(ops->save_state(a, va, len), OB_OK);
    assert_int_equal(ops->save_state(b, vb, len), OB_OK);
    assert_memory_equal(va, vb, len);
    ops->destroy(a);
    ops->destroy(b);
    ops->destroy(NULL);
    ob_plugin_close(&p);
}

static void test_checkpoint_roundtrip_cm(void **state) {
    (void)state;
    check_roundtrip("cm");
}

static void test_checkpoint_roundtrip_nag(void **state) {
    (void)state;
    check_roundtrip("nag");
}

/* step() allocates nothing through the host (create does). */
static void test_step_allocates_nothing(void **state) {
    (void)state;
    const char *names[] = {"sgd", "cm", "nag"};
    for (size_t k = 0; k < 3 * N_FORMS; k++) {
        ob_plugin p;
        fixture_open(names[k % 3], OB_PLUGIN_OPTIMIZER, &p);
        quad q = {.n = 2, .A = A2};
        float theta[2] = {1, 1};
        ob_problem prob = make_problem(&q, theta, (int)(k / 3));
        unsigned long before_create = ob_host_alloc_count();
        void *st = fixture_create(&p, &prob);
        assert_true(ob_host_alloc_count() > before_create);
        unsigned long before = ob_host_alloc_count();
        ob_step_info info = {.struct_size = sizeof info};
        for (uint64_t t = 0; t < 10; t++)
            assert_int_equal(p.desc->optimizer->step(st, &prob, t, LR, MU, &info), OB_OK);
        assert_int_equal(ob_host_alloc_count(), before);
        p.desc->optimizer->destroy(st);
        ob_plugin_close(&p);
    }
}

/* A failing loss_grad or loss_grad_axpby (OB_EDIVERGED) is returned as is,
 * and the parameters and the velocity stay untouched. */
static void test_diverged_is_passed_on(void **state) {
    (void)state;
    const char *names[] = {"sgd", "cm", "nag"};
    for (size_t k = 0; k < 3 * N_FORMS; k++) {
        ob_plugin p;
        fixture_open(names[k % 3], OB_PLUGIN_OPTIMIZER, &p);
        const ob_optimizer_ops *ops = p.desc->optimizer;
        quad q = {.n = 2, .A = A2};
        float theta[2] = {1, 1};
        ob_problem prob = make_problem(&q, theta, (int)(k / 3));
        void *st = fixture_create(&p, &prob);
        ob_step_info info = {.struct_size = sizeof info};
        assert_int_equal(ops->step(st, &prob, 0, LR, MU, &info), OB_OK);
        float before[2], v0[2] = {0, 0}, v1[2] = {0, 0};
        memcpy(before, theta, sizeof before);
        size_t len = ops->state_size(st);
        assert_int_equal(ops->save_state(st, v0, len), OB_OK);
        q.diverge = 1;
        assert_int_equal(ops->step(st, &prob, 1, LR, MU, &info), OB_EDIVERGED);
        assert_memory_equal(before, theta, sizeof before);
        assert_int_equal(ops->save_state(st, v1, len), OB_OK);
        assert_memory_equal(v0, v1, sizeof v0);
        ops->destroy(st);
        ob_plugin_close(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cm_three_steps_by_hand),
        cmocka_unit_test(test_nag_three_steps_by_hand),
        cmocka_unit_test(test_nag_reused_lookahead_is_bitwise_the_direct_form),
        cmocka_unit_test(test_sgd_one_step),
        cmocka_unit_test(test_folded_and_plain_updates_agree_bitwise),
        cmocka_unit_test(test_checkpoint_roundtrip_cm),
        cmocka_unit_test(test_checkpoint_roundtrip_nag),
        cmocka_unit_test(test_step_allocates_nothing),
        cmocka_unit_test(test_diverged_is_passed_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
