/* pq3native_objects.c: the scratch context, the signing and verifying keys, AES-256-CTR through one
 * reusable EVP_CIPHER_CTX, the SHA-256 of the signed body and ECDSA P-256 (low S) over it
 * (pq3proto/wire.py, primitives.py).
 */

#include "pq3native_internal.h"

static const uint8_t LABEL_SIG[] = "messageSignaturev1";

const uint8_t pq3i_p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
    0x25, 0x51};
static const uint8_t P256_HALF_N[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31,
    0x92, 0xa8};

static int is_zero32(const uint8_t *a)
{
    uint8_t acc = 0;
    size_t i;
    for (i = 0; i < 32; i++) {
        acc |= a[i];
    }
    return acc == 0;
}

/* Big-endian comparison of public values (signature halves): not constant time. */
static int cmp32(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, 32);
}

/* out = n - s, big-endian; s <= n. */
static void order_minus(uint8_t *out, const uint8_t *s)
{
    int borrow = 0;
    int i;
    for (i = 31; i >= 0; i--) {
        int d = (int)pq3i_p256_n[i] - (int)s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* ── AES-256-CTR ──────────────────────────────────────────────────────────────────── */

int pq3i_aes_ctr(pq3_ctx *ctx, uint8_t *out, const uint8_t *in, size_t len,
                 const uint8_t *iv_key)
{
    int outl;
    if (EVP_EncryptInit_ex2(ctx->cipher, NULL, iv_key + IV_SIZE, iv_key, NULL) != 1) {
        return PQ3_ERR_INTERNAL;
    }
    while (len > 0) {
        size_t chunk = len > (size_t)(INT_MAX / 2) ? (size_t)(INT_MAX / 2) : len;
        if (EVP_EncryptUpdate(ctx->cipher, out, &outl, in, (int)chunk) != 1
            || (size_t)outl != chunk) {
            return PQ3_ERR_INTERNAL;
        }
        out += chunk;
        in += chunk;
        len -= chunk;
    }
    return PQ3_OK;
}

/* ── The signed body and ECDSA (pq3proto/wire.py, primitives.py) ─────────────────────── */

void pq3i_body_digest(uint8_t *digest, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
                      size_t ad_len, const uint8_t *indicator, const uint8_t *ecdh_pk,
                      uint32_t index, const uint8_t *tail, size_t tail_len)
{
    SHA256_CTX c;
    uint8_t be[U32_SIZE];
    SHA256_Init(&c);
    SHA256_Update(&c, LABEL_SIG, LABEL_LEN(LABEL_SIG));
    put_u32(be, (uint32_t)ct_len);
    SHA256_Update(&c, be, sizeof be);
    SHA256_Update(&c, ct, ct_len);
    put_u32(be, (uint32_t)ad_len);
    SHA256_Update(&c, be, sizeof be);
    SHA256_Update(&c, ad, ad_len);
    SHA256_Update(&c, indicator, PQ3_INDICATOR_SIZE);
    SHA256_Update(&c, ecdh_pk, PQ3_POINT_SIZE);
    put_u32(be, index);
    SHA256_Update(&c, be, sizeof be);
    SHA256_Update(&c, tail, tail_len);
    SHA256_Final(digest, &c);
}

int pq3i_sign_digest(uint8_t *sig, pq3_signer *signer, const uint8_t *digest)
{
    uint8_t der[80];
    size_t der_len = sizeof der;
    const uint8_t *p = der;
    const BIGNUM *r;
    const BIGNUM *s;
    ECDSA_SIG *es;
    int ok;

    if (EVP_PKEY_sign(signer->sign, der, &der_len, digest, PQ3_DIGEST_SIZE) != 1) {
        ERR_clear_error();
        return PQ3_ERR_INTERNAL;
    }
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL) {
        ERR_clear_error();
        return PQ3_ERR_INTERNAL;
    }
    ECDSA_SIG_get0(es, &r, &s);
    ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
    ECDSA_SIG_free(es);
    if (!ok) {
        return PQ3_ERR_INTERNAL;
    }
    if (cmp32(sig + 32, P256_HALF_N) > 0) {
        order_minus(sig + 32, sig + 32);
    }
    return PQ3_OK;
}

int pq3i_verify_digest(pq3_verifier *verifier, const uint8_t *sig, const uint8_t *digest)
{
    uint8_t der[80];
    uint8_t *p = der;
    BIGNUM *r;
    BIGNUM *s;
    ECDSA_SIG *es;
    int der_len;
    int rc;

    /* Canonical form only: r in [1, n-1], s in [1, n/2]; a high-s twin never verifies. */
    if (is_zero32(sig) || cmp32(sig, pq3i_p256_n) >= 0 || is_zero32(sig + 32)
        || cmp32(sig + 32, P256_HALF_N) > 0) {
        return PQ3_ERR_AUTH;
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        ERR_clear_error();
        return PQ3_ERR_INTERNAL;
    }
    der_len = i2d_ECDSA_SIG(es, NULL);
    if (der_len <= 0 || (size_t)der_len > sizeof der || i2d_ECDSA_SIG(es, &p) != der_len) {
        ECDSA_SIG_free(es);
        ERR_clear_error();
        return PQ3_ERR_INTERNAL;
    }
    ECDSA_SIG_free(es);
    rc = EVP_PKEY_verify(verifier->verify, der, (size_t)der_len, digest, PQ3_DIGEST_SIZE);
    if (rc != 1) {
        ERR_clear_error();
        return PQ3_ERR_AUTH;
    }
    return PQ3_OK;
}

/* ── Objects ─────────────────────────────────────────────────────────────────────── */

int pq3_ctx_new(pq3_ctx **ctx_out)
{
    pq3_ctx *ctx;
    if (ctx_out == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    *ctx_out = NULL;
    ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return PQ3_ERR_INTERNAL;
    }
    ctx->aes_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
    ctx->cipher = EVP_CIPHER_CTX_new();
    ctx->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    ctx->bn = BN_CTX_secure_new();
    if (ctx->aes_ctr == NULL || ctx->cipher == NULL || ctx->p256 == NULL || ctx->bn == NULL
        || EVP_EncryptInit_ex2(ctx->cipher, ctx->aes_ctr, NULL, NULL, NULL) != 1) {
        pq3_ctx_free(ctx);
        ERR_clear_error();
        return PQ3_ERR_INTERNAL;
    }
    *ctx_out = ctx;
    return PQ3_OK;
}

void pq3_ctx_free(pq3_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(ctx->cipher);
    EVP_CIPHER_free(ctx->aes_ctr);
    EC_GROUP_free(ctx->p256);
    BN_CTX_free(ctx->bn);
    free(ctx);
}

static EVP_PKEY *p256_from_data(const uint8_t *point, const BIGNUM *priv)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *kctx = NULL;
    EVP_PKEY *key = NULL;
    int ok = bld != NULL
             && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
                                                0)
             && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                 PQ3_POINT_SIZE)
             && (priv == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv));
    if (ok) {
        params = OSSL_PARAM_BLD_to_param(bld);
        kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        ok = params != NULL && kctx != NULL && EVP_PKEY_fromdata_init(kctx) == 1
             && EVP_PKEY_fromdata(kctx, &key,
                                  priv == NULL ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR,
                                  params) == 1;
    }
    if (!ok) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(kctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

int pq3_signer_new(pq3_signer **signer_out, const uint8_t *scalar)
{
    pq3_signer *signer = NULL;
    EC_GROUP *group = NULL;
    EC_POINT *pub = NULL;
    BIGNUM *d = NULL;
    uint8_t point[PQ3_POINT_SIZE];
    int rc = PQ3_ERR_INTERNAL;

    if (signer_out == NULL || scalar == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    *signer_out = NULL;
    if (is_zero32(scalar) || cmp32(scalar, pq3i_p256_n) >= 0) {
        return PQ3_ERR_KEY;
    }
    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    pub = group != NULL ? EC_POINT_new(group) : NULL;
    d = BN_secure_new();
    signer = calloc(1, sizeof *signer);
    if (pub == NULL || d == NULL || signer == NULL || BN_bin2bn(scalar, 32, d) == NULL
        || EC_POINT_mul(group, pub, d, NULL, NULL, NULL) != 1
        || EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, point, sizeof point,
                              NULL) != sizeof point) {
        goto done;
    }
    signer->key = p256_from_data(point, d);
    signer->sign = signer->key != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, signer->key, NULL)
                                       : NULL;
    if (signer->sign == NULL || EVP_PKEY_sign_init(signer->sign) != 1
        || EVP_PKEY_CTX_set_signature_md(signer->sign, EVP_sha256()) != 1) {
        goto done;
    }
    *signer_out = signer;
    signer = NULL;
    rc = PQ3_OK;
done:
    pq3_signer_free(signer);
    BN_clear_free(d);
    EC_POINT_free(pub);
    EC_GROUP_free(group);
    ERR_clear_error();
    return rc;
}

void pq3_signer_free(pq3_signer *signer)
{
    if (signer == NULL) {
        return;
    }
    EVP_PKEY_CTX_free(signer->sign);
    EVP_PKEY_free(signer->key);
    free(signer);
}

int pq3_verifier_new(pq3_verifier **verifier_out, const uint8_t *point)
{
    pq3_verifier *verifier;
    EVP_PKEY_CTX *check = NULL;
    int rc = PQ3_ERR_KEY;

    if (verifier_out == NULL || point == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    *verifier_out = NULL;
    if (point[0] != 0x04) {
        return PQ3_ERR_KEY;
    }
    verifier = calloc(1, sizeof *verifier);
    if (verifier == NULL) {
        return PQ3_ERR_INTERNAL;
    }
    /* Import decodes the point onto the curve; the public check repeats it in full. */
    verifier->key = p256_from_data(point, NULL);
    if (verifier->key == NULL) {
        goto done;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, verifier->key, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        goto done;
    }
    rc = PQ3_ERR_INTERNAL;
    verifier->verify = EVP_PKEY_CTX_new_from_pkey(NULL, verifier->key, NULL);
    if (verifier->verify == NULL || EVP_PKEY_verify_init(verifier->verify) != 1
        || EVP_PKEY_CTX_set_signature_md(verifier->verify, EVP_sha256()) != 1) {
        goto done;
    }
    *verifier_out = verifier;
    verifier = NULL;
    rc = PQ3_OK;
done:
    EVP_PKEY_CTX_free(check);
    pq3_verifier_free(verifier);
    ERR_clear_error();
    return rc;
}

void pq3_verifier_free(pq3_verifier *verifier)
{
    if (verifier == NULL) {
        return;
    }
    EVP_PKEY_CTX_free(verifier->verify);
    EVP_PKEY_free(verifier->key);
    free(verifier);
}
