"""Profile: the frozen value that names a protocol design (spec/10-profiles.md §1).

Owns: the profile fields and their checks, and the compact identifier that carries a
profile on the wire, with strict decoding.
Not: running a KEM (kem.py), cutting material into chunks (chunking.py), or how sessions
use a profile (identity.py, handshake.py, ratchet.py, transport.py, wire.py).

`Profile()` is PQ3 exactly: ML-KEM-1024 at session start, ML-KEM-768 for rekeys, and the
rekey key or ciphertext repeated on every message of its chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .chunking import total_count
from .constants import (
    CHUNK_SYMBOL_SIZE,
    DEFAULT_CHUNK_EXPANSION,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_REKEY_KEM,
    DEFAULT_START_KEM,
    MAX_CHUNK_COUNT,
    MAX_CHUNK_EXPANSION,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_EXPANSION,
    MIN_CHUNK_SIZE,
    PROFILE_CHUNK_PARAMS_SIZE,
    PROFILE_ENCODING_VERSION,
    PROFILE_FIXED_SIZE,
    TRANSPORT_CHUNKED,
    TRANSPORT_FIRST,
    TRANSPORT_REPEAT,
)
from .errors import MisuseError, ProfileError, UnsupportedProfileError
from .kem_table import KemInfo, by_code, by_name

Transport = Literal["repeat", "first", "chunked"]
TRANSPORTS: Final[tuple[Transport, ...]] = ("repeat", "first", "chunked")
_TRANSPORT_CODES: Final[dict[str, int]] = {
    "repeat": TRANSPORT_REPEAT,
    "first": TRANSPORT_FIRST,
    "chunked": TRANSPORT_CHUNKED,
}
_TRANSPORT_BY_CODE: Final[dict[int, Transport]] = {
    TRANSPORT_REPEAT: "repeat",
    TRANSPORT_FIRST: "first",
    TRANSPORT_CHUNKED: "chunked",
}


@dataclass(frozen=True)
class Profile:
    """Which KEMs a session uses and how rekey material travels.

    - start_kem: the KEM of the signed prekey and the session start.
    - rekey_kem: the KEM of every post-quantum rekey.
    - transport: "repeat" (on every message of the chain), "first" (on its first message
      only) or "chunked" (erasure-coded, one chunk per message).
    - chunk_size, chunk_expansion: chunked only (None otherwise, filled with the defaults
      when left out): bytes of material per chunk, and n = chunk_expansion * k chunks.
    """

    start_kem: str = DEFAULT_START_KEM
    rekey_kem: str = DEFAULT_REKEY_KEM
    transport: Transport = "repeat"
    chunk_size: int | None = None
    chunk_expansion: int | None = None

    def __post_init__(self) -> None:
        by_name(self.start_kem)
        by_name(self.rekey_kem)
        if not isinstance(self.transport, str) or self.transport not in _TRANSPORT_CODES:
            shown = self.transport if isinstance(self.transport, str) else type(self.transport)
            raise ProfileError(f"unknown transport {shown!r}; known: {', '.join(TRANSPORTS)}")
        if self.transport != "chunked":
            if self.chunk_size is not None or self.chunk_expansion is not None:
                raise ProfileError("chunk_size and chunk_expansion apply to 'chunked' only")
            return
        # Normalised here so that equal designs compare and encode equal.
        if self.chunk_size is None:
            object.__setattr__(self, "chunk_size", DEFAULT_CHUNK_SIZE)
        if self.chunk_expansion is None:
            object.__setattr__(self, "chunk_expansion", DEFAULT_CHUNK_EXPANSION)
        _check_chunk_params(self.chunk_size, self.chunk_expansion, ProfileError)
        self._check_chunks_fit()

    def _check_chunks_fit(self) -> None:
        assert self.chunk_size is not None and self.chunk_expansion is not None
        rekey = self.rekey
        for length in (rekey.public_key_size, rekey.ciphertext_size):
            try:
                total_count(length, self.chunk_size, self.chunk_expansion)
            except MisuseError:
                raise ProfileError(
                    f"{self.rekey_kem} material in {self.chunk_size}-byte chunks times "
                    f"{self.chunk_expansion} needs more than {MAX_CHUNK_COUNT} chunks"
                ) from None

    @property
    def start(self) -> KemInfo:
        """The start KEM's sizes and code."""
        return by_name(self.start_kem)

    @property
    def rekey(self) -> KemInfo:
        """The rekey KEM's sizes and code."""
        return by_name(self.rekey_kem)

    @property
    def is_default(self) -> bool:
        """Whether this is PQ3 as published."""
        return self == Profile()

    @property
    def label(self) -> str:
        """A short readable name, e.g. "ML-KEM-1024/HQC-1/chunked-64x4"."""
        tail: str = self.transport
        if self.transport == "chunked":
            tail = f"chunked-{self.chunk_size}x{self.chunk_expansion}"
        return f"{self.start_kem}/{self.rekey_kem}/{tail}"

    def to_bytes(self) -> bytes:
        """The profile identifier: version || start KEM code || rekey KEM code || transport,
        then chunk size (uint16) || expansion (uint8) for chunked; big-endian."""
        out = bytearray((PROFILE_ENCODING_VERSION,))
        out += self.start.code.to_bytes(2, "big")
        out += self.rekey.code.to_bytes(2, "big")
        out.append(_TRANSPORT_CODES[self.transport])
        if self.transport == "chunked":
            assert self.chunk_size is not None and self.chunk_expansion is not None
            out += self.chunk_size.to_bytes(2, "big")
            out.append(self.chunk_expansion)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Strict inverse of to_bytes: the exact length, known codes, canonical parameters.

        Raises UnsupportedProfileError (a MalformedInputError) for anything else.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise UnsupportedProfileError("a profile identifier must be bytes")
        data = bytes(data)
        if len(data) < PROFILE_FIXED_SIZE:
            raise UnsupportedProfileError(
                f"a profile identifier is at least {PROFILE_FIXED_SIZE} bytes, got {len(data)}"
            )
        if data[0] != PROFILE_ENCODING_VERSION:
            raise UnsupportedProfileError(f"unknown profile encoding version {data[0]}")
        start = _kem_from_code(int.from_bytes(data[1:3], "big"), "start")
        rekey = _kem_from_code(int.from_bytes(data[3:5], "big"), "rekey")
        transport = _TRANSPORT_BY_CODE.get(data[5])
        if transport is None:
            raise UnsupportedProfileError(f"unknown transport code {data[5]}")
        expected = PROFILE_FIXED_SIZE
        if transport == "chunked":
            expected += PROFILE_CHUNK_PARAMS_SIZE
        if len(data) != expected:
            raise UnsupportedProfileError(
                f"a {transport} profile identifier is {expected} bytes, got {len(data)}"
            )
        if transport != "chunked":
            return cls(start.name, rekey.name, transport)
        chunk_size = int.from_bytes(data[6:8], "big")
        expansion = data[8]
        _check_chunk_params(chunk_size, expansion, UnsupportedProfileError)
        try:
            return cls(start.name, rekey.name, transport, chunk_size, expansion)
        except ProfileError as exc:
            raise UnsupportedProfileError(str(exc)) from None


def _kem_from_code(code: int, role: str) -> KemInfo:
    info = by_code(code)
    if info is None:
        raise UnsupportedProfileError(f"unknown {role} KEM code 0x{code:04x}")
    return info


def _check_chunk_params(
    chunk_size: object, expansion: object, error: type[ProfileError] | type[UnsupportedProfileError]
) -> None:
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE
        or chunk_size % CHUNK_SYMBOL_SIZE
    ):
        raise error(f"chunk_size must be an even integer in {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    if (
        not isinstance(expansion, int)
        or isinstance(expansion, bool)
        or not MIN_CHUNK_EXPANSION <= expansion <= MAX_CHUNK_EXPANSION
    ):
        raise error(
            f"chunk_expansion must be an integer in {MIN_CHUNK_EXPANSION}..{MAX_CHUNK_EXPANSION}"
        )


PQ3: Final = Profile()
