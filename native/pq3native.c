/* pq3native.c: the per-message hot path over OpenSSL 3.0 libcrypto (spec/03-ratchet.md §4).
 *
 * Owns: HMAC-SHA384 single-block HKDF-Expand with key schedules computed once per key,
 * AES-256-CTR through one reusable EVP_CIPHER_CTX, the SHA-256 of the signed body,
 * ECDSA P-256 through EVP_PKEY contexts prepared once per key, the ratchet's P-256
 * public-point and ECDH computations and its root-key HKDF, and the symmetric floor loop.
 * Not: any cipher of its own, parsing, or state beyond one call.
 */

/* Deviation: the SHA-2 block API is deprecated in 3.0 but still shipped. Copying a
 * SHA512_CTX that holds an HMAC pad state and compressing one block is far cheaper per
 * message than any EVP_MD or EVP_MAC path, whose per-call dispatch exceeds the hashing. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "pq3native.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

/* ── Constants (pq3proto/constants.py) ──────────────────────────────────────────────── */

/* HKDF-Expand info || counter byte 0x01: every output here is at most one SHA-384 block. */
static const uint8_t LABEL_MK[] = "msgKeyDerivation\x01";
static const uint8_t LABEL_CK[] = "chainKeyDerivation\x01";
static const uint8_t LABEL_AES[] = "aes-ctr\x01";
static const uint8_t LABEL_IND[] = "msg-key-ind\x01";
static const uint8_t LABEL_SIG[] = "messageSignaturev1";
#define LABEL_LEN(l) (sizeof(l) - 1)

#define IV_SIZE 16
#define HMAC_OUT 48
#define SHA512_BLOCK 128
#define U32_SIZE 4

static const uint8_t P256_N[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
    0x25, 0x51};
static const uint8_t P256_HALF_N[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31,
    0x92, 0xa8};

struct pq3_ctx {
    EVP_CIPHER *aes_ctr;
    EVP_CIPHER_CTX *cipher;
    EC_GROUP *p256;  /* owned; read-only after creation */
    BN_CTX *bn;      /* owned; secure heap: it holds scalar-dependent temporaries */
};

struct pq3_signer {
    EVP_PKEY *key;
    EVP_PKEY_CTX *sign;
};

struct pq3_verifier {
    EVP_PKEY *key;
    EVP_PKEY_CTX *verify;
};

/* ── Small helpers ───────────────────────────────────────────────────────────────── */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int fits_u32(size_t n)
{
    return (uint64_t)n <= (uint64_t)UINT32_MAX;
}

static void copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n != 0) {
        memcpy(dst, src, n);
    }
}

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
        int d = (int)P256_N[i] - (int)s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* ── HMAC-SHA384 and the key schedule (pq3proto/kdf.py) ──────────────────────────────── */

/* HMAC-SHA384 with a 32-byte key, for messages that fit one padded block after the pad
 * block (info || 0x01 here, the 48-byte inner hash in the outer call). The pad blocks are
 * hashed once per key; each HMAC is then exactly two SHA-512 compressions on a copy of
 * that state, with the padding written out by hand (FIPS 180-4 §5.1.2). */
typedef struct {
    SHA512_CTX inner;
    SHA512_CTX outer;
} hmac384_key;

static void hmac384_init(hmac384_key *k, const uint8_t *key)
{
    uint8_t ipad[SHA512_BLOCK];
    uint8_t opad[SHA512_BLOCK];
    size_t i;
    for (i = 0; i < PQ3_KEY_SIZE; i++) {
        ipad[i] = (uint8_t)(key[i] ^ 0x36);
        opad[i] = (uint8_t)(key[i] ^ 0x5c);
    }
    memset(ipad + PQ3_KEY_SIZE, 0x36, sizeof ipad - PQ3_KEY_SIZE);
    memset(opad + PQ3_KEY_SIZE, 0x5c, sizeof opad - PQ3_KEY_SIZE);
    SHA384_Init(&k->inner);
    SHA512_Transform(&k->inner, ipad);
    SHA384_Init(&k->outer);
    SHA512_Transform(&k->outer, opad);
    /* Only the first PQ3_KEY_SIZE bytes of each pad depend on the key. */
    OPENSSL_cleanse(ipad, PQ3_KEY_SIZE);
    OPENSSL_cleanse(opad, PQ3_KEY_SIZE);
}

/* The last block of a message of pad block || data: data, 0x80, zeros, bit length. */
static void final_block(uint8_t *block, const uint8_t *data, size_t len)
{
    const size_t bits = (SHA512_BLOCK + len) * 8;
    memset(block, 0, SHA512_BLOCK);
    memcpy(block, data, len);
    block[len] = 0x80;
    block[SHA512_BLOCK - 2] = (uint8_t)(bits >> 8);
    block[SHA512_BLOCK - 1] = (uint8_t)bits;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)(v >> 56);
    p[1] = (uint8_t)(v >> 48);
    p[2] = (uint8_t)(v >> 40);
    p[3] = (uint8_t)(v >> 32);
    p[4] = (uint8_t)(v >> 24);
    p[5] = (uint8_t)(v >> 16);
    p[6] = (uint8_t)(v >> 8);
    p[7] = (uint8_t)v;
}

/* The SHA-384 output: the first six state words, big-endian. */
static void store_state(uint8_t *out, const SHA512_CTX *c)
{
    size_t i;
    for (i = 0; i < HMAC_OUT / 8; i++) {
        put_u64(out + 8 * i, (uint64_t)c->h[i]);
    }
}

/* Two HMACs under one key: out1 = HMAC(key, info1), out2 = HMAC(key, info2), 48 bytes.
 * SHA512_Transform reads and writes only the state words h, so only h is copied per HMAC
 * and only h ever holds key-dependent bytes (the contexts' buffers stay unused). */
static void hmac384_pair(uint8_t *out1, uint8_t *out2, const uint8_t *key, const uint8_t *info1,
                         size_t len1, const uint8_t *info2, size_t len2)
{
    hmac384_key k;
    SHA512_CTX c;
    uint8_t block[SHA512_BLOCK];
    uint8_t inner[HMAC_OUT];
    const uint8_t *info[2];
    size_t len[2];
    uint8_t *out[2];
    size_t j;

    info[0] = info1;
    info[1] = info2;
    len[0] = len1;
    len[1] = len2;
    out[0] = out1;
    out[1] = out2;
    hmac384_init(&k, key);
    SHA384_Init(&c);
    for (j = 0; j < 2; j++) {
        memcpy(c.h, k.inner.h, sizeof c.h);
        final_block(block, info[j], len[j]);
        SHA512_Transform(&c, block);
        store_state(inner, &c);
        memcpy(c.h, k.outer.h, sizeof c.h);
        final_block(block, inner, sizeof inner);
        SHA512_Transform(&c, block);
        store_state(out[j], &c);
    }
    OPENSSL_cleanse(k.inner.h, sizeof k.inner.h);
    OPENSSL_cleanse(k.outer.h, sizeof k.outer.h);
    OPENSSL_cleanse(c.h, sizeof c.h);
    /* The block's secret bytes are the inner hash at its start; the rest is padding. */
    OPENSSL_cleanse(block, HMAC_OUT);
    OPENSSL_cleanse(inner, sizeof inner);
}

/* chain_step: message key and next chain key, one key schedule for both. */
static void chain_step(uint8_t *mk, uint8_t *ck_next, const uint8_t *ck)
{
    uint8_t t1[HMAC_OUT];
    uint8_t t2[HMAC_OUT];
    hmac384_pair(t1, t2, ck, LABEL_MK, LABEL_LEN(LABEL_MK), LABEL_CK, LABEL_LEN(LABEL_CK));
    memcpy(mk, t1, PQ3_KEY_SIZE);
    memcpy(ck_next, t2, PQ3_KEY_SIZE);
    OPENSSL_cleanse(t1, sizeof t1);
    OPENSSL_cleanse(t2, sizeof t2);
}

/* message_keys: iv_key = IV(16) || AES key(32), and the key indicator. */
static void message_keys(uint8_t *iv_key, uint8_t *indicator, const uint8_t *mk)
{
    uint8_t t[HMAC_OUT];
    hmac384_pair(iv_key, t, mk, LABEL_AES, LABEL_LEN(LABEL_AES), LABEL_IND,
                 LABEL_LEN(LABEL_IND));
    memcpy(indicator, t, PQ3_INDICATOR_SIZE);
    OPENSSL_cleanse(t, sizeof t);
}

/* ── AES-256-CTR ──────────────────────────────────────────────────────────────────── */

static int aes_ctr(pq3_ctx *ctx, uint8_t *out, const uint8_t *in, size_t len,
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

static void body_digest(uint8_t *digest, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
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

static int sign_digest(uint8_t *sig, pq3_signer *signer, const uint8_t *digest)
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

static int verify_digest(pq3_verifier *verifier, const uint8_t *sig, const uint8_t *digest)
{
    uint8_t der[80];
    uint8_t *p = der;
    BIGNUM *r;
    BIGNUM *s;
    ECDSA_SIG *es;
    int der_len;
    int rc;

    /* Canonical form only: r in [1, n-1], s in [1, n/2]; a high-s twin never verifies. */
    if (is_zero32(sig) || cmp32(sig, P256_N) >= 0 || is_zero32(sig + 32)
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
    if (is_zero32(scalar) || cmp32(scalar, P256_N) >= 0) {
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

/* ── Per message ──────────────────────────────────────────────────────────────────── */

int pq3_chain_step(uint8_t *mk_out, uint8_t *ck_out, const uint8_t *ck_in)
{
    uint8_t mk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    if (mk_out == NULL || ck_out == NULL || ck_in == NULL) {
        return PQ3_ERR_ARGUMENT;
    }
    chain_step(mk, ck, ck_in);
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
    body_digest(digest_out, ct, ct_len, ad, ad_len, indicator, ecdh_pk, index, tail, tail_len);
    return PQ3_OK;
}

/* One message into wire (exactly pq3_wire_length bytes); ck_next is caller scratch. */
static int seal_one(pq3_ctx *ctx, uint8_t *wire, uint8_t *ck_next, uint8_t *digest_out,
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

    chain_step(mk, ck_next, ck);
    message_keys(iv_key, indicator, mk);
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
    rc = aes_ctr(ctx, ct, pt, pt_len, iv_key);
    OPENSSL_cleanse(iv_key, sizeof iv_key);
    if (rc != PQ3_OK) {
        return rc;
    }
    p += pt_len;
    if (signer != NULL || digest_out != NULL) {
        body_digest(digest, ct, pt_len, ad, ad_len, indicator, ecdh_pk, index, tail, tail_len);
    }
    if (digest_out != NULL) {
        memcpy(digest_out, digest, sizeof digest);
    }
    if (signer != NULL) {
        return sign_digest(p, signer, digest);
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
    rc = seal_one(ctx, wire_out, ck_next, digest_out, ck_in, index, header, header_len,
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
        rc = seal_one(ctx, wire_out + wire_off, ck[(i + 1) & 1],
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
    return verify_digest(verifier, signature, digest);
}

/* Verify, derive, check the indicator, decrypt into pt_out. ck_next is caller scratch. */
static int open_one(pq3_ctx *ctx, uint8_t *pt_out, uint8_t *ck_next, const uint8_t *key,
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
        chain_step(mk, ck_next, key);
    }
    message_keys(iv_key, expected, mk);
    OPENSSL_cleanse(mk, sizeof mk);
    if (CRYPTO_memcmp(expected, indicator, sizeof expected) != 0) {
        rc = PQ3_ERR_INDICATOR;
    } else {
        rc = aes_ctr(ctx, pt_out, ct, ct_len, iv_key);
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
    rc = open_one(ctx, pt_out, ck_next, key, is_message_key, index, indicator, ecdh_pk, tail,
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
        rc = open_one(ctx, pt_out != NULL ? pt_out + pt_total : NULL, ck[(i + 1) & 1], ck[i & 1],
                      0, indices[i], indicators + i * PQ3_INDICATOR_SIZE,
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
        rc = seal_one(ctx, wire_out + (i != 0 ? wire_ends[i - 1] : 0), ck[(i + 1) & 1], NULL,
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

/* The layout of spec/04-wire-format.md, read strictly: the chain's own header, the
 * expected index, exact lengths, nothing after the signature. */
static int read_wire(const uint8_t *w, size_t len, const uint8_t *header, size_t header_len,
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
    rc = read_wire(wire, wire_len, header, header_len, index, max_ad, max_ct, &ad, &ad_len,
                   &ct, &ct_len);
    if (rc != PQ3_OK) {
        return rc;
    }
    if (out_cap < PQ3_KEY_SIZE || out_cap - PQ3_KEY_SIZE < ct_len) {
        return PQ3_ERR_LENGTH;
    }
    rc = open_one(ctx, out + PQ3_KEY_SIZE, out, ck_in, 0, index, wire + header_len + U32_SIZE,
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
        rc = read_wire(w, len, header, header_len, first_index + (uint32_t)i, max_ad, max_ct,
                       &ad, &ad_len, &ct, &ct_len);
        if (rc != PQ3_OK) {
            break;
        }
        if (pt_cap - pt_total < ct_len || (pt_out == NULL && ct_len != 0)) {
            rc = pt_out == NULL ? PQ3_ERR_ARGUMENT : PQ3_ERR_LENGTH;
            break;
        }
        rc = open_one(ctx, pt_out != NULL ? pt_out + pt_total : NULL, ck[(i + 1) & 1],
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

/* ── The ECDH step: P-256 points, ECDH, the root-key HKDF (pq3proto/kdf.py) ─────────── */

/* 1 if the 32-byte big-endian a is below n, in constant time: the scalar is secret. */
static int below_order(const uint8_t *a)
{
    unsigned borrow = 0;
    int i;
    for (i = 31; i >= 0; i--) {
        unsigned d = (unsigned)a[i] - (unsigned)P256_N[i] - borrow;
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

/* rootAndChainKey: two chained Extracts, one Expand to 64 bytes. */
static void root_kdf(uint8_t *rk, uint8_t *ck, const uint8_t *old_root, const uint8_t *ecdh,
                     const uint8_t *kem, size_t kem_len, const uint8_t *dst, size_t dst_len)
{
    uint8_t prk1[HMAC_OUT];
    uint8_t prk2[HMAC_OUT];
    uint8_t t1[HMAC_OUT];
    uint8_t t2[HMAC_OUT];
    const uint8_t *parts[4];
    size_t lens[4];

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
    parts[2] = COUNTER_1;
    lens[2] = 1;
    hmac384_parts(t1, prk2, sizeof prk2, parts, lens, 3);
    parts[0] = t1;
    lens[0] = sizeof t1;
    parts[1] = LABEL_RK;
    lens[1] = LABEL_LEN(LABEL_RK);
    parts[2] = dst;
    lens[2] = dst_len;
    parts[3] = COUNTER_2;
    lens[3] = 1;
    hmac384_parts(t2, prk2, sizeof prk2, parts, lens, 4);
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
    root_kdf(rk, ck, old_root, ecdh_secret, kem_secret, kem_len, dst, dst_len);
    memcpy(rk_out, rk, sizeof rk);
    memcpy(ck_out, ck, sizeof ck);
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    return PQ3_OK;
}

int pq3_ecdh_root_step(pq3_ctx *ctx, uint8_t *rk_out, uint8_t *ck_out, const uint8_t *scalar,
                       const uint8_t *peer_point, const uint8_t *old_root,
                       const uint8_t *kem_secret, size_t kem_len, const uint8_t *dst,
                       size_t dst_len)
{
    uint8_t secret[PQ3_KEY_SIZE];
    uint8_t rk[PQ3_KEY_SIZE];
    uint8_t ck[PQ3_KEY_SIZE];
    int rc;
    if (ctx == NULL || rk_out == NULL || ck_out == NULL || scalar == NULL
        || peer_point == NULL || old_root == NULL || (dst == NULL && dst_len != 0)
        || !kem_len_ok(kem_secret, kem_len)) {
        return PQ3_ERR_ARGUMENT;
    }
    rc = ecdh_x(ctx, secret, scalar, peer_point);
    if (rc == PQ3_OK) {
        root_kdf(rk, ck, old_root, secret, kem_secret, kem_len, dst, dst_len);
        memcpy(rk_out, rk, sizeof rk);
        memcpy(ck_out, ck, sizeof ck);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(rk, sizeof rk);
    OPENSSL_cleanse(ck, sizeof ck);
    return rc;
}

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
        chain_step(mk, cks[(i + 1) & 1], cks[i & 1]);
        message_keys(iv_key, ind_s, mk);
        rc = aes_ctr(ctx, ct, pt, pt_len, iv_key);
        /* Receiver: the same derivations, the indicator check, decryption. */
        chain_step(mk, ckr[(i + 1) & 1], ckr[i & 1]);
        message_keys(iv_key, ind_r, mk);
        if (rc == PQ3_OK && CRYPTO_memcmp(ind_s, ind_r, sizeof ind_s) != 0) {
            rc = PQ3_ERR_INDICATOR;
        }
        if (rc == PQ3_OK) {
            rc = aes_ctr(ctx, back, ct, pt_len, iv_key);
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
