"""The expanded decapsulation key kept beside a rekey request (NamedKem.generate_expanded).

Owns: generate_expanded against generate (same draws, same key), decapsulate with and
without the expanded key, the ratchet using it only for the seed it was made from, and no
expanded key left in a state once its request is answered or after a restore.
Not: the KEM backends themselves (test_kem.py, test_kem_named.py).
"""

from __future__ import annotations

import pytest

from pq3proto import kem
from pq3proto.benchmarks_support import make_pair
from pq3proto.errors import MalformedInputError
from pq3proto.frozen import evolve
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.session import Session


@pytest.mark.parametrize("backend", ["openssl", "reference"])
def test_generate_expanded_draws_and_decapsulates_as_generate(backend: str) -> None:
    named = kem.named("ML-KEM-768", kem.get_backend(backend))
    seed, pk = named.generate(TestingOnlyDeterministicRandom(b"expanded"))
    seed2, pk2, expanded = named.generate_expanded(TestingOnlyDeterministicRandom(b"expanded"))
    assert (seed2, pk2) == (seed, pk)
    assert (expanded is None) == (backend != "openssl")
    secret, ct = named.encapsulate(pk)
    assert named.decapsulate(seed, ct, expanded) == named.decapsulate(seed, ct) == secret
    with pytest.raises(MalformedInputError):
        named.decapsulate(seed, ct[:-1], expanded)
    with pytest.raises(MalformedInputError):
        named.decapsulate(seed[:-1], ct, expanded)


def test_the_ratchet_uses_it_only_for_its_own_seed() -> None:
    a, _ = make_pair(RekeyPolicy.every_turn())
    a.encrypt(b"asks for a rekey")
    r = a.state.ratchet
    assert r.my_kem_seed is not None and r.kem_expanded() is not None
    other = evolve(r, my_kem_seed=bytes(bytearray(r.my_kem_seed)))  # equal, not the same
    assert other.kem_expanded() is None
    assert evolve(r, my_kem_seed=None).kem_expanded() is None
    assert "expanded" not in repr(r)


def test_answered_and_restored_states_hold_no_expanded_key() -> None:
    a, b = make_pair(RekeyPolicy.every_turn())
    assert b.decrypt(a.encrypt(b"request")) == b"request"
    assert a.state.ratchet.my_kem_expanded is not None
    restored = Session.from_bytes(a.to_bytes(), a._device)
    assert restored.state.ratchet.my_kem_expanded is None
    reply = b.encrypt(b"answer")
    for session in (a, restored):  # with the expanded key, and from the seed alone
        before = session.stats.pq_rekeys
        assert session.decrypt(reply) == b"answer"
        assert session.stats.pq_rekeys == before + 1
        r = session.state.ratchet
        assert r.my_kem_seed is None and r.my_kem_expanded is None
    assert a.state.ratchet.root_key == restored.state.ratchet.root_key
