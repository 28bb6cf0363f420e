"""The deferred transports `first` and `chunked` in sessions (spec/10-profiles.md §3.2-§3.4):
rekeys complete under loss and reordering, a lost or late first message only delays them,
forged material and marks are clear errors that change nothing, and nothing can be stripped.
"""

from __future__ import annotations

import os

import pytest

from pq3proto import (
    AuthenticationError,
    Device,
    DowngradeError,
    MalformedInputError,
    Profile,
    RekeyPolicy,
    Session,
    kem,
)
from pq3proto.chunking import Chunk
from pq3proto.constants import CHUNK_KIND_CIPHERTEXT, CHUNK_KIND_PUBLIC_KEY
from pq3proto.errors import ChunkError, InconsistentChunkError
from pq3proto.experiments.delivery import NetworkConditions
from pq3proto.experiments.traced import run_traced
from pq3proto.kdf import session_dst
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.trace import TraceRecorder
from pq3proto.transport import Material, TransportBlock
from pq3proto.wire import (
    ChainHeader,
    ParsedMessage,
    encode_message,
    parse_message,
    signature_body,
    transport_tail,
)

FIRST = Profile(transport="first")
CHUNKED = Profile(transport="chunked")
DEFERRED = (FIRST, CHUNKED)
LIBOQS = kem.available_backends()["liboqs"] is None
needs_liboqs = pytest.mark.skipif(not LIBOQS, reason="liboqs not found (README: liboqs)")
# Chunk sizes for the 500-message runs: the rarely-sending side of one-sided traffic sends
# about a dozen messages, so its material must fit in a few chunks (spec/10-profiles.md §4.5).
RUN_CHUNK = {"ML-KEM-768": 384, "BIKE-L1": 512, "HQC-1": 1024, "FrodoKEM-640-AES": 2048}


class Pair:
    """Alice and Bob under one profile, every random value from a seed."""

    def __init__(
        self, profile: Profile, policy: RekeyPolicy, seed: int = 1,
        bob_policy: RekeyPolicy | None = None,
    ) -> None:
        self.rng = TestingOnlyDeterministicRandom(bytes([seed]) * 32)
        self.profile = profile
        self.bob_device = Device.generate_deterministic_for_tests(
            "mailto:bob@example.org", 1, self.rng, profile=profile
        )
        self.alice_device = Device.generate_deterministic_for_tests(
            "tel:+15551234567", 7, self.rng, profile=profile
        )
        self.alice = Session.initiate_deterministic_for_tests(
            self.alice_device, self.bob_device.public_identity(),
            self.bob_device.prekey_bundle(), self.rng, policy=policy,
        )
        self.bob, first = Session.accept_deterministic_for_tests(
            self.bob_device, self.alice_device.public_identity(), self.alice.encrypt(b"hi"),
            self.rng, policy=bob_policy or policy,
        )
        assert first == b"hi"

    def resign(self, sender: Session, wire: bytes, header: ChainHeader | None = None,
               block: bytes | None = None) -> bytes:
        """`wire` with its chain header or transport block replaced and signed again with
        the sender's own key: what only a holder of that key can produce."""
        msg = parse_message(wire, self.profile)
        header = header or msg.header
        block = msg.transport_bytes if block is None else block
        me, peer = (
            (self.alice_device, self.bob_device) if sender is self.alice
            else (self.bob_device, self.alice_device)
        )
        dst = session_dst(me.identity.binding(), peer.identity.binding(), self.profile.to_bytes())
        tail = header.signature_tail(dst) + transport_tail(header, block)
        body = signature_body(msg.ciphertext, msg.auth_data, msg.indicator,
                              header.ecdh_public_key, msg.index, tail)
        sig = me.signing_key.sign(body, deterministic=True)
        return encode_message(header.encode() + block, msg.index, msg.indicator,
                              msg.auth_data, msg.ciphertext, sig)


def block_of(wire: bytes, profile: Profile) -> TransportBlock:
    msg = parse_message(wire, profile)
    assert msg.transport is not None
    return msg.transport


def exchange(sender: Session, receiver: Session, n: int, tag: bytes = b"m") -> list[bytes]:
    out = []
    for i in range(n):
        wire = sender.encrypt(tag + b"%d" % i)
        assert receiver.decrypt(wire) == tag + b"%d" % i
        out.append(wire)
    return out


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_rekeys_complete_and_both_sides_agree(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy(every_messages=8))
    for turn in range(80):
        sender, receiver = (p.alice, p.bob) if turn % 2 else (p.bob, p.alice)
        exchange(sender, receiver, 3, b"t%d." % turn)
    # each mix happens on both sides; both count it
    assert p.alice.stats.pq_rekeys == p.bob.stats.pq_rekeys >= 2
    # only the transport block carries rekey material, never the chain header
    wire = p.alice.encrypt(b"x")
    h = parse_message(wire, profile).header
    assert h.kem_ciphertext is None and h.kem_public_key is None


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_the_mix_happens_on_the_marked_chain(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy(every_messages=1))
    rec_a: list = []
    rec_b: list = []
    p.alice.tracer = TraceRecorder(rec_a)
    p.bob.tracer = TraceRecorder(rec_b)
    marked = None
    for turn in range(60):
        sender, receiver = (p.bob, p.alice) if turn % 2 == 0 else (p.alice, p.bob)
        for wire in exchange(sender, receiver, 2, b"%d." % turn):
            h = parse_message(wire, profile).header
            if h.mixed_id is not None and marked is None:
                marked = (sender, h)
        if marked is not None:
            break
    assert marked is not None
    sender, _ = marked
    # the requester mixed when its marked chain opened; the answerer when it received it
    sent = rec_a if sender is p.alice else rec_b
    got = rec_b if sender is p.alice else rec_a
    assert any(e.direction == "send" and e.rekey_completed and e.index == 0 for e in sent)
    assert any(e.direction == "receive" and e.rekey_completed for e in got)


def _first_rekey_setup() -> tuple[Pair, list[bytes]]:
    """Under `first`, Alice's reply chain opens a request; its index 0 carries the key."""
    p = Pair(FIRST, RekeyPolicy(every_messages=4), bob_policy=RekeyPolicy.never())
    exchange(p.alice, p.bob, 4)
    exchange(p.bob, p.alice, 4)
    chain = [p.alice.encrypt(b"a%d" % i) for i in range(4)]
    blocks = [block_of(w, FIRST) for w in chain]
    assert blocks[0].request_material is not None and blocks[0].request_id is not None
    assert all(b.request_material is None and b.request_id == blocks[0].request_id
               for b in blocks[1:])
    return p, chain


def test_first_a_lost_index_0_waits_for_a_later_chain() -> None:
    p, chain = _first_rekey_setup()
    request = block_of(chain[0], FIRST).request_id
    for w in chain[1:]:  # index 0 lost: the chain names the request but cannot deliver it
        p.bob.decrypt(w)
    replies = exchange(p.bob, p.alice, 3)  # Bob owes nothing: no answer, no DowngradeError
    assert all(block_of(w, FIRST).answer is None for w in replies)
    again = p.alice.encrypt(b"again")  # Alice's next chain carries the key once more
    b = block_of(again, FIRST)
    assert b.request_id == request and b.request_material is not None
    p.bob.decrypt(again)
    answer = p.bob.encrypt(b"answer")
    assert block_of(answer, FIRST).answer is not None
    p.alice.decrypt(answer)
    before = p.alice.stats.pq_rekeys
    p.bob.decrypt(p.alice.encrypt(b"marked"))
    assert p.alice.stats.pq_rekeys == before + 1 and p.bob.stats.pq_rekeys == before + 1


def test_first_a_late_index_0_still_delivers_the_key() -> None:
    p, chain = _first_rekey_setup()
    for w in (*chain[1:], chain[0]):  # index 0 arrives last
        p.bob.decrypt(w)
    answer = p.bob.encrypt(b"answer")
    assert block_of(answer, FIRST).answer_material is not None
    p.alice.decrypt(answer)
    p.bob.decrypt(p.alice.encrypt(b"marked"))
    assert p.alice.stats.pq_rekeys == p.bob.stats.pq_rekeys == 1


def test_chunked_chunks_in_any_order_and_duplicates_rebuild_the_key() -> None:
    p = Pair(CHUNKED, RekeyPolicy(every_messages=1))
    exchange(p.alice, p.bob, 1)
    wires = [p.bob.encrypt(b"b%d" % i) for i in range(40)]  # Bob's chain requests
    chunks = [block_of(w, CHUNKED).request_material for w in wires]
    assert all(c is not None and c.chunk is not None for c in chunks)
    k = chunks[0].chunk.k  # type: ignore[union-attr]
    order = list(reversed(wires[:k + 3])) + wires[:2]  # reversed, then two replays refused
    for w in order[: k + 3]:
        p.alice.decrypt(w)
    answer = block_of(p.alice.encrypt(b"answer"), CHUNKED)
    assert answer.answer is not None and answer.answer_material is not None
    assert answer.answer_material.chunk is not None
    assert answer.answer_material.chunk.kind == CHUNK_KIND_CIPHERTEXT


def test_chunked_a_forged_chunk_is_refused_and_changes_nothing() -> None:
    p = Pair(CHUNKED, RekeyPolicy(every_messages=1))
    exchange(p.alice, p.bob, 1)
    wires = [p.bob.encrypt(b"b%d" % i) for i in range(30)]
    block = block_of(wires[0], CHUNKED)
    material = block.request_material
    assert material is not None and material.chunk is not None
    k = material.chunk.k
    for w in wires[1:k]:  # k - 1 distinct chunks held
        p.alice.decrypt(w)
    c = material.chunk
    bad = Chunk(c.kind, c.material_id, c.k, c.n, c.i, bytes(x ^ 1 for x in c.data))
    forged_block = TransportBlock(
        block.request_id, None, None, Material(CHUNK_KIND_PUBLIC_KEY, bad.to_bytes(), bad)
    ).encode()
    forged = p.resign(p.bob, wires[0], block=forged_block)
    before = p.alice.to_bytes()
    with pytest.raises(InconsistentChunkError):
        p.alice.decrypt(forged)  # the completing chunk rebuilds a key whose id is wrong
    assert p.alice.to_bytes() == before
    p.alice.decrypt(wires[0])  # the genuine message still opens and completes the key
    assert block_of(p.alice.encrypt(b"answer"), CHUNKED).answer is not None


def test_chunked_a_chunk_of_another_material_is_a_chunk_error() -> None:
    p = Pair(CHUNKED, RekeyPolicy(every_messages=1))
    exchange(p.alice, p.bob, 1)
    wire = p.bob.encrypt(b"b")
    block = block_of(wire, CHUNKED)
    assert block.request_material is not None and block.request_material.chunk is not None
    c = block.request_material.chunk
    other = Chunk(c.kind, bytes(4), c.k, c.n, c.i, c.data)
    raw = TransportBlock(
        block.request_id, None, None, Material(CHUNK_KIND_PUBLIC_KEY, other.to_bytes(), other)
    ).encode()
    with pytest.raises(ChunkError):
        parse_message(p.resign(p.bob, wire, block=raw), CHUNKED)


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_stripping_material_or_ids_breaks_the_signature(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy(every_messages=1))
    exchange(p.alice, p.bob, 1)
    wire = p.bob.encrypt(b"asks")
    msg = parse_message(wire, profile)
    assert msg.transport is not None and msg.transport.request_id is not None
    empty = TransportBlock().encode()
    h = msg.header_length
    stripped = wire[:h] + empty + wire[h + len(msg.transport_bytes):]
    before = p.alice.to_bytes()
    with pytest.raises(AuthenticationError):
        p.alice.decrypt(stripped)
    assert p.alice.to_bytes() == before
    assert p.alice.decrypt(wire) == b"asks"


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_a_mark_for_no_pending_answer_is_a_downgrade(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy.never())
    exchange(p.alice, p.bob, 2)
    wire = p.bob.encrypt(b"new chain")
    header = parse_message(wire, profile).header
    forged = p.resign(p.bob, wire, header=ChainHeader(header.ecdh_public_key,
                                                         mixed_id=b"\x01\x02\x03\x04"))
    before = p.alice.to_bytes()
    with pytest.raises(DowngradeError):
        p.alice.decrypt(forged)
    assert p.alice.to_bytes() == before
    assert p.alice.decrypt(wire) == b"new chain"


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_an_answer_to_no_request_is_a_downgrade(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy.never())
    exchange(p.alice, p.bob, 2)
    wire = p.bob.encrypt(b"m")
    raw = TransportBlock(None, (b"\x09" * 4, b"\x08" * 4)).encode()
    before = p.alice.to_bytes()
    with pytest.raises(DowngradeError):
        p.alice.decrypt(p.resign(p.bob, wire, block=raw))
    assert p.alice.to_bytes() == before


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_material_cannot_ride_in_the_chain_header(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy.never())
    exchange(p.alice, p.bob, 1)
    wire = p.bob.encrypt(b"m")
    msg: ParsedMessage = parse_message(wire, profile)
    h = msg.header
    kem_pk = b"\x00" * profile.rekey.public_key_size
    forged = ChainHeader(h.ecdh_public_key, kem_public_key=kem_pk).encode()
    bad = forged + wire[msg.header_length:]
    with pytest.raises(MalformedInputError):
        parse_message(bad, profile)


def test_pq3_never_parses_a_mark() -> None:
    p = Pair(Profile(), RekeyPolicy.never())
    wire = p.bob.encrypt(b"m")
    msg = parse_message(wire)
    marked = ChainHeader(msg.header.ecdh_public_key, mixed_id=b"\x00" * 4).encode()
    with pytest.raises(MalformedInputError):
        parse_message(marked + wire[msg.header_length:])


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_state_round_trips_at_every_step_of_a_lossy_conversation(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy(every_messages=3))
    devices = {id(p.alice): p.alice_device, id(p.bob): p.bob_device}
    sessions = [p.alice, p.bob]
    for step in range(240):
        who = 0 if (step // 3) % 2 == 0 else 1
        sender, receiver = sessions[who], sessions[1 - who]
        wire = sender.encrypt(b"%d" % step)
        if step % 7 != 3:  # every seventh message lost
            receiver.decrypt(wire)
        blob = receiver.to_bytes()
        again = Session._resume_latest(blob, devices[id(receiver)], p.rng, None)
        assert again.to_bytes() == blob
        devices[id(again)] = devices[id(receiver)]
        sessions[1 - who] = again
    assert sessions[0].stats.pq_rekeys >= 2


@pytest.mark.parametrize("profile", DEFERRED, ids=lambda p: p.transport)
def test_a_restored_session_reopens_a_chain_and_repeats_its_request(profile: Profile) -> None:
    p = Pair(profile, RekeyPolicy(every_messages=1))
    exchange(p.alice, p.bob, 1)
    asks = p.bob.encrypt(b"asks")
    asked = block_of(asks, profile).request_id
    assert asked is not None
    b2 = Session.from_bytes_deterministic_for_tests(p.bob.to_bytes(), p.bob_device, p.rng)
    wire = b2.encrypt(b"continues")
    old = parse_message(asks, profile).header.ecdh_public_key
    assert parse_message(wire, profile).header.ecdh_public_key != old
    assert block_of(wire, profile).request_id == asked
    assert p.alice.decrypt(asks) == b"asks"
    assert p.alice.decrypt(wire) == b"continues"


def test_trace_reports_chunks_and_their_kinds() -> None:
    p = Pair(CHUNKED, RekeyPolicy(every_messages=1))
    events: list = []
    p.bob.tracer = TraceRecorder(events)
    exchange(p.alice, p.bob, 1)
    exchange(p.bob, p.alice, 3)
    sent = [e for e in events if e.direction == "send"]
    assert sent and all(
        len(e.material) == 1 and e.material[0].kind == "kem_public_key"
        and e.material[0].chunk is not None and e.material[0].size == 11 + 64
        for e in sent
    )
    assert [e.material[0].chunk[0] for e in sent] == [0, 1, 2]  # type: ignore[index]


def _run(profile: Profile, traffic: str) -> dict:
    run = run_traced(
        RekeyPolicy(), traffic, 500, seed=11,
        conditions=NetworkConditions(drop=0.1, mean_delay=90.0), profile=profile,
    )
    s = run.summary()
    assert s["refused"] == 0, s  # loss and reordering only delay
    assert s["deliveries"] + s["dropped_by_network"] >= s["messages_sent"]
    return s


def _kems() -> list[str]:
    names = ["ML-KEM-768"]
    if LIBOQS or os.environ.get("CI"):
        names += ["HQC-1", "FrodoKEM-640-AES", "BIKE-L1"]
    return names


@pytest.mark.parametrize("transport", ["repeat", "first", "chunked"])
@pytest.mark.parametrize("rekey", _kems())
@pytest.mark.parametrize("traffic", ["ping-pong", "one-sided"])
def test_500_messages_with_loss_and_reordering_rekey(
    transport: str, rekey: str, traffic: str
) -> None:
    if rekey != "ML-KEM-768" and not LIBOQS:
        pytest.skip("liboqs not found (README: liboqs)")
    chunk = {"chunk_size": RUN_CHUNK[rekey]} if transport == "chunked" else {}
    profile = Profile(rekey_kem=rekey, transport=transport, **chunk)  # type: ignore[arg-type]
    s = _run(profile, traffic)
    # at least one rekey completed at both parties
    assert s["rekeys_completed"] >= 2, s


def test_500_messages_default_chunks_ping_pong() -> None:
    # 64-byte chunks: every message carries 75 bytes of material (spec/10-profiles.md §4.4)
    s = _run(CHUNKED, "ping-pong")
    assert s["rekeys_completed"] >= 4, s
