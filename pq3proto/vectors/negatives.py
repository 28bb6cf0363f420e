"""Negative whole-conversation vectors (spec/test-vectors.md, pq3_conversation_negative_test).

Owns: one bad input per scenario with its failure class.
Not: the conversation mechanics (conversation.py).
"""

from __future__ import annotations

from .. import kem
from ..constants import (
    FLAG_SESSION_START,
    KEM_SEED_SIZE,
    KEY_INDICATOR_SIZE,
    MAX_FORWARD_JUMP,
    MAX_RECEIVING_CHAINS,
    MLKEM768_CIPHERTEXT_SIZE,
    PREKEY_HASH_SIZE,
    WIRE_VERSION,
)
from ..errors import (
    AuthenticationError,
    DowngradeError,
    InvalidKeyError,
    MalformedInputError,
    ReplayError,
    TooFarAheadError,
    UnsupportedVersionError,
)
from ..wire import parse_message
from . import schemas as sc
from .common import (
    SEED_PREFIX,
    Json,
    VectorError,
)
from .conversation import ConversationBuilder, field_spans
from .conversations import DEFAULT, EVERY_TURN, NEVER, A, B, started, turns
from .document import document, seeded_rng


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
        c = started(name, EVERY_TURN)
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
    other_ct = seeded_rng("swap ct").random_bytes(MLKEM768_CIPHERTEXT_SIZE)
    c.deliver(A, c.resign(B, c.wires[m1], kem_ciphertext=other_ct), AuthenticationError)
    c.deliver(A, m1)
    done(
        c,
        "KEM ciphertext replaced and signed again: implicit rejection, wrong keys",
        ["KemSubstitution"],
    )

    c = started("unsolicited ct", NEVER)
    m1 = c.send(B)
    extra = seeded_rng("unsolicited ct").random_bytes(MLKEM768_CIPHERTEXT_SIZE)
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
    seed = seeded_rng("swap pk").random_bytes(KEM_SEED_SIZE)
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

    c = started("replay", DEFAULT)
    m1 = c.send(A)
    c.deliver(B, m1)
    c.deliver(B, m1, ReplayError)
    done(c, "a message delivered twice", ["Replay"])

    c = started("replay skipped", DEFAULT)
    m = [c.send(A), c.send(A)]
    c.deliver(B, m[1])
    c.deliver(B, m[0])
    c.deliver(B, m[0], ReplayError)
    done(c, "a message opened from a skipped key, delivered again", ["Replay", "OutOfOrder"])

    c = started("skip bound", DEFAULT)
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
    turns(c, [1] * (2 * MAX_RECEIVING_CHAINS + 1), first=B)
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

    return document(
        sc.CONVERSATION_TYPE,
        [
            "Negative conversations: each sets up a session, then delivers one bad message "
            "(or bundle) that must fail with the named error class and change nothing; where "
            "useful the genuine message is delivered afterwards and must open.",
            "Bad messages marked 'signed' are signed again with the sender's identity key.",
        ],
        [tests],
    )
