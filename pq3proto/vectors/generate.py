"""The vector generator: writes spec/vectors/ byte for byte reproducibly (spec/test-vectors.md).

Owns: the content of every vector file (which cases exist, their flags and comments), the
notes that explain each flag, and writing the set with its schemas.
Not: the conversation mechanics (conversation.py), checking (verify.py), or any protocol
computation: every output comes from the protocol modules, seeded by SHAKE-256 streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .. import kem
from ..constants import (
    CHAIN_KEY_SIZE,
    DEFAULT_REKEY_SECONDS,
    FLAG_KEM_CIPHERTEXT,
    FLAG_KEM_PUBLIC_KEY,
    FLAG_SESSION_START,
    INITIAL_ROOT_KEY,
    KEM_SEED_SIZE,
    KEY_INDICATOR_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_FORWARD_JUMP,
    MAX_PLAINTEXT_LENGTH,
    MAX_RECEIVING_CHAINS,
    MESSAGE_KEY_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    P256_SIGNATURE_SIZE,
    PREKEY_HASH_SIZE,
    ROOT_KEY_SIZE,
    WIRE_VERSION,
)
from ..encoding import u32
from ..errors import (
    AuthenticationError,
    DowngradeError,
    InvalidKeyError,
    MalformedInputError,
    PQ3Error,
    ReplayError,
    TooFarAheadError,
    UnsupportedVersionError,
)
from ..identity import PublicIdentity
from ..kdf import (
    chain_step,
    message_keys,
    pk_ratchet_dst,
    root_and_chain_key,
    session_dst,
    session_start_dst,
)
from ..policy import RekeyPolicy
from ..primitives import (
    P256_ORDER,
    P256PrivateKey,
    TestingOnlyDeterministicRandom,
    aes256_ctr,
)
from ..wire import ChainHeader, encode_message, parse_message, signature_body
from . import schemas as sc
from .common import (
    CHAIN_STEP,
    CONVERSATION,
    CONVERSATION_NEGATIVE,
    GENERATOR_VERSION,
    MESSAGE_KEY,
    ROOT_KEY,
    SCHEMAS_DIR,
    SEED_PREFIX,
    SIGNATURE,
    SOURCE_NAME,
    SOURCE_VERSION,
    WIRE,
    Json,
    VectorError,
    h,
    hx,
    render,
)
from .conversation import INITIATOR, RESPONDER, ConversationBuilder, field_spans

# Flag -> (bugType, description), shared by every file that uses the flag.
NOTES: dict[str, tuple[str, str]] = {
    "SessionStart": (
        "BASIC",
        "Root key of a session start: old root key is the 32-byte "
        "ASCII '0' string, KEM secret from ML-KEM-1024.",
    ),
    "EcdhStep": ("BASIC", "Root key update of an ECDH ratchet step without a PQ secret."),
    "EcdhStepWithKem": (
        "BASIC",
        "Root key update of an ECDH ratchet step that mixes in an "
        "ML-KEM-768 secret; the dst ends with ciphertext || key.",
    ),
    "AbsentKemSalt": (
        "EDGE_CASE",
        "No KEM secret: the second HKDF-Extract still runs, with "
        "the absent salt of RFC 5869 (48 zero bytes).",
    ),
    "SingleStep": ("BASIC", "One symmetric chain step."),
    "ChainedSteps": (
        "BASIC",
        "Several chain steps in sequence, each from the previous step's next chain key.",
    ),
    "EmptyPlaintext": ("EDGE_CASE", "Empty plaintext: empty ciphertext."),
    "PartialBlock": ("BASIC", "Plaintext not a multiple of the AES block size."),
    "FullBlock": ("EDGE_CASE", "Plaintext of exactly one AES block."),
    "MultiBlock": (
        "BASIC",
        "Plaintext of several AES blocks: the 128-bit counter block increments big-endian.",
    ),
    "SessionStartChain": (
        "BASIC",
        "Signed layout of a session-start chain message: the "
        "encapsulation field is the ML-KEM-1024 ciphertext, preKeyHash ends "
        "the body.",
    ),
    "RekeyChain": ("BASIC", "Signed layout of a chain carrying ML-KEM-768 material."),
    "PlainChain": (
        "BASIC",
        "Signed layout of a chain without KEM material: both length-prefixed KEM fields are empty.",
    ),
    "HighS": ("SIGNATURE_MALLEABILITY", "s replaced by n - s: signatures must be low-S."),
    "RangeCheck": ("MODIFIED_SIGNATURE", "r or s out of range (zero, or not below n)."),
    "ModifiedBody": ("MODIFIED_SIGNATURE", "A signed field changed after signing."),
    "WrongKey": ("MODIFIED_SIGNATURE", "Signed by a key other than the sender's."),
    "ValidFlags": ("BASIC", "A well-formed message with one of the allowed flag sets."),
    "Truncated": ("MALFORMED", "The message ends early."),
    "TrailingBytes": ("MALFORMED", "Bytes follow the signature."),
    "UnknownVersion": ("MALFORMED", "A version byte other than 1: UnsupportedVersionError."),
    "UnknownFlags": ("MALFORMED", "A flag bit this version does not define."),
    "IllegalFlagCombination": ("MALFORMED", "SESSION_START together with KEM_CIPHERTEXT."),
    "OversizeLength": (
        "RESOURCE_LIMIT",
        "A length prefix above the protocol limit, refused before any allocation.",
    ),
    "Basic": ("BASIC", "A short exchange in both directions."),
    "DirectionChanges": ("FUNCTIONALITY", "Many changes of direction, each an ECDH step."),
    "PqRekey": ("FUNCTIONALITY", "ML-KEM-768 rekeys ride on ECDH steps as the policy asks."),
    "NoRekey": ("FUNCTIONALITY", "Policy never: no KEM material after the session start."),
    "TimeTrigger": ("FUNCTIONALITY", "The rekey is due by age, read from the injected clock."),
    "OutOfOrder": (
        "FUNCTIONALITY",
        "Messages delivered out of order, within and across "
        "chains, through skipped keys and old receiving chains.",
    ),
    "Restore": (
        "FUNCTIONALITY",
        "A session serialized and restored mid-conversation; the "
        "sessionState blob is this implementation's spec/06-state.md encoding.",
    ),
    "SkipBoundEdge": ("EDGE_CASE", "A message exactly MAX_FORWARD_JUMP ahead: still accepted."),
    "ModifiedField": ("AUTH_BYPASS", "One byte of one field changed in transit."),
    "WrongKeyIndicator": (
        "AUTH_BYPASS",
        "A validly signed message whose key indicator does not match its message key.",
    ),
    "KemDowngrade": (
        "DOWNGRADE",
        "KEM material stripped or added where the rekey state forbids it.",
    ),
    "KemSubstitution": (
        "AUTH_BYPASS",
        "KEM ciphertext or key replaced by another of the right size.",
    ),
    "InvalidKemKey": ("CAN_OF_WORMS", "An ML-KEM-768 key failing the FIPS 203 modulus check."),
    "UnknownPrekey": ("FUNCTIONALITY", "A session start naming a prekey the device does not hold."),
    "Replay": ("REPLAY", "A message delivered a second time."),
    "SkipBound": ("RESOURCE_LIMIT", "A message more than MAX_FORWARD_JUMP ahead of its chain."),
    "DroppedChain": (
        "RESOURCE_LIMIT",
        "A late message of a receiving chain already dropped "
        "(more than MAX_RECEIVING_CHAINS newer chains).",
    ),
    "BadBundleSignature": (
        "AUTH_BYPASS",
        "A prekey bundle whose signature does not verify under the peer's identity key.",
    ),
    "SessionStartReplay": (
        "REPLAY",
        "A session start accepted a second time, by the same "
        "or another message of its first chain.",
    ),
}


def _rng(name: str) -> TestingOnlyDeterministicRandom:
    return TestingOnlyDeterministicRandom(SEED_PREFIX + name.encode("utf-8"))


def _document(test_type: str, header: list[str], groups: list[list[Json]]) -> Json:
    """Wrap groups of tests into a file: tcIds numbered, notes for the flags used."""
    tc = 0
    test_groups = []
    for tests in groups:
        for t in tests:
            tc += 1
            t["tcId"] = tc
        test_groups.append({"type": test_type, "tests": tests})
    used = sorted({f for tests in groups for t in tests for f in t["flags"]})
    unknown = [f for f in used if f not in sc.FLAGS[test_type]]
    if unknown:
        raise VectorError(f"flags not declared for {test_type}: {unknown}")
    return {
        "algorithm": sc.ALGORITHMS[test_type],
        "schema": sc.schema_file(test_type),
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": tc,
        "header": header,
        "notes": {f: {"bugType": NOTES[f][0], "description": NOTES[f][1]} for f in used},
        "source": {"name": SOURCE_NAME, "version": SOURCE_VERSION},
        "testGroups": test_groups,
    }


def _test(comment: str, flags: list[str], result: str = "valid", /, **fields: object) -> Json:
    return {"tcId": 0, "comment": comment, "flags": flags, "result": result, **fields}


def _identity_json(ident: PublicIdentity) -> Json:
    return {"uri": ident.uri, "deviceId": ident.device_id, "signingKey": h(ident.signing_key)}


_URIS = (
    ("tel:+15551234567", 7),
    ("mailto:bob@example.org", 1),
    ("mailto:zo\u00eb@example.org", 0xFFFF_FFFF),
    ("x", 0),
)


def _identities(rng: TestingOnlyDeterministicRandom, k: int) -> tuple[PublicIdentity, ...]:
    a, b = _URIS[k % len(_URIS)], _URIS[(k + 1) % len(_URIS)]
    return (
        PublicIdentity(a[0], a[1], P256PrivateKey.generate(rng).public),
        PublicIdentity(b[0], b[1], P256PrivateKey.generate(rng).public),
    )


# ── Root key derivation ─────────────────────────────────────────────────────────────────


def root_key_file() -> Json:
    rng = _rng(ROOT_KEY)
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
        sender, receiver = _identities(rng, k)
        prekey, e = P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)
        _, start_pk = kem.generate_seed_and_key(kem.MLKEM1024, rng)
        start_ss, ct = kem.encapsulate(kem.MLKEM1024, start_pk, rng)
        ecdh_ss = e.exchange(prekey.public)
        dst = session_start_dst(
            session_dst(sender.binding(), receiver.binding()), prekey.public, e.public, ct, start_pk
        )
        rk, ck = root_and_chain_key(INITIAL_ROOT_KEY, ecdh_ss, start_ss, dst)
        starts.append(
            _test(
                "session start",
                ["SessionStart"],
                dstKind="sessionStart",
                sender=_identity_json(sender),
                receiver=_identity_json(receiver),
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
        sender, receiver = _identities(rng, k)
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
            _test(
                "ECDH ratchet step" + (" with an ML-KEM-768 secret" if kem_ss else ""),
                ["EcdhStepWithKem"] if kem_ss else ["EcdhStep", "AbsentKemSalt"],
                dstKind="pkRatchet",
                sender=_identity_json(sender),
                receiver=_identity_json(receiver),
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
    return _document(
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
    rng = _rng(CHAIN_STEP)
    tests = []
    for n in (1, 1, 2, 5, 16):
        ck = start = rng.random_bytes(CHAIN_KEY_SIZE)
        steps = []
        for _ in range(n):
            mk, ck = chain_step(ck)
            steps.append({"messageKey": h(mk), "nextChainKey": h(ck)})
        tests.append(
            _test(
                f"{n} chain step{'s' if n > 1 else ''}",
                ["SingleStep"] if n == 1 else ["ChainedSteps"],
                chainKey=h(start),
                steps=steps,
            )
        )
    return _document(
        sc.CHAIN_STEP_TYPE,
        [
            "symmetricRatchet of spec/02-key-schedule.md §4: chain key to (message key, next "
            "chain key)."
        ],
        [tests],
    )


# ── Message key expansion and encryption ────────────────────────────────────────────────


def message_key_file() -> Json:
    rng = _rng(MESSAGE_KEY)
    tests = []
    for n in (0, 1, 15, 16, 17, 64, 100, 1000):
        mk = rng.random_bytes(MESSAGE_KEY_SIZE)
        pt = rng.random_bytes(n) if n != 17 else b"hello, post-quantum world"[:17]
        aes_key, iv, indicator = message_keys(mk)
        flag = "EmptyPlaintext" if n == 0 else "MultiBlock" if n > 16 else "PartialBlock"
        if n == 16:
            flag = "FullBlock"
        tests.append(
            _test(
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
    return _document(
        sc.MESSAGE_KEY_TYPE,
        [
            "Message key to AES-256 key, CTR IV and key indicator (spec/02-key-schedule.md §4), "
            "and AES-256-CTR of a plaintext under them."
        ],
        [tests],
    )


# ── Signed layout ───────────────────────────────────────────────────────────────────────


def signature_file() -> Json:
    rng = _rng(SIGNATURE)
    valid: list[Json] = []
    invalid: list[Json] = []

    def case(
        comment: str,
        flags: list[str],
        k: int,
        start: bool,
        kem_ct: bool,
        kem_pk: bool,
        index: int,
        ad_len: int,
        ct_len: int,
        tamper: Callable[[Json, P256PrivateKey], None] | None = None,
    ) -> Json:
        sender, receiver = _identities(rng, k)
        signer = P256PrivateKey.generate(rng)
        sender = PublicIdentity(sender.uri, sender.device_id, signer.public)
        dst = session_dst(sender.binding(), receiver.binding())
        header = ChainHeader(
            P256PrivateKey.generate(rng).public,
            prekey_hash=rng.random_bytes(PREKEY_HASH_SIZE) if start else None,
            start_ciphertext=rng.random_bytes(MLKEM1024_CIPHERTEXT_SIZE) if start else None,
            kem_ciphertext=rng.random_bytes(MLKEM768_CIPHERTEXT_SIZE) if kem_ct else None,
            kem_public_key=(kem.generate_seed_and_key(kem.MLKEM768, rng)[1] if kem_pk else None),
        )
        indicator = rng.random_bytes(KEY_INDICATOR_SIZE)
        ad, ct = rng.random_bytes(ad_len), rng.random_bytes(ct_len)
        body = signature_body(
            ct, ad, indicator, header.ecdh_public_key, index, header.signature_tail(dst)
        )
        t = _test(
            comment,
            flags,
            "valid" if tamper is None else "invalid",
            sender=_identity_json(sender),
            receiver=_identity_json(receiver),
            signingScalar=h(signer.scalar()),
            dst=h(dst),
            ecdhPublicKey=h(header.ecdh_public_key),
            preKeyHash=hx(header.prekey_hash),
            startCiphertext=hx(header.start_ciphertext),
            kemCiphertext=hx(header.kem_ciphertext),
            kemPublicKey=hx(header.kem_public_key),
            index=index,
            keyIndicator=h(indicator),
            authData=h(ad),
            ciphertext=h(ct),
            signatureBody=h(body),
            signature=h(signer.sign(body, deterministic=True)),
            error=None if tamper is None else AuthenticationError.__name__,
        )
        if tamper is not None:
            tamper(t, signer)
            t["signatureBody"] = h(
                signature_body(
                    bytes.fromhex(t["ciphertext"]),
                    bytes.fromhex(t["authData"]),
                    indicator,
                    header.ecdh_public_key,
                    t["index"],
                    header.signature_tail(dst),
                )
            )
        return t

    valid.append(case("session-start chain", ["SessionStartChain"], 0, True, False, False, 0, 0, 5))
    valid.append(
        case(
            "session-start chain asking for a rekey",
            ["SessionStartChain"],
            1,
            True,
            False,
            True,
            3,
            12,
            40,
        )
    )
    valid.append(
        case(
            "chain answering and asking for a rekey", ["RekeyChain"], 2, False, True, True, 0, 1, 1
        )
    )
    valid.append(case("chain answering a rekey", ["RekeyChain"], 3, False, True, False, 17, 0, 0))
    valid.append(case("chain asking for a rekey", ["RekeyChain"], 0, False, False, True, 1, 3, 100))
    valid.append(
        case(
            "chain without KEM material, largest index",
            ["PlainChain"],
            1,
            False,
            False,
            False,
            0xFFFF_FFFF,
            0,
            0,
        )
    )
    valid.append(
        case("chain without KEM material", ["PlainChain"], 2, False, False, False, 42, 64, 300)
    )

    def set_sig(r: int, s: int) -> Callable[[Json, P256PrivateKey], None]:
        def f(t: Json, _: P256PrivateKey) -> None:
            t["signature"] = h(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

        return f

    def high_s(t: Json, _: P256PrivateKey) -> None:
        sig = bytes.fromhex(t["signature"])
        s = P256_ORDER - int.from_bytes(sig[32:], "big")
        t["signature"] = h(sig[:32] + s.to_bytes(32, "big"))

    def sig_rs(t: Json) -> tuple[int, int]:
        sig = bytes.fromhex(t["signature"])
        return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")

    def zero_r(t: Json, k: P256PrivateKey) -> None:
        set_sig(0, sig_rs(t)[1])(t, k)

    def zero_s(t: Json, k: P256PrivateKey) -> None:
        set_sig(sig_rs(t)[0], 0)(t, k)

    def r_plus_n(t: Json, k: P256PrivateKey) -> None:
        r, s = sig_rs(t)
        if r + P256_ORDER < 1 << 256:
            set_sig(r + P256_ORDER, s)(t, k)
        else:
            set_sig(P256_ORDER, s)(t, k)

    def flip_ct(t: Json, _: P256PrivateKey) -> None:
        ct = bytearray(bytes.fromhex(t["ciphertext"]))
        ct[0] ^= 0x01
        t["ciphertext"] = h(bytes(ct))

    def bump_index(t: Json, _: P256PrivateKey) -> None:
        t["index"] += 1

    def other_key(t: Json, _: P256PrivateKey) -> None:
        t["signature"] = h(
            P256PrivateKey.generate(rng).sign(bytes.fromhex(t["signatureBody"]), deterministic=True)
        )

    for comment, flags, tamper in (
        ("s replaced by n - s", ["HighS"], high_s),
        ("r = 0", ["RangeCheck"], zero_r),
        ("s = 0", ["RangeCheck"], zero_s),
        ("r + n (or n) in place of r", ["RangeCheck"], r_plus_n),
        ("ciphertext changed after signing", ["ModifiedBody"], flip_ct),
        ("index changed after signing", ["ModifiedBody"], bump_index),
        ("signed by another key", ["WrongKey"], other_key),
    ):
        invalid.append(
            case(
                comment,
                flags,
                len(invalid),
                len(invalid) % 3 == 0,
                len(invalid) % 3 == 1,
                len(invalid) % 2 == 0,
                7,
                4,
                20,
                tamper,
            )
        )
    return _document(
        sc.SIGNATURE_TYPE,
        [
            "The exact bytes a sender signs (spec/04-wire-format.md §3) and a raw low-S "
            "ECDSA P-256 / SHA-256 signature over them; valid ones are RFC 6979 deterministic "
            "under signingScalar."
        ],
        [valid, invalid],
    )


# ── Wire format ─────────────────────────────────────────────────────────────────────────


def _fields_json(wire: bytes) -> Json:
    m = parse_message(wire)
    return {
        "version": wire[0],
        "flags": m.header.flags,
        "ecdhPublicKey": h(m.header.ecdh_public_key),
        "preKeyHash": hx(m.header.prekey_hash),
        "startCiphertext": hx(m.header.start_ciphertext),
        "kemCiphertext": hx(m.header.kem_ciphertext),
        "kemPublicKey": hx(m.header.kem_public_key),
        "index": m.index,
        "keyIndicator": h(m.indicator),
        "authData": h(m.auth_data),
        "ciphertext": h(m.ciphertext),
        "signature": h(m.signature),
    }


def _expect_error(wire: bytes, error: type[PQ3Error]) -> None:
    try:
        parse_message(wire)
    except PQ3Error as e:
        if type(e) is not error:
            raise VectorError(f"expected {error.__name__}, got {type(e).__name__}") from None
        return
    raise VectorError(f"expected {error.__name__}, the message parsed")


def wire_file() -> Json:
    rng = _rng(WIRE)

    def message(flags: int, index: int, ad_len: int, ct_len: int) -> bytes:
        kem_pk = None
        if flags & FLAG_KEM_PUBLIC_KEY:
            kem_pk = kem.generate_seed_and_key(kem.MLKEM768, rng)[1]
        header = ChainHeader(
            P256PrivateKey.generate(rng).public,
            prekey_hash=rng.random_bytes(PREKEY_HASH_SIZE) if flags & FLAG_SESSION_START else None,
            start_ciphertext=(
                rng.random_bytes(MLKEM1024_CIPHERTEXT_SIZE) if flags & FLAG_SESSION_START else None
            ),
            kem_ciphertext=(
                rng.random_bytes(MLKEM768_CIPHERTEXT_SIZE) if flags & FLAG_KEM_CIPHERTEXT else None
            ),
            kem_public_key=kem_pk,
        )
        return encode_message(
            header.encode(),
            index,
            rng.random_bytes(KEY_INDICATOR_SIZE),
            rng.random_bytes(ad_len),
            rng.random_bytes(ct_len),
            rng.random_bytes(P256_SIGNATURE_SIZE),
        )

    valid = []
    for flags, index, ad_len, ct_len in (
        (0x00, 0, 0, 0),
        (0x00, 0xFFFF_FFFF, 3, 1),
        (0x01, 0, 0, 12),
        (0x05, 2, 8, 33),
        (0x02, 1, 0, 5),
        (0x04, 9, 16, 0),
        (0x06, 0, 2, 70),
    ):
        wire = message(flags, index, ad_len, ct_len)
        valid.append(
            _test(
                f"flags {flags:#04x}",
                ["ValidFlags"],
                wire=h(wire),
                fields=_fields_json(wire),
                error=None,
            )
        )

    invalid = []

    def bad(comment: str, flag: str, wire: bytes, error: type[PQ3Error]) -> None:
        _expect_error(wire, error)
        invalid.append(
            _test(comment, [flag], "invalid", wire=h(wire), fields=None, error=error.__name__)
        )

    base = message(0x00, 5, 4, 10)
    start = message(0x05, 0, 0, 3)
    rekey = message(0x06, 1, 0, 3)
    m = parse_message(base)
    bad("empty message", "Truncated", b"", MalformedInputError)
    bad("version byte only", "Truncated", base[:1], MalformedInputError)
    for wire, field in (
        (base, "ecdhPK"),
        (start, "preKeyHash"),
        (start, "startCiphertext"),
        (rekey, "kemCiphertext"),
        (rekey, "kemPublicKey"),
        (base, "index"),
        (base, "keyIndicator"),
        (base, "adLen"),
        (base, "authData"),
        (base, "ctLen"),
        (base, "ciphertext"),
        (base, "signature"),
    ):
        lo, hi = field_spans(wire)[field]
        bad(f"cut inside {field}", "Truncated", wire[: (lo + hi) // 2], MalformedInputError)
    ad_at = field_spans(base)["adLen"][0]
    bad(
        "auth data length one more than present",
        "Truncated",
        base[:ad_at] + u32(len(m.auth_data) + 1) + base[ad_at + 4 :],
        MalformedInputError,
    )
    bad("one trailing byte", "TrailingBytes", base + b"\x00", MalformedInputError)
    bad("a second signature appended", "TrailingBytes", base + m.signature, MalformedInputError)
    for version in (0x00, WIRE_VERSION + 1, 0xFF):
        bad(
            f"version {version:#04x}",
            "UnknownVersion",
            bytes((version,)) + base[1:],
            UnsupportedVersionError,
        )
    for flags in (0x08, 0x80, 0x0F):
        bad(
            f"flags {flags:#04x}",
            "UnknownFlags",
            base[:1] + bytes((flags,)) + base[2:],
            MalformedInputError,
        )
    for flags in (0x03, 0x07):
        bad(
            f"flags {flags:#04x}: session start and KEM ciphertext",
            "IllegalFlagCombination",
            start[:1] + bytes((flags,)) + start[2:],
            MalformedInputError,
        )
    bad(
        "auth data length above the limit",
        "OversizeLength",
        base[:ad_at] + u32(MAX_AUTH_DATA_LENGTH + 1) + base[ad_at + 4 :],
        MalformedInputError,
    )
    bad(
        "auth data length 0xffffffff",
        "OversizeLength",
        base[:ad_at] + u32(0xFFFF_FFFF) + base[ad_at + 4 :],
        MalformedInputError,
    )
    ct_at = field_spans(base)["ctLen"][0]
    bad(
        "ciphertext length above the limit",
        "OversizeLength",
        base[:ct_at] + u32(MAX_PLAINTEXT_LENGTH + 1) + base[ct_at + 4 :],
        MalformedInputError,
    )
    return _document(
        sc.WIRE_TYPE,
        [
            "Message encoding and strict parsing (spec/04-wire-format.md). Valid cases: "
            "fields encode to wire and wire parses to fields. Invalid cases: parsing fails with "
            "the named error class. Field contents are random: parsing checks layout only."
        ],
        [valid, invalid],
    )


# ── Conversations ───────────────────────────────────────────────────────────────────────

A, B = INITIATOR, RESPONDER
DEFAULT = RekeyPolicy()
EVERY_TURN = RekeyPolicy.every_turn()
NEVER = RekeyPolicy.never()


def _turns(c: ConversationBuilder, runs: Iterable[int], first: str = B) -> None:
    """Alternate directions, `n` messages per turn, each delivered in order."""
    sender = first
    for n in runs:
        for _ in range(n):
            c.deliver(c.peer(sender).role, c.send(sender))
        sender = c.peer(sender).role


def _started(name: str, policy: RekeyPolicy, first_runs: int = 1) -> ConversationBuilder:
    c = ConversationBuilder(name, policy, SEED_PREFIX)
    c.initiate()
    for _ in range(first_runs):
        c.deliver(B, c.send(A))
    return c


def conversation_file() -> Json:
    tests = []

    def done(c: ConversationBuilder, comment: str, flags: list[str]) -> None:
        tests.append(c.test(0, comment, flags))

    c = ConversationBuilder("basic", DEFAULT, SEED_PREFIX)
    c.initiate()
    m0, m1 = c.send(A), c.send(A, b"second", b"ad")
    c.deliver(B, m0)
    c.deliver(B, m1)
    _turns(c, [2, 1], first=B)
    done(c, "basic exchange, default policy", ["Basic"])

    c = _started("direction changes", DEFAULT)
    _turns(c, [1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 3, 2, 1, 1, 2, 1, 1, 1, 2, 1, 1, 2])
    done(c, "many changes of direction, default policy", ["DirectionChanges"])

    c = _started("rekey every 4", RekeyPolicy(4, DEFAULT_REKEY_SECONDS), 2)
    _turns(c, [3, 2, 1, 4, 1, 1, 2, 3, 1, 2, 2, 1])
    if c.session(A).stats.pq_rekeys < 3:
        raise VectorError("the short-N policy did not rekey enough")
    done(c, "default policy with N = 4 messages: rekeys happen", ["PqRekey", "DirectionChanges"])

    c = _started("every turn", EVERY_TURN, 2)
    _turns(c, [2, 1, 2, 1, 1, 2, 1, 1])
    if c.session(A).stats.pq_rekeys < 6:
        raise VectorError("every_turn did not rekey every turn")
    done(c, "policy every_turn: a rekey request at each change of direction", ["PqRekey"])

    c = _started("never", NEVER, 2)
    _turns(c, [2, 1, 2, 1, 1, 2, 1, 1])
    if c.session(A).stats.pq_rekeys or c.session(B).stats.pq_rekeys:
        raise VectorError("policy never rekeyed")
    done(c, "policy never: no KEM material after the session start", ["NoRekey"])

    c = _started("time trigger", RekeyPolicy(None, 86_400))
    for gap in (600, 3_600, 40_000, 50_000, 120, 90_000, 60, 200_000, 30):
        c.advance(gap)
        _turns(c, [1], first=B if len(c.wires) % 2 else A)
    if c.session(A).stats.pq_rekeys < 2:
        raise VectorError("the time trigger did not rekey")
    done(c, "rekeys due by age (86400 s) read from the injected clock", ["TimeTrigger", "PqRekey"])

    c = ConversationBuilder("out of order", RekeyPolicy(3, DEFAULT_REKEY_SECONDS), SEED_PREFIX)
    c.initiate()
    m = [c.send(A) for _ in range(3)]
    c.deliver(B, m[2])  # accept from the last message of the first chain
    c.deliver(B, m[0])
    c.deliver(B, m[1])
    m = [c.send(B) for _ in range(3)]
    c.deliver(A, m[2])
    c.deliver(A, m[0])
    held_b = m[1]
    m = [c.send(A) for _ in range(2)]
    c.deliver(B, m[1])
    held_a = m[0]
    m = [c.send(B) for _ in range(2)]
    c.deliver(A, m[0])
    c.deliver(A, held_b)  # late message of B's previous chain
    c.deliver(A, m[1])
    c.deliver(B, held_a)  # late message of A's previous chain
    _turns(c, [2, 3, 1], first=A)
    m = [c.send(B) for _ in range(4)]
    for i in (3, 1, 0, 2):
        c.deliver(A, m[i])
    done(c, "out-of-order delivery within and across chains", ["OutOfOrder", "PqRekey"])

    c = ConversationBuilder("restore", EVERY_TURN, SEED_PREFIX)
    c.initiate()
    m = [c.send(A) for _ in range(3)]
    c.deliver(B, m[0])
    c.restore(B)  # right after accept
    c.deliver(B, m[2])
    c.restore(B)  # holding a skipped key
    c.deliver(B, m[1])
    _turns(c, [2, 2], first=B)
    c.restore(A)  # with a rekey request open and a sending chain open
    m = [c.send(A) for _ in range(2)]  # a continuation chain, repeating the request
    c.deliver(B, m[1])
    c.deliver(B, m[0])
    c.restore(B)
    _turns(c, [1, 3, 1], first=B)
    m = [c.send(A) for _ in range(2)]
    c.restore(A)  # mid sending chain
    c.deliver(B, m[1])
    c.restore(B)
    c.deliver(B, m[0])
    _turns(c, [2, 1, 2], first=B)
    done(c, "sessions serialized and restored mid-conversation", ["Restore", "PqRekey"])

    c = _started("skip bound edge", DEFAULT)
    far = c.seal_at(A, 1 + MAX_FORWARD_JUMP, b"far ahead but within the bound")
    c.deliver(B, far)
    c.deliver(B, c.send(A))  # index 1, from a skipped key
    _turns(c, [1, 1])
    done(
        c,
        f"a message exactly MAX_FORWARD_JUMP ({MAX_FORWARD_JUMP}) ahead is accepted",
        ["SkipBoundEdge", "OutOfOrder"],
    )

    c = _started("payload sizes", DEFAULT)
    c.deliver(A, c.send(B, b"", b""))
    c.deliver(A, c.send(B, b"", b"auth data only"))
    c.deliver(B, c.send(A, bytes(range(256)) * 8, bytes(300)))
    c.deliver(B, c.send(A, "\u00fcnicode \u2713".encode(), b""))
    done(c, "empty, binary and larger payloads and auth data", ["Basic"])

    return _document(
        sc.CONVERSATION_TYPE,
        [
            "Whole conversations between two devices. Every random value is given per step "
            "(spec/test-vectors.md, Randomness); signatures are RFC 6979, so every wire byte "
            "is reproducible.",
            "The initiator is tel:+15551234567 device 7, the responder mailto:bob@example.org "
            "device 1.",
        ],
        [tests],
    )


def _flip(wire: bytes, field: str) -> bytes:
    """Change one byte of `field`: the middle one, or the low byte of a length."""
    start, end = field_spans(wire)[field]
    at = end - 1 if field in ("adLen", "ctLen") else (start + end) // 2
    out = bytearray(wire)
    out[at] ^= 0x40 if field == "flags" else 0x01
    return bytes(out)


def negative_file() -> Json:
    tests: list[Json] = []

    def done(c: ConversationBuilder, comment: str, flags: list[str]) -> None:
        if not c.invalid:
            raise VectorError(f"negative vector {comment!r} expects no failure")
        tests.append(c.test(0, comment, flags))

    start_errors = {
        "version": UnsupportedVersionError,
        "flags": MalformedInputError,
        "ecdhPK": AuthenticationError,
        "preKeyHash": AuthenticationError,
        "startCiphertext": AuthenticationError,
        "kemPublicKey": AuthenticationError,
        "index": AuthenticationError,
        "keyIndicator": AuthenticationError,
        "adLen": MalformedInputError,
        "authData": AuthenticationError,
        "ctLen": MalformedInputError,
        "ciphertext": AuthenticationError,
        "signature": AuthenticationError,
    }
    for field, error in start_errors.items():
        c = ConversationBuilder(f"start field {field}", EVERY_TURN, SEED_PREFIX)
        c.initiate()
        m0 = c.send(A, None, b"ad")
        c.accept(_flip(c.wires[m0], field), error)
        c.accept(m0)
        done(
            c,
            f"session-start message with a byte of {field} changed, then the original",
            ["ModifiedField"],
        )

    def rekey_setup(name: str) -> tuple[ConversationBuilder, int]:
        """A's start asks for a rekey; B's reply (flags 0x06) answers it and asks again."""
        c = _started(name, EVERY_TURN)
        return c, c.send(B, None, b"ad")

    ratchet_errors = {
        "version": UnsupportedVersionError,
        "flags": MalformedInputError,
        "ecdhPK": AuthenticationError,
        "kemCiphertext": AuthenticationError,
        "kemPublicKey": AuthenticationError,
        "index": AuthenticationError,
        "keyIndicator": AuthenticationError,
        "adLen": MalformedInputError,
        "authData": AuthenticationError,
        "ctLen": MalformedInputError,
        "ciphertext": AuthenticationError,
        "signature": AuthenticationError,
    }
    for field, error in ratchet_errors.items():
        c, m1 = rekey_setup(f"ratchet field {field}")
        c.deliver(A, _flip(c.wires[m1], field), error)
        c.deliver(A, m1)
        done(
            c, f"rekey message with a byte of {field} changed, then the original", ["ModifiedField"]
        )

    c, m1 = rekey_setup("truncated")
    c.deliver(A, c.wires[m1][:-1], MalformedInputError)
    c.deliver(A, m1)
    done(c, "message one byte short", ["Truncated"])

    c, m1 = rekey_setup("header only")
    c.deliver(A, c.wires[m1][: parse_message(c.wires[m1]).header_length], MalformedInputError)
    c.deliver(A, m1)
    done(c, "message cut after the chain header", ["Truncated"])

    c, m1 = rekey_setup("trailing")
    c.deliver(A, c.wires[m1] + b"\x00", MalformedInputError)
    c.deliver(A, m1)
    done(c, "message with one trailing byte", ["TrailingBytes"])

    c, m1 = rekey_setup("version 2")
    c.deliver(A, bytes((WIRE_VERSION + 1,)) + c.wires[m1][1:], UnsupportedVersionError)
    c.deliver(A, m1)
    done(c, "message with version 2", ["UnknownVersion"])

    c, m1 = rekey_setup("illegal flags")
    w = c.wires[m1]
    c.deliver(A, w[:1] + bytes((w[1] | FLAG_SESSION_START,)) + w[2:], MalformedInputError)
    c.deliver(A, m1)
    done(c, "KEM-ciphertext message with the session-start flag added", ["IllegalFlagCombination"])

    c, m1 = rekey_setup("wrong indicator")
    c.deliver(A, c.resign(B, c.wires[m1], indicator=bytes(KEY_INDICATOR_SIZE)), AuthenticationError)
    c.deliver(A, m1)
    done(c, "validly signed message with a wrong key indicator", ["WrongKeyIndicator"])

    c, m1 = rekey_setup("strip ct signed")
    c.deliver(A, c.resign(B, c.wires[m1], kem_ciphertext=None), DowngradeError)
    c.deliver(A, m1)
    done(c, "owed KEM ciphertext stripped, message signed again by the sender", ["KemDowngrade"])

    c, m1 = rekey_setup("strip ct unsigned")
    c.deliver(A, c.resign(B, c.wires[m1], sign=False, kem_ciphertext=None), AuthenticationError)
    c.deliver(A, m1)
    done(c, "owed KEM ciphertext stripped in transit", ["KemDowngrade"])

    c, m1 = rekey_setup("swap ct")
    other_ct = _rng("swap ct").random_bytes(MLKEM768_CIPHERTEXT_SIZE)
    c.deliver(A, c.resign(B, c.wires[m1], kem_ciphertext=other_ct), AuthenticationError)
    c.deliver(A, m1)
    done(
        c,
        "KEM ciphertext replaced and signed again: implicit rejection, wrong keys",
        ["KemSubstitution"],
    )

    c = _started("unsolicited ct", NEVER)
    m1 = c.send(B)
    extra = _rng("unsolicited ct").random_bytes(MLKEM768_CIPHERTEXT_SIZE)
    c.deliver(A, c.resign(B, c.wires[m1], kem_ciphertext=extra), DowngradeError)
    c.deliver(A, m1)
    done(c, "KEM ciphertext where no rekey was asked for, signed", ["KemDowngrade"])

    c, m1 = rekey_setup("strip pk signed")
    c.deliver(A, c.resign(B, c.wires[m1], kem_public_key=None))
    c.deliver(B, c.send(A), DowngradeError)
    done(
        c,
        "rekey request stripped and signed again: the reply lacks the owed ciphertext",
        ["KemDowngrade"],
    )

    c, m1 = rekey_setup("swap pk")
    seed = _rng("swap pk").random_bytes(KEM_SEED_SIZE)
    other_pk = kem.get_backend().public_key_from_seed(kem.MLKEM768, seed)
    c.deliver(A, c.resign(B, c.wires[m1], kem_public_key=other_pk))
    c.deliver(B, c.send(A), AuthenticationError)
    done(
        c,
        "rekey key replaced and signed again: the answer does not decapsulate",
        ["KemSubstitution"],
    )

    c, m1 = rekey_setup("invalid pk")
    header = parse_message(c.wires[m1]).header
    assert header.kem_public_key is not None
    bad_pk = b"\xff\xff" + header.kem_public_key[2:]
    c.deliver(A, c.resign(B, c.wires[m1], kem_public_key=bad_pk), InvalidKeyError)
    c.deliver(A, m1)
    done(c, "rekey key failing the ML-KEM modulus check, signed", ["InvalidKemKey"])

    c = ConversationBuilder("unknown prekey", DEFAULT, SEED_PREFIX)
    c.initiate()
    m0 = c.send(A)
    c.accept(c.resign(A, c.wires[m0], prekey_hash=bytes(PREKEY_HASH_SIZE)), InvalidKeyError)
    c.accept(m0)
    done(c, "session start naming an unknown prekey, signed", ["UnknownPrekey"])

    c = _started("replay", DEFAULT)
    m1 = c.send(A)
    c.deliver(B, m1)
    c.deliver(B, m1, ReplayError)
    done(c, "a message delivered twice", ["Replay"])

    c = _started("replay skipped", DEFAULT)
    m = [c.send(A), c.send(A)]
    c.deliver(B, m[1])
    c.deliver(B, m[0])
    c.deliver(B, m[0], ReplayError)
    done(c, "a message opened from a skipped key, delivered again", ["Replay", "OutOfOrder"])

    c = _started("skip bound", DEFAULT)
    c.deliver(B, c.seal_at(A, 2 + MAX_FORWARD_JUMP, b"too far"), TooFarAheadError)
    c.deliver(B, c.send(A))
    done(
        c,
        f"a message MAX_FORWARD_JUMP + 1 ({MAX_FORWARD_JUMP + 1}) ahead of its chain",
        ["SkipBound"],
    )

    c = ConversationBuilder("dropped chain", NEVER, SEED_PREFIX)
    c.initiate()
    m0, held = c.send(A), c.send(A)
    c.deliver(B, m0)
    _turns(c, [1] * (2 * MAX_RECEIVING_CHAINS + 1), first=B)
    c.deliver(B, held, TooFarAheadError)
    done(c, "a late message of a receiving chain already dropped", ["DroppedChain"])

    c = ConversationBuilder("bad bundle", DEFAULT, SEED_PREFIX)
    bundle = bytearray(c.parties[B].device.prekey_bundle())
    bundle[-1] ^= 0x01
    c.initiate(bytes(bundle), AuthenticationError)
    c.initiate()
    c.deliver(B, c.send(A))
    done(
        c,
        "prekey bundle with a changed signature byte, then the genuine bundle",
        ["BadBundleSignature"],
    )

    c = ConversationBuilder("foreign bundle", DEFAULT, SEED_PREFIX)
    stranger = ConversationBuilder("foreign bundle/stranger", DEFAULT, SEED_PREFIX)
    c.initiate(stranger.parties[B].device.prekey_bundle(), AuthenticationError)
    done(c, "prekey bundle signed by another device", ["BadBundleSignature"])

    c = ConversationBuilder("start replay", DEFAULT, SEED_PREFIX)
    c.initiate()
    m0 = c.send(A)
    c.accept(m0)
    c.accept(m0, ReplayError)
    done(c, "the same session-start message accepted twice", ["SessionStartReplay"])

    c = ConversationBuilder("start replay other", DEFAULT, SEED_PREFIX)
    c.initiate()
    m0, m1 = c.send(A), c.send(A)
    c.accept(m0)
    c.accept(m1, ReplayError)
    done(c, "a second message of the same first chain offered to accept", ["SessionStartReplay"])

    return _document(
        sc.CONVERSATION_TYPE,
        [
            "Negative conversations: each sets up a session, then delivers one bad message "
            "(or bundle) that must fail with the named error class and change nothing; where "
            "useful the genuine message is delivered afterwards and must open.",
            "Bad messages marked 'signed' are signed again with the sender's identity key.",
        ],
        [tests],
    )


# ── The whole set ───────────────────────────────────────────────────────────────────────

BUILDERS: dict[str, Callable[[], Json]] = {
    ROOT_KEY: root_key_file,
    CHAIN_STEP: chain_step_file,
    MESSAGE_KEY: message_key_file,
    SIGNATURE: signature_file,
    WIRE: wire_file,
    CONVERSATION: conversation_file,
    CONVERSATION_NEGATIVE: negative_file,
}


def generate_all() -> dict[str, bytes]:
    """Every file of the set, by relative path, as the bytes to write."""
    out = {f"{stem}.json": render(build()) for stem, build in BUILDERS.items()}
    for name, schema in sc.SCHEMAS.items():
        out[f"{SCHEMAS_DIR}/{name}"] = render(schema)
    return out


def write_all(directory: Path) -> dict[str, bytes]:
    """Write the set into `directory` (created if missing); returns what was written."""
    files = generate_all()
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


__all__ = ["BUILDERS", "NOTES", "generate_all", "write_all"]
