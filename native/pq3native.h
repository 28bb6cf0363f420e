/* pq3native.h: the per-message hot path of pq3proto in C (spec/03-ratchet.md §4).
 *
 * Owns: the symmetric chain step, message-key expansion, AES-256-CTR, the signed layout
 * and its ECDSA P-256 signature, the wire bytes of one message, for one message or a
 * batch of one chain. Byte for byte what pq3proto/message.py computes.
 * Also the pieces of the ratchet's ECDH step (P-256 public point, ECDH with point
 * validation, rootAndChainKey) and the symmetric floor loop of `pq3proto bench`.
 * Not: parsing (except the layout of a packed batch of one chain), chain bookkeeping,
 * the PQ step, deterministic (RFC 6979) nonces.
 *
 * Conventions: every symbol is pq3_-prefixed; output pointers come first (after the
 * scratch context), inputs are const; 0 is success, a negative PQ3_ERR_* is a failure.
 * On failure no chain-key output is written and plaintext outputs are left zeroed.
 * Nothing allocates on the per-message path except ECDSA (OpenSSL internals and the
 * DER conversion of r || s).
 * A pq3_ctx, pq3_signer or pq3_verifier must not be used by two threads at once;
 * different objects may be used concurrently.
 *
 * This file is read verbatim by native/build_native.py as the cffi cdef: only lines
 * starting with '#' are dropped, so keep declarations plain C.
 */
#ifndef PQ3NATIVE_H
#define PQ3NATIVE_H

#include <stddef.h>
#include <stdint.h>

enum {
    PQ3_OK = 0,
    PQ3_ERR_AUTH = -1,      /* signature does not verify, or is not canonical (high s) */
    PQ3_ERR_INDICATOR = -2, /* key indicator does not match the derived message key */
    PQ3_ERR_LENGTH = -3,    /* a buffer or length field has the wrong size */
    PQ3_ERR_KEY = -4,       /* a private scalar or public point is not a valid P-256 key */
    PQ3_ERR_ARGUMENT = -5,  /* a required pointer is NULL */
    PQ3_ERR_INTERNAL = -6,  /* libcrypto failed */
    PQ3_ERR_BATCH = -7      /* a packed batch holds a message of another chain or index */
};

enum {
    PQ3_KEY_SIZE = 32,       /* chain key, message key, AES-256 key */
    PQ3_INDICATOR_SIZE = 32,
    PQ3_POINT_SIZE = 65,     /* SEC1 uncompressed P-256 point */
    PQ3_SCALAR_SIZE = 32,
    PQ3_SIGNATURE_SIZE = 64, /* raw r || s, low s */
    PQ3_DIGEST_SIZE = 32,    /* SHA-256 of the signed body */
    PQ3_MLKEM_Q = 3329       /* the ML-KEM modulus */
};

/* Scratch state of one thread: the AES-256-CTR cipher, fetched and allocated once. */
typedef struct pq3_ctx pq3_ctx;
/* An ECDSA P-256 private key with a sign context prepared once. */
typedef struct pq3_signer pq3_signer;
/* A validated P-256 public key with a verify context prepared once. */
typedef struct pq3_verifier pq3_verifier;

int pq3_ctx_new(pq3_ctx **ctx_out);
void pq3_ctx_free(pq3_ctx *ctx);

int pq3_signer_new(pq3_signer **signer_out, const uint8_t *scalar);
void pq3_signer_free(pq3_signer *signer);

/* Rejects anything but a valid uncompressed point on P-256 (PQ3_ERR_KEY). */
int pq3_verifier_new(pq3_verifier **verifier_out, const uint8_t *point);
void pq3_verifier_free(pq3_verifier *verifier);

/* symmetricRatchet: message key and next chain key from a chain key (32 bytes each). */
int pq3_chain_step(uint8_t *mk_out, uint8_t *ck_out, const uint8_t *ck_in);

/* Wire size of one message: header || index || indicator || lp(ad) || lp(ct) || sig.
 * Returns 0 if the result, or the ad or plaintext length, does not fit the format. */
size_t pq3_wire_length(size_t header_len, size_t ad_len, size_t pt_len);

/* SHA-256 of the signed body of one message (spec/04-wire-format.md §3). */
int pq3_signature_digest(uint8_t *digest_out,
                         const uint8_t *ct, size_t ct_len,
                         const uint8_t *ad, size_t ad_len,
                         const uint8_t *indicator, const uint8_t *ecdh_pk,
                         uint32_t index, const uint8_t *tail, size_t tail_len);

/* Seal one message. wire_cap must be at least pq3_wire_length(...). signer NULL writes
 * an all-zero signature. digest_out, if not NULL, receives the SHA-256 of the signed
 * body (for a signature made elsewhere). */
int pq3_seal(pq3_ctx *ctx,
             uint8_t *wire_out, size_t wire_cap,
             uint8_t *ck_out,
             uint8_t *digest_out,
             const uint8_t *ck_in, uint32_t index,
             const uint8_t *header, size_t header_len,
             const uint8_t *ecdh_pk,
             const uint8_t *tail, size_t tail_len,
             const uint8_t *ad, size_t ad_len,
             const uint8_t *pt, size_t pt_len,
             pq3_signer *signer);

/* Seal n messages of one chain, indices first_index .. first_index + n - 1. The
 * plaintexts lie back to back in pts (lengths pt_lens); the messages are written back
 * to back into wire_out, message i taking pq3_wire_length(header_len, ad_len,
 * pt_lens[i]) bytes. digests_out, if not NULL, takes n * 32 bytes. */
int pq3_seal_batch(pq3_ctx *ctx,
                   uint8_t *wire_out, size_t wire_cap,
                   uint8_t *ck_out,
                   uint8_t *digests_out,
                   const uint8_t *ck_in, uint32_t first_index,
                   const uint8_t *header, size_t header_len,
                   const uint8_t *ecdh_pk,
                   const uint8_t *tail, size_t tail_len,
                   const uint8_t *ad, size_t ad_len,
                   const uint8_t *pts, const size_t *pt_lens, size_t n,
                   pq3_signer *signer);

/* Verify one signature over the signed body. */
int pq3_verify(pq3_verifier *verifier,
               const uint8_t *signature,
               const uint8_t *ct, size_t ct_len,
               const uint8_t *ad, size_t ad_len,
               const uint8_t *indicator, const uint8_t *ecdh_pk,
               uint32_t index, const uint8_t *tail, size_t tail_len);

/* Open one message: verify (unless verifier is NULL), derive from key (a chain key, or
 * the message key itself when is_message_key), check the indicator in constant time,
 * decrypt into pt_out (pt_cap >= ct_len). ck_out receives the next chain key unless
 * is_message_key (then it may be NULL and is not written). */
int pq3_open(pq3_ctx *ctx,
             uint8_t *pt_out, size_t pt_cap,
             uint8_t *ck_out,
             const uint8_t *key, int is_message_key,
             uint32_t index, const uint8_t *indicator,
             const uint8_t *ecdh_pk,
             const uint8_t *tail, size_t tail_len,
             const uint8_t *ad, size_t ad_len,
             const uint8_t *ct, size_t ct_len,
             const uint8_t *signature,
             pq3_verifier *verifier);

/* Open n consecutive messages of one chain starting at ck_in's index. Per message i:
 * indices[i], indicators + 32i, ecdh_pks + 65i, signatures + 64i; ads and cts back to
 * back with lengths ad_lens and ct_lens; plaintexts back to back into pt_out. All or
 * nothing: on failure *fail_index names the failing message, ck_out is not written and
 * the plaintext bytes already written are zeroed. */
int pq3_open_batch(pq3_ctx *ctx,
                   uint8_t *pt_out, size_t pt_cap,
                   uint8_t *ck_out,
                   size_t *fail_index,
                   const uint8_t *ck_in,
                   const uint32_t *indices, const uint8_t *indicators,
                   const uint8_t *ecdh_pks,
                   const uint8_t *tail, size_t tail_len,
                   const uint8_t *ads, const size_t *ad_lens,
                   const uint8_t *cts, const size_t *ct_lens,
                   const uint8_t *signatures, size_t n,
                   pq3_verifier *verifier);

/* ── Packed batches: n records back to back in one buffer, record i ending at ends[i]
 * (non-decreasing, the last equal to the buffer's length) ── */

/* pq3_seal_batch over packed plaintexts (pts, pts_len bytes, ends pt_ends): the messages
 * are written back to back into wire_out and wire_ends[i] receives the end of message i.
 * No digests: a signature made elsewhere goes through pq3_seal_batch. */
int pq3_seal_packed(pq3_ctx *ctx,
                    uint8_t *wire_out, size_t wire_cap, size_t *wire_ends,
                    uint8_t *ck_out,
                    const uint8_t *ck_in, uint32_t first_index,
                    const uint8_t *header, size_t header_len,
                    const uint8_t *ecdh_pk,
                    const uint8_t *tail, size_t tail_len,
                    const uint8_t *ad, size_t ad_len,
                    const uint8_t *pts, size_t pts_len, const size_t *pt_ends, size_t n,
                    pq3_signer *signer);

/* Parse and open n packed wire messages of one chain: message i must start with exactly
 * `header` (whose ecdhPK, at offset 2, the signature covers), carry index first_index + i
 * (PQ3_ERR_BATCH otherwise) and have exact lengths, ad at most max_ad and ciphertext at
 * most max_ct bytes (PQ3_ERR_LENGTH otherwise); then as pq3_open_batch. The plaintexts
 * are written back to back into pt_out, pt_ends[i] the end of plaintext i. All or
 * nothing, *fail_index naming the failing message. */
int pq3_open_packed(pq3_ctx *ctx,
                    uint8_t *pt_out, size_t pt_cap, size_t *pt_ends,
                    uint8_t *ck_out,
                    size_t *fail_index,
                    const uint8_t *ck_in, uint32_t first_index,
                    const uint8_t *header, size_t header_len,
                    const uint8_t *tail, size_t tail_len,
                    const uint8_t *wires, size_t wires_len, const size_t *wire_ends, size_t n,
                    size_t max_ad, size_t max_ct,
                    pq3_verifier *verifier);

/* One wire message, read as pq3_open_packed reads each of its records: message `index`
 * of the chain whose exact header bytes are given. out (out_cap >= 32 + the ciphertext
 * length) receives the next chain key, then the plaintext. PQ3_ERR_BATCH: another header
 * or index; PQ3_ERR_LENGTH: not the strict layout (nothing is opened in either case). */
int pq3_open_wire(pq3_ctx *ctx,
                  uint8_t *out, size_t out_cap,
                  const uint8_t *ck_in, uint32_t index,
                  const uint8_t *header, size_t header_len,
                  const uint8_t *tail, size_t tail_len,
                  const uint8_t *wire, size_t wire_len,
                  size_t max_ad, size_t max_ct,
                  pq3_verifier *verifier);

/* ── The ECDH step (spec/02-key-schedule.md §2-§3) ── */

/* The SEC1 uncompressed public point of a private scalar (32 bytes big-endian, in
 * [1, n-1]; PQ3_ERR_KEY otherwise): keygen from a scalar drawn by the caller. */
int pq3_p256_public(pq3_ctx *ctx, uint8_t *point_out, const uint8_t *scalar);

/* ECDH on P-256: secret_out (32 bytes) = x(scalar * peer_point). The peer point must be
 * an uncompressed point on the curve; anything else is PQ3_ERR_KEY. */
int pq3_ecdh(pq3_ctx *ctx, uint8_t *secret_out, const uint8_t *scalar,
             const uint8_t *peer_point);

/* rootAndChainKey: prk = HKDF-Extract(old_root, ecdh_secret); prk = HKDF-Extract(
 * kem_secret, prk) with kem_secret NULL meaning the absent salt (48 zero bytes);
 * okm = HKDF-Expand(prk, "rkDerivation-" || dst, 64); rk_out = okm[0:32],
 * ck_out = okm[32:64]. old_root and ecdh_secret are 32 bytes; kem_secret is kem_len bytes,
 * 1 to PQ3_MAX_KEM_SECRET (16, 24 or 32 for the profiles' KEMs). */
#define PQ3_MAX_KEM_SECRET 64
int pq3_root_and_chain_key(uint8_t *rk_out, uint8_t *ck_out,
                           const uint8_t *old_root, const uint8_t *ecdh_secret,
                           const uint8_t *kem_secret, size_t kem_len,
                           const uint8_t *dst, size_t dst_len);

/* pq3_ecdh then pq3_root_and_chain_key in one call; the ECDH secret stays inside. */
int pq3_ecdh_root_step(pq3_ctx *ctx, uint8_t *rk_out, uint8_t *ck_out,
                       const uint8_t *scalar, const uint8_t *peer_point,
                       const uint8_t *old_root, const uint8_t *kem_secret,
                       size_t kem_len, const uint8_t *dst, size_t dst_len);

/* ── A plain new chain's first message in one call (pq3native_chain.c) ──
 * "Plain": the chain header is header_prefix (version, flags: 2 bytes) || ecdhPK and the
 * ECDH step mixes no KEM secret; its dst is dst_prefix || ecdhPK. */

/* Key generation from scalar (as pq3_p256_public), the ECDH step with peer_point from
 * old_root (as pq3_ecdh_root_step), then message 0 sealed as pq3_seal seals it (digest_out
 * and signer alike) under the new header, wire_cap >= pq3_wire_length(67, ad_len,
 * pt_len). keys_out (129 bytes) receives ecdhPK (65), the new root key (32) and the chain
 * key after message 0 (32). */
int pq3_seal_new_chain(pq3_ctx *ctx,
                       uint8_t *wire_out, size_t wire_cap, uint8_t *keys_out,
                       uint8_t *digest_out,
                       const uint8_t *scalar, const uint8_t *peer_point,
                       const uint8_t *old_root, const uint8_t *header_prefix,
                       const uint8_t *dst_prefix, size_t dst_prefix_len,
                       const uint8_t *tail, size_t tail_len,
                       const uint8_t *ad, size_t ad_len,
                       const uint8_t *pt, size_t pt_len,
                       pq3_signer *signer);

/* Message 0 of a new chain whose plain header (67 bytes) begins the wire, read strictly
 * as pq3_open_wire reads (PQ3_ERR_BATCH: index not 0; PQ3_ERR_LENGTH: not the layout;
 * nothing is opened in either case), its signature verified, then the ECDH step with the
 * header's ecdhPK from old_root, then derived and decrypted. out (out_cap >= 64 + the
 * ciphertext length) receives the new root key (32), the chain key after message 0 (32),
 * then the plaintext. */
int pq3_open_new_chain(pq3_ctx *ctx,
                       uint8_t *out, size_t out_cap,
                       const uint8_t *scalar, const uint8_t *old_root,
                       const uint8_t *dst_prefix, size_t dst_prefix_len,
                       const uint8_t *tail, size_t tail_len,
                       const uint8_t *wire, size_t wire_len,
                       size_t max_ad, size_t max_ct,
                       pq3_verifier *verifier);

/* ── ML-KEM key check ── */

/* FIPS 203 §7.2 modulus check of an encapsulation key's ByteEncode12 part t_hat (the key
 * without its final 32-byte rho; len a multiple of 3): PQ3_OK if every 12-bit
 * coefficient is below q, else PQ3_ERR_KEY with *bad_index the first one that is not. */
int pq3_mlkem_modulus_check(size_t *bad_index, const uint8_t *t_hat, size_t len);

/* ── Benchmark floor ── */

/* n messages of one chain, both sides, with no wire layout and no caller in the loop:
 * sender chain step + message keys + AES-256-CTR of pt; receiver the same + the
 * indicator check + decryption, checked equal to pt. scratch holds 2 * pt_len bytes.
 * ck_out receives the chain key after n messages. */
int pq3_floor_symmetric(pq3_ctx *ctx, uint8_t *ck_out, uint8_t *scratch,
                        const uint8_t *ck_in, const uint8_t *pt, size_t pt_len, size_t n);

#endif /* PQ3NATIVE_H */
