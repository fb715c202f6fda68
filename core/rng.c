#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ob_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void ob_rng_seed(ob_rng *r, uint64_t seed, uint64_t cell_hash, ob_stream purpose) {
    uint64_t k = splitmix64(splitmix64(seed) ^ splitmix64(cell_hash + 0x51ED27u) ^
                            ((uint64_t)purpose << 56));
    r->key[0] = (uint32_t)k;
    r->key[1] = (uint32_t)(k >> 32);
    r->ctr[0] = r->ctr[1] = r->ctr[2] = r->ctr[3] = 0;
    r->used = 4; /* empty buffer: the first draw computes block 0 */
    r->pad = 0;
    r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
}

uint32_t ob_rng_u32(ob_rng *r) {
    if (r->used >= 4) {
        ob_philox4x32_10(r->ctr, r->key, r->buf);
        /* 128-bit counter increment */
        for (int i = 0; i < 4; i++)
            if (++r->ctr[i] != 0) break;
        r->used = 0;
    }
    return r->buf[r->used++];
}

double ob_rng_uniform(ob_rng *r) {
    uint32_t a = ob_rng_u32(r) >> 5, b = ob_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

double ob_rng_normal(ob_rng *r) {
    double u1 = ob_rng_uniform(r), u2 = ob_rng_uniform(r);
    /* 1 - u1 is in (0, 1], so the log is finite */
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t ob_rng_below(ob_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    if (n <= 0xFFFFFFFFull) {
        uint32_t nn = (uint32_t)n;
        uint64_t m = (uint64_t)ob_rng_u32(r) * nn;
        uint32_t low = (uint32_t)m;
        if (low < nn) {
            uint32_t thresh = (uint32_t)(-nn) % nn;
            while (low < thresh) {
                m = (uint64_t)ob_rng_u32(r) * nn;
                low = (uint32_t)m;
            }
        }
        return m >> 32;
    }
    /* 64-bit range: rejection on the top multiple */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = ((uint64_t)ob_rng_u32(r) << 32) | ob_rng_u32(r);
        if (x < lim) return x % n;
    }
}

uint64_t ob_hash64(const void *data, unsigned long len, uint64_t h) {
    const unsigned char *p = data;
    for (unsigned long i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
