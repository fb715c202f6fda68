/* libFuzzer target: the MAT-file reader on arbitrary bytes. */
#include <stdint.h>

#include "data/matfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *names[] = {"faces", "bdata", "x"};
    const ob_mat_type types[] = {OB_MAT_U8, OB_MAT_F64, OB_MAT_F32};
    for (int k = 0; k < 3; k++) {
        ob_mat_var v;
        ob_error err;
        if (ob_mat_read_mem(data, size, "fuzz", names[k], types[k], &v, &err) == OB_OK)
            ob_mat_var_free(&v);
    }
    return 0;
}
