"""Layer vectors of the key schedule: root key, chain step, message key (spec/02-key-schedule.md).

Owns: pq3_root_key_test, pq3_chain_step_test and pq3_message_key_test.
Not: the file wrapper (document.py).
"""

from __future__ import annotations

from .. import kem
from ..constants import (
    CHAIN_KEY_SIZE,
    INITIAL_ROOT_KEY,
    MESSAGE_KEY_SIZE,
    ROOT_KEY_SIZE,
)
from ..kdf import (
    chain_step,
    message_keys,
    pk_ratchet_dst,
    root_and_chain_key,
    session_dst,
    session_start_dst,
)
from ..primitives import (
    P256PrivateKey,
    aes256_ctr,
)
from . import schemas as sc
from .common import (
    CHAIN_STEP,
    MESSAGE_KEY,
    ROOT_KEY,
    Json,
    h,
    hx,
)
from .document import document, identities, identity_json, make_test, seeded_rng

# ── Root key derivation ─────────────────────────────────────────────────────────────────


def root_key_file() -> Json:
    rng = seeded_rng(ROOT_KEY)
    empty = {
        "prekeyPoint": None,
        "ephemeralPoint": None,
        "startCiphertext": None,
        "prekeyKemPublicKey": None,
        "previousPoint": None,
        "newPoint": None,
        "kemCiphertext": None,
        "kemPublicKey": None,
    }
    starts: list[Json] = []
    plain: list[Json] = []
    with_kem: list[Json] = []
    for k in range(3):
        sender, receiver = identities(rng, k)
        prekey, e = P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)
        _, start_pk = kem.generate_seed_and_key(kem.MLKEM1024, rng)
        start_ss, ct = kem.encapsulate(kem.MLKEM1024, start_pk, rng)
        ecdh_ss = e.exchange(prekey.public)
        dst = session_start_dst(
            session_dst(sender.binding(), receiver.binding()), prekey.public, e.public, ct, start_pk
        )
        rk, ck = root_and_chain_key(INITIAL_ROOT_KEY, ecdh_ss, start_ss, dst)
        starts.append(
            make_test(
                "session start",
                ["SessionStart"],
                dstKind="sessionStart",
                sender=identity_json(sender),
                receiver=identity_json(receiver),
                **{
                    **empty,
                    "prekeyPoint": h(prekey.public),
                    "ephemeralPoint": h(e.public),
                    "startCiphertext": h(ct),
                    "prekeyKemPublicKey": h(start_pk),
                },
                dst=h(dst),
                oldRootKey=h(INITIAL_ROOT_KEY),
                ecdhSecret=h(ecdh_ss),
                kemSecret=h(start_ss),
                rootKey=h(rk),
                chainKey=h(ck),
            )
        )
    for k in range(6):
        sender, receiver = identities(rng, k)
        old = rng.random_bytes(ROOT_KEY_SIZE)
        prev, new = P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)
        ecdh_ss = new.exchange(prev.public)
        kem_ss: bytes | None = None
        kem_ct: bytes | None = None
        kem_pk: bytes | None = None
        if k >= 3:
            _, kem_pk = kem.generate_seed_and_key(kem.MLKEM768, rng)
            kem_ss, kem_ct = kem.encapsulate(kem.MLKEM768, kem_pk, rng)
        dst = pk_ratchet_dst(
            session_dst(sender.binding(), receiver.binding()),
            prev.public,
            new.public,
            kem_ct,
            kem_pk,
        )
        rk, ck = root_and_chain_key(old, ecdh_ss, kem_ss, dst)
        (with_kem if kem_ss else plain).append(
            make_test(
                "ECDH ratchet step" + (" with an ML-KEM-768 secret" if kem_ss else ""),
                ["EcdhStepWithKem"] if kem_ss else ["EcdhStep", "AbsentKemSalt"],
                dstKind="pkRatchet",
                sender=identity_json(sender),
                receiver=identity_json(receiver),
                **{
                    **empty,
                    "previousPoint": h(prev.public),
                    "newPoint": h(new.public),
                    "kemCiphertext": hx(kem_ct),
                    "kemPublicKey": hx(kem_pk),
                },
                dst=h(dst),
                oldRootKey=h(old),
                ecdhSecret=h(ecdh_ss),
                kemSecret=hx(kem_ss),
                rootKey=h(rk),
                chainKey=h(ck),
            )
        )
    return document(
        sc.ROOT_KEY_TYPE,
        [
            "rootAndChainKey(oldRoot, ecdhSecret, kemSecret, dst) of spec/02-key-schedule.md, "
            "with the dst built from its inputs.",
            "ECDH secrets come from real P-256 keys; KEM values from real ML-KEM operations.",
        ],
        [starts, plain, with_kem],
    )


# ── Chain step ──────────────────────────────────────────────────────────────────────────


def chain_step_file() -> Json:
    rng = seeded_rng(CHAIN_STEP)
    tests = []
    for n in (1, 1, 2, 5, 16):
        ck = start = rng.random_bytes(CHAIN_KEY_SIZE)
        steps = []
        for _ in range(n):
            mk, ck = chain_step(ck)
            steps.append({"messageKey": h(mk), "nextChainKey": h(ck)})
        tests.append(
            make_test(
                f"{n} chain step{'s' if n > 1 else ''}",
                ["SingleStep"] if n == 1 else ["ChainedSteps"],
                chainKey=h(start),
                steps=steps,
            )
        )
    return document(
        sc.CHAIN_STEP_TYPE,
        [
            "symmetricRatchet of spec/02-key-schedule.md §4: chain key to (message key, next "
            "chain key)."
        ],
        [tests],
    )


# ── Message key expansion and encryption ────────────────────────────────────────────────


def message_key_file() -> Json:
    rng = seeded_rng(MESSAGE_KEY)
    tests = []
    for n in (0, 1, 15, 16, 17, 64, 100, 1000):
        mk = rng.random_bytes(MESSAGE_KEY_SIZE)
        pt = rng.random_bytes(n) if n != 17 else b"hello, post-quantum world"[:17]
        aes_key, iv, indicator = message_keys(mk)
        flag = "EmptyPlaintext" if n == 0 else "MultiBlock" if n > 16 else "PartialBlock"
        if n == 16:
            flag = "FullBlock"
        tests.append(
            make_test(
                f"{n}-byte plaintext",
                [flag],
                messageKey=h(mk),
                aesKey=h(aes_key),
                iv=h(iv),
                keyIndicator=h(indicator),
                plaintext=h(pt),
                ciphertext=h(aes256_ctr(aes_key, iv, pt)),
            )
        )
    return document(
        sc.MESSAGE_KEY_TYPE,
        [
            "Message key to AES-256 key, CTR IV and key indicator (spec/02-key-schedule.md §4), "
            "and AES-256-CTR of a plaintext under them."
        ],
        [tests],
    )
