/* libFuzzer target: the result-file reader (parse + schema validation) and
 * what compare does with two accepted documents. */
#include <jansson.h>
#include <stdint.h>

#include "results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *r = NULL;
    ob_error err;
    if (ob_result_parse((const char *)data, size, "fuzz", &r, &err) == OB_OK) json_decref(r);
    return 0;
}
