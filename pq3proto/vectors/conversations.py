"""Positive whole-conversation vectors (spec/test-vectors.md, pq3_conversation_test).

Owns: which conversations exist, their policies and delivery orders, and the shared
scenario helpers (turns, started sessions, the named policies).
Not: the conversation mechanics (conversation.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..constants import (
    DEFAULT_REKEY_SECONDS,
    MAX_FORWARD_JUMP,
)
from ..policy import RekeyPolicy
from ..profile import Profile
from . import schemas as sc
from .common import (
    SEED_PREFIX,
    Json,
    VectorError,
)
from .conversation import INITIATOR, RESPONDER, ConversationBuilder
from .document import document

# ── Conversations ───────────────────────────────────────────────────────────────────────

A, B = INITIATOR, RESPONDER
DEFAULT = RekeyPolicy()
EVERY_TURN = RekeyPolicy.every_turn()
NEVER = RekeyPolicy.never()


def turns(c: ConversationBuilder, runs: Iterable[int], first: str = B) -> None:
    """Alternate directions, `n` messages per turn, each delivered in order."""
    sender = first
    for n in runs:
        for _ in range(n):
            c.deliver(c.peer(sender).role, c.send(sender))
        sender = c.peer(sender).role


def started(
    name: str, policy: RekeyPolicy, first_runs: int = 1, profile: Profile | None = None
) -> ConversationBuilder:
    """A session whose initiator's first `first_runs` messages the responder has opened."""
    c = ConversationBuilder(name, policy, SEED_PREFIX, profile)
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
    turns(c, [2, 1], first=B)
    done(c, "basic exchange, default policy", ["Basic"])

    c = started("direction changes", DEFAULT)
    turns(c, [1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 3, 2, 1, 1, 2, 1, 1, 1, 2, 1, 1, 2])
    done(c, "many changes of direction, default policy", ["DirectionChanges"])

    c = started("rekey every 4", RekeyPolicy(4, DEFAULT_REKEY_SECONDS), 2)
    turns(c, [3, 2, 1, 4, 1, 1, 2, 3, 1, 2, 2, 1])
    if c.session(A).stats.pq_rekeys < 3:
        raise VectorError("the short-N policy did not rekey enough")
    done(c, "default policy with N = 4 messages: rekeys happen", ["PqRekey", "DirectionChanges"])

    c = started("every turn", EVERY_TURN, 2)
    turns(c, [2, 1, 2, 1, 1, 2, 1, 1])
    if c.session(A).stats.pq_rekeys < 6:
        raise VectorError("every_turn did not rekey every turn")
    done(c, "policy every_turn: a rekey request at each change of direction", ["PqRekey"])

    c = started("never", NEVER, 2)
    turns(c, [2, 1, 2, 1, 1, 2, 1, 1])
    if c.session(A).stats.pq_rekeys or c.session(B).stats.pq_rekeys:
        raise VectorError("policy never rekeyed")
    done(c, "policy never: no KEM material after the session start", ["NoRekey"])

    c = started("time trigger", RekeyPolicy(None, 86_400))
    for gap in (600, 3_600, 40_000, 50_000, 120, 90_000, 60, 200_000, 30):
        c.advance(gap)
        turns(c, [1], first=B if len(c.wires) % 2 else A)
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
    turns(c, [2, 3, 1], first=A)
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
    turns(c, [2, 2], first=B)
    c.restore(A)  # with a rekey request open and a sending chain open
    m = [c.send(A) for _ in range(2)]  # a continuation chain, repeating the request
    c.deliver(B, m[1])
    c.deliver(B, m[0])
    c.restore(B)
    turns(c, [1, 3, 1], first=B)
    m = [c.send(A) for _ in range(2)]
    c.restore(A)  # mid sending chain
    c.deliver(B, m[1])
    c.restore(B)
    c.deliver(B, m[0])
    turns(c, [2, 1, 2], first=B)
    done(c, "sessions serialized and restored mid-conversation", ["Restore", "PqRekey"])

    c = started("skip bound edge", DEFAULT)
    far = c.seal_at(A, 1 + MAX_FORWARD_JUMP, b"far ahead but within the bound")
    c.deliver(B, far)
    c.deliver(B, c.send(A))  # index 1, from a skipped key
    turns(c, [1, 1])
    done(
        c,
        f"a message exactly MAX_FORWARD_JUMP ({MAX_FORWARD_JUMP}) ahead is accepted",
        ["SkipBoundEdge", "OutOfOrder"],
    )

    c = started("payload sizes", DEFAULT)
    c.deliver(A, c.send(B, b"", b""))
    c.deliver(A, c.send(B, b"", b"auth data only"))
    c.deliver(B, c.send(A, bytes(range(256)) * 8, bytes(300)))
    c.deliver(B, c.send(A, "\u00fcnicode \u2713".encode(), b""))
    done(c, "empty, binary and larger payloads and auth data", ["Basic"])

    return document(
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
