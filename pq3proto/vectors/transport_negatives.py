"""Negative conversation vectors of the deferred transports (spec/test-vectors.md,
profile_transport_negative_test): one bad transport input per scenario with its failure
class, each followed by the genuine message, which must still open.

Owns: those scenarios and the crafting of their bad blocks and headers.
Not: the conversation mechanics (conversation.py) or the shared delivery helpers
(transports.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..constants import FLAG_KEM_CIPHERTEXT, FLAG_KEM_PUBLIC_KEY, REKEY_ID_SIZE, TBLOCK_KNOWN
from ..errors import (
    AuthenticationError,
    ChunkError,
    DowngradeError,
    InconsistentChunkError,
    MalformedInputError,
    ReplayError,
)
from ..profile import Profile
from ..transport import Material, TransportBlock
from ..wire import parse_message
from . import schemas as sc
from .common import Json, VectorError
from .conversation import ConversationBuilder
from .conversations import turns
from .document import document, seeded_rng
from .transports import (
    CHUNKED_384,
    FIRST,
    A,
    B,
    begin,
    block,
    carries_answer,
    carries_request,
    expect_rekeys,
    run,
    until,
)

PQ3_NAMED = Profile()  # PQ3 itself, named by the test so the file has one shape


def _splice(c: ConversationBuilder, message: int, new_block: bytes) -> bytes:
    """The message with its transport block replaced and the old signature kept."""
    wire = c.wires[message]
    msg = parse_message(wire, c.wire_profile)
    at = msg.header_length
    return wire[:at] + new_block + wire[at + len(msg.transport_bytes) :]


def _with_flags(c: ConversationBuilder, message: int, extra: int) -> bytes:
    """The message with `extra` set in its header flags, and the material those flags
    announce inserted as zero bytes after the ECDH key, so every length still adds up."""
    wire = c.wires[message]
    size = c.wire_profile.rekey
    material = b""
    if extra & FLAG_KEM_CIPHERTEXT:
        material += bytes(size.ciphertext_size)
    if extra & FLAG_KEM_PUBLIC_KEY:
        material += bytes(size.public_key_size)
    at = 2 + len(parse_message(wire, c.wire_profile).header.ecdh_public_key)
    return bytes((wire[0], wire[1] | extra)) + wire[2:at] + material + wire[at:]


def _rechunk(c: ConversationBuilder, message: int, **changes: Any) -> bytes:
    """The block of a chunked request message with its chunk changed, encoded."""
    b = block(c, message)
    material = b.request_material
    if material is None or material.chunk is None:
        raise VectorError("expected a message carrying a key chunk")
    chunk = replace(material.chunk, **changes)
    return replace(b, request_material=Material(material.kind, chunk.to_bytes(), chunk)).encode()


def transport_negative_file() -> Json:
    tests: list[Json] = []

    def done(c: ConversationBuilder, comment: str, flags: list[str]) -> None:
        if not c.invalid:
            raise VectorError(f"negative vector {comment!r} expects no failure")
        tests.append(c.test(0, comment, flags))

    for profile in (FIRST, CHUNKED_384):
        name = profile.transport
        c = begin(f"{name} stripped block", profile)
        run(c, A, 3)
        m = until(c, B, carries_request)
        c.deliver(A, _splice(c, m, TransportBlock().encode()), AuthenticationError)
        c.deliver(A, m)
        turns(c, [2, 3, 2, 2, 2, 2], first=A)
        expect_rekeys(c, 1)
        done(
            c,
            f"{profile.label}: the request's transport block emptied, not signed again",
            ["StrippedBlock"],
        )

        c = begin(f"{name} modified block", profile)
        run(c, A, 3)
        run(c, B, 4)  # the request: the whole key, or k = 4 chunks
        m = until(c, A, carries_answer)
        raw = bytearray(c.wires[m])
        msg = parse_message(c.wires[m], profile)
        raw[msg.header_length + len(msg.transport_bytes) // 2] ^= 0x01  # inside the material
        c.deliver(B, bytes(raw), AuthenticationError)
        c.deliver(B, m)
        turns(c, [2, 2, 2, 2, 2], first=A)
        expect_rekeys(c, 1)
        done(
            c,
            f"{profile.label}: one byte of the answer's material changed, not signed again",
            ["ModifiedBlock"],
        )

        c = begin(f"{name} forged mark", profile)
        run(c, A, 2)
        run(c, B, 2)
        m = c.send(A)  # a new chain: index 0
        mark = seeded_rng(f"{name} forged mark id").random_bytes(REKEY_ID_SIZE)
        c.deliver(B, c.resign(A, c.wires[m], mixed_id=mark), DowngradeError)
        c.deliver(B, m)
        done(
            c,
            f"{profile.label}: a new chain marked mixed with an id the receiver holds no "
            "answer for, signed again",
            ["ForgedMark"],
        )

        c = begin(f"{name} unrequested answer", profile)
        run(c, A, 2)
        m = c.send(B)
        ids = seeded_rng(f"{name} unrequested answer ids").random_bytes(2 * REKEY_ID_SIZE)
        forged = TransportBlock(answer=(ids[:REKEY_ID_SIZE], ids[REKEY_ID_SIZE:])).encode()
        c.deliver(A, c.resign(B, c.wires[m], block=forged), DowngradeError)
        c.deliver(A, m)
        done(
            c,
            f"{profile.label}: a block answering a request the receiver never made, signed again",
            ["UnrequestedAnswer"],
        )

        c = begin(f"{name} kem in header", profile)
        m = c.send(B)
        for flag in (FLAG_KEM_CIPHERTEXT, FLAG_KEM_PUBLIC_KEY):
            c.deliver(A, _with_flags(c, m, flag), MalformedInputError)
        c.deliver(A, m)
        done(
            c,
            f"{profile.label}: header flag 0x02, then 0x04, with zero material of the right "
            "size in the header",
            ["KemInHeader"],
        )

        c = begin(f"{name} unknown block flags", profile)
        m = c.send(B)
        encoded = block(c, m).encode()
        for bit in (0x10, 0x20, 0x40, 0x80):
            assert not bit & TBLOCK_KNOWN
            forged = bytes((encoded[0] | bit,)) + encoded[1:]
            c.deliver(A, c.resign(B, c.wires[m], block=forged), MalformedInputError)
        c.deliver(A, m)
        done(
            c,
            f"{profile.label}: a transport block with each unknown flag bit set, signed again",
            ["UnknownBlockFlags"],
        )

    c = begin("chunked forged chunk", CHUNKED_384)
    run(c, A, 3)
    first = until(c, B, carries_request)  # chunk 0, held back
    for m in [c.send(B) for _ in range(3)]:  # chunks 1..3: one short of k = 4
        c.deliver(A, m)
    data = block(c, first).request_material
    assert data is not None and data.chunk is not None
    flipped = bytes(x ^ 0x01 for x in data.chunk.data)
    bad = c.resign(B, c.wires[first], block=_rechunk(c, first, data=flipped))
    c.deliver(A, bad, InconsistentChunkError)
    c.deliver(A, first)
    turns(c, [2, 2, 2, 2], first=A)
    expect_rekeys(c, 1)
    done(
        c,
        "chunked: the completing chunk forged (its bytes changed, signed again): the rebuilt "
        "key does not match its id; the genuine chunk then completes it",
        ["ForgedChunk"],
    )

    c = begin("chunked foreign chunk", CHUNKED_384)
    run(c, A, 3)
    m = until(c, B, carries_request)
    other = seeded_rng("chunked foreign chunk id").random_bytes(REKEY_ID_SIZE)
    bad = c.resign(B, c.wires[m], block=_rechunk(c, m, material_id=other))
    c.deliver(A, bad, ChunkError)
    c.deliver(A, m)
    done(
        c,
        "chunked: a chunk naming another material id than its block's request, signed again",
        ["ForeignChunk"],
    )

    c = begin("chunked replayed chunk", CHUNKED_384)
    run(c, A, 3)
    m = until(c, B, carries_request)
    c.deliver(A, m)
    c.deliver(A, m, ReplayError)
    turns(c, [3, 2, 3, 2, 2], first=B)
    expect_rekeys(c, 1)
    done(
        c,
        "chunked: a message carrying a chunk delivered twice: the replay is refused and the "
        "rekey still completes",
        ["Replay"],
    )

    c = begin("pq3 mark", PQ3_NAMED)
    m = c.send(B)
    mark = seeded_rng("pq3 mark id").random_bytes(REKEY_ID_SIZE)
    c.deliver(A, c.resign(B, c.wires[m], mixed_id=mark), MalformedInputError)
    c.deliver(A, m)
    done(c, "PQ3: a chain header with flag 0x10 (mixed), signed again", ["MarkUnderPq3"])

    return document(
        sc.PROFILE_CONVERSATION_TYPE,
        [
            "One bad transport input per test under the first and chunked transports "
            "(spec/10-profiles.md §3.2-§3.4, 05-validation.md), with its failure class; the "
            "session is unchanged and the genuine message still opens.",
            "Messages \"signed again\" were re-signed with the sender's identity key over the "
            "changed header and block, as a buggy or compromised sender would make them.",
        ],
        [tests],
    )
