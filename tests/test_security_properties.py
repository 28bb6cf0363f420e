"""Forward secrecy and post-compromise security, shown with the protocol's own derivations.

An adversary holds one party's session state after message n (Session.state) and the whole
wire transcript; it derives keys only with pq3proto.kdf and reads a message only if the key
indicator matches the wire and the plaintext matches (experiments/adversary.py).

* Forward secrecy: nothing in the snapshot opens any message up to n. Besides the adversary's
  walk, every 32-byte window of the serialized state is tried as a message key and as a chain
  key (a few steps) against every earlier message.
* Classical post-compromise security: after the next ECDH steps the adversary is locked out.
* Against an adversary that also holds every ECDH private key (harvest now, decrypt later
  with a quantum computer): locked out after the next completed PQ rekey whose ML-KEM key
  was made after the compromise; under the "never" policy it reads to the end.
"""

from __future__ import annotations

import pytest

from pq3proto import RekeyPolicy
from pq3proto.experiments.adversary import Adversary, Knowledge, Transcript
from pq3proto.experiments.run import Recording, record_conversation
from pq3proto.kdf import chain_step, message_keys
from pq3proto.session_state import SessionState
from pq3proto.state import encode_session_state

MESSAGES = 48
POLICIES = {
    "every-turn": RekeyPolicy.every_turn(),
    "every-6": RekeyPolicy(every_messages=6),
    "never": RekeyPolicy.never(),
}
_CACHE: dict[tuple[str, str], Recording] = {}


def recording(policy: str, pattern: str = "bursty") -> Recording:
    key = (policy, pattern)
    if key not in _CACHE:
        _CACHE[key] = record_conversation(POLICIES[policy], pattern, MESSAGES, seed=11)
    return _CACHE[key]


def points(rec: Recording) -> list[tuple[int, str]]:
    return [(n, p) for n in range(2, MESSAGES - 8, 5) for p in ("A", "B")]


def current_chain(t: Transcript, state: SessionState) -> int:
    r = state.ratchet
    point = r.my_point if r.awaiting_reply else r.peer_point
    assert point is not None
    return t.position(point)


def first_fresh_rekey(t: Transcript, state: SessionState) -> int | None:
    """Position of the first later chain completing a rekey to a KEM key not in the snapshot."""
    known = state.ratchet.my_kem_public
    for chain in t.chains[current_chain(t, state) + 1 :]:
        if chain.header.kem_ciphertext is not None:
            answered = t.chains[chain.position - 1].header.kem_public_key
            if answered != known:
                return chain.position
    return None


def seq_chain(t: Transcript) -> dict[int, int]:
    return {sent.seq: c.position for c in t.chains for _, sent in c.messages}


# ── Forward secrecy ─────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_snapshot_reads_nothing_before_the_compromise(policy: str) -> None:
    rec = recording(policy)
    for n, party in points(rec):
        state = rec.snapshots[n][party]
        for knowledge in (Knowledge(), Knowledge(rec.ecdh_scalars, {})):
            read = Adversary(rec.transcript, knowledge).from_snapshot(state).read
            assert not {s for s in read if s <= n}, (n, party)


def windows(blob: bytes, size: int = 32) -> set[bytes]:
    return {blob[i : i + size] for i in range(len(blob) - size + 1)}


def indicators_of(candidates: set[bytes], steps: int) -> dict[bytes, bytes]:
    """Key indicator -> candidate, for each candidate as a message key and as a chain key."""
    out: dict[bytes, bytes] = {}
    for c in candidates:
        out[message_keys(c)[2]] = c
        ck = c
        for _ in range(steps):
            mk, ck = chain_step(ck)
            out[message_keys(mk)[2]] = c
    return out


@pytest.mark.parametrize("policy", ["every-turn", "never"])
def test_no_key_material_in_the_snapshot_opens_an_earlier_message(policy: str) -> None:
    rec = recording(policy)
    msgs = rec.transcript.chains
    indicator_of_seq = {sent.seq: m.indicator for c in msgs for m, sent in c.messages}
    chain_of = seq_chain(rec.transcript)
    controls = 0
    for n, party in [(10, "A"), (10, "B"), (25, "A"), (25, "B")]:
        blob = encode_session_state(rec.snapshots[n][party])
        found = indicators_of(windows(blob), steps=3)
        earlier = {indicator_of_seq[s] for s in range(n + 1)}
        assert not earlier & found.keys(), f"state after {n} ({party}) opens an earlier message"
        # Control: the scan is not vacuous. The state opens some later message whenever
        # the adversary's walk says it does (e.g. the rest of the current chain).
        later = {indicator_of_seq[s] for s in range(n + 1, min(n + 4, MESSAGES))}
        walk = Adversary(rec.transcript).from_snapshot(rec.snapshots[n][party]).read
        if {s for s in walk if n < s < n + 4 and chain_of[s] == chain_of[n]}:
            assert later & found.keys()
            controls += 1
    assert controls > 0, "the window scan was never shown to find a key"


# ── Post-compromise security ────────────────────────────────────────────────────────────


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_classical_lockout_after_the_next_ecdh_steps(policy: str) -> None:
    rec = recording(policy)
    t = rec.transcript
    chain_of = seq_chain(t)
    for n, party in points(rec):
        state = rec.snapshots[n][party]
        reading = Adversary(t).from_snapshot(state)
        cur = current_chain(t, state)
        assert reading.locked_at_chain is not None and reading.locked_at_chain <= cur + 2
        assert all(chain_of[s] < reading.locked_at_chain for s in reading.read)
        assert MESSAGES - 1 not in reading.read


@pytest.mark.parametrize("policy", ["every-turn", "every-6"])
def test_quantum_lockout_after_the_next_pq_rekey(policy: str) -> None:
    rec = recording(policy)
    t = rec.transcript
    chain_of = seq_chain(t)
    for n, party in points(rec):
        state = rec.snapshots[n][party]
        reading = Adversary(t, Knowledge(rec.ecdh_scalars, {})).from_snapshot(state)
        fresh = first_fresh_rekey(t, state)
        if fresh is None:
            continue  # no rekey completed before the conversation ended
        assert reading.locked_at_chain == fresh, (n, party)
        assert all(chain_of[s] < fresh for s in reading.read)
        # Every message before that rekey is readable: ECDH alone no longer protects.
        classical = Adversary(t).from_snapshot(state).read
        assert classical <= reading.read


def test_never_policy_keeps_the_quantum_adversary_in() -> None:
    rec = recording("never")
    t = rec.transcript
    for n, party in points(rec):
        state = rec.snapshots[n][party]
        quantum = Adversary(t, Knowledge(rec.ecdh_scalars, {})).from_snapshot(state)
        classical = Adversary(t).from_snapshot(state)
        assert quantum.locked_at_chain is None
        assert quantum.read == frozenset(range(n + 1, MESSAGES)), (n, party)
        assert len(classical.read) < len(quantum.read)
    # The same compromise under every-turn: the quantum adversary is out within a turn.
    rec2 = recording("every-turn")
    for n, party in points(rec2):
        q = Adversary(rec2.transcript, Knowledge(rec2.ecdh_scalars, {})).from_snapshot(
            rec2.snapshots[n][party]
        )
        assert q.locked_at_chain is not None


# ── Harvest now, decrypt later without a state compromise ───────────────────────────────


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_hndl_reads_nothing_without_a_kem_secret(policy: str) -> None:
    rec = recording(policy)
    assert not Adversary(rec.transcript, Knowledge(rec.ecdh_scalars, {})).from_session_start().read


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_adversary_with_every_secret_reads_everything(policy: str) -> None:
    """The derivations are right: handed every ECDH and KEM secret, it reads every message."""
    rec = recording(policy)
    everything = Knowledge(rec.ecdh_scalars, rec.kem_seeds)
    assert Adversary(rec.transcript, everything).from_session_start().read == frozenset(
        range(MESSAGES)
    )
