/* libFuzzer target: the IDX reader on arbitrary bytes (through a memfd, as
 * the reader takes a path). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("idx", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const uint32_t magics[] = {OB_IDX_MAGIC_IMAGES, OB_IDX_MAGIC_LABELS};
    for (int k = 0; k < 2; k++) {
        ob_idx idx;
        ob_error err;
        if (ob_idx_read(path, magics[k], k == 0 ? 3 : 1, &idx, &err) == OB_OK) ob_idx_free(&idx);
    }
    close(fd);
    return 0;
}
