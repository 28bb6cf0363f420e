/* pq3native_mlkem.c: the FIPS 203 §7.2 modulus check of an ML-KEM encapsulation key.
 */

#include "pq3native_internal.h"

/* ── ML-KEM encapsulation-key check (FIPS 203 §7.2) ────────────────────────────────── */

int pq3_mlkem_modulus_check(size_t *bad_index, const uint8_t *t_hat, size_t len)
{
    size_t i;
    if (bad_index == NULL || (t_hat == NULL && len != 0)) {
        return PQ3_ERR_ARGUMENT;
    }
    *bad_index = 0;
    if (len % 3 != 0) {
        return PQ3_ERR_LENGTH;
    }
    /* Public input: an early exit leaks nothing. Each 3 bytes hold two 12-bit values. */
    for (i = 0; i < len; i += 3) {
        unsigned a = (unsigned)t_hat[i] | ((unsigned)(t_hat[i + 1] & 0x0f) << 8);
        unsigned b = ((unsigned)t_hat[i + 1] >> 4) | ((unsigned)t_hat[i + 2] << 4);
        if (a >= PQ3_MLKEM_Q) {
            *bad_index = 2 * (i / 3);
            return PQ3_ERR_KEY;
        }
        if (b >= PQ3_MLKEM_Q) {
            *bad_index = 2 * (i / 3) + 1;
            return PQ3_ERR_KEY;
        }
    }
    return PQ3_OK;
}
