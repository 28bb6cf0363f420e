"""Benchmarks of the protocol's per-session and per-turn steps, one role at a time.

Owns: session start (initiator: Session.initiate + its first message; responder:
Session.accept of that message), the ECDH ratchet step (send side: start_sending_chain;
receive side: plan_receive of a new chain), and the PQ rekey in its three parts (request:
a send step that adds an ML-KEM-768 key; answer: a send step that encapsulates to the peer's
key; completion: the receive step that decapsulates).
Not: the per-message path (test_bench_hotpath.py). The ratchet functions are pure, so each
round starts from the same state and nothing is committed.
"""

from __future__ import annotations

import time

import pytest

from pq3proto.benchmarks_support import make_pair
from pq3proto.identity import Device
from pq3proto.kdf import session_dst
from pq3proto.message import PYTHON, SendingChain
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import SYSTEM_RANDOM, sha384
from pq3proto.ratchet import RatchetState, plan_receive, start_sending_chain
from pq3proto.session import Session
from pq3proto.wire import ParsedMessage, parse_message


def SAVE_IN_MEMORY(_: Device) -> None:
    return None


def _digest(msg: ParsedMessage) -> bytes:
    return sha384(msg.raw[: msg.header_length])

NEVER = RekeyPolicy.never()
EVERY_TURN = RekeyPolicy.every_turn()


# ── Session start ──────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def devices() -> tuple[Device, Device]:
    return (
        Device.generate("tel:+15551234567", device_id=7),
        Device.generate("mailto:bob@example.org", device_id=1),
    )


def test_session_start_initiator(benchmark, devices):
    """Session.initiate (bundle check, ECDH, ML-KEM-1024 encaps) + sealing its first message."""
    alice, bob = devices
    identity, bundle = bob.public_identity(), bob.prekey_bundle()

    def start() -> bytes:
        return Session.initiate(alice, identity, bundle).encrypt(b"hello")

    assert len(benchmark(start)) > 1568


def test_session_start_responder(benchmark, devices):
    """Session.accept of a first message: verify, ECDH, ML-KEM-1024 decaps, open."""
    alice, bob = devices
    identity, bundle = bob.public_identity(), bob.prekey_bundle()
    alice_id = alice.public_identity()

    def fresh() -> tuple[tuple[bytes], dict[str, object]]:
        return (Session.initiate(alice, identity, bundle).encrypt(b"hello"),), {}

    def accept(wire: bytes) -> bytes:
        return Session.accept(bob, alice_id, wire, save_device=SAVE_IN_MEMORY)[1]

    result = benchmark.pedantic(accept, setup=fresh, rounds=20, warmup_rounds=1)
    assert result == b"hello"


# ── Ratchet steps ──────────────────────────────────────────────────────────────────────


def _send_state(session: Session) -> tuple[RatchetState, bytes]:
    st = session.state
    return st.ratchet, session_dst(st.me.binding(), st.peer.binding())


def _first_message_of_next_chain(session: Session, policy: RekeyPolicy) -> ParsedMessage:
    """The first message of the chain `session` would start next (signature left zero)."""
    state, dst = _send_state(session)
    new, _ = start_sending_chain(state, dst, policy, time.time(), SYSTEM_RANDOM)
    assert new.sending is not None
    h = new.sending.header
    ctx = SendingChain(h.encode(), h.signature_tail(dst), h.ecdh_public_key)
    wire, _ = PYTHON.seal(new.sending.chain_key, 0, ctx, b"", b"x" * 140, None)
    return parse_message(wire)


@pytest.fixture(scope="module")
def quiet_pair() -> tuple[Session, Session]:
    """(alice, bob), rekeys never; alice's next send is an ECDH step."""
    return make_pair(NEVER)


@pytest.fixture(scope="module")
def rekey_pair() -> tuple[Session, Session]:
    """(alice, bob), rekey every turn; alice owes bob an encapsulation on her next send."""
    return make_pair(EVERY_TURN)


def test_ecdh_step_send(benchmark, quiet_pair):
    """Sender's direction change: P-256 keygen, ECDH, root and chain key update."""
    state, dst = _send_state(quiet_pair[0])
    _, effects = benchmark(start_sending_chain, state, dst, NEVER, time.time(), SYSTEM_RANDOM)
    assert effects.ecdh_step and not effects.pq_mixed and not effects.kem_requested


def test_ecdh_step_receive(benchmark, quiet_pair):
    """Receiver of a new chain: ECDH, root and chain key update, key for its first message."""
    alice, bob = quiet_pair
    msg = _first_message_of_next_chain(alice, NEVER)
    st = bob.state
    dst = session_dst(st.peer.binding(), st.me.binding())
    now = time.time()
    plan = benchmark(plan_receive, st.ratchet, msg, _digest(msg), dst, now, PYTHON.chain_step)
    assert plan.effects.ecdh_step and not plan.effects.pq_mixed


def test_pq_rekey_request(benchmark, quiet_pair):
    """A send step that asks for a rekey: ECDH step + ML-KEM-768 keygen."""
    state, dst = _send_state(quiet_pair[0])
    _, effects = benchmark(start_sending_chain, state, dst, EVERY_TURN, time.time(), SYSTEM_RANDOM)
    assert effects.kem_requested and not effects.pq_mixed


def test_pq_rekey_answer(benchmark, rekey_pair):
    """A send step that answers: ECDH step + ML-KEM-768 encapsulation to the peer's key."""
    state, dst = _send_state(rekey_pair[0])
    assert state.peer_kem_public is not None
    _, effects = benchmark(start_sending_chain, state, dst, NEVER, time.time(), SYSTEM_RANDOM)
    assert effects.pq_mixed and not effects.kem_requested


def test_pq_rekey_completion(benchmark, rekey_pair):
    """The requester receives the answer: ECDH step + ML-KEM-768 decapsulation."""
    alice, bob = rekey_pair
    msg = _first_message_of_next_chain(alice, NEVER)
    assert msg.header.kem_ciphertext is not None
    st = bob.state
    dst = session_dst(st.peer.binding(), st.me.binding())
    now = time.time()
    plan = benchmark(plan_receive, st.ratchet, msg, _digest(msg), dst, now, PYTHON.chain_step)
    assert plan.effects.pq_mixed
