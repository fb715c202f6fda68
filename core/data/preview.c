#include "preview.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "datafile.h"

#define GAP_GREY 128

typedef struct png_sink {
    ob_atomic_file f;
    ob_error *err;
    int failed;
} png_sink;

static void sink_write(png_structp png, png_bytep data, png_size_t len) {
    png_sink *s = png_get_io_ptr(png);
    if (!s->failed && ob_atomic_write(&s->f, data, len, s->err) != OB_OK) s->failed = 1;
}

static void sink_flush(png_structp png) { (void)png; }

int ob_png_write_gray(const char *path, const uint8_t *pix, int w, int h, ob_error *err) {
    if (w <= 0 || h <= 0) return ob_fail(err, OB_EINVAL, "PNG %s: empty image", path);
    png_sink sink;
    sink.err = err;
    sink.failed = 0;
    int rc = ob_atomic_open(&sink.f, path, err);
    if (rc) return rc;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        ob_atomic_abort(&sink.f);
        return ob_fail(err, OB_ENOMEM, "PNG %s: out of memory", path);
    }
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(uintptr_t)(pix + (size_t)y * w);
    /* nothing below allocates between setjmp and the last libpng call, and
     * the locals used after a longjmp are not modified after setjmp */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        ob_atomic_abort(&sink.f);
        return ob_fail(err, OB_EIO, "PNG %s: libpng failed while encoding", path);
    }
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (sink.failed) {
        ob_atomic_abort(&sink.f);
        return OB_EIO;
    }
    return ob_atomic_commit(&sink.f, err);
}

int ob_data_preview(const ob_dataset *d, const char *path, int n, int zoom, ob_error *err) {
    size_t side = (size_t)llround(sqrt((double)d->dim));
    if (side * side != d->dim || side == 0)
        return ob_fail(err, OB_EINVAL, "%s: %zu values per case is not a square image", d->name,
                       d->dim);
    if (n < 1 || n > 4096 || zoom < 1 || zoom > 16)
        return ob_fail(err, OB_EINVAL, "preview: --n must be 1..4096 and --zoom 1..16");
    if ((size_t)n > d->n_train) n = (int)d->n_train;
    if (n < 1) return ob_fail(err, OB_EINVAL, "%s: no training images", d->name);
    const int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
    const int tile = (int)side * zoom;
    const int w = cols * tile + (cols + 1), h = rows * tile + (rows + 1);
    uint8_t *pix = malloc((size_t)w * h);
    if (!pix) return ob_fail(err, OB_ENOMEM, "preview: out of memory");
    memset(pix, GAP_GREY, (size_t)w * h);

    int unit = 1;
    for (int k = 0; k < n && unit; k++) {
        const float *img = d->train + ((size_t)k * d->n_train / (size_t)n) * d->dim;
        for (size_t i = 0; i < d->dim; i++)
            if (!(img[i] >= 0.0f && img[i] <= 1.0f)) {
                unit = 0;
                break;
            }
    }
    const int transpose = d->source == OB_DATA_ORIGINAL;
    for (int k = 0; k < n; k++) {
        const float *img = d->train + ((size_t)k * d->n_train / (size_t)n) * d->dim;
        float lo = 0, hi = 1;
        if (!unit) {
            lo = hi = img[0];
            for (size_t i = 1; i < d->dim; i++) {
                lo = img[i] < lo ? img[i] : lo;
                hi = img[i] > hi ? img[i] : hi;
            }
            if (!(hi > lo)) hi = lo + 1;
        }
        int x0 = 1 + (k % cols) * (tile + 1), y0 = 1 + (k / cols) * (tile + 1);
        for (int y = 0; y < tile; y++)
            for (int x = 0; x < tile; x++) {
                size_t r = (size_t)(y / zoom), c = (size_t)(x / zoom);
                float v = transpose ? img[c * side + r] : img[r * side + c];
                double g = 255.0 * (v - lo) / (hi - lo);
                g = g < 0 ? 0 : g > 255 ? 255 : g;
                pix[(size_t)(y0 + y) * w + (size_t)(x0 + x)] = (uint8_t)lround(g);
            }
    }
    int rc = ob_png_write_gray(path, pix, w, h, err);
    free(pix);
    return rc;
}
