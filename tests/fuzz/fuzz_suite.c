/* libFuzzer target: the suite loader (Lua sandbox + optbench library +
 * conversion to cells) on arbitrary text, with a small instruction budget. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lua_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("OPTBENCH_LUA_MAX_INSTRUCTIONS", "200000", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("suite", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ob_suite s;
    ob_error err;
    if (ob_suite_load(path, NULL, &s, &err) == OB_OK) ob_suite_free(&s);
    close(fd);
    return 0;
}
