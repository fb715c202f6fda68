/* rnn_gen.h -- the sequence generators of the RNN tasks (RNN_TASKS.md), as
 * pure functions of a random stream, written into ob_rnn_batch buffers.
 *
 * Parameterization of Sutskever's HF-RNN release: f(x) = floor(x T / 100);
 * randint(a, b) is uniform in [a, b) (b excluded) unless marked inclusive.
 * Time steps are 0-based; a sequence with "length" T_len runs over steps
 * 0..T_len (T_len + 1 steps) and is scored at step T_len (pitfall 4).
 *
 *   add, mul  (§1.1-1.2)  in 2 (value, marker), out 1 linear.
 *     T_len ~ randint(f(100), f(110)); values U[0,1] at every step;
 *     marker -1 at t = 0 and at T_len - 3, +1 at I ~ randint(max(1, f(1)),
 *     f(10)) and at J ~ randint(f(10), f(50)). Target (A + B)/2 (add) or
 *     A B (mul) of the values A, B at I, J. max(1, f(1)) keeps the first
 *     mark off the start cue at T < 100 (pitfall 5).
 *   xor       (§2.1)  as add with Bernoulli(1/2) bits, T_len ~ randint(f(50),
 *     f(55)), J ~ randint(f(15), f(25)); target A xor B; 1 logistic output.
 *   mem       (§1.3-1.4)  n positions of c symbols, total length L = T.
 *     One-hot inputs of width c + 2 (data 0..c-1, go = c, blank = c + 1):
 *     data at t < n, blank at n..L-n-2, go at L-n-1, blank at L-n..L-1.
 *     Targets d_0..d_{n-1} at the last n steps; c softmax outputs.
 *   temporal2 (§2.2)  8 one-hot inputs (0-3 distractors, X = 4, Y = 5,
 *     cue = 6, start = 7); T_len ~ randint(f(100), f(110)); a distractor at
 *     every step, start at 0, cue at T_len - 1, A at I in [max(1, f(1)),
 *     f(10)], B at J in [f(40), f(50)] (inclusive); A = 4 + (b mod 2),
 *     B = 4 + (floor(b/2) mod 2); class 2(A-4) + (B-4) of 4 at T_len.
 *   temporal3 (§2.3)  as temporal2 with cue at T_len, A at [max(1, f(1)),
 *     f(10)], B at [f(30), f(40)], C at [f(50), f(60)]; C = 4 + (floor(b/4)
 *     mod 2); class 4(C-4) + 2(B-4) + (A-4) of 8.
 *   perm      (§2.4)  100 one-hot symbols, L = f(100) steps: a = b mod 2 at
 *     t = 0, then uniform symbols 2..99; target at t < L-1 is the next
 *     input, at L-1 it is a. Loss on every step; error on the last only.
 *
 * b is the balancing index of the sequence (the row within its training
 * batch, pitfall 13). Draw order per sequence (part of the contract): the
 * length, then the marker positions in the order listed, then one draw
 * per step for the step values (uniform, bit, distractor or symbol), then
 * (mem) nothing more. Loss weights M are 1 on scored steps, or 1/(scored
 * steps) with per_step; E marks the steps the error metric counts. */
#ifndef OB_RNN_GEN_H
#define OB_RNN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "models/rnn.h"
#include "optbench/plugin.h"

typedef enum {
    OB_GEN_ADD = 0,
    OB_GEN_MUL,
    OB_GEN_XOR,
    OB_GEN_MEM,
    OB_GEN_TEMPORAL2,
    OB_GEN_TEMPORAL3,
    OB_GEN_PERM
} ob_gen_kind;

typedef struct ob_rnn_gen {
    ob_gen_kind kind;
    size_t T;            /* the length parameter                          */
    size_t n, c;         /* mem: positions and symbols                    */
    int center_inputs;   /* add, mul, xor: value channel minus 0.5        */
    int center_targets;  /* add, mul: target minus its mean (0.5, 0.25)   */
    int per_step;        /* M = 1/(scored steps) instead of 1             */
    /* derived by ob_rnn_gen_setup */
    size_t NI, O, max_T; /* input and output widths, rows a batch needs   */
    ob_rnn_output out;
} ob_rnn_gen;

/* Checks T (and n, c) and derives the widths. */
int ob_rnn_gen_setup(ob_rnn_gen *g, ob_error *err);

/* The smallest T the generator accepts. */
size_t ob_rnn_gen_min_T(const ob_rnn_gen *g);

/* The population mean target (linear outputs, after centering), and the
 * output-bias hint (O values, SPEC §10 #14): linear, the mean target;
 * logistic, its logit; softmax, the log of the mean class frequencies on
 * the scored steps. */
double ob_rnn_gen_mean_target(const ob_rnn_gen *g);
void ob_rnn_gen_hint(const ob_rnn_gen *g, float *hint);

/* Batch buffers for up to max_B sequences: one allocation (*mem; free it
 * with free()). */
int ob_rnn_gen_alloc(const ob_rnn_gen *g, size_t max_B, ob_rnn_batch *bat, void **mem,
                     ob_error *err);

/* Fills rows 0..B-1 of bat with B fresh sequences drawn from rng; row r has
 * balancing index (bal0 + r) mod bal_mod (bal_mod = 0: bal0 + r). Sets
 * bat->B, bat->T (the longest length) and bat->version = version.
 * Allocates nothing. */
void ob_rnn_gen_batch(const ob_rnn_gen *g, ob_rng *rng, size_t B, size_t bal0, size_t bal_mod,
                      uint64_t version, ob_rnn_batch *bat);

/* Hash of row r of bat in a layout-free form (length, then per step the
 * inputs, targets and weights), for data checksums. */
uint64_t ob_rnn_gen_hash_row(const ob_rnn_gen *g, const ob_rnn_batch *bat, size_t r, uint64_t h);

#endif
