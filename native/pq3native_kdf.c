/* pq3native_kdf.c: HMAC-SHA384 single-block HKDF-Expand with key schedules computed once per key:
 * the symmetric chain step and the message keys (pq3proto/kdf.py, spec/02-key-schedule.md §4).
 */

#include "pq3native_internal.h"

/* HKDF-Expand info || counter byte 0x01: every output here is at most one SHA-384 block. */
static const uint8_t LABEL_MK[] = "msgKeyDerivation\x01";
static const uint8_t LABEL_CK[] = "chainKeyDerivation\x01";
static const uint8_t LABEL_AES[] = "aes-ctr\x01";
static const uint8_t LABEL_IND[] = "msg-key-ind\x01";

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
void pq3i_chain_step(uint8_t *mk, uint8_t *ck_next, const uint8_t *ck)
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
void pq3i_message_keys(uint8_t *iv_key, uint8_t *indicator, const uint8_t *mk)
{
    uint8_t t[HMAC_OUT];
    hmac384_pair(iv_key, t, mk, LABEL_AES, LABEL_LEN(LABEL_AES), LABEL_IND,
                 LABEL_LEN(LABEL_IND));
    memcpy(indicator, t, PQ3_INDICATOR_SIZE);
    OPENSSL_cleanse(t, sizeof t);
}
