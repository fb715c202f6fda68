/* The host refuses broken plugins with a message that says why, and loads
 * every plugin this build ships. The broken ones are built by
 * tests/plugins/CMakeLists.txt into <build>/tests/fixtures/. */
#include "plugin_fixture.h"

static void fixture_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/tests/fixtures/%s.so", ob_test_build_dir(), name);
}

/* Asserts that `msg` contains `want`, printing both otherwise. */
static void expect_in(const char *msg, const char *want) {
    if (!strstr(msg, want)) fail_msg("message lacks \"%s\": %s", want, msg);
}

/* abi_version = OB_ABI_VERSION + 1: OB_EABI, naming both versions. */
static void test_wrong_abi_version_refused(void **state) {
    (void)state;
    char path[4096], want[128];
    fixture_path(path, sizeof path, "bad_abi");
    ob_plugin p;
    ob_error err = {0};
    assert_int_equal(ob_plugin_open(path, &p, &err), OB_EABI);
    fprintf(stderr, "%s\n", err.msg);
    assert_null(p.handle);
    expect_in(err.msg, "bad_abi.so");
    snprintf(want, sizeof want, "built for ABI version %u", OB_ABI_VERSION + 1);
    expect_in(err.msg, want);
    snprintf(want, sizeof want, "has ABI version %u", OB_ABI_VERSION);
    expect_in(err.msg, want);
}

/* struct_size = sizeof(ob_plugin_desc) + 8: OB_EABI, naming both sizes. */
static void test_wrong_struct_size_refused(void **state) {
    (void)state;
    char path[4096], want[128];
    fixture_path(path, sizeof path, "bad_size");
    ob_plugin p;
    ob_error err = {0};
    assert_int_equal(ob_plugin_open(path, &p, &err), OB_EABI);
    fprintf(stderr, "%s\n", err.msg);
    expect_in(err.msg, "bad_size.so");
    snprintf(want, sizeof want, "descriptor size %zu", sizeof(ob_plugin_desc) + 8);
    expect_in(err.msg, want);
    snprintf(want, sizeof want, "descriptor size %zu", sizeof(ob_plugin_desc));
    expect_in(err.msg, want);
}

/* No entry symbol: refused with its own message (not an ABI mismatch). */
static void test_missing_entry_refused(void **state) {
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "no_entry");
    ob_plugin p;
    ob_error err = {0};
    assert_int_equal(ob_plugin_open(path, &p, &err), OB_EFORMAT);
    fprintf(stderr, "%s\n", err.msg);
    expect_in(err.msg, "no_entry.so");
    expect_in(err.msg, "exports no '" OB_PLUGIN_ENTRY_SYMBOL "' symbol");
}

/* Every shipped plugin loads from <build>/plugins with its kind. */
static void test_shipped_plugins_load(void **state) {
    (void)state;
    static const struct {
        const char *name;
        ob_plugin_kind kind;
    } want[] = {
        {"sgd", OB_PLUGIN_OPTIMIZER},      {"cm", OB_PLUGIN_OPTIMIZER},
        {"nag", OB_PLUGIN_OPTIMIZER},      {"constant", OB_PLUGIN_SCHEDULE},
        {"sutskever2013", OB_PLUGIN_SCHEDULE}, {"sparse", OB_PLUGIN_INITIALIZER},
        {"gaussian", OB_PLUGIN_INITIALIZER},
    };
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/plugins", ob_test_build_dir());
    ob_plugin_registry reg = {0};
    ob_error err = {0};
    if (ob_registry_add_dir(&reg, dir, 1, &err) != OB_OK) fail_msg("%s", err.msg);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!ob_registry_find(&reg, want[i].kind, want[i].name, NULL, &err))
            fail_msg("%s", err.msg);
    ob_registry_free(&reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_abi_version_refused),
        cmocka_unit_test(test_wrong_struct_size_refused),
        cmocka_unit_test(test_missing_entry_refused),
        cmocka_unit_test(test_shipped_plugins_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
