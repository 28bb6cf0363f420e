/* pq3native_floor.c: the symmetric floor of `pq3proto bench`: both sides' chain step, message keys
 * and AES-256-CTR for n messages in one C loop, no wire layout.
 */

#include "pq3native_internal.h"

/* ── The symmetric floor ──────────────────────────────────────────────────────────── */

int pq3_floor_symmetric(pq3_ctx *ctx, uint8_t *ck_out, uint8_t *scratch, const uint8_t *ck_in,
                        const uint8_t *pt, size_t pt_len, size_t n)
{
    uint8_t cks[2][PQ3_KEY_SIZE];
    uint8_t ckr[2][PQ3_KEY_SIZE];
    uint8_t mk[PQ3_KEY_SIZE];
    uint8_t iv_key[HMAC_OUT];
    uint8_t ind_s[PQ3_INDICATOR_SIZE];
    uint8_t ind_r[PQ3_INDICATOR_SIZE];
    uint8_t *ct;
    uint8_t *back;
    size_t i;
    int rc = PQ3_OK;

    if (ctx == NULL || ck_out == NULL || ck_in == NULL
        || (pt_len != 0 && (pt == NULL || scratch == NULL))) {
        return PQ3_ERR_ARGUMENT;
    }
    if (pt_len > SIZE_MAX / 2) {
        return PQ3_ERR_LENGTH;
    }
    ct = scratch;
    back = pt_len != 0 ? scratch + pt_len : scratch;
    memcpy(cks[0], ck_in, PQ3_KEY_SIZE);
    memcpy(ckr[0], ck_in, PQ3_KEY_SIZE);
    for (i = 0; i < n && rc == PQ3_OK; i++) {
        /* Sender: chain step, message keys, encryption. */
        pq3i_chain_step(mk, cks[(i + 1) & 1], cks[i & 1]);
        pq3i_message_keys(iv_key, ind_s, mk);
        rc = pq3i_aes_ctr(ctx, ct, pt, pt_len, iv_key);
        /* Receiver: the same derivations, the indicator check, decryption. */
        pq3i_chain_step(mk, ckr[(i + 1) & 1], ckr[i & 1]);
        pq3i_message_keys(iv_key, ind_r, mk);
        if (rc == PQ3_OK && CRYPTO_memcmp(ind_s, ind_r, sizeof ind_s) != 0) {
            rc = PQ3_ERR_INDICATOR;
        }
        if (rc == PQ3_OK) {
            rc = pq3i_aes_ctr(ctx, back, ct, pt_len, iv_key);
        }
        if (rc == PQ3_OK && pt_len != 0 && memcmp(back, pt, pt_len) != 0) {
            rc = PQ3_ERR_INTERNAL;
        }
    }
    if (rc == PQ3_OK) {
        memcpy(ck_out, ckr[n & 1], PQ3_KEY_SIZE);
    }
    OPENSSL_cleanse(cks, sizeof cks);
    OPENSSL_cleanse(ckr, sizeof ckr);
    OPENSSL_cleanse(mk, sizeof mk);
    OPENSSL_cleanse(iv_key, sizeof iv_key);
    return rc;
}
