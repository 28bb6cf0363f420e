"""The KEM layer: backends agree, inputs are checked, randomness is where it should be."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem

from pq3proto import kem
from pq3proto.errors import (
    BackendUnavailableError,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
)
from pq3proto.kem import MLKEM768, MLKEM1024, KemParams
from pq3proto.primitives import SYSTEM_RANDOM
from pq3proto.primitives import TestingOnlyDeterministicRandom as DeterministicRandom

REPO_ROOT = Path(__file__).resolve().parents[1]
AVAILABLE = kem.available_backends()
PARAMS = [pytest.param(MLKEM768, id="768"), pytest.param(MLKEM1024, id="1024")]
Q = 3329


def _needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        AVAILABLE[name] is not None, reason=f"{name} KEM backend unavailable: {AVAILABLE[name]}"
    )


BACKENDS = [pytest.param(name, marks=_needs(name)) for name in kem.BACKEND_NAMES]
OTHER_THAN_REFERENCE = [pytest.param(name, marks=_needs(name)) for name in ("openssl", "liboqs")]
USABLE = [name for name, why in AVAILABLE.items() if why is None]


def _seed(label: str) -> bytes:
    return hashlib.shake_256(b"pq3proto test seed " + label.encode()).digest(64)


def _rank(params: KemParams) -> int:
    return (params.public_key_size - 32) // 384


def _with_coefficient(public_key: bytes, index: int, value: int) -> bytes:
    """Overwrite coefficient `index` of t̂ with a 12-bit value (FIPS 203 ByteEncode12 layout)."""
    out = bytearray(public_key)
    at = 3 * (index // 2)
    lo, hi = out[at] | (out[at + 1] & 0x0F) << 8, out[at + 1] >> 4 | out[at + 2] << 4
    lo, hi = (value, hi) if index % 2 == 0 else (lo, value)
    out[at : at + 3] = bytes((lo & 0xFF, lo >> 8 | (hi & 0x0F) << 4, hi >> 4))
    return bytes(out)


# ── Round trips and agreement ────────────────────────────────────────────────────────────


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_round_trip(backend_name: str, params: KemParams) -> None:
    backend = kem.get_backend(backend_name)
    seed, public_key = kem.generate_seed_and_key(params, SYSTEM_RANDOM, backend)
    assert len(seed) == 64 and len(public_key) == params.public_key_size
    shared_secret, ciphertext = kem.encapsulate(params, public_key, SYSTEM_RANDOM, backend)
    assert len(shared_secret) == 32 and len(ciphertext) == params.ciphertext_size
    assert kem.decapsulate(params, seed, ciphertext, backend) == shared_secret
    assert backend.decapsulate(params, seed, ciphertext) == shared_secret


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_randomness_present(backend_name: str, params: KemParams) -> None:
    """Two keys differ, and two encapsulations to one key differ."""
    backend = kem.get_backend(backend_name)
    (seed1, pk1), (seed2, pk2) = (
        kem.generate_seed_and_key(params, SYSTEM_RANDOM, backend) for _ in range(2)
    )
    assert seed1 != seed2 and pk1 != pk2
    (ss1, ct1), (ss2, ct2) = (backend.encapsulate(params, pk1) for _ in range(2))
    assert ss1 != ss2 and ct1 != ct2
    (ss3, ct3), (ss4, ct4) = (kem.encapsulate(params, pk1, SYSTEM_RANDOM, backend) for _ in "ab")
    assert ss3 != ss4 and ct3 != ct4


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("other", OTHER_THAN_REFERENCE)
@_needs("reference")
def test_reference_agrees_on_keys_and_decapsulation(other: str, params: KemParams) -> None:
    """Keygen from a seed, decapsulation and implicit rejection agree byte for byte."""
    reference, backend = kem.get_backend("reference"), kem.get_backend(other)
    seeds = [_seed(f"{params.name} {i}") for i in range(3)] + [bytes(64), b"\xff" * 64]
    for seed in seeds:
        public_key = backend.public_key_from_seed(params, seed)
        assert reference.public_key_from_seed(params, seed) == public_key
        shared_secret, ciphertext = backend.encapsulate(params, public_key)
        assert reference.decapsulate(params, seed, ciphertext) == shared_secret
        z = seed[32:]
        for position in (0, params.ciphertext_size // 2, params.ciphertext_size - 1):
            tampered = bytearray(ciphertext)
            tampered[position] ^= 0x01
            rejected = backend.decapsulate(params, seed, bytes(tampered))
            assert reference.decapsulate(params, seed, bytes(tampered)) == rejected
            # FIPS 203 Algorithm 18: a rejected ciphertext c gives K̄ = SHAKE-256(z || c, 32).
            assert rejected == hashlib.shake_256(z + bytes(tampered)).digest(32)
            assert rejected != shared_secret


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize(
    ("keys_by", "encapsulated_by"),
    [
        pytest.param(a, b, marks=[_needs(a), _needs(b)], id=f"{a}-{b}")
        for a, b in itertools.permutations(kem.BACKEND_NAMES, 2)
    ],
)
def test_cross_backend(keys_by: str, encapsulated_by: str, params: KemParams) -> None:
    owner, sender = kem.get_backend(keys_by), kem.get_backend(encapsulated_by)
    seed, public_key = kem.generate_seed_and_key(params, SYSTEM_RANDOM, owner)
    shared_secret, ciphertext = sender.encapsulate(params, public_key)
    assert owner.decapsulate(params, seed, ciphertext) == shared_secret


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_garbage_ciphertext_is_implicitly_rejected(backend_name: str, params: KemParams) -> None:
    """A right-length ciphertext never raises, and every backend gives the same K̄."""
    backend = kem.get_backend(backend_name)
    seed = _seed("garbage")
    for ciphertext in (bytes(params.ciphertext_size), os.urandom(params.ciphertext_size)):
        expected = hashlib.shake_256(seed[32:] + ciphertext).digest(32)
        assert backend.decapsulate(params, seed, ciphertext) == expected


# ── Deterministic encapsulation ──────────────────────────────────────────────────────────


@_needs("reference")
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_deterministic_rng_repeats(backend_name: str, params: KemParams) -> None:
    """A TestingOnlyDeterministicRandom gives identical keys and encapsulations twice."""
    backend = kem.get_backend(backend_name)
    runs = []
    for _ in range(2):
        rng = DeterministicRandom(b"kem determinism")
        seed, public_key = kem.generate_seed_and_key(params, rng, backend)
        shared_secret, ciphertext = kem.encapsulate(params, public_key, rng, backend)
        runs.append((seed, public_key, shared_secret, ciphertext))
    assert runs[0] == runs[1]
    seed, _, shared_secret, ciphertext = runs[0]
    assert backend.decapsulate(params, seed, ciphertext) == shared_secret
    other = DeterministicRandom(b"another seed")
    assert kem.generate_seed_and_key(params, other, backend)[0] != seed


@_needs("reference")
@pytest.mark.parametrize("params", PARAMS)
def test_deterministic_encapsulation_draws_m_from_rng(params: KemParams) -> None:
    """m is the rng's next 32 bytes, fed to the derandomized entry point."""
    _, public_key = kem.generate_seed_and_key(params, SYSTEM_RANDOM)
    twin = DeterministicRandom(b"m")
    m = twin.random_bytes(32)
    expected = kem.reference_backend().encapsulate_derandomized_for_tests(params, public_key, m)
    assert kem.encapsulate(params, public_key, DeterministicRandom(b"m")) == expected


@_needs("reference")
def test_derandomized_entry_point_checks_m() -> None:
    _, public_key = kem.generate_seed_and_key(MLKEM768, SYSTEM_RANDOM)
    reference = kem.reference_backend()
    for m in (b"", bytes(31), bytes(33)):
        with pytest.raises(MisuseError):
            reference.encapsulate_derandomized_for_tests(MLKEM768, public_key, m)


# ── Input checks ─────────────────────────────────────────────────────────────────────────


def _lengths(size: int) -> list[int]:
    """Every truncation, and extensions by 1 to 100 bytes."""
    return [*range(size), *range(size + 1, size + 101)]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_bad_public_key_lengths(backend_name: str, params: KemParams) -> None:
    backend = kem.get_backend(backend_name)
    public_key = backend.public_key_from_seed(params, _seed("lengths"))
    padded = public_key + os.urandom(100)
    for n in _lengths(params.public_key_size):
        with pytest.raises(InvalidKeyError):
            backend.validate_public_key(params, padded[:n])
        with pytest.raises(InvalidKeyError):
            backend.encapsulate(params, padded[:n])
        with pytest.raises(InvalidKeyError):
            kem.encapsulate(params, padded[:n], SYSTEM_RANDOM, backend)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_bad_ciphertext_lengths(backend_name: str, params: KemParams) -> None:
    backend = kem.get_backend(backend_name)
    seed = _seed("lengths")
    padded = os.urandom(params.ciphertext_size + 100)
    for n in _lengths(params.ciphertext_size):
        with pytest.raises(MalformedInputError):
            backend.decapsulate(params, seed, padded[:n])
        with pytest.raises(MalformedInputError):
            kem.decapsulate(params, seed, padded[:n], backend)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_bad_seed_lengths(backend_name: str, params: KemParams) -> None:
    backend = kem.get_backend(backend_name)
    ciphertext = bytes(params.ciphertext_size)
    for n in _lengths(64):
        seed = _seed("s")[: min(n, 64)] + bytes(max(0, n - 64))
        with pytest.raises(MalformedInputError):
            backend.public_key_from_seed(params, seed)
        with pytest.raises(MalformedInputError):
            backend.decapsulate(params, seed, ciphertext)
        with pytest.raises(MalformedInputError):
            kem.decapsulate(params, seed, ciphertext, backend)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_modulus_check(backend_name: str, params: KemParams) -> None:
    """FIPS 203 §7.2: any t̂ coefficient >= q makes the key invalid; ρ is not checked."""
    backend = kem.get_backend(backend_name)
    public_key = backend.public_key_from_seed(params, _seed("modulus"))
    last = 256 * _rank(params) - 1
    for index, value in itertools.product((0, 1, 255, 256, last - 1, last), (Q, Q + 1, 0xFFF)):
        bad = _with_coefficient(public_key, index, value)
        with pytest.raises(InvalidKeyError, match="modulus"):
            backend.validate_public_key(params, bad)
        with pytest.raises(InvalidKeyError):
            backend.encapsulate(params, bad)
        with pytest.raises(InvalidKeyError):
            kem.encapsulate(params, bad, SYSTEM_RANDOM, backend)
        with pytest.raises(InvalidKeyError):
            kem.encapsulate(params, bad, DeterministicRandom(b"d"), backend)
    # The boundary values are valid keys, and so is any ρ.
    for index in (0, 1, last):
        for value in (0, Q - 1):
            edge = _with_coefficient(public_key, index, value)
            backend.validate_public_key(params, edge)
            assert len(backend.encapsulate(params, edge)[1]) == params.ciphertext_size
    any_rho = public_key[:-32] + b"\xff" * 32
    backend.validate_public_key(params, any_rho)
    backend.encapsulate(params, any_rho)


def test_coefficient_helper_round_trips() -> None:
    """The test's own ByteEncode12 edit touches exactly one coefficient."""
    public_key = kem.get_backend("openssl").public_key_from_seed(MLKEM768, _seed("helper"))
    for index in (0, 1, 2, 3, 767):
        edited = _with_coefficient(public_key, index, 0xABC)
        at = 3 * (index // 2)
        assert edited[:at] == public_key[:at] and edited[at + 3 :] == public_key[at + 3 :]
        word = int.from_bytes(edited[at : at + 3], "little")
        assert (word >> (12 * (index % 2))) & 0xFFF == 0xABC


def test_openssl_itself_rejects_unreduced_keys() -> None:
    """Recorded behaviour: `cryptography` 48 also refuses such keys, with a misleading
    length message; pq3proto's own check runs first and names the real reason."""
    public_key = kem.get_backend("openssl").public_key_from_seed(MLKEM768, _seed("ossl"))
    with pytest.raises(ValueError):
        mlkem.MLKEM768PublicKey.from_public_bytes(_with_coefficient(public_key, 5, Q))


def test_unknown_parameter_set() -> None:
    unknown = KemParams("ML-KEM-2048", 800, 768)
    for name in USABLE:
        backend = kem.get_backend(name)
        with pytest.raises(MisuseError):
            backend.public_key_from_seed(unknown, bytes(64))
        with pytest.raises(MisuseError):
            backend.validate_public_key(unknown, bytes(800))
        with pytest.raises(MisuseError):
            backend.decapsulate(unknown, bytes(64), bytes(768))


def test_openssl_has_no_mlkem512() -> None:
    """`cryptography` offers ML-KEM-768 and -1024 only: 512 is unavailable there, not unknown."""
    backend = kem.get_backend("openssl")
    with pytest.raises(BackendUnavailableError, match="ML-KEM-512"):
        backend.public_key_from_seed(kem.MLKEM512, bytes(64))
    with pytest.raises(BackendUnavailableError, match="ML-KEM-512"):
        kem.named("ML-KEM-512", backend)
    assert "ML-KEM-512" not in kem.names(backend)


def test_errors_are_pq3_errors() -> None:
    assert issubclass(BackendUnavailableError, PQ3Error)
    with pytest.raises(PQ3Error):
        kem.decapsulate(MLKEM768, bytes(64), b"")


# ── Backend selection ────────────────────────────────────────────────────────────────────


def test_get_backend_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PQ3PROTO_KEM", raising=False)
    assert kem.get_backend().name == "openssl"
    assert kem.get_backend() is kem.get_backend("openssl")
    if AVAILABLE["reference"] is None:
        monkeypatch.setenv("PQ3PROTO_KEM", "reference")
        assert kem.get_backend().name == "reference"
        seed, public_key = kem.generate_seed_and_key(MLKEM768, SYSTEM_RANDOM)
        assert kem.get_backend("openssl").public_key_from_seed(MLKEM768, seed) == public_key
    monkeypatch.setenv("PQ3PROTO_KEM", "no-such-kem")
    with pytest.raises(MisuseError, match="no-such-kem"):
        kem.get_backend()


def test_unknown_backend_name() -> None:
    with pytest.raises(MisuseError, match="openssl, reference, liboqs"):
        kem.get_backend("OpenSSL")


def test_available_backends_shape() -> None:
    assert set(AVAILABLE) == {"openssl", "reference", "liboqs"}
    assert AVAILABLE["openssl"] is None, AVAILABLE["openssl"]
    for name, why in AVAILABLE.items():
        assert why is None or (isinstance(why, str) and why), name


# ── liboqs absent: a clear error, never a dead process ──────────────────────────────────

_liboqs_absent = pytest.mark.skipif(
    AVAILABLE["liboqs"] is None, reason="liboqs is installed here; the absence path is moot"
)


@_liboqs_absent
def test_liboqs_absent_raises_clearly() -> None:
    with pytest.raises(BackendUnavailableError, match="OQS_INSTALL_PATH") as info:
        kem.get_backend("liboqs")
    assert "liboqs" in str(info.value)
    assert "oqs" not in sys.modules, "oqs must not be imported when liboqs is absent"


@_liboqs_absent
def test_liboqs_bogus_library_is_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named liboqs.so that is no library counts as absent."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "liboqs.so").write_bytes(b"not an ELF file")
    monkeypatch.setenv("OQS_INSTALL_PATH", str(tmp_path))
    assert kem.find_liboqs() is None
    with pytest.raises(BackendUnavailableError, match="OQS_INSTALL_PATH"):
        kem.get_backend("liboqs")
    assert "oqs" not in sys.modules


@_liboqs_absent
def test_liboqs_absent_in_a_fresh_process(tmp_path: Path) -> None:
    """In a clean interpreter: the error surfaces, oqs stays unimported, the process lives."""
    script = textwrap.dedent(
        """
        import sys
        from pq3proto import kem
        from pq3proto.errors import BackendUnavailableError
        reasons = kem.available_backends()
        assert reasons["liboqs"] and "OQS_INSTALL_PATH" in reasons["liboqs"], reasons
        try:
            kem.get_backend("liboqs")
        except BackendUnavailableError as exc:
            print("unavailable:", exc)
        assert "oqs" not in sys.modules
        print("still alive")
        """
    )
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("OQS_INSTALL_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "still alive" in done.stdout and "OQS_INSTALL_PATH" in done.stdout
    assert "Installing in" not in done.stdout + done.stderr
