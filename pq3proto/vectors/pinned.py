"""Vectors that decide the choices spec 1.1 pins (spec/CHANGELOG.md, spec/test-vectors.md).

Owns: pq3_pinned_choice_test: conversations whose bytes or failure class differ under any
other reading of a pinned rule (the age and message triggers at their boundary, T = 0, N = 0,
T rounded to whole milliseconds, skipped-key eviction, the order of checks when a message
breaks two rules, restores under a time policy with retired points).
Not: the conversation mechanics (conversation.py).
"""

from __future__ import annotations

from .. import kem
from ..constants import (
    MAX_FORWARD_JUMP,
    MAX_RECEIVING_CHAINS,
    MAX_SKIPPED_KEYS,
)
from ..errors import AuthenticationError, DowngradeError, ReplayError, TooFarAheadError
from ..policy import RekeyPolicy
from ..primitives import P256PrivateKey
from ..wire import parse_message
from . import schemas as sc
from .common import SEED_PREFIX, START_TIME, Json, VectorError
from .conversation import ConversationBuilder
from .conversations import EVERY_TURN, NEVER, A, B, started, turns
from .document import document, seeded_rng

HOUR = 3_600


def _flags(c: ConversationBuilder, message: int) -> int:
    return parse_message(c.wires[message]).header.flags


def _expect_flags(c: ConversationBuilder, message: int, flags: int) -> None:
    if _flags(c, message) != flags:
        raise VectorError(f"message {message} has flags {_flags(c, message):#x}, not {flags:#x}")


def _triggers(tests: list[Json]) -> None:
    c = ConversationBuilder("age trigger boundary", RekeyPolicy(None, HOUR), SEED_PREFIX)
    c.initiate()
    c.deliver(B, c.send(A))
    c.advance(HOUR - 1)
    m = c.send(B)  # B's lastPQ is the accept time: 3599 s < T, no request
    _expect_flags(c, m, 0x00)
    c.deliver(A, m)
    c.advance(1)
    m = c.send(A)  # A's lastPQ is the initiate time: exactly T, a request
    _expect_flags(c, m, 0x04)
    c.deliver(B, m)
    c.deliver(A, c.send(B))
    tests.append(
        c.test(
            0,
            "age trigger: 3599 s after the last PQ secret no request, 3600 s one",
            ["AgeTriggerBoundary", "TimeTrigger"],
        )
    )

    c = ConversationBuilder("zero age trigger", RekeyPolicy(None, 0), SEED_PREFIX)
    c.initiate()
    m = c.send(A)
    _expect_flags(c, m, 0x05)  # due at session start: 0 >= 0
    c.deliver(B, m)
    turns(c, [1, 1, 1])
    tests.append(
        c.test(0, "T = 0: due at session start and at every chain start", ["ZeroAgeTrigger"])
    )

    c = ConversationBuilder("zero message trigger", RekeyPolicy(0, None), SEED_PREFIX)
    c.initiate()
    m = c.send(A)
    _expect_flags(c, m, 0x05)
    c.deliver(B, m)
    c.restore(B)  # counters: received 1 (the accepted message), sincePQ 1
    turns(c, [1, 1])
    c.restore(A)
    c.restore(B)  # a rekey counted at the encapsulating and the decapsulating side
    tests.append(
        c.test(
            0,
            "N = 0: due at session start and at every chain start",
            ["ZeroMessageTrigger", "Counters"],
        )
    )

    c = ConversationBuilder("message trigger counts received", RekeyPolicy(2, None), SEED_PREFIX)
    c.initiate()
    c.deliver(B, c.send(A))
    m = c.send(B)  # B: sincePQ 1 (the accepted message) < 2, no request
    _expect_flags(c, m, 0x00)
    c.deliver(A, m)
    m = c.send(A)  # A: one sent + one received = 2 >= 2, a request
    _expect_flags(c, m, 0x04)
    c.deliver(B, m)
    c.restore(B)
    tests.append(
        c.test(
            0,
            "N = 2: sincePQ counts received messages; due exactly at N",
            ["MessageTriggerBoundary", "Counters"],
        )
    )

    for seconds, stored in ((0.0125, 12), (0.0127, 13)):
        c = ConversationBuilder(f"milliseconds {seconds}", RekeyPolicy(None, seconds), SEED_PREFIX)
        c.policy_input = {"everyMessages": None, "maxAgeSeconds": seconds}
        c.initiate()
        c.deliver(B, c.send(A))
        c.restore(A)  # the state holds T as `stored` milliseconds
        c.advance(1)
        turns(c, [1, 1], first=B)
        tests.append(
            c.test(
                0,
                f"T = {seconds} s is kept as {stored} ms (round half to even)",
                ["MillisecondRounding", "Restore"],
            )
        )


def _eviction(tests: list[Json]) -> None:
    c = ConversationBuilder("skipped key eviction", NEVER, SEED_PREFIX)
    c.initiate()
    m0, m1, m2 = c.send(A), c.send(A), c.send(A)
    c.deliver(B, m0)
    c.deliver(B, c.seal_at(A, 1 + MAX_SKIPPED_KEYS, b"skips 1 .. 2000"))
    c.deliver(B, c.seal_at(A, 3 + MAX_SKIPPED_KEYS, b"skips 2002: the oldest key goes"))
    c.deliver(B, m1, ReplayError)  # index 1 was the oldest skipped key, evicted
    c.deliver(B, m2)  # index 2 is still held
    tests.append(
        c.test(
            0,
            f"{MAX_SKIPPED_KEYS + 1} skipped keys: the oldest inserted is evicted",
            ["SkippedKeyEviction"],
        )
    )


def _eviction_across_chains(tests: list[Json]) -> None:
    half = MAX_SKIPPED_KEYS // 2
    c = ConversationBuilder("skipped key eviction across chains", NEVER, SEED_PREFIX)
    c.initiate()
    m0, m1, m2 = c.send(A), c.send(A), c.send(A)
    c.deliver(B, m0)
    c.deliver(B, c.seal_at(A, 2 + half, b"first chain: skips 1 .. 1001"))
    c.deliver(A, c.send(B))
    c.deliver(B, c.send(A))  # index 0 of the initiator's second chain
    c.deliver(B, c.seal_at(A, 1 + half, b"second chain: skips 1 .. 1000, one too many"))
    c.deliver(B, m1, ReplayError)  # the oldest key overall, of the first chain, is gone
    c.deliver(B, m2)
    tests.append(
        c.test(
            0,
            "skipped keys of all chains count: the second chain evicts the first's oldest",
            ["SkippedKeyEviction"],
        )
    )


def _check_order(tests: list[Json]) -> None:
    far = MAX_FORWARD_JUMP + 1
    bad_point = b"\x04" + bytes(range(1, 65))  # not on the curve

    c = started("order bound before downgrade", EVERY_TURN)
    m = c.send(B)  # answers A's request and asks again (flags 0x06)
    c.deliver(A, c.resign(B, c.wires[m], kem_ciphertext=None, index=far), TooFarAheadError)
    c.deliver(A, c.resign(B, c.wires[m], kem_ciphertext=None, index=far - 1), DowngradeError)
    c.deliver(A, m)
    tests.append(
        c.test(
            0,
            "new chain too far ahead and missing the owed KEM ciphertext: too far first",
            ["CheckOrder"],
        )
    )

    c = started("order bound before point", EVERY_TURN)
    m = c.send(B)
    c.deliver(A, c.resign(B, c.wires[m], ecdh_public_key=bad_point, index=far), TooFarAheadError)
    c.deliver(A, m)
    tests.append(
        c.test(0, "new chain too far ahead on a point off the curve: too far first", ["CheckOrder"])
    )

    c = started("order no key before bound", NEVER)
    m = c.send(A)  # B has accepted but never sent: it holds no ratchet key
    point = P256PrivateKey.generate(seeded_rng("order no key before bound/point")).public
    forged = c.resign(
        A, c.wires[m], ecdh_public_key=point, index=far, prekey_hash=None, start_ciphertext=None
    )
    c.deliver(B, forged, AuthenticationError)
    c.deliver(B, m)
    tests.append(
        c.test(
            0,
            "new chain before the receiver holds a ratchet key, also too far ahead: "
            "authentication first",
            ["CheckOrder"],
        )
    )

    c = started("order continuation bound", NEVER)
    m = c.send(B)
    c.deliver(A, m)  # A awaits nothing: a new chain now is B's continuation chain
    point = P256PrivateKey.generate(seeded_rng("order continuation bound/point")).public
    c.deliver(A, c.resign(B, c.wires[m], ecdh_public_key=point, index=far), TooFarAheadError)
    c.deliver(A, c.send(B))
    tests.append(
        c.test(
            0,
            "new chain while not awaiting a reply (a continuation chain), too far ahead: "
            "too far, not refused as unexpected",
            ["CheckOrder"],
        )
    )

    c = started("known chain header", EVERY_TURN)
    ms = [c.send(B) for _ in range(3)]  # B's chain answers A's request and asks again
    c.deliver(A, ms[0])
    _, other_pk = kem.generate_seed_and_key(kem.MLKEM768, seeded_rng("known chain header/pk"))
    c.deliver(A, c.resign(B, c.wires[ms[2]], kem_public_key=other_pk), AuthenticationError)
    c.deliver(A, c.resign(B, c.wires[ms[1]], kem_public_key=None), AuthenticationError)
    c.deliver(A, ms[2])
    c.deliver(A, ms[1])
    turns(c, [1, 1])
    tests.append(
        c.test(
            0,
            "later messages of a known chain re-signed with another kemPK, or none: refused; "
            "the genuine ones open",
            ["KnownChainHeader"],
        )
    )

    c = started("continuation chain", NEVER)
    c.deliver(A, c.send(B))
    c.deliver(B, c.send(A))  # A's chain, received by B: B awaits nothing now
    c.restore(A)  # A's next send opens a continuation chain under a fresh key
    m = c.send(A)
    c.deliver(B, m)
    turns(c, [1, 2], first=B)
    tests.append(
        c.test(
            0,
            "a restored session's continuation chain: a second chain in the same turn, accepted",
            ["ContinuationChain", "Restore"],
        )
    )

    c = ConversationBuilder("order replay before kem key", EVERY_TURN, SEED_PREFIX)
    c.initiate()
    m0 = c.send(A)
    c.accept(m0)
    header = parse_message(c.wires[m0]).header
    assert header.kem_public_key is not None
    bad_pk = b"\xff\xff" + header.kem_public_key[2:]
    c.accept(c.resign(A, c.wires[m0], kem_public_key=bad_pk), ReplayError)
    tests.append(
        c.test(
            0,
            "accept: a replayed start whose KEM key fails the input check: replay first",
            ["CheckOrder", "SessionStartReplay"],
        )
    )


def _time_restore(tests: list[Json]) -> None:
    c = ConversationBuilder("time policy restore", RekeyPolicy(None, 2 * HOUR), SEED_PREFIX)
    c.initiate()
    c.deliver(B, c.send(A))
    gaps = (HOUR, 3 * HOUR, 600, 2 * HOUR, 60, 5 * HOUR, 30, HOUR, 4 * HOUR, 10, 3 * HOUR, 90)
    sender = B
    for i, gap in enumerate(gaps):
        c.advance(gap)
        turns(c, [1 + i % 2], first=sender)
        sender = c.peer(sender).role
        if i in (7, 11):
            c.restore(A)
            c.restore(B)
    a = c.session(A).state.ratchet
    if not a.retired or a.last_pq_time == START_TIME:
        raise VectorError("the time-policy restore holds no retired point or an unmoved lastPQ")
    if len(c.session(A).state.ratchet.receiving) != MAX_RECEIVING_CHAINS:
        raise VectorError("the time-policy conversation did not fill the receiving chains")
    tests.append(
        c.test(
            0,
            "time policy (7200 s): restores with retired points and a moved lastPQ",
            ["Restore", "TimeTrigger", "RetiredPoints"],
        )
    )


def pinned_choice_file() -> Json:
    tests: list[Json] = []
    _triggers(tests)
    _eviction(tests)
    _eviction_across_chains(tests)
    _check_order(tests)
    _time_restore(tests)
    return document(
        sc.PINNED_CHOICE_TYPE,
        [
            "Conversations that decide the choices spec 1.1 pins: under any other reading "
            "of the rule named by a test's flags, a wire byte, a draw, a stored state or a "
            "failure class differs.",
            "Same step format and parties as pq3_conversation_test; maxAgeSeconds may be a "
            "non-integer, given to the policy as a binary64 number.",
        ],
        [tests],
    )
