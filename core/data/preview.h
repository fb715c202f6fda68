/* preview.h -- a PNG contact sheet of a data set's training images.
 *
 * PNG encoding uses libpng (a well-kept library: CRCs, filtering and zlib
 * framing are its business, not ours); the file is written atomically. */
#ifndef OB_PREVIEW_H
#define OB_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

/* Writes an 8-bit greyscale PNG of w x h pixels (row-major). */
int ob_png_write_gray(const char *path, const uint8_t *pix, int w, int h, ob_error *err);

/* A grid of n training images evenly spaced through the training set
 * (ceil(sqrt(n)) per row, 1-pixel grey gaps, each pixel drawn zoom x zoom).
 * Images must be square (dim = side^2). Values are shown as they are when
 * the images lie in [0, 1], otherwise each image is mapped from its own
 * min..max to black..white (standardized FACES). Original-file data sets
 * (source OB_DATA_ORIGINAL) store images column-major, as MATLAB does, and
 * are transposed for display. */
int ob_data_preview(const ob_dataset *d, const char *path, int n, int zoom, ob_error *err);

#endif
