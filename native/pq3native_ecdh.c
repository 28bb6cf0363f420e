/* pq3native_ecdh.c: the ratchet's ECDH step: P-256 public points, ECDH with point validation and
 * the root-key HKDF (pq3proto/kdf.py rootAndChainKey).
 */

#include "pq3native_internal.h"

/* ── The ECDH step: P-256 points, ECDH, the root-key HKDF (pq3proto/kdf.py) ─────────── */

/* 1 if the 32-byte big-endian a is below n, in constant time: the scalar is secret. */
static int below_order(const uint8_t *a)
{
    unsigned borrow = 0;
    int i;
    for (i = 31; i >= 0; i--) {
        unsigned d = (unsigned)a[i] - (unsigned)pq3i_p256_n[i] - borrow;
        borrow = (d >> 8) & 1u;
    }
    return (int)borrow;
}

/* The scalar as a BIGNUM on the secure heap, flagged constant time; NULL if not in
 * [1, n-1]. The caller owns the result and frees it with BN_clear_free. */
static BIGNUM *load_scalar(const uint8_t *scalar, int *rc)
{
    BIGNUM *d;
    uint8_t acc = 0;
    size_t i;
    for (i = 0; i < PQ3_SCALAR_SIZE; i++) {
        acc |= scalar[i];
    }
    if ((acc == 0) | !below_order(scalar)) {
        *rc = PQ3_ERR_KEY;
        return NULL;
    }
    d = BN_secure_new();
    if (d == NULL || BN_bin2bn(scalar, PQ3_SCALAR_SIZE, d) == NULL) {
        BN_clear_free(d);
        *rc = PQ3_ERR_INTERNAL;
        return NULL;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    return d;
}

int pq3_p256_public(pq3_ctx *ctx, uint8_t *point_out, const uint8_t *scalar)
{
    EC_POINT *pub = NULL;
    BIGNUM *d;
    int rc = PQ3_ERR_INTERNAL;

    if (ctx == NULL || point_out == NULL || scalar == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    d = load_scalar(scalar, &rc);
    if (d == NULL) {
        return rc;
    }
    /* The fixed-base multiplication OpenSSL's own EC key generation performs. */
    pub = EC_POINT_new(ctx->p256);
    if (pub != NULL && EC_POINT_mul(ctx->p256, pub, d, NULL, NULL, ctx->bn) == 1
        && EC_POINT_point2oct(ctx->p256, pub, POINT_CONVERSION_UNCOMPRESSED, point_out,
                              PQ3_POINT_SIZE, ctx->bn) == PQ3_POINT_SIZE) {
        rc = PQ3_OK;
    }
    EC_POINT_free(pub);
    BN_clear_free(d);
    ERR_clear_error();
    return rc;
}

/* x(d * peer) into secret (32 bytes). Points: SEC1 uncompressed only; oct2point rejects
 * coordinates >= p and points off the curve, and the explicit checks repeat that and
 * exclude infinity. The multiplication is the call OpenSSL's ECDH derive makes
 * (ossl_ecdh_simple_compute_key), constant time in the scalar. */
static int ecdh_x(pq3_ctx *ctx, uint8_t *secret, const uint8_t *scalar, const uint8_t *peer)
{
    EC_POINT *q = NULL;
    EC_POINT *r = NULL;
    BIGNUM *x = NULL;
    BIGNUM *d;
    int rc = PQ3_ERR_INTERNAL;

    if (peer[0] != 0x04) {
        return PQ3_ERR_KEY;
    }
    d = load_scalar(scalar, &rc);
    if (d == NULL) {
        return rc;
    }
    q = EC_POINT_new(ctx->p256);
    r = EC_POINT_new(ctx->p256);
    x = BN_secure_new();
    if (q == NULL || r == NULL || x == NULL) {
        goto done;
    }
    if (EC_POINT_oct2point(ctx->p256, q, peer, PQ3_POINT_SIZE, ctx->bn) != 1
        || EC_POINT_is_on_curve(ctx->p256, q, ctx->bn) != 1
        || EC_POINT_is_at_infinity(ctx->p256, q)) {
        rc = PQ3_ERR_KEY;
        goto done;
    }
    if (EC_POINT_mul(ctx->p256, r, NULL, q, d, ctx->bn) != 1
        || EC_POINT_is_at_infinity(ctx->p256, r)
        || EC_POINT_get_affine_coordinates(ctx->p256, r, x, NULL, ctx->bn) != 1
        || BN_bn2binpad(x, secret, PQ3_KEY_SIZE) != PQ3_KEY_SIZE) {
        goto done;
    }
    rc = PQ3_OK;
done:
    EC_POINT_clear_free(r);
    EC_POINT_free(q);
    BN_clear_free(x);
    BN_clear_free(d);
    ERR_clear_error();
    return rc;
}

int pq3_ecdh(pq3_ctx *ctx, uint8_t *secret_out, const uint8_t *scalar,
             const uint8_t *peer_point)
{
    uint8_t secret[PQ3_KEY_SIZE];
    int rc;
    if (ctx == NULL || secret_out == NULL || scalar == NULL || peer_point == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    rc = ecdh_x(ctx, secret, scalar, peer_point);
    if (rc == PQ3_OK) {
        memcpy(secret_out, secret, sizeof secret);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    return rc;
}

/* HMAC-SHA384 (RFC 2104) of the concatenation of n parts under a key of at most one
 * SHA-512 block (every key here is 32 or 48 bytes). */
static void hmac384_parts(uint8_t *out, const uint8_t *key, size_t key_len,
                          const uint8_t *const *parts, const size_t *lens, size_t n)
{
    uint8_t pad[SHA512_BLOCK];
    uint8_t inner[HMAC_OUT];
    SHA512_CTX c;
    size_t i;

    memset(pad, 0x36, sizeof pad);
    for (i = 0; i < key_len; i++) {
        pad[i] ^= key[i];
    }
    SHA384_Init(&c);
    SHA384_Update(&c, pad, sizeof pad);
    for (i = 0; i < n; i++) {
        if (lens[i] != 0) {
            SHA384_Update(&c, parts[i], lens[i]);
        }
    }
    SHA384_Final(inner, &c);
    for (i = 0; i < sizeof pad; i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }
    SHA384_Init(&c);
    SHA384_Update(&c, pad, sizeof pad);
    SHA384_Update(&c, inner, sizeof inner);
    SHA384_Final(out, &c);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    OPENSSL_cleanse(&c, sizeof c);
}

static const uint8_t LABEL_RK[] = "rkDerivation-";
static const uint8_t ZERO_SALT[HMAC_OUT] = {0};
static const uint8_t COUNTER_1[1] = {1};
static const uint8_t COUNTER_2[1] = {2};

/* rootAndChainKey: two chained Extracts, one Expand to 64 bytes; dst is dst || dst2. */
static void root_kdf(uint8_t *rk, uint8_t *ck, const uint8_t *old_root, const uint8_t *ecdh,
                     const uint8_t *kem, size_t kem_len, const uint8_t *dst, size_t dst_len,
                     const uint8_t *dst2, size_t dst2_len)
{
    uint8_t prk1[HMAC_OUT];
    uint8_t prk2[HMAC_OUT];
    uint8_t t1[HMAC_OUT];
    uint8_t t2[HMAC_OUT];
    const uint8_t *parts[5];
    size_t lens[5];

    parts[0] = ecdh;
    lens[0] = PQ3_KEY_SIZE;
    hmac384_parts(prk1, old_root, PQ3_KEY_SIZE, parts, lens, 1);
    parts[0] = prk1;
    lens[0] = sizeof prk1;
    if (kem != NULL) {
        hmac384_parts(prk2, kem, kem_len, parts, lens, 1);
    } else {
        hmac384_parts(prk2, ZERO_SALT, sizeof ZERO_SALT, parts, lens, 1);
    }
    parts[0] = LABEL_RK;
    lens[0] = LABEL_LEN(LABEL_RK);
    parts[1] = dst;
    lens[1] = dst_len;
    parts[2] = dst2;
    lens[2] = dst2_len;
    parts[3] = COUNTER_1;
    lens[3] = 1;
    hmac384_parts(t1, prk2, sizeof prk2, parts, lens, 4);
    parts[0] = t1;
    lens[0] = sizeof t1;
    parts[1] = LABEL_RK;
    lens[1] = LABEL_LEN(LABEL_RK);
    parts[2] = dst;
    lens[2] = dst_len;
    parts[3] = dst2;
    lens[3] = dst2_len;
    parts[4] = COUNTER_2;
    lens[4] = 1;
    hmac384_parts(t2, prk2, sizeof prk2, parts, lens, 5);
    memcpy(rk, t1, PQ3_KEY_SIZE);
    memcpy(ck, t1 + PQ3_KEY_SIZE, HMAC_OUT - PQ3_KEY_SIZE);
    memcpy(ck + (HMAC_OUT - PQ3_KEY_SIZE), t2, 2 * PQ3_KEY_SIZE - HMAC_OUT);
    OPENSSL_cleanse(prk1, sizeof prk1);
    OPENSSL_cleanse(prk2, sizeof prk2);
    OPENSSL_cleanse(t1, sizeof t1);
    OPENSSL_cleanse(t2, sizeof t2);
}

/* A KEM secret is absent (NULL, length 0) or 1..PQ3_MAX_KEM_SECRET bytes: an HMAC key no
 * longer than the SHA-512 block, so it is used as it is, never hashed first. */
static int kem_len_ok(const uint8_t *kem, size_t kem_len)
{
    if (kem == NULL) {
        return kem_len == 0;
    }
    return kem_len >= 1 && kem_len <= PQ3_MAX_KEM_SECRET;
}

int pq3_root_and_chain_key(uint8_t *rk_out, uint8_t *ck_out, const uint8_t *old_root,
                           const uint8_t *ecdh_secret, const uint8_t *kem_secret,
                           size_t kem_len, const uint8_t *dst, size_t dst_len)
{
    uint8_t rk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    if (rk_out == NULL || ck_out == NULL || old_root == NULL || ecdh_secret == NULL
        || (dst == NULL && dst_len != 0) || !kem_len_ok(kem_secret, kem_len)) {
        return PQ3_ERR_ARGUMENT;
    }
    root_kdf(rk, ck, old_root, ecdh_secret, kem_secret, kem_len, dst, dst_len, NULL, 0);
    memcpy(rk_out, rk, sizeof rk);
    memcpy(ck_out, ck, sizeof ck);
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    return PQ3_OK;
}

int pq3i_ecdh_root(pq3_ctx *ctx, uint8_t *rk, uint8_t *ck, const uint8_t *scalar,
                   const uint8_t *peer_point, const uint8_t *old_root, const uint8_t *kem,
                   size_t kem_len, const uint8_t *dst, size_t dst_len, const uint8_t *dst2,
                   size_t dst2_len)
{
    uint8_t secret[PQ3_KEY_SIZE];
    int rc = ecdh_x(ctx, secret, scalar, peer_point);
    if (rc == PQ3_OK) {
        root_kdf(rk, ck, old_root, secret, kem, kem_len, dst, dst_len, dst2, dst2_len);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    return rc;
}

int pq3_ecdh_root_step(pq3_ctx *ctx, uint8_t *rk_out, uint8_t *ck_out, const uint8_t *scalar,
                       const uint8_t *peer_point, const uint8_t *old_root,
                       const uint8_t *kem_secret, size_t kem_len, const uint8_t *dst,
                       size_t dst_len)
{
    uint8_t rk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    int rc;
    if (ctx == NULL || rk_out == NULL || ck_out == NULL || scalar == NULL
        || peer_point == NULL || old_root == NULL || (dst == NULL && dst_len != 0)
        || !kem_len_ok(kem_secret, kem_len)) {
        return PQ3_ERR_ARGUMENT;
    }
    rc = pq3i_ecdh_root(ctx, rk, ck, scalar, peer_point, old_root, kem_secret, kem_len, dst,
                        dst_len, NULL, 0);
    if (rc == PQ3_OK) {
        memcpy(rk_out, rk, sizeof rk);
        memcpy(ck_out, ck, sizeof ck);
    }
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}
