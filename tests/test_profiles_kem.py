"""Every KEM of the liboqs build through kem.named(): sizes against liboqs and the published
values, round trips, implicit rejection, typed errors, determinism, and liboqs's own known
answers (tests/kat/data/liboqs-kem/). Skipped as a whole when liboqs is absent.
"""

from __future__ import annotations

import hashlib

import pytest
from named_kem_helpers import KATS, LIBOQS_KEMS, PUBLISHED, kat_single_record, prng_for

from pq3proto import kem
from pq3proto.errors import InvalidKeyError, MalformedInputError, MisuseError
from pq3proto.kem import NamedKem
from pq3proto.primitives import TestingOnlyDeterministicRandom as DeterministicRandom

if kem.available_backends()["liboqs"] is not None:
    pytest.skip("liboqs not found (set OQS_INSTALL_PATH; README: liboqs)", allow_module_level=True)


@pytest.fixture(params=LIBOQS_KEMS)
def oqs_kem(request: pytest.FixtureRequest) -> NamedKem:
    """Each liboqs KEM through liboqs (ML-KEM on the liboqs backend too)."""
    return kem.named(str(request.param), kem.get_backend("liboqs"))


# ── Every liboqs KEM: sizes, round trip, checks ──────────────────────────────────────────


def test_sizes_agree_with_liboqs(oqs_kem: NamedKem) -> None:
    import oqs  # liboqs is present: the fixture checked

    info = oqs_kem.info
    with oqs.KeyEncapsulation(info.name) as raw:
        reported = (
            raw.length_public_key,
            raw.length_ciphertext,
            raw.length_shared_secret,
            raw.length_secret_key,
        )
    assert reported == (
        info.public_key_size,
        info.ciphertext_size,
        info.shared_secret_size,
        info.secret_key_size,
    )
    assert reported[:3] == PUBLISHED[info.name]


def test_round_trip(oqs_kem: NamedKem) -> None:
    info = oqs_kem.info
    (state, public_key), (state2, public_key2) = oqs_kem.generate(), oqs_kem.generate()
    assert (len(state), len(public_key)) == (info.state_size, info.public_key_size)
    assert state != state2 and public_key != public_key2
    (ss1, ct1), (ss2, ct2) = oqs_kem.encapsulate(public_key), oqs_kem.encapsulate(public_key)
    assert (len(ss1), len(ct1)) == (info.shared_secret_size, info.ciphertext_size)
    assert ss1 != ss2 and ct1 != ct2
    assert oqs_kem.decapsulate(state, ct1) == ss1
    assert oqs_kem.decapsulate(state, ct2) == ss2
    # The wrong key pair gives an unrelated secret, not an error.
    assert oqs_kem.decapsulate(state2, ct1) != ss1


def test_tampered_ciphertext_is_implicitly_rejected(oqs_kem: NamedKem) -> None:
    state, public_key = oqs_kem.generate()
    shared_secret, ciphertext = oqs_kem.encapsulate(public_key)
    for position in (0, len(ciphertext) // 2, len(ciphertext) - 1):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x01
        rejected = oqs_kem.decapsulate(state, bytes(tampered))
        assert len(rejected) == oqs_kem.info.shared_secret_size
        assert rejected != shared_secret
        assert oqs_kem.decapsulate(state, bytes(tampered)) == rejected


def test_wrong_lengths_raise_typed_errors(oqs_kem: NamedKem) -> None:
    info = oqs_kem.info
    state, public_key = oqs_kem.generate()
    _, ciphertext = oqs_kem.encapsulate(public_key)
    for delta in (-info.public_key_size, -1, 1, 100):
        bad_pk = (public_key + bytes(100))[: info.public_key_size + delta]
        with pytest.raises(InvalidKeyError):
            oqs_kem.validate_public_key(bad_pk)
        with pytest.raises(InvalidKeyError):
            oqs_kem.encapsulate(bad_pk)
    for delta in (-info.ciphertext_size, -1, 1):
        bad_ct = (ciphertext + bytes(1))[: info.ciphertext_size + delta]
        with pytest.raises(MalformedInputError):
            oqs_kem.decapsulate(state, bad_ct)
    for delta in (-info.state_size, -1, 1):
        bad_state = (state + bytes(1))[: info.state_size + delta]
        with pytest.raises(MalformedInputError):
            oqs_kem.decapsulate(bad_state, ciphertext)


def test_deterministic_rng_repeats_and_system_rng_returns(oqs_kem: NamedKem) -> None:
    runs = []
    for _ in range(2):
        rng = DeterministicRandom(b"named kem determinism")
        state, public_key = oqs_kem.generate(rng)
        runs.append((state, public_key, *oqs_kem.encapsulate(public_key, rng)))
    assert runs[0] == runs[1]
    state, _, shared_secret, ciphertext = runs[0]
    assert oqs_kem.decapsulate(state, ciphertext) == shared_secret
    assert oqs_kem.generate(DeterministicRandom(b"another"))[1] != runs[0][1]
    # Outside the deterministic blocks liboqs draws from the system again.
    assert oqs_kem.generate()[1] != oqs_kem.generate()[1]


def test_failing_random_source_is_a_clear_error(oqs_kem: NamedKem) -> None:
    class Short:
        deterministic = True

        def random_bytes(self, n: int) -> bytes:
            return bytes(n - 1)

    if oqs_kem.info.state_is_seed:
        with pytest.raises(MalformedInputError):  # the 63-byte seed is refused
            oqs_kem.generate(Short())
    else:
        with pytest.raises(MisuseError, match="random source"):
            oqs_kem.generate(Short())
    assert oqs_kem.generate()[1] != oqs_kem.generate()[1]


def test_liboqs_known_answers(oqs_kem: NamedKem) -> None:
    name = oqs_kem.info.name
    record = kat_single_record(oqs_kem, prng_for(name))
    assert hashlib.sha256(record.encode()).hexdigest() == KATS[name]["single"]


def test_liboqs_mlkem_agrees_with_the_protocol_mlkem() -> None:
    """One seed gives one key on the liboqs and default backends."""
    seed, public_key = kem.named("ML-KEM-768", kem.get_backend("liboqs")).generate()
    assert kem.get_backend("openssl").public_key_from_seed(kem.MLKEM768, seed) == public_key
