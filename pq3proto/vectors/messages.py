"""Layer vectors of messages: the signed layout and the wire format (spec/04-wire-format.md).

Owns: pq3_signature_test and pq3_wire_test.
Not: the file wrapper (document.py).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import kem
from ..constants import (
    FLAG_KEM_CIPHERTEXT,
    FLAG_KEM_PUBLIC_KEY,
    FLAG_SESSION_START,
    KEY_INDICATOR_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_PLAINTEXT_LENGTH,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    P256_SIGNATURE_SIZE,
    PREKEY_HASH_SIZE,
    WIRE_VERSION,
)
from ..encoding import u32
from ..errors import (
    AuthenticationError,
    MalformedInputError,
    PQ3Error,
    UnsupportedVersionError,
)
from ..identity import PublicIdentity
from ..kdf import (
    session_dst,
)
from ..primitives import (
    P256_ORDER,
    P256PrivateKey,
)
from ..wire import ChainHeader, encode_message, parse_message, signature_body
from . import schemas as sc
from .common import (
    SIGNATURE,
    WIRE,
    Json,
    VectorError,
    h,
    hx,
)
from .conversation import field_spans
from .document import document, identities, identity_json, make_test, seeded_rng

# ── Signed layout ───────────────────────────────────────────────────────────────────────


def signature_file() -> Json:
    rng = seeded_rng(SIGNATURE)
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
        sender, receiver = identities(rng, k)
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
        t = make_test(
            comment,
            flags,
            "valid" if tamper is None else "invalid",
            sender=identity_json(sender),
            receiver=identity_json(receiver),
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
    return document(
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
    rng = seeded_rng(WIRE)

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
            make_test(
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
            make_test(comment, [flag], "invalid", wire=h(wire), fields=None, error=error.__name__)
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
    return document(
        sc.WIRE_TYPE,
        [
            "Message encoding and strict parsing (spec/04-wire-format.md). Valid cases: "
            "fields encode to wire and wire parses to fields. Invalid cases: parsing fails with "
            "the named error class. Field contents are random: parsing checks layout only."
        ],
        [valid, invalid],
    )
