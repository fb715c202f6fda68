/* mnist.h -- the real MNIST data set (DATASETS.md section 1).
 *
 * Reads <data_dir>/mnist/{train,t10k}-images-idx3-ubyte (falling back to
 * <mirror_dir>/mnist when data_dir has no train-images file), scales each
 * pixel by 1/255 into float32 [0, 1] and fills `out`: name "mnist", dim 784,
 * 60000 training and 10000 test cases, source OB_DATA_REAL, one allocation
 * for both sets (out->mem). The label files are optional (the autoencoders
 * do not use them); when present they are validated: 60000 / 10000 labels,
 * each 0..9. provenance_json names the files read, their sizes and the
 * preprocessing.
 *
 * A missing file is an OB_EIO error naming its full path and the command
 * that fetches it; a malformed one is OB_EFORMAT (see idx.h). */
#ifndef OB_MNIST_H
#define OB_MNIST_H

#include "dataset.h"

#define OB_MNIST_SIDE 28
#define OB_MNIST_DIM (OB_MNIST_SIDE * OB_MNIST_SIDE)
#define OB_MNIST_N_TRAIN 60000
#define OB_MNIST_N_TEST 10000

int ob_mnist_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err);

#endif
