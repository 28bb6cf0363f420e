/* pq3native_internal.h: what the C files of the hot path share (not part of the API).
 *
 * Owns: the libcrypto headers every file needs, the sizes below, the three objects'
 * layouts, two byte helpers, and the pq3i_ functions one file defines for the others.
 * Not: the API (pq3native.h), or anything one file alone uses.
 */
#ifndef PQ3NATIVE_INTERNAL_H
#define PQ3NATIVE_INTERNAL_H

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

/* Internal symbols stay inside the extension's shared object. */
#if defined(__GNUC__)
#define PQ3_INTERNAL __attribute__((visibility("hidden")))
#else
#define PQ3_INTERNAL
#endif

#define LABEL_LEN(l) (sizeof(l) - 1)
#define IV_SIZE 16
#define HMAC_OUT 48
#define SHA512_BLOCK 128
#define U32_SIZE 4

extern PQ3_INTERNAL const uint8_t pq3i_p256_n[32];  /* the P-256 group order, big-endian */

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

static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n != 0) {
        memcpy(dst, src, n);
    }
}

/* pq3native_kdf.c: the symmetric chain step and message-key expansion (pq3proto/kdf.py). */
PQ3_INTERNAL void pq3i_chain_step(uint8_t *mk, uint8_t *ck_next, const uint8_t *ck);
PQ3_INTERNAL void pq3i_message_keys(uint8_t *iv_key, uint8_t *indicator, const uint8_t *mk);

/* pq3native_objects.c: AES-256-CTR, the signed body's SHA-256 and ECDSA P-256 (low S). */
PQ3_INTERNAL int pq3i_aes_ctr(pq3_ctx *ctx, uint8_t *out, const uint8_t *in, size_t len,
                              const uint8_t *iv_key);
PQ3_INTERNAL void pq3i_body_digest(uint8_t *digest, const uint8_t *ct, size_t ct_len,
                                   const uint8_t *ad, size_t ad_len, const uint8_t *indicator,
                                   const uint8_t *ecdh_pk, uint32_t index, const uint8_t *tail,
                                   size_t tail_len);
PQ3_INTERNAL int pq3i_sign_digest(uint8_t *sig, pq3_signer *signer, const uint8_t *digest);
PQ3_INTERNAL int pq3i_verify_digest(pq3_verifier *verifier, const uint8_t *sig,
                                    const uint8_t *digest);

/* pq3native_message.c: one message each way and the strict wire read. */
/* One message into wire (exactly pq3_wire_length bytes); ck_next is caller scratch. */
PQ3_INTERNAL int pq3i_seal_one(pq3_ctx *ctx, uint8_t *wire, uint8_t *ck_next,
                               uint8_t *digest_out, const uint8_t *ck, uint32_t index,
                               const uint8_t *header, size_t header_len, const uint8_t *ecdh_pk,
                               const uint8_t *tail, size_t tail_len, const uint8_t *ad,
                               size_t ad_len, const uint8_t *pt, size_t pt_len,
                               pq3_signer *signer);
/* Verify (unless verifier is NULL), derive, check the indicator, decrypt into pt_out.
 * ck_next is caller scratch. */
PQ3_INTERNAL int pq3i_open_one(pq3_ctx *ctx, uint8_t *pt_out, uint8_t *ck_next,
                               const uint8_t *key, int is_message_key, uint32_t index,
                               const uint8_t *indicator, const uint8_t *ecdh_pk,
                               const uint8_t *tail, size_t tail_len, const uint8_t *ad,
                               size_t ad_len, const uint8_t *ct, size_t ct_len,
                               const uint8_t *signature, pq3_verifier *verifier);
/* The layout of spec/04-wire-format.md, read strictly: the chain's own header, the
 * expected index, exact lengths, nothing after the signature. */
PQ3_INTERNAL int pq3i_read_wire(const uint8_t *w, size_t len, const uint8_t *header,
                                size_t header_len, uint32_t index, size_t max_ad,
                                size_t max_ct, const uint8_t **ad, size_t *ad_len,
                                const uint8_t **ct, size_t *ct_len);

/* pq3native_ecdh.c: ECDH with a validated peer point, then rootAndChainKey, its dst given
 * in two parts (dst || dst2; dst2 may be NULL with length 0). The secret stays inside. */
PQ3_INTERNAL int pq3i_ecdh_root(pq3_ctx *ctx, uint8_t *rk, uint8_t *ck, const uint8_t *scalar,
                                const uint8_t *peer_point, const uint8_t *old_root,
                                const uint8_t *kem, size_t kem_len, const uint8_t *dst,
                                size_t dst_len, const uint8_t *dst2, size_t dst2_len);

#endif
