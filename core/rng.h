/* rng.h -- Philox4x32-10 (Salmon et al., SC'11), the one random source.
 *
 * The stream is part of optbench's contract: a given (seed, cell, purpose)
 * gives the same numbers on every machine and build, and tests pin them.
 *
 *   key     = two 32-bit words derived from (suite seed, cell key, purpose)
 *   counter = 128 bits, incremented once per block of four outputs
 *
 * Derived draws:
 *   uniform = (u32_a >> 5) * 2^26 + (u32_b >> 6), times 2^-53  -> [0, 1)
 *   normal  = Box-Muller on two uniforms, cosine branch only (one draw per
 *             normal, so the stream position is a pure function of count)
 *   below n = Lemire's multiply-shift with rejection (unbiased)            */
#ifndef OB_RNG_H
#define OB_RNG_H

#include <stdint.h>

#include "optbench/plugin.h"

/* Independent purposes within a cell. */
typedef enum {
    OB_STREAM_DATA = 1,  /* mini-batch order, fresh sequences             */
    OB_STREAM_INIT = 2,  /* parameter initialization                      */
    OB_STREAM_OPT = 3,   /* the optimizer's own randomness                */
    OB_STREAM_EVAL = 4,  /* evaluation subsets, held-out sets             */
    OB_STREAM_TASK = 5   /* fixed data a task generates (held-out sets)   */
} ob_stream;

void ob_rng_seed(ob_rng *r, uint64_t seed, uint64_t cell_hash, ob_stream purpose);
uint32_t ob_rng_u32(ob_rng *r);
double ob_rng_uniform(ob_rng *r);
double ob_rng_normal(ob_rng *r);
uint64_t ob_rng_below(ob_rng *r, uint64_t n);

/* The raw block function, exposed for the known-answer test. */
void ob_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* 64-bit FNV-1a over bytes, for cell keys and stream derivation. */
uint64_t ob_hash64(const void *data, unsigned long len, uint64_t h);
#define OB_HASH64_INIT 0xcbf29ce484222325ull

#endif
