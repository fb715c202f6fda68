/* bad_abi_plugin.c -- deliberately broken plugins for test_plugin_abi. One
 * source, built three ways by tests/plugins/CMakeLists.txt:
 *   OB_FIXTURE_BAD_ABI    abi_version = OB_ABI_VERSION + 1
 *   OB_FIXTURE_BAD_SIZE   struct_size = sizeof(ob_plugin_desc) + 8
 *   OB_FIXTURE_NO_ENTRY   exports no ob_plugin_entry symbol
 * Otherwise it is a valid schedule plugin, so the host refuses it for the
 * one fault alone. */
#include "optbench/plugin.h"

static void fixture_at(const double *params, uint64_t t, uint64_t T, double base_lr,
                       double *lr_t, double *mu_t) {
    (void)params;
    (void)t;
    (void)T;
    *lr_t = base_lr;
    *mu_t = 0.0;
}

static const ob_schedule_ops ops = {
    .struct_size = sizeof(ob_schedule_ops),
    .at = fixture_at,
};

#if defined(OB_FIXTURE_BAD_ABI)
#define FIXTURE_ABI (OB_ABI_VERSION + 1)
#else
#define FIXTURE_ABI OB_ABI_VERSION
#endif
#if defined(OB_FIXTURE_BAD_SIZE)
#define FIXTURE_SIZE (sizeof(ob_plugin_desc) + 8)
#else
#define FIXTURE_SIZE sizeof(ob_plugin_desc)
#endif

static const ob_plugin_desc desc = {
    .abi_version = FIXTURE_ABI,
    .struct_size = FIXTURE_SIZE,
    .kind = OB_PLUGIN_SCHEDULE,
    .name = "fixture",
    .doc = "a test fixture",
    .version = "0",
    .schedule = &ops,
};

#if defined(OB_FIXTURE_NO_ENTRY)
/* A misspelt entry point: the host must not find it. */
OB_EXPORT const ob_plugin_desc *ob_plugin_entry_v2(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry_v2(void) { return &desc; }
#else
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
#endif
