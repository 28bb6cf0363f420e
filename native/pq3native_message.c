/* pq3native_message.c: one message or a batch of one chain: seal (derive, encrypt, sign) and open
 * (parse a packed record or the next in-order wire, verify, derive, decrypt).
 */

#include "pq3native_internal.h"

static int fits_u32(size_t n)
{
    return (uint64_t)n <= (uint64_t)UINT32_MAX;
}

/* ── Per message ──────────────────────────────────────────────────────────────────── */

int pq3_chain_step(uint8_t *mk_out, uint8_t *ck_out, const uint8_t *ck_in)
{
    uint8_t mk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    if (mk_out == NULL || ck_out == NULL || ck_in == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    pq3i_chain_step(mk, ck, ck_in);
    memcpy(mk_out, mk, sizeof mk);
    memcpy(ck_out, ck, sizeof ck);
    OPENSSL_cleanse(mk, sizeof mk);
    OPENSSL_cleanse(ck, sizeof ck);
    return PQ3_OK;
}

size_t pq3_wire_length(size_t header_len, size_t ad_len, size_t pt_len)
{
    const uint64_t fixed = U32_SIZE + PQ3_INDICATOR_SIZE + U32_SIZE + U32_SIZE
                           + PQ3_SIGNATURE_SIZE;
    uint64_t total;
    if (!fits_u32(ad_len) || !fits_u32(pt_len) || !fits_u32(header_len)) {
        return 0;
    }
    total = (uint64_t)header_len + (uint64_t)ad_len + (uint64_t)pt_len + fixed;
    if (total > (uint64_t)SIZE_MAX) {
        return 0;
    }
    return (size_t)total;
}

int pq3_signature_digest(uint8_t *digest_out, const uint8_t *ct, size_t ct_len,
                         const uint8_t *ad, size_t ad_len, const uint8_t *indicator,
                         const uint8_t *ecdh_pk, uint32_t index, const uint8_t *tail,
                         size_t tail_len)
{
    if (digest_out == NULL || indicator == NULL || ecdh_pk == NULL
        || (ct == NULL && ct_len) || (ad == NULL && ad_len) || (tail == NULL && tail_len)) {
        return PQ3_ERR_ARGUMENT;
    }
    if (!fits_u32(ct_len) || !fits_u32(ad_len)) {
        return PQ3_ERR_LENGTH;
    }
    pq3i_body_digest(digest_out, ct, ct_len, ad, ad_len, indicator, ecdh_pk, index, tail, tail_len);
    return PQ3_OK;
}

int pq3i_seal_one(pq3_ctx *ctx, uint8_t *wire, uint8_t *ck_next, uint8_t *digest_out,
                  const uint8_t *ck, uint32_t index, const uint8_t *header, size_t header_len,
                  const uint8_t *ecdh_pk, const uint8_t *tail, size_t tail_len,
                  const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                  pq3_signer *signer)
{
    uint8_t mk[PQ3_KEY_SIZE];
    uint8_t iv_key[HMAC_OUT];
    uint8_t indicator[PQ3_INDICATOR_SIZE];
    uint8_t digest[PQ3_DIGEST_SIZE];
    uint8_t *p = wire;
    uint8_t *ct;
    int rc;

    pq3i_chain_step(mk, ck_next, ck);
    pq3i_message_keys(iv_key, indicator, mk);
    OPENSSL_cleanse(mk, sizeof mk);

    copy(p, header, header_len);
    p += header_len;
    put_u32(p, index);
    p += U32_SIZE;
    memcpy(p, indicator, sizeof indicator);
    p += sizeof indicator;
    put_u32(p, (uint32_t)ad_len);
    p += U32_SIZE;
    copy(p, ad, ad_len);
    p += ad_len;
    put_u32(p, (uint32_t)pt_len);
    p += U32_SIZE;
    ct = p;
    rc = pq3i_aes_ctr(ctx, ct, pt, pt_len, iv_key);
    OPENSSL_cleanse(iv_key, sizeof iv_key);
    if (rc != PQ3_OK) {
        return rc;
    }
    p += pt_len;
    if (signer != NULL || digest_out != NULL) {
        pq3i_body_digest(digest, ct, pt_len, ad, ad_len, indicator, ecdh_pk, index, tail, tail_len);
    }
    if (digest_out != NULL) {
        memcpy(digest_out, digest, sizeof digest);
    }
    if (signer != NULL) {
        return pq3i_sign_digest(p, signer, digest);
    }
    memset(p, 0, PQ3_SIGNATURE_SIZE);
    return PQ3_OK;
}

static int seal_args_ok(const pq3_ctx *ctx, const uint8_t *wire_out, const uint8_t *ck_out,
                        const uint8_t *ck_in, const uint8_t *header, size_t header_len,
                        const uint8_t *ecdh_pk, const uint8_t *tail, size_t tail_len,
                        const uint8_t *ad, size_t ad_len)
{
    return ctx != NULL && wire_out != NULL && ck_out != NULL && ck_in != NULL
           && ecdh_pk != NULL && (header != NULL || header_len == 0)
           && (tail != NULL || tail_len == 0) && (ad != NULL || ad_len == 0);
}

int pq3_seal(pq3_ctx *ctx, uint8_t *wire_out, size_t wire_cap, uint8_t *ck_out,
             uint8_t *digest_out, const uint8_t *ck_in, uint32_t index, const uint8_t *header,
             size_t header_len, const uint8_t *ecdh_pk, const uint8_t *tail, size_t tail_len,
             const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
             pq3_signer *signer)
{
    uint8_t ck_next[PQ3_KEY_SIZE];
    size_t need;
    int rc;

    if (!seal_args_ok(ctx, wire_out, ck_out, ck_in, header, header_len, ecdh_pk, tail,
                      tail_len, ad, ad_len)
        || (pt == NULL && pt_len != 0)) {
        return PQ3_ERR_ARGUMENT;
    }
    need = pq3_wire_length(header_len, ad_len, pt_len);
    if (need == 0 || wire_cap < need) {
        return PQ3_ERR_LENGTH;
    }
    rc = pq3i_seal_one(ctx, wire_out, ck_next, digest_out, ck_in, index, header, header_len,
                       ecdh_pk, tail, tail_len, ad, ad_len, pt, pt_len, signer);
    if (rc == PQ3_OK) {
        memcpy(ck_out, ck_next, sizeof ck_next);
    } else {
        memset(wire_out, 0, need);
    }
    OPENSSL_cleanse(ck_next, sizeof ck_next);
    return rc;
}

int pq3_seal_batch(pq3_ctx *ctx, uint8_t *wire_out, size_t wire_cap, uint8_t *ck_out,
                   uint8_t *digests_out, const uint8_t *ck_in, uint32_t first_index,
                   const uint8_t *header, size_t header_len, const uint8_t *ecdh_pk,
                   const uint8_t *tail, size_t tail_len, const uint8_t *ad, size_t ad_len,
                   const uint8_t *pts, const size_t *pt_lens, size_t n, pq3_signer *signer)
{
    uint8_t ck[2][PQ3_KEY_SIZE];
    size_t i;
    size_t total = 0;
    size_t pt_off = 0;
    size_t wire_off = 0;
    int rc = PQ3_OK;

    if (!seal_args_ok(ctx, wire_out, ck_out, ck_in, header, header_len, ecdh_pk, tail,
                      tail_len, ad, ad_len)
        || (n != 0 && pt_lens == NULL)) {
        return PQ3_ERR_ARGUMENT;
    }
    if ((uint64_t)n > (uint64_t)UINT32_MAX - first_index + 1) {
        return PQ3_ERR_LENGTH; /* the last index would not fit in uint32 */
    }
    for (i = 0; i < n; i++) {
        size_t need = pq3_wire_length(header_len, ad_len, pt_lens[i]);
        if (need == 0 || total > SIZE_MAX - need) {
            return PQ3_ERR_LENGTH;
        }
        if (pts == NULL && pt_lens[i] != 0) {
            return PQ3_ERR_ARGUMENT;
        }
        total += need;
    }
    if (wire_cap < total) {
        return PQ3_ERR_LENGTH;
    }
    memcpy(ck[0], ck_in, PQ3_KEY_SIZE);
    for (i = 0; i < n && rc == PQ3_OK; i++) {
        rc = pq3i_seal_one(ctx, wire_out + wire_off, ck[(i + 1) & 1],
                           digests_out != NULL ? digests_out + i * PQ3_DIGEST_SIZE : NULL,
                           ck[i & 1], first_index + (uint32_t)i, header, header_len, ecdh_pk, tail,
                           tail_len, ad, ad_len, pts != NULL ? pts + pt_off : NULL, pt_lens[i],
                           signer);
        pt_off += pt_lens[i];
        wire_off += pq3_wire_length(header_len, ad_len, pt_lens[i]);
    }
    if (rc == PQ3_OK) {
        memcpy(ck_out, ck[n & 1], PQ3_KEY_SIZE);
    } else {
        memset(wire_out, 0, total);
    }
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

int pq3_verify(pq3_verifier *verifier, const uint8_t *signature, const uint8_t *ct,
               size_t ct_len, const uint8_t *ad, size_t ad_len, const uint8_t *indicator,
               const uint8_t *ecdh_pk, uint32_t index, const uint8_t *tail, size_t tail_len)
{
    uint8_t digest[PQ3_DIGEST_SIZE];
    int rc;
    if (verifier == NULL || signature == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    rc = pq3_signature_digest(digest, ct, ct_len, ad, ad_len, indicator, ecdh_pk, index, tail,
                              tail_len);
    if (rc != PQ3_OK) {
        return rc;
    }
    return pq3i_verify_digest(verifier, signature, digest);
}

int pq3i_open_one(pq3_ctx *ctx, uint8_t *pt_out, uint8_t *ck_next, const uint8_t *key,
                  int is_message_key, uint32_t index, const uint8_t *indicator,
                  const uint8_t *ecdh_pk, const uint8_t *tail, size_t tail_len,
                  const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len,
                  const uint8_t *signature, pq3_verifier *verifier)
{
    uint8_t mk[PQ3_KEY_SIZE];
    uint8_t iv_key[HMAC_OUT];
    uint8_t expected[PQ3_INDICATOR_SIZE];
    int rc;

    if (verifier != NULL) {
        rc = pq3_verify(verifier, signature, ct, ct_len, ad, ad_len, indicator, ecdh_pk, index,
                        tail, tail_len);
        if (rc != PQ3_OK) {
            return rc;
        }
    }
    if (is_message_key) {
        memcpy(mk, key, sizeof mk);
    } else {
        pq3i_chain_step(mk, ck_next, key);
    }
    pq3i_message_keys(iv_key, expected, mk);
    OPENSSL_cleanse(mk, sizeof mk);
    if (CRYPTO_memcmp(expected, indicator, sizeof expected) != 0) {
        rc = PQ3_ERR_INDICATOR;
    } else {
        rc = pq3i_aes_ctr(ctx, pt_out, ct, ct_len, iv_key);
        if (rc != PQ3_OK && ct_len != 0) {
            memset(pt_out, 0, ct_len);
        }
    }
    OPENSSL_cleanse(iv_key, sizeof iv_key);
    return rc;
}

int pq3_open(pq3_ctx *ctx, uint8_t *pt_out, size_t pt_cap, uint8_t *ck_out,
             const uint8_t *key, int is_message_key, uint32_t index, const uint8_t *indicator,
             const uint8_t *ecdh_pk, const uint8_t *tail, size_t tail_len, const uint8_t *ad,
             size_t ad_len, const uint8_t *ct, size_t ct_len, const uint8_t *signature,
             pq3_verifier *verifier)
{
    uint8_t ck_next[PQ3_KEY_SIZE];
    int rc;

    if (ctx == NULL || (pt_out == NULL && ct_len != 0) || (ck_out == NULL && !is_message_key)
        || key == NULL || indicator == NULL || ecdh_pk == NULL
        || (tail == NULL && tail_len != 0) || (ad == NULL && ad_len != 0)
        || (ct == NULL && ct_len != 0) || (verifier != NULL && signature == NULL)) {
        return PQ3_ERR_ARGUMENT;
    }
    if (pt_cap < ct_len || !fits_u32(ct_len) || !fits_u32(ad_len)) {
        return PQ3_ERR_LENGTH;
    }
    rc = pq3i_open_one(ctx, pt_out, ck_next, key, is_message_key, index, indicator, ecdh_pk, tail,
                       tail_len, ad, ad_len, ct, ct_len, signature, verifier);
    if (rc == PQ3_OK && !is_message_key) {
        memcpy(ck_out, ck_next, sizeof ck_next);
    }
    OPENSSL_cleanse(ck_next, sizeof ck_next);
    return rc;
}

int pq3_open_batch(pq3_ctx *ctx, uint8_t *pt_out, size_t pt_cap, uint8_t *ck_out,
                   size_t *fail_index, const uint8_t *ck_in, const uint32_t *indices,
                   const uint8_t *indicators, const uint8_t *ecdh_pks, const uint8_t *tail,
                   size_t tail_len, const uint8_t *ads, const size_t *ad_lens,
                   const uint8_t *cts, const size_t *ct_lens, const uint8_t *signatures,
                   size_t n, pq3_verifier *verifier)
{
    uint8_t ck[2][PQ3_KEY_SIZE];
    size_t i;
    size_t pt_total = 0;
    size_t ad_off = 0;
    int rc = PQ3_OK;

    if (ctx == NULL || ck_out == NULL || fail_index == NULL || ck_in == NULL
        || (tail == NULL && tail_len != 0)
        || (n != 0 && (indices == NULL || indicators == NULL || ecdh_pks == NULL
                       || ad_lens == NULL || ct_lens == NULL
                       || (verifier != NULL && signatures == NULL)))) {
        return PQ3_ERR_ARGUMENT;
    }
    *fail_index = 0;
    for (i = 0; i < n; i++) {
        *fail_index = i;
        if (!fits_u32(ct_lens[i]) || !fits_u32(ad_lens[i]) || pt_total > SIZE_MAX - ct_lens[i]) {
            return PQ3_ERR_LENGTH;
        }
        if ((cts == NULL && ct_lens[i] != 0) || (ads == NULL && ad_lens[i] != 0)) {
            return PQ3_ERR_ARGUMENT;
        }
        pt_total += ct_lens[i];
    }
    if (pt_cap < pt_total || (pt_out == NULL && pt_total != 0)) {
        *fail_index = 0;
        return pt_out == NULL ? PQ3_ERR_ARGUMENT : PQ3_ERR_LENGTH;
    }
    memcpy(ck[0], ck_in, PQ3_KEY_SIZE);
    pt_total = 0;
    for (i = 0; i < n && rc == PQ3_OK; i++) {
        *fail_index = i;
        rc = pq3i_open_one(ctx, pt_out != NULL ? pt_out + pt_total : NULL, ck[(i + 1) & 1],
                           ck[i & 1], 0, indices[i], indicators + i * PQ3_INDICATOR_SIZE,
                           ecdh_pks + i * PQ3_POINT_SIZE, tail, tail_len,
                           ads != NULL ? ads + ad_off : NULL, ad_lens[i],
                           cts != NULL ? cts + pt_total : NULL, ct_lens[i],
                           signatures != NULL ? signatures + i * PQ3_SIGNATURE_SIZE : NULL,
                           verifier);
        if (rc == PQ3_OK) {
            pt_total += ct_lens[i];
            ad_off += ad_lens[i];
        }
    }
    if (rc == PQ3_OK) {
        memcpy(ck_out, ck[n & 1], PQ3_KEY_SIZE);
        *fail_index = 0;
    } else if (pt_total != 0) {
        OPENSSL_cleanse(pt_out, pt_total);
    }
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

/* ── Packed batches: records back to back in one buffer, with their end offsets ────── */

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* 1 if ends[0..n-1] is non-decreasing and ends with total (0 records: total 0). */
static int ends_ok(const size_t *ends, size_t n, size_t total)
{
    size_t i;
    size_t prev = 0;
    for (i = 0; i < n; i++) {
        if (ends[i] < prev) {
            return 0;
        }
        prev = ends[i];
    }
    return prev == total;
}

int pq3_seal_packed(pq3_ctx *ctx, uint8_t *wire_out, size_t wire_cap, size_t *wire_ends,
                    uint8_t *ck_out, const uint8_t *ck_in, uint32_t first_index,
                    const uint8_t *header, size_t header_len, const uint8_t *ecdh_pk,
                    const uint8_t *tail, size_t tail_len, const uint8_t *ad, size_t ad_len,
                    const uint8_t *pts, size_t pts_len, const size_t *pt_ends, size_t n,
                    pq3_signer *signer)
{
    uint8_t ck[2][PQ3_KEY_SIZE];
    size_t i;
    size_t total = 0;
    size_t start = 0;
    int rc = PQ3_OK;

    if (!seal_args_ok(ctx, wire_out, ck_out, ck_in, header, header_len, ecdh_pk, tail,
                      tail_len, ad, ad_len)
        || (n != 0 && (pt_ends == NULL || wire_ends == NULL))
        || (pts == NULL && pts_len != 0)) {
        return PQ3_ERR_ARGUMENT;
    }
    if ((uint64_t)n > (uint64_t)UINT32_MAX - first_index + 1 || !ends_ok(pt_ends, n, pts_len)) {
        return PQ3_ERR_LENGTH;
    }
    for (i = 0; i < n; i++) {
        size_t need = pq3_wire_length(header_len, ad_len, pt_ends[i] - start);
        if (need == 0 || total > SIZE_MAX - need) {
            return PQ3_ERR_LENGTH;
        }
        total += need;
        wire_ends[i] = total;
        start = pt_ends[i];
    }
    if (wire_cap < total) {
        return PQ3_ERR_LENGTH;
    }
    memcpy(ck[0], ck_in, PQ3_KEY_SIZE);
    start = 0;
    for (i = 0; i < n && rc == PQ3_OK; i++) {
        rc = pq3i_seal_one(ctx, wire_out + (i != 0 ? wire_ends[i - 1] : 0), ck[(i + 1) & 1], NULL,
                           ck[i & 1], first_index + (uint32_t)i, header, header_len, ecdh_pk, tail,
                           tail_len, ad, ad_len, pts != NULL ? pts + start : NULL,
                           pt_ends[i] - start, signer);
        start = pt_ends[i];
    }
    if (rc == PQ3_OK) {
        memcpy(ck_out, ck[n & 1], PQ3_KEY_SIZE);
    } else {
        memset(wire_out, 0, total);
    }
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

int pq3i_read_wire(const uint8_t *w, size_t len, const uint8_t *header, size_t header_len,
                   uint32_t index, size_t max_ad, size_t max_ct, const uint8_t **ad,
                   size_t *ad_len, const uint8_t **ct, size_t *ct_len)
{
    const size_t fixed = U32_SIZE + PQ3_INDICATOR_SIZE + U32_SIZE + U32_SIZE
                         + PQ3_SIGNATURE_SIZE;
    if (len < header_len + fixed) {
        return PQ3_ERR_LENGTH;
    }
    if (memcmp(w, header, header_len) != 0 || get_u32(w + header_len) != index) {
        return PQ3_ERR_BATCH;
    }
    *ad_len = get_u32(w + header_len + U32_SIZE + PQ3_INDICATOR_SIZE);
    if (*ad_len > max_ad || *ad_len > len - header_len - fixed) {
        return PQ3_ERR_LENGTH;
    }
    *ad = w + header_len + U32_SIZE + PQ3_INDICATOR_SIZE + U32_SIZE;
    *ct_len = get_u32(*ad + *ad_len);
    if (*ct_len > max_ct || *ct_len != len - header_len - fixed - *ad_len) {
        return PQ3_ERR_LENGTH;
    }
    *ct = *ad + *ad_len + U32_SIZE;
    return PQ3_OK;
}

int pq3_open_wire(pq3_ctx *ctx, uint8_t *out, size_t out_cap, const uint8_t *ck_in,
                  uint32_t index, const uint8_t *header, size_t header_len,
                  const uint8_t *tail, size_t tail_len, const uint8_t *wire, size_t wire_len,
                  size_t max_ad, size_t max_ct, pq3_verifier *verifier)
{
    size_t ad_len, ct_len;
    const uint8_t *ad, *ct;
    int rc;

    if (ctx == NULL || out == NULL || ck_in == NULL || header == NULL
        || header_len < 2 + PQ3_POINT_SIZE || (tail == NULL && tail_len != 0)
        || wire == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    rc = pq3i_read_wire(wire, wire_len, header, header_len, index, max_ad, max_ct, &ad, &ad_len,
                        &ct, &ct_len);
    if (rc != PQ3_OK) {
        return rc;
    }
    if (out_cap < PQ3_KEY_SIZE || out_cap - PQ3_KEY_SIZE < ct_len) {
        return PQ3_ERR_LENGTH;
    }
    rc = pq3i_open_one(ctx, out + PQ3_KEY_SIZE, out, ck_in, 0, index, wire + header_len + U32_SIZE,
                       header + 2, tail, tail_len, ad, ad_len, ct, ct_len, ct + ct_len, verifier);
    if (rc != PQ3_OK) {
        OPENSSL_cleanse(out, PQ3_KEY_SIZE);
    }
    return rc;
}

int pq3_open_packed(pq3_ctx *ctx, uint8_t *pt_out, size_t pt_cap, size_t *pt_ends,
                    uint8_t *ck_out, size_t *fail_index, const uint8_t *ck_in,
                    uint32_t first_index, const uint8_t *header, size_t header_len,
                    const uint8_t *tail, size_t tail_len, const uint8_t *wires,
                    size_t wires_len, const size_t *wire_ends, size_t n, size_t max_ad,
                    size_t max_ct, pq3_verifier *verifier)
{
    uint8_t ck[2][PQ3_KEY_SIZE];
    size_t i;
    size_t start = 0;
    size_t pt_total = 0;
    int rc = PQ3_OK;

    if (ctx == NULL || ck_out == NULL || fail_index == NULL || ck_in == NULL
        || header_len < 2 + PQ3_POINT_SIZE || header == NULL
        || (tail == NULL && tail_len != 0) || (wires == NULL && wires_len != 0)
        || (n != 0 && (wire_ends == NULL || pt_ends == NULL))) {
        return PQ3_ERR_ARGUMENT;
    }
    *fail_index = 0;
    if ((uint64_t)n > (uint64_t)UINT32_MAX - first_index + 1
        || !ends_ok(wire_ends, n, wires_len)) {
        return PQ3_ERR_LENGTH;
    }
    memcpy(ck[0], ck_in, PQ3_KEY_SIZE);
    for (i = 0; i < n && rc == PQ3_OK; i++) {
        const uint8_t *w = wires + start;
        size_t len = wire_ends[i] - start;
        size_t ad_len, ct_len;
        const uint8_t *ad, *ct;
        *fail_index = i;
        start = wire_ends[i];
        rc = pq3i_read_wire(w, len, header, header_len, first_index + (uint32_t)i, max_ad, max_ct,
                            &ad, &ad_len, &ct, &ct_len);
        if (rc != PQ3_OK) {
            break;
        }
        if (pt_cap - pt_total < ct_len || (pt_out == NULL && ct_len != 0)) {
            rc = pt_out == NULL ? PQ3_ERR_ARGUMENT : PQ3_ERR_LENGTH;
            break;
        }
        rc = pq3i_open_one(ctx, pt_out != NULL ? pt_out + pt_total : NULL, ck[(i + 1) & 1],
                           ck[i & 1], 0, first_index + (uint32_t)i, w + header_len + U32_SIZE,
                           header + 2, tail, tail_len, ad, ad_len, ct, ct_len, ct + ct_len,
                           verifier);
        if (rc == PQ3_OK) {
            pt_total += ct_len;
            pt_ends[i] = pt_total;
        }
    }
    if (rc == PQ3_OK) {
        memcpy(ck_out, ck[n & 1], PQ3_KEY_SIZE);
        *fail_index = 0;
    } else if (pt_total != 0) {
        OPENSSL_cleanse(pt_out, pt_total);
    }
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}
