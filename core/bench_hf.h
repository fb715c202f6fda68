/* bench_hf.h -- what a Hessian-free iteration costs on the autoencoders.
 *
 * HF's time goes into CG steps, each one Gauss-Newton product G v on the
 * curvature chunk (HESSIAN_FREE.md 2.2: CURVES 5,000, MNIST 7,500, FACES
 * 5,175 cases). These functions time one G v against one gradient
 * evaluation on the same cases, so an HF budget in CG steps can be compared
 * with first-order budgets in gradient evaluations. */
#ifndef OB_BENCH_HF_H
#define OB_BENCH_HF_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "models/autoencoder.h"

typedef struct ob_bench_hf_row {
    size_t n_params, cases;
    double grad_s; /* one loss + gradient on `cases` rows (best of reps)  */
    double gv_s;   /* one G v on the same rows (best of reps)              */
    double ratio;  /* gv_s / grad_s                                        */
} ob_bench_hf_row;

/* Times ob_ae_loss_grad and ob_ae_gn_product on `cases` synthetic rows
 * (uniform in [0, 1]; the cost does not depend on the values) of the
 * network `sizes`, processed `sub_batch` rows at a time as the tasks do,
 * after one warm-up call, best of `reps`. */
int ob_bench_hf_measure(const size_t *sizes, size_t n_sizes, ob_ae_loss loss, size_t cases,
                        size_t sub_batch, int reps, ob_bench_hf_row *out, ob_error *err);

/* The paper's three autoencoders on their HF curvature chunks (sub-batches
 * of 1,000 rows, as the tasks' buffers hold): prints a Markdown table to
 * `out`. Takes about a minute on one core (most of it FACES). */
int ob_bench_hf(FILE *out, ob_error *err);

#endif
