/* test_pq3native.c: sanitizer harness for pq3native_*.c (driven by tests/test_native.py).
 *
 * Reads records of hex fields ("-" is empty) whose expected values come from the
 * pure-Python path, runs the C API on them under ASan/UBSan, and checks outputs, every
 * failure code, and that failures leave outputs untouched. Exit 0 only if all pass.
 *
 *   step  ck mk ck_next
 *   seal  ck index header ecdh tail ad pt wire ck_next digest scalar point
 *   open  key is_mk index indicator ecdh tail ad ct sig point pt ck_next
 *   batch ck first header ecdh tail ad scalar point n pt_1 .. pt_n wires ck_next
 *   ecdh  scalar point peer_point secret
 *   root  old_root ecdh kem("-": absent) dst rk ck
 *   newchain old_root scalar peer_scalar peer_point dst_prefix tail ad pt wire rk ck_next
 *            signer_scalar signer_point   (wire: unsigned, as with no signer)
 */
#include "pq3native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN (1u << 22)
#define SENTINEL 0xA5

static int failures = 0;
static char *token_buf;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "FAIL line %d: ", __LINE__);                                 \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

typedef struct {
    uint8_t *p;
    size_t n;
} buf;

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Next field as bytes; always a fresh allocation (at least 1 byte) so ASan sees bounds. */
static int read_hex(FILE *f, buf *out)
{
    size_t len;
    size_t i;
    if (fscanf(f, "%4194303s", token_buf) != 1) {
        return 0;
    }
    len = strcmp(token_buf, "-") == 0 ? 0 : strlen(token_buf);
    if (len % 2 != 0) {
        return 0;
    }
    out->n = len / 2;
    out->p = malloc(out->n ? out->n : 1);
    if (out->p == NULL) {
        return 0;
    }
    for (i = 0; i < out->n; i++) {
        int hi = hexval(token_buf[2 * i]);
        int lo = hexval(token_buf[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return 0;
        }
        out->p[i] = (uint8_t)(hi * 16 + lo);
    }
    return 1;
}

static unsigned long read_uint(FILE *f)
{
    unsigned long v = 0;
    if (fscanf(f, "%lu", &v) != 1) {
        fprintf(stderr, "bad integer field\n");
        exit(2);
    }
    return v;
}

static buf need_hex(FILE *f)
{
    buf b;
    if (!read_hex(f, &b)) {
        fprintf(stderr, "bad hex field\n");
        exit(2);
    }
    return b;
}

static int all_byte(const uint8_t *p, size_t n, uint8_t v)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != v) return 0;
    }
    return 1;
}

static uint8_t *fresh(size_t n, uint8_t fill)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL) {
        exit(2);
    }
    memset(p, fill, n ? n : 1);
    return p;
}

static void do_step(FILE *f)
{
    buf ck = need_hex(f), mk = need_hex(f), ckn = need_hex(f);
    uint8_t mk_out[32], ck_out[32];
    CHECK(pq3_chain_step(mk_out, ck_out, ck.p) == PQ3_OK, "chain_step rc");
    CHECK(memcmp(mk_out, mk.p, 32) == 0 && memcmp(ck_out, ckn.p, 32) == 0, "chain_step");
    /* In place: ck_out aliasing ck_in. */
    memcpy(ck_out, ck.p, 32);
    CHECK(pq3_chain_step(mk_out, ck_out, ck_out) == PQ3_OK && memcmp(ck_out, ckn.p, 32) == 0,
          "chain_step in place");
    CHECK(pq3_chain_step(NULL, ck_out, ck.p) == PQ3_ERR_ARGUMENT, "chain_step NULL");
    free(ck.p);
    free(mk.p);
    free(ckn.p);
}

static void do_seal(FILE *f, pq3_ctx *ctx)
{
    buf ck = need_hex(f);
    uint32_t index = (uint32_t)read_uint(f);
    buf header = need_hex(f), ecdh = need_hex(f), tail = need_hex(f), ad = need_hex(f);
    buf pt = need_hex(f), wire = need_hex(f), ckn = need_hex(f), digest = need_hex(f);
    buf scalar = need_hex(f), point = need_hex(f);
    size_t wl = pq3_wire_length(header.n, ad.n, pt.n);
    uint8_t *out = fresh(wl, SENTINEL);
    uint8_t ck_out[32], dig[32];
    pq3_signer *signer = NULL;
    pq3_verifier *verifier = NULL;
    const uint8_t *ind = out + header.n + 4;
    const uint8_t *ct = out + header.n + 4 + 32 + 4 + ad.n + 4;

    CHECK(wl == wire.n, "wire length %zu != %zu", wl, wire.n);
    CHECK(pq3_seal(ctx, out, wl, ck_out, dig, ck.p, index, header.p, header.n, ecdh.p, tail.p,
                   tail.n, ad.p, ad.n, pt.p, pt.n, NULL) == PQ3_OK,
          "seal rc");
    CHECK(memcmp(out, wire.p, wl) == 0, "seal wire bytes");
    CHECK(memcmp(ck_out, ckn.p, 32) == 0, "seal next chain key");
    CHECK(memcmp(dig, digest.p, 32) == 0, "seal digest");

    /* Too small a buffer: LENGTH, nothing written. */
    memset(out, SENTINEL, wl);
    memset(ck_out, SENTINEL, 32);
    CHECK(pq3_seal(ctx, out, wl - 1, ck_out, NULL, ck.p, index, header.p, header.n, ecdh.p,
                   tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, NULL) == PQ3_ERR_LENGTH,
          "seal short buffer");
    CHECK(all_byte(out, wl, SENTINEL) && all_byte(ck_out, 32, SENTINEL), "seal short untouched");

    /* pq3_open_wire on the same wire, unverified: the plaintext and next chain key; then
     * every prefix of the wire and one byte more, each in a buffer of exactly its size:
     * refused before anything is opened (LENGTH or BATCH), the output untouched. */
    {
        size_t cap = 32 + pt.n, cut;
        uint8_t *opened = fresh(cap, SENTINEL);
        int want = header.n >= 2 + 65 ? PQ3_OK : PQ3_ERR_ARGUMENT;
        int rc = pq3_open_wire(ctx, opened, cap, ck.p, index, header.p, header.n, tail.p,
                               tail.n, wire.p, wire.n, (size_t)-1, (size_t)-1, NULL);
        CHECK(rc == want, "open_wire rc %d", rc);
        if (want == PQ3_OK) {
            CHECK(memcmp(opened, ckn.p, 32) == 0 && memcmp(opened + 32, pt.p, pt.n) == 0,
                  "open_wire outputs");
            CHECK(pq3_open_wire(ctx, opened, cap, ck.p, index + 1, header.p, header.n, tail.p,
                                tail.n, wire.p, wire.n, (size_t)-1, (size_t)-1, NULL)
                      == PQ3_ERR_BATCH,
                  "open_wire another index");
            for (cut = 0; cut <= wire.n + 1; cut++) {
                uint8_t *w = fresh(cut, 0);
                memcpy(w, wire.p, cut <= wire.n ? cut : wire.n);
                memset(opened, SENTINEL, cap);
                if (cut != wire.n) {
                    rc = pq3_open_wire(ctx, opened, cap, ck.p, index, header.p, header.n,
                                       tail.p, tail.n, w, cut, (size_t)-1, (size_t)-1, NULL);
                    CHECK((rc == PQ3_ERR_LENGTH || rc == PQ3_ERR_BATCH)
                              && all_byte(opened, cap, SENTINEL),
                          "open_wire of %zu bytes rc %d", cut, rc);
                }
                free(w);
            }
        }
        free(opened);
    }

    /* Signed with a random nonce: same bytes before the signature; it verifies; its
     * high-s twin does not. */
    CHECK(pq3_signer_new(&signer, scalar.p) == PQ3_OK, "signer_new");
    CHECK(pq3_verifier_new(&verifier, point.p) == PQ3_OK, "verifier_new");
    if (signer != NULL && verifier != NULL) {
        uint8_t twin[64];
        int i, borrow = 0;
        static const uint8_t n[32] = {
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
            0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
        CHECK(pq3_seal(ctx, out, wl, ck_out, NULL, ck.p, index, header.p, header.n, ecdh.p,
                       tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, signer) == PQ3_OK,
              "signed seal rc");
        CHECK(memcmp(out, wire.p, wl - 64) == 0, "signed seal body bytes");
        CHECK(pq3_verify(verifier, out + wl - 64, ct, pt.n, ad.p, ad.n, ind, ecdh.p, index,
                         tail.p, tail.n) == PQ3_OK,
              "own signature verifies");
        memcpy(twin, out + wl - 64, 64);
        for (i = 31; i >= 0; i--) {
            int d = (int)n[i] - (int)twin[32 + i] - borrow;
            borrow = d < 0;
            twin[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
        }
        CHECK(pq3_verify(verifier, twin, ct, pt.n, ad.p, ad.n, ind, ecdh.p, index, tail.p,
                         tail.n) == PQ3_ERR_AUTH,
              "high-s twin rejected");
    }
    pq3_signer_free(signer);
    pq3_verifier_free(verifier);
    free(out);
    free(ck.p); free(header.p); free(ecdh.p); free(tail.p); free(ad.p); free(pt.p);
    free(wire.p); free(ckn.p); free(digest.p); free(scalar.p); free(point.p);
}

/* One open call on private copies; returns rc, checks untouched outputs on failure. */
static int open_copy(pq3_ctx *ctx, uint8_t *pt_out, size_t pt_cap, uint8_t *ck_out,
                     const buf *key, int is_mk, uint32_t index, const buf *ind, const buf *ecdh,
                     const buf *tail, const buf *ad, const buf *ct, const buf *sig,
                     pq3_verifier *v)
{
    int rc;
    memset(pt_out, SENTINEL, ct->n ? ct->n : 1);
    memset(ck_out, SENTINEL, 32);
    rc = pq3_open(ctx, pt_out, pt_cap, is_mk ? NULL : ck_out, key->p, is_mk, index, ind->p,
                  ecdh->p, tail->p, tail->n, ad->p, ad->n, ct->p, ct->n, sig->p, v);
    if (rc != PQ3_OK) {
        CHECK(all_byte(pt_out, ct->n, SENTINEL) && all_byte(ck_out, 32, SENTINEL),
              "outputs touched on failure rc=%d", rc);
    }
    return rc;
}

static void flip(buf *b, size_t at)
{
    b->p[at] ^= 0x01;
}

static void do_open(FILE *f, pq3_ctx *ctx)
{
    buf key = need_hex(f);
    int is_mk = (int)read_uint(f);
    uint32_t index = (uint32_t)read_uint(f);
    buf ind = need_hex(f), ecdh = need_hex(f), tail = need_hex(f), ad = need_hex(f);
    buf ct = need_hex(f), sig = need_hex(f), point = need_hex(f), pt = need_hex(f);
    buf ckn = need_hex(f);
    uint8_t *pt_out = fresh(ct.n, SENTINEL);
    uint8_t ck_out[32];
    pq3_verifier *v = NULL;
    buf *regions[6];
    size_t r;

    CHECK(pq3_verifier_new(&v, point.p) == PQ3_OK, "verifier_new");
    CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad, &ct,
                    &sig, v) == PQ3_OK,
          "open rc");
    CHECK(memcmp(pt_out, pt.p, pt.n) == 0, "open plaintext");
    CHECK(is_mk ? all_byte(ck_out, 32, SENTINEL) : memcmp(ck_out, ckn.p, 32) == 0,
          "open next chain key");
    /* Without a verifier too (the caller verified). */
    CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad, &ct,
                    &sig, NULL) == PQ3_OK && memcmp(pt_out, pt.p, pt.n) == 0,
          "open without verifier");

    /* Every signed region flipped once: AUTH, outputs untouched. */
    regions[0] = &ind;
    regions[1] = &ecdh;
    regions[2] = &tail;
    regions[3] = &ad;
    regions[4] = &ct;
    regions[5] = &sig;
    for (r = 0; r < 6; r++) {
        size_t at;
        size_t picks[3];
        size_t k;
        if (regions[r]->n == 0) {
            continue;
        }
        picks[0] = 0;
        picks[1] = regions[r]->n / 2;
        picks[2] = regions[r]->n - 1;
        for (k = 0; k < 3; k++) {
            at = picks[k];
            flip(regions[r], at);
            CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail,
                            &ad, &ct, &sig, v) == PQ3_ERR_AUTH,
                  "tampered region %zu byte %zu accepted", r, at);
            flip(regions[r], at);
        }
    }
    CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index + 1, &ind, &ecdh, &tail, &ad,
                    &ct, &sig, v) == PQ3_ERR_AUTH,
          "tampered index accepted");
    /* Non-canonical signatures: r = 0, s = 0, r = 0xff..ff. */
    {
        uint8_t saved[64];
        memcpy(saved, sig.p, 64);
        memset(sig.p, 0, 32);
        CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad,
                        &ct, &sig, v) == PQ3_ERR_AUTH, "r = 0 accepted");
        memcpy(sig.p, saved, 64);
        memset(sig.p + 32, 0, 32);
        CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad,
                        &ct, &sig, v) == PQ3_ERR_AUTH, "s = 0 accepted");
        memcpy(sig.p, saved, 64);
        memset(sig.p, 0xff, 32);
        CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad,
                        &ct, &sig, v) == PQ3_ERR_AUTH, "r >= n accepted");
        memcpy(sig.p, saved, 64);
    }
    /* Wrong key without a verifier: the indicator catches it. */
    flip(&key, 7);
    CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad, &ct,
                    &sig, NULL) == PQ3_ERR_INDICATOR,
          "wrong key accepted");
    flip(&key, 7);
    flip(&ind, 31);
    CHECK(open_copy(ctx, pt_out, ct.n, ck_out, &key, is_mk, index, &ind, &ecdh, &tail, &ad, &ct,
                    &sig, NULL) == PQ3_ERR_INDICATOR,
          "wrong indicator accepted");
    flip(&ind, 31);
    if (ct.n > 0) {
        CHECK(open_copy(ctx, pt_out, ct.n - 1, ck_out, &key, is_mk, index, &ind, &ecdh, &tail,
                        &ad, &ct, &sig, v) == PQ3_ERR_LENGTH,
              "short plaintext buffer accepted");
    }
    pq3_verifier_free(v);
    free(pt_out);
    free(key.p); free(ind.p); free(ecdh.p); free(tail.p); free(ad.p); free(ct.p);
    free(sig.p); free(point.p); free(pt.p); free(ckn.p);
}

static void do_batch(FILE *f, pq3_ctx *ctx)
{
    buf ck = need_hex(f);
    uint32_t first = (uint32_t)read_uint(f);
    buf header = need_hex(f), ecdh = need_hex(f), tail = need_hex(f), ad = need_hex(f);
    buf scalar = need_hex(f), point = need_hex(f);
    size_t n = (size_t)read_uint(f);
    size_t *lens = calloc(n + 1, sizeof *lens);
    size_t total_pt = 0, total_wire = 0, i, off, w_off;
    uint8_t *pts;
    buf wires, ckn;
    uint8_t *out, *pt_out, *inds, *ecdhs, *sigs, *cts;
    uint32_t *indices;
    uint8_t ck_out[32];
    size_t fail = 99;
    pq3_signer *signer = NULL;
    pq3_verifier *v = NULL;
    buf *items = calloc(n + 1, sizeof *items);

    for (i = 0; i < n; i++) {
        items[i] = need_hex(f);
        lens[i] = items[i].n;
        total_pt += items[i].n;
        total_wire += pq3_wire_length(header.n, ad.n, items[i].n);
    }
    wires = need_hex(f);
    ckn = need_hex(f);
    pts = fresh(total_pt, 0);
    for (i = 0, off = 0; i < n; i++) {
        if (items[i].n) memcpy(pts + off, items[i].p, items[i].n);
        off += items[i].n;
        free(items[i].p);
    }
    out = fresh(total_wire, SENTINEL);
    CHECK(total_wire == wires.n, "batch wire total");
    CHECK(pq3_seal_batch(ctx, out, total_wire, ck_out, NULL, ck.p, first, header.p, header.n,
                         ecdh.p, tail.p, tail.n, ad.p, ad.n, pts, lens, n, NULL) == PQ3_OK,
          "seal_batch rc");
    CHECK(memcmp(out, wires.p, total_wire) == 0, "seal_batch bytes");
    CHECK(memcmp(ck_out, ckn.p, 32) == 0, "seal_batch next chain key");
    memset(ck_out, SENTINEL, 32);
    CHECK(pq3_seal_batch(ctx, out, total_wire - 1, ck_out, NULL, ck.p, first, header.p,
                         header.n, ecdh.p, tail.p, tail.n, ad.p, ad.n, pts, lens, n,
                         NULL) == PQ3_ERR_LENGTH && all_byte(ck_out, 32, SENTINEL),
          "seal_batch short buffer");
    CHECK(pq3_seal_batch(ctx, out, total_wire, ck_out, NULL, ck.p, 0xFFFFFFFFu, header.p,
                         header.n, ecdh.p, tail.p, tail.n, ad.p, ad.n, pts, lens, n,
                         NULL) == (n > 1 ? PQ3_ERR_LENGTH : PQ3_OK),
          "seal_batch index overflow");

    /* Signed batch, then open it back with the verifier from the message fields. */
    CHECK(pq3_signer_new(&signer, scalar.p) == PQ3_OK, "signer_new");
    CHECK(pq3_verifier_new(&v, point.p) == PQ3_OK, "verifier_new");
    CHECK(pq3_seal_batch(ctx, out, total_wire, ck_out, NULL, ck.p, first, header.p, header.n,
                         ecdh.p, tail.p, tail.n, ad.p, ad.n, pts, lens, n, signer) == PQ3_OK,
          "signed seal_batch");
    inds = fresh(32 * n, 0);
    ecdhs = fresh(65 * n, 0);
    sigs = fresh(64 * n, 0);
    cts = fresh(total_pt, 0);
    indices = calloc(n + 1, sizeof *indices);
    {
        uint8_t *ads = fresh(ad.n * n, 0);
        size_t *ad_lens = calloc(n + 1, sizeof *ad_lens);
        for (i = 0, w_off = 0, off = 0; i < n; i++) {
            const uint8_t *m = out + w_off + header.n;
            indices[i] = first + (uint32_t)i;
            memcpy(inds + 32 * i, m + 4, 32);
            memcpy(ecdhs + 65 * i, ecdh.p, 65);
            if (ad.n) memcpy(ads + ad.n * i, ad.p, ad.n);
            ad_lens[i] = ad.n;
            if (lens[i]) memcpy(cts + off, m + 4 + 32 + 4 + ad.n + 4, lens[i]);
            memcpy(sigs + 64 * i, m + 4 + 32 + 4 + ad.n + 4 + lens[i], 64);
            off += lens[i];
            w_off += pq3_wire_length(header.n, ad.n, lens[i]);
        }
        pt_out = fresh(total_pt, SENTINEL);
        memset(ck_out, SENTINEL, 32);
        CHECK(pq3_open_batch(ctx, pt_out, total_pt, ck_out, &fail, ck.p, indices, inds, ecdhs,
                             tail.p, tail.n, ads, ad_lens, cts, lens, sigs, n, v) == PQ3_OK,
              "open_batch rc (fail %zu)", fail);
        CHECK(memcmp(pt_out, pts, total_pt) == 0, "open_batch plaintexts");
        CHECK(memcmp(ck_out, ckn.p, 32) == 0, "open_batch next chain key");
        /* Tamper message k: fail_index k, no chain key, plaintext zeroed. */
        for (i = 0; i < n; i++) {
            int rc;
            sigs[64 * i + 40] ^= 0x01;
            memset(pt_out, SENTINEL, total_pt ? total_pt : 1);
            memset(ck_out, SENTINEL, 32);
            rc = pq3_open_batch(ctx, pt_out, total_pt, ck_out, &fail, ck.p, indices, inds,
                                ecdhs, tail.p, tail.n, ads, ad_lens, cts, lens, sigs, n, v);
            CHECK(rc == PQ3_ERR_AUTH && fail == i, "batch tamper %zu: rc %d fail %zu", i, rc,
                  fail);
            CHECK(all_byte(ck_out, 32, SENTINEL), "batch tamper wrote chain key");
            {
                size_t before = 0, j;
                for (j = 0; j < i; j++) before += lens[j];
                CHECK(all_byte(pt_out, before, 0)
                          && all_byte(pt_out + before, total_pt - before, SENTINEL),
                      "batch tamper %zu: plaintext not zeroed/untouched", i);
            }
            sigs[64 * i + 40] ^= 0x01;
            inds[32 * i] ^= 0x01;
            rc = pq3_open_batch(ctx, pt_out, total_pt, ck_out, &fail, ck.p, indices, inds,
                                ecdhs, tail.p, tail.n, ads, ad_lens, cts, lens, sigs, n, NULL);
            CHECK(rc == PQ3_ERR_INDICATOR && fail == i, "batch indicator %zu", i);
            CHECK(all_byte(ck_out, 32, SENTINEL), "batch indicator wrote chain key");
            inds[32 * i] ^= 0x01;
        }
        if (total_pt > 0) {
            CHECK(pq3_open_batch(ctx, pt_out, total_pt - 1, ck_out, &fail, ck.p, indices, inds,
                                 ecdhs, tail.p, tail.n, ads, ad_lens, cts, lens, sigs, n,
                                 v) == PQ3_ERR_LENGTH,
                  "open_batch short buffer");
        }
        free(ads);
        free(ad_lens);
        free(pt_out);
    }
    pq3_signer_free(signer);
    pq3_verifier_free(v);
    free(inds); free(ecdhs); free(sigs); free(cts); free(indices); free(out); free(pts);
    free(lens); free(items); free(wires.p); free(ckn.p);
    free(ck.p); free(header.p); free(ecdh.p); free(tail.p); free(ad.p); free(scalar.p);
    free(point.p);
}

static void do_ecdh(FILE *f, pq3_ctx *ctx)
{
    buf scalar = need_hex(f), point = need_hex(f), peer = need_hex(f), secret = need_hex(f);
    uint8_t pub[65], out[32], bad[65];
    memset(out, SENTINEL, sizeof out);
    CHECK(pq3_p256_public(ctx, pub, scalar.p) == PQ3_OK && memcmp(pub, point.p, 65) == 0,
          "p256_public");
    CHECK(pq3_ecdh(ctx, out, scalar.p, peer.p) == PQ3_OK && memcmp(out, secret.p, 32) == 0,
          "ecdh");
    memcpy(bad, peer.p, 65);
    bad[64] ^= 1;
    memset(out, SENTINEL, sizeof out);
    CHECK(pq3_ecdh(ctx, out, scalar.p, bad) == PQ3_ERR_KEY && all_byte(out, 32, SENTINEL),
          "off-curve point accepted or output written");
    bad[0] = 0x02;
    CHECK(pq3_ecdh(ctx, out, scalar.p, bad) == PQ3_ERR_KEY, "compressed prefix accepted");
    CHECK(pq3_ecdh(ctx, NULL, scalar.p, peer.p) == PQ3_ERR_ARGUMENT, "ecdh NULL");
    free(scalar.p);
    free(point.p);
    free(peer.p);
    free(secret.p);
}

static void do_root(FILE *f, pq3_ctx *ctx)
{
    buf old = need_hex(f), ecdh = need_hex(f), kem = need_hex(f), dst = need_hex(f);
    buf rk = need_hex(f), ck = need_hex(f);
    uint8_t rk_out[32], ck_out[32];
    const uint8_t *kem_p = kem.n ? kem.p : NULL;
    CHECK(pq3_root_and_chain_key(rk_out, ck_out, old.p, ecdh.p, kem_p, kem.n, dst.p, dst.n)
                  == PQ3_OK
              && memcmp(rk_out, rk.p, 32) == 0 && memcmp(ck_out, ck.p, 32) == 0,
          "root_and_chain_key");
    CHECK(pq3_root_and_chain_key(rk_out, ck_out, old.p, NULL, kem_p, kem.n, dst.p, dst.n)
              == PQ3_ERR_ARGUMENT,
          "root NULL");
    CHECK(pq3_root_and_chain_key(rk_out, ck_out, old.p, ecdh.p, old.p, PQ3_MAX_KEM_SECRET + 1,
                                 dst.p, dst.n)
              == PQ3_ERR_ARGUMENT,
          "root oversize KEM secret");
    (void)ctx;
    free(old.p);
    free(ecdh.p);
    free(kem.p);
    free(dst.p);
    free(rk.p);
    free(ck.p);
}

static void do_floor(pq3_ctx *ctx)
{
    static const uint8_t ck[32] = {1};
    uint8_t out1[32], out2[32], pt[140], scratch[280];
    memset(pt, 7, sizeof pt);
    CHECK(pq3_floor_symmetric(ctx, out1, scratch, ck, pt, sizeof pt, 3) == PQ3_OK, "floor rc");
    CHECK(pq3_floor_symmetric(ctx, out2, NULL, ck, NULL, 0, 3) == PQ3_OK
              && memcmp(out1, out2, 32) == 0,
          "floor chain key depends on the payload");
    CHECK(pq3_floor_symmetric(ctx, out2, NULL, ck, pt, sizeof pt, 1) == PQ3_ERR_ARGUMENT,
          "floor without scratch");
}

static void do_keys(void)
{
    static const uint8_t zero[65] = {0};
    uint8_t bad_point[65];
    pq3_signer *s = NULL;
    pq3_verifier *v = NULL;
    memset(bad_point, 0x11, sizeof bad_point);
    bad_point[0] = 0x04;
    CHECK(pq3_signer_new(&s, zero) == PQ3_ERR_KEY && s == NULL, "zero scalar accepted");
    CHECK(pq3_verifier_new(&v, zero) == PQ3_ERR_KEY && v == NULL, "zero point accepted");
    CHECK(pq3_verifier_new(&v, bad_point) == PQ3_ERR_KEY && v == NULL, "off-curve accepted");
    CHECK(pq3_wire_length(0, (size_t)1 << 33, 0) == 0, "oversized ad accepted");
}

static void do_newchain(FILE *f, pq3_ctx *ctx)
{
    buf root = need_hex(f), scalar = need_hex(f), peer_scalar = need_hex(f);
    buf peer = need_hex(f), dst = need_hex(f), tail = need_hex(f), ad = need_hex(f);
    buf pt = need_hex(f), wire = need_hex(f), rk = need_hex(f), ckn = need_hex(f);
    buf sk = need_hex(f), spk = need_hex(f);
    size_t wl = pq3_wire_length(2 + 65, ad.n, pt.n);
    uint8_t *out = fresh(wl, SENTINEL);
    uint8_t *opened = fresh(64 + pt.n, SENTINEL);
    uint8_t keys[129];
    pq3_signer *signer = NULL;
    pq3_verifier *verifier = NULL;
    const uint8_t *prefix = wire.p; /* version, flags: the expected wire's own */

    CHECK(wl == wire.n, "newchain wire length %zu != %zu", wl, wire.n);
    CHECK(pq3_seal_new_chain(ctx, out, wl, keys, NULL, scalar.p, peer.p, root.p, prefix, dst.p,
                             dst.n, tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, NULL) == PQ3_OK,
          "seal_new_chain rc");
    CHECK(memcmp(out, wire.p, wl) == 0, "seal_new_chain wire bytes");
    CHECK(memcmp(keys, wire.p + 2, 65) == 0, "seal_new_chain point");
    CHECK(memcmp(keys + 65, rk.p, 32) == 0 && memcmp(keys + 97, ckn.p, 32) == 0,
          "seal_new_chain keys");
    memset(out, SENTINEL, wl);
    CHECK(pq3_seal_new_chain(ctx, out, wl - 1, keys, NULL, scalar.p, peer.p, root.p, prefix,
                             dst.p, dst.n, tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, NULL)
                  == PQ3_ERR_LENGTH
              && all_byte(out, wl, SENTINEL),
          "seal_new_chain short buffer");
    CHECK(pq3_seal_new_chain(ctx, out, wl, keys, NULL, scalar.p, NULL, root.p, prefix, dst.p,
                             dst.n, tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, NULL)
              == PQ3_ERR_ARGUMENT,
          "seal_new_chain NULL");

    /* Signed, then opened by the peer. */
    CHECK(pq3_signer_new(&signer, sk.p) == PQ3_OK && pq3_verifier_new(&verifier, spk.p) == PQ3_OK,
          "newchain keys");
    CHECK(pq3_seal_new_chain(ctx, out, wl, keys, NULL, scalar.p, peer.p, root.p, prefix, dst.p,
                             dst.n, tail.p, tail.n, ad.p, ad.n, pt.p, pt.n, signer) == PQ3_OK,
          "seal_new_chain signed rc");
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, wl, 1u << 20, 1u << 24, verifier) == PQ3_OK,
          "open_new_chain rc");
    CHECK(memcmp(opened, rk.p, 32) == 0 && memcmp(opened + 32, ckn.p, 32) == 0
              && (pt.n == 0 || memcmp(opened + 64, pt.p, pt.n) == 0),
          "open_new_chain outputs");
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n - 1 + (pt.n == 0), peer_scalar.p, root.p,
                             dst.p, dst.n, tail.p, tail.n, out, wl, 1u << 20, 1u << 24,
                             verifier)
              == (pt.n == 0 ? PQ3_OK : PQ3_ERR_LENGTH),
          "open_new_chain short output");
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, wl - 1, 1u << 20, 1u << 24, verifier)
              == PQ3_ERR_LENGTH,
          "open_new_chain truncated");
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, 40, 1u << 20, 1u << 24, verifier)
              == PQ3_ERR_LENGTH,
          "open_new_chain shorter than a header");
    out[2 + 65 + 3] ^= 1; /* index 1 */
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, wl, 1u << 20, 1u << 24, verifier)
              == PQ3_ERR_BATCH,
          "open_new_chain index 1");
    out[2 + 65 + 3] ^= 1;
    out[wl - 1] ^= 1;
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, wl, 1u << 20, 1u << 24, verifier)
              == PQ3_ERR_AUTH
              && all_byte(opened, 64, 0),
          "open_new_chain forged");
    CHECK(pq3_open_new_chain(ctx, opened, 64 + pt.n, peer_scalar.p, root.p, dst.p, dst.n,
                             tail.p, tail.n, out, wl, 1u << 20, 1u << 24, NULL)
              == PQ3_ERR_ARGUMENT,
          "open_new_chain without a verifier");
    pq3_signer_free(signer);
    pq3_verifier_free(verifier);
    free(out); free(opened); free(root.p); free(scalar.p); free(peer_scalar.p); free(peer.p);
    free(dst.p); free(tail.p); free(ad.p); free(pt.p); free(wire.p); free(rk.p); free(ckn.p);
    free(sk.p); free(spk.p);
}

int main(int argc, char **argv)
{
    FILE *f;
    char op[16];
    pq3_ctx *ctx = NULL;
    int records = 0;

    if (argc != 2 || (f = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: %s records.txt\n", argv[0]);
        return 2;
    }
    token_buf = malloc(MAX_TOKEN);
    if (token_buf == NULL || pq3_ctx_new(&ctx) != PQ3_OK) {
        return 2;
    }
    do_keys();
    do_floor(ctx);
    while (fscanf(f, "%15s", op) == 1) {
        if (strcmp(op, "step") == 0) do_step(f);
        else if (strcmp(op, "seal") == 0) do_seal(f, ctx);
        else if (strcmp(op, "open") == 0) do_open(f, ctx);
        else if (strcmp(op, "batch") == 0) do_batch(f, ctx);
        else if (strcmp(op, "ecdh") == 0) do_ecdh(f, ctx);
        else if (strcmp(op, "root") == 0) do_root(f, ctx);
        else if (strcmp(op, "newchain") == 0) do_newchain(f, ctx);
        else {
            fprintf(stderr, "unknown record %s\n", op);
            return 2;
        }
        records++;
    }
    fclose(f);
    pq3_ctx_free(ctx);
    free(token_buf);
    printf("%d records, %d failures\n", records, failures);
    return failures == 0 && records > 0 ? 0 : 1;
}
