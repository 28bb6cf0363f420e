"""Profile: defaults, validation, and the identifier's encoding with strict decoding."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pq3proto
from pq3proto import PQ3Error, Profile
from pq3proto.errors import (
    MalformedInputError,
    ProfileError,
    UnknownKemError,
    UnsupportedProfileError,
)
from pq3proto.kem_table import all_names
from pq3proto.profile import PQ3, TRANSPORTS

# spec/10-profiles.md §1: version 0x01, ML-KEM-1024 (0x0105), ML-KEM-768 (0x0103), repeat (0x01)
PQ3_IDENTIFIER = bytes.fromhex("01 0105 0103 01")


def test_default_is_pq3() -> None:
    profile = Profile()
    assert (profile.start_kem, profile.rekey_kem, profile.transport) == (
        "ML-KEM-1024",
        "ML-KEM-768",
        "repeat",
    )
    assert profile.chunk_size is None and profile.chunk_expansion is None
    assert profile == PQ3 and profile.is_default and hash(profile) == hash(PQ3)
    assert profile.to_bytes() == PQ3_IDENTIFIER
    assert Profile.from_bytes(PQ3_IDENTIFIER) == profile
    assert profile.label == "ML-KEM-1024/ML-KEM-768/repeat"
    assert pq3proto.Profile is Profile and "Profile" in pq3proto.__all__


def test_frozen() -> None:
    profile = Profile()
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.transport = "first"  # type: ignore[misc]


def test_chunked_defaults_are_normalised() -> None:
    plain = Profile(transport="chunked")
    assert (plain.chunk_size, plain.chunk_expansion) == (64, 4)
    assert plain == Profile(transport="chunked", chunk_size=64, chunk_expansion=4)
    assert len({plain, Profile(transport="chunked", chunk_size=64)}) == 1
    assert plain.to_bytes() == bytes.fromhex("01 0105 0103 03 0040 04")
    assert not plain.is_default and plain.label.endswith("chunked-64x4")


def test_every_kem_pair_and_transport_round_trips() -> None:
    seen = set()
    for start, rekey, transport in itertools.product(all_names(), all_names(), TRANSPORTS):
        profile = Profile(start, rekey, transport)
        encoded = profile.to_bytes()
        assert len(encoded) == (9 if transport == "chunked" else 6)
        assert Profile.from_bytes(encoded) == profile
        assert Profile.from_bytes(bytearray(encoded)) == profile
        seen.add(encoded)
    assert len(seen) == len(all_names()) ** 2 * len(TRANSPORTS)


@given(
    st.sampled_from(all_names()),
    st.integers(1, 1024).map(lambda x: 2 * x),
    st.integers(1, 255),
)
@settings(max_examples=200, deadline=None)
def test_chunked_parameters_round_trip(rekey: str, chunk_size: int, expansion: int) -> None:
    try:
        profile = Profile(
            rekey_kem=rekey, transport="chunked", chunk_size=chunk_size, chunk_expansion=expansion
        )
    except ProfileError:
        return  # too many chunks for this KEM: checked in test_chunks_must_fit
    assert Profile.from_bytes(profile.to_bytes()) == profile


# ── Validation ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("field", ["start_kem", "rekey_kem"])
@pytest.mark.parametrize("bad", ["ML-KEM-2048", "mlkem768", "", "X25519"])
def test_unknown_kem(field: str, bad: str) -> None:
    with pytest.raises(UnknownKemError, match="unknown KEM") as info:
        Profile(**{field: bad})  # type: ignore[arg-type]
    assert isinstance(info.value, PQ3Error)


@pytest.mark.parametrize("bad", ["Repeat", "chunk", "", 1, None])
def test_unknown_transport(bad: object) -> None:
    with pytest.raises(ProfileError, match="transport"):
        Profile(transport=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("transport", "size", "expansion"),
    [
        ("repeat", 32, None),
        ("first", None, 4),
        ("chunked", 0, 4),
        ("chunked", 31, 4),
        ("chunked", 2050, 4),
        ("chunked", -2, 4),
        ("chunked", True, 4),
        ("chunked", 32.0, 4),
        ("chunked", 32, 0),
        ("chunked", 32, 256),
        ("chunked", 32, False),
    ],
)
def test_bad_chunk_parameters(transport: str, size: object, expansion: object) -> None:
    with pytest.raises(ProfileError):
        Profile(transport=transport, chunk_size=size, chunk_expansion=expansion)  # type: ignore[arg-type]


def test_chunks_must_fit() -> None:
    """n = expansion * k must stay within the code's 65,535 points."""
    # FrodoKEM-1344 ciphertext: 21,696 bytes = 10,848 two-byte chunks; 6 * 10,848 < 65,536.
    Profile(rekey_kem="FrodoKEM-1344-AES", transport="chunked", chunk_size=2, chunk_expansion=6)
    with pytest.raises(ProfileError, match="65535"):
        Profile(rekey_kem="FrodoKEM-1344-AES", transport="chunked", chunk_size=2, chunk_expansion=7)


# ── Strict decoding ──────────────────────────────────────────────────────────────────────


def _chunked() -> bytes:
    return Profile(rekey_kem="HQC-1", transport="chunked", chunk_size=64).to_bytes()


@pytest.mark.parametrize("encoded", [PQ3_IDENTIFIER, _chunked()], ids=["repeat", "chunked"])
def test_truncations_and_extensions(encoded: bytes) -> None:
    for n in range(len(encoded)):
        with pytest.raises(UnsupportedProfileError):
            Profile.from_bytes(encoded[:n])
    for extra in (b"\x00", b"\x01", b"\x00\x20\x04", bytes(10)):
        with pytest.raises(UnsupportedProfileError):
            Profile.from_bytes(encoded + extra)


@pytest.mark.parametrize(
    "hex_identifier",
    [
        "00 0105 0103 01",  # version 0
        "02 0105 0103 01",  # version 2
        "01 0000 0103 01",  # unknown start KEM
        "01 0105 0102 01",  # unknown rekey KEM
        "01 0105 ffff 01",
        "01 0105 0103 00",  # unknown transport
        "01 0105 0103 04",
        "01 0105 0103 01 0020 04",  # chunk parameters on repeat
        "01 0105 0103 02 0020 04",  # ... and on first
        "01 0105 0103 03",  # chunked without parameters
        "01 0105 0103 03 0021 04",  # odd chunk size
        "01 0105 0103 03 0000 04",
        "01 0105 0103 03 0802 04",  # 2,050 > 2,048
        "01 0105 0103 03 0020 00",  # expansion 0
        "01 0105 0305 03 0002 ff",  # FrodoKEM-1344 in 2-byte chunks x 255: too many
    ],
)
def test_bad_identifiers(hex_identifier: str) -> None:
    with pytest.raises(UnsupportedProfileError) as info:
        Profile.from_bytes(bytes.fromhex(hex_identifier))
    assert isinstance(info.value, MalformedInputError)


@pytest.mark.parametrize("bad", ["010501030 1", None, 7, [1, 5, 1, 3, 1]])
def test_non_bytes(bad: object) -> None:
    with pytest.raises(UnsupportedProfileError):
        Profile.from_bytes(bad)  # type: ignore[arg-type]


@given(st.binary(max_size=12))
@settings(max_examples=500, deadline=None)
def test_any_bytes_decode_canonically_or_fail_typed(data: bytes) -> None:
    try:
        profile = Profile.from_bytes(data)
    except UnsupportedProfileError:
        return
    assert profile.to_bytes() == data


@pytest.mark.parametrize("encoded", [PQ3_IDENTIFIER, _chunked()], ids=["repeat", "chunked"])
def test_every_single_byte_change_fails_typed_or_is_canonical(encoded: bytes) -> None:
    decoded = 0
    for position, value in itertools.product(range(len(encoded)), range(256)):
        mutated = bytearray(encoded)
        mutated[position] = value
        try:
            profile = Profile.from_bytes(bytes(mutated))
        except UnsupportedProfileError:
            continue
        decoded += 1
        assert profile.to_bytes() == bytes(mutated)
    assert decoded > len(encoded)  # valid neighbours exist (other KEMs, transports, sizes)
