/* pq3native_chain.c: the first message of a plain new chain in one call each way
 * (spec/03-ratchet.md §3-§4): key generation, the ECDH step and the seal; or the strict
 * read, the verification, the ECDH step and the open. "Plain": the chain header is
 * version || flags || ecdhPK and the step mixes no KEM secret, so the header and the
 * step's dst follow from the new point alone.
 */

#include "pq3native_internal.h"

#define PLAIN_HEADER_SIZE (2 + PQ3_POINT_SIZE)

int pq3_seal_new_chain(pq3_ctx *ctx, uint8_t *wire_out, size_t wire_cap, uint8_t *keys_out,
                       uint8_t *digest_out, const uint8_t *scalar, const uint8_t *peer_point,
                       const uint8_t *old_root, const uint8_t *header_prefix,
                       const uint8_t *dst_prefix, size_t dst_prefix_len, const uint8_t *tail,
                       size_t tail_len, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                       size_t pt_len, pq3_signer *signer)
{
    uint8_t header[PLAIN_HEADER_SIZE];
    uint8_t rk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    uint8_t ck_next[PQ3_KEY_SIZE];
    const uint8_t *point = header + 2;
    size_t need;

    int rc;

    if (ctx == NULL || wire_out == NULL || keys_out == NULL || scalar == NULL
        || peer_point == NULL || old_root == NULL || header_prefix == NULL
        || (dst_prefix == NULL && dst_prefix_len != 0) || (tail == NULL && tail_len != 0)
        || (ad == NULL && ad_len != 0) || (pt == NULL && pt_len != 0)) {
        return PQ3_ERR_ARGUMENT;
    }
    need = pq3_wire_length(sizeof header, ad_len, pt_len);
    if (need == 0 || wire_cap < need) {
        return PQ3_ERR_LENGTH;
    }
    header[0] = header_prefix[0];
    header[1] = header_prefix[1];
    rc = pq3_p256_public(ctx, header + 2, scalar);
    if (rc == PQ3_OK) {
        rc = pq3i_ecdh_root(ctx, rk, ck, scalar, peer_point, old_root, NULL, 0, dst_prefix,
                            dst_prefix_len, point, PQ3_POINT_SIZE);
    }
    if (rc == PQ3_OK) {
        rc = pq3i_seal_one(ctx, wire_out, ck_next, digest_out, ck, 0, header, sizeof header, point,
                           tail, tail_len, ad, ad_len, pt, pt_len, signer);
    }
    if (rc == PQ3_OK) {
        memcpy(keys_out, point, PQ3_POINT_SIZE);
        memcpy(keys_out + PQ3_POINT_SIZE, rk, sizeof rk);
        memcpy(keys_out + PQ3_POINT_SIZE + PQ3_KEY_SIZE, ck_next, sizeof ck_next);
    } else {
        memset(wire_out, 0, need);
    }
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    OPENSSL_cleanse(ck_next, sizeof ck_next);
    return rc;
}

int pq3_open_new_chain(pq3_ctx *ctx, uint8_t *out, size_t out_cap, const uint8_t *scalar,
                       const uint8_t *old_root, const uint8_t *dst_prefix,
                       size_t dst_prefix_len, const uint8_t *tail, size_t tail_len,
                       const uint8_t *wire, size_t wire_len, size_t max_ad, size_t max_ct,
                       pq3_verifier *verifier)
{
    uint8_t rk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    const uint8_t *point, *indicator, *ad, *ct;
    size_t ad_len, ct_len;
    int rc;

    if (ctx == NULL || out == NULL || scalar == NULL || old_root == NULL || wire == NULL
        || (dst_prefix == NULL && dst_prefix_len != 0) || (tail == NULL && tail_len != 0)
        || verifier == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    if (wire_len < PLAIN_HEADER_SIZE) {
        return PQ3_ERR_LENGTH;
    }
    point = wire + 2;
    indicator = wire + PLAIN_HEADER_SIZE + U32_SIZE;
    /* Message 0, read against its own header: only the layout and the index are checked. */
    rc = pq3i_read_wire(wire, wire_len, wire, PLAIN_HEADER_SIZE, 0, max_ad, max_ct, &ad, &ad_len,
                        &ct, &ct_len);
    if (rc != PQ3_OK) {
        return rc;
    }
    if (out_cap < 2 * PQ3_KEY_SIZE || out_cap - 2 * PQ3_KEY_SIZE < ct_len) {
        return PQ3_ERR_LENGTH;
    }
    /* The signature first, as on every path: nothing of an unsigned message reaches ECDH. */
    rc = pq3_verify(verifier, ct + ct_len, ct, ct_len, ad, ad_len, indicator, point, 0, tail,
                    tail_len);
    if (rc == PQ3_OK) {
        rc = pq3i_ecdh_root(ctx, rk, ck, scalar, point, old_root, NULL, 0, dst_prefix,
                            dst_prefix_len, point, PQ3_POINT_SIZE);
    }
    if (rc == PQ3_OK) {
        rc = pq3i_open_one(ctx, out + 2 * PQ3_KEY_SIZE, out + PQ3_KEY_SIZE, ck, 0, 0, indicator,
                           point, tail, tail_len, ad, ad_len, ct, ct_len, NULL, NULL);
    }
    if (rc == PQ3_OK) {
        memcpy(out, rk, sizeof rk);
    } else {
        OPENSSL_cleanse(out, 2 * PQ3_KEY_SIZE);
    }
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}
