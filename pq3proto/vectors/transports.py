"""Positive conversation vectors of the deferred transports (spec/test-vectors.md,
profile_transport_test): `first` and `chunked` with ML-KEM, in order, under loss and
reordering, and restored mid-rekey.

Owns: which of those conversations exist and the delivery helpers they share with the
negative file (transport_negatives.py): finding the message that carries some material,
and the completion checks.
Not: the conversation mechanics (conversation.py) or the profiles themselves (profile.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..constants import DEFAULT_REKEY_SECONDS
from ..policy import RekeyPolicy
from ..profile import Profile
from ..transport import TransportBlock
from ..wire import parse_message
from . import schemas as sc
from .common import Json, VectorError
from .conversation import INITIATOR, RESPONDER, ConversationBuilder
from .conversations import started, turns
from .document import document

A, B = INITIATOR, RESPONDER
FIRST = Profile(transport="first")
CHUNKED = Profile(transport="chunked")  # the default chunks: 64 bytes, n = 4k
# Larger chunks keep the loss scenarios short: an ML-KEM-768 key in k = 4, a ciphertext in 3.
CHUNKED_384 = Profile(transport="chunked", chunk_size=384, chunk_expansion=2)
EVERY_4 = RekeyPolicy(4, DEFAULT_REKEY_SECONDS)

Wanted = Callable[[ConversationBuilder, int], bool]


def block(c: ConversationBuilder, message: int) -> TransportBlock:
    """The transport block of one sent message."""
    b = parse_message(c.wires[message], c.wire_profile).transport
    if b is None:
        raise VectorError("a deferred profile's message without a transport block")
    return b


def index(c: ConversationBuilder, message: int) -> int:
    return parse_message(c.wires[message], c.wire_profile).index


def carries_request(c: ConversationBuilder, message: int) -> bool:
    return block(c, message).request_material is not None


def carries_answer(c: ConversationBuilder, message: int) -> bool:
    return block(c, message).answer_material is not None


def chunk_index(c: ConversationBuilder, message: int) -> int:
    """The index i of the one chunk a chunked message carries."""
    material = block(c, message).materials
    if len(material) != 1 or material[0].chunk is None:
        raise VectorError("expected a message carrying one chunk")
    return material[0].chunk.i


def begin(name: str, profile: Profile) -> ConversationBuilder:
    """A started session of `profile` under EVERY_4 whose first message has been accepted."""
    return started(name, EVERY_4, profile=profile)


def run(c: ConversationBuilder, sender: str, n: int) -> None:
    """Send `n` messages and deliver them in order."""
    turns(c, [n], first=sender)


def rekeys(c: ConversationBuilder) -> tuple[int, int]:
    return c.session(A).stats.pq_rekeys, c.session(B).stats.pq_rekeys


def expect_rekeys(c: ConversationBuilder, at_least: int) -> None:
    a, b = rekeys(c)
    if a != b or a < at_least:
        raise VectorError(f"{c.name}: rekeys {a} / {b}, expected {at_least} or more, equal")


def until(c: ConversationBuilder, sender: str, wanted: Wanted, limit: int = 200) -> int:
    """Send and deliver from `sender` until a message satisfies `wanted`; that one is
    returned undelivered."""
    for _ in range(limit):
        m = c.send(sender)
        if wanted(c, m):
            return m
        c.deliver(c.peer(sender).role, m)
    raise VectorError(f"{c.name}: no such message within {limit}")


# ── The file ────────────────────────────────────────────────────────────────────────────


def transport_file() -> Json:
    tests: list[Json] = []

    def done(c: ConversationBuilder, comment: str, flags: list[str]) -> None:
        if c.invalid:
            raise VectorError(f"positive vector {comment!r} has a failing step")
        tests.append(c.test(0, comment, flags))

    for profile, runs, count in (
        (FIRST, [2, 3, 1, 2, 3, 2, 2, 3, 1, 2, 2, 1, 3, 2], 2),
        (CHUNKED, [6] * 20, 1),  # 19 key chunks, then 17 ciphertext chunks
    ):
        c = begin(f"{profile.transport} in order", profile)
        turns(c, runs, first=B)
        expect_rekeys(c, count)
        rekeyed = "two rekeys" if count == 2 else "a rekey"
        done(c, f"{profile.label}: in-order ping-pong, {rekeyed} or more", ["InOrder", "PqRekey"])

    c = begin("first lost request", FIRST)
    run(c, A, 3)
    lost = until(c, B, carries_request)  # index 0 of the requesting chain, never delivered
    run(c, B, 2)
    turns(c, [2, 3, 2, 2, 3, 2], first=A)
    if rekeys(c) == (0, 0) or not any(
        carries_request(c, m) and index(c, m) == 0 for m in range(lost + 1, len(c.wires))
    ):
        raise VectorError("the request was not sent again on a later chain")
    expect_rekeys(c, 1)
    done(
        c,
        "first: index 0 of the requesting chain is lost; the request rides again on the "
        "requester's next chain and the rekey completes",
        ["LostFirstMessage", "PqRekey"],
    )

    c = begin("first lost answer", FIRST)
    run(c, A, 3)
    run(c, B, 2)  # asks
    until(c, A, carries_answer)  # never delivered
    run(c, A, 2)
    turns(c, [2, 2, 3, 2, 2, 2], first=B)
    expect_rekeys(c, 1)
    done(
        c,
        "first: the message carrying the answer's ciphertext is lost; the answer rides "
        "again on the answerer's next chain and the rekey completes",
        ["LostFirstMessage", "PqRekey"],
    )

    c = begin("first late request", FIRST)
    run(c, A, 3)
    late = until(c, B, carries_request)
    rest = [c.send(B) for _ in range(3)]
    for m in (rest[1], rest[0], late, rest[2]):
        c.deliver(A, m)
    turns(c, [2, 2, 3, 2], first=A)
    expect_rekeys(c, 1)
    done(
        c,
        "first: index 0 of the requesting chain arrives after indexes 1 and 2; the answer "
        "follows it and the rekey completes on time",
        ["LateFirstMessage", "OutOfOrder", "PqRekey"],
    )

    c = begin("chunked loss and reorder", CHUNKED_384)
    run(c, A, 3)
    chain = [until(c, B, carries_request)] + [c.send(B) for _ in range(6)]
    if [chunk_index(c, m) for m in chain] != list(range(7)):
        raise VectorError("the key's chunks are not sent in order")
    for i in (6, 3, 1, 5):  # 0, 2 and 4 lost; k = 4 with the repair chunks 5 and 6
        c.deliver(A, chain[i])
    answer = [c.send(A) for _ in range(5)]
    if [chunk_index(c, m) for m in answer] != list(range(5)):
        raise VectorError("the ciphertext's chunks are not sent in order")
    for i in (4, 1, 3):  # k = 3 with the repair chunks 3 and 4, out of order
        c.deliver(B, answer[i])
    turns(c, [2, 2, 2], first=B)
    expect_rekeys(c, 1)
    done(
        c,
        "chunked (384-byte chunks, n = 2k): the first key chunk and others are lost, the "
        "rest arrive out of order; repair chunks complete both the key and the ciphertext",
        ["ChunkLoss", "OutOfOrder", "RepairChunks", "PqRekey"],
    )

    for profile in (FIRST, CHUNKED_384):
        c = begin(f"{profile.transport} answer mid chain", profile)
        run(c, A, 3)
        x = [until(c, B, carries_request)] + [c.send(B) for _ in range(3)]
        c.deliver(A, x[1])  # opens B's chain without the key (first) or with one chunk
        c.deliver(B, c.send(A))  # A's chain opens before the key is whole
        for m in (x[0], x[2], x[3]):  # the rest of B's chain, late: now A holds the key
            c.deliver(A, m)
        m = c.send(A)  # index 1 of A's chain encapsulates
        draws = c.steps[-1]["randomness"]
        if draws["ecdhScalar"] is not None or draws["kemCoins"] is None or index(c, m) != 1:
            raise VectorError("the answer was not encapsulated in the middle of a chain")
        c.deliver(B, m)
        turns(c, [2, 2, 2, 2], first=A)
        expect_rekeys(c, 1)
        done(
            c,
            f"{profile.label}: the peer's key is whole only after the answerer's chain has "
            "opened; the answer is encapsulated at index 1 of that chain",
            ["MidChainAnswer", "OutOfOrder", "PqRekey"],
        )

    for profile in (FIRST, CHUNKED_384):
        c = begin(f"{profile.transport} restore mid rekey", profile)
        run(c, A, 3)
        run(c, B, 1)
        c.restore(B)  # its request open
        c.restore(A)  # holding the peer's key (first) or one chunk of it (chunked)
        run(c, B, 3)
        c.restore(A)  # holding (part of) the peer's key
        turns(c, [3], first=A)
        c.restore(A)  # its answer pending
        c.restore(B)
        turns(c, [3, 3], first=B)
        c.restore(B)  # holding the mix, or after it
        turns(c, [3, 2, 2, 2], first=A)
        c.restore(A)
        turns(c, [2, 2], first=B)
        expect_rekeys(c, 1)
        done(
            c,
            f"{profile.label}: both parties serialized and restored at each phase of a rekey",
            ["Restore", "PqRekey"],
        )

    return document(
        sc.PROFILE_CONVERSATION_TYPE,
        [
            "Whole conversations under the first and chunked transports (spec/10-profiles.md "
            "§3.2-§3.4), ML-KEM-1024 at the start and ML-KEM-768 for rekeys. The format is "
            "that of pq3_conversation_test.json plus the test's profile.",
            "Under these transports an encrypt draws ecdhScalar, then kemSeed, then kemCoins "
            "(spec/test-vectors.md, Randomness).",
        ],
        [tests],
    )
