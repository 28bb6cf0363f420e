"""Byte-level encoding helpers shared by every codec (spec/01-conventions.md §2).

Owns: big-endian uint32 fields, length-prefixed strings, and a strict reader that turns any
short read or trailing byte into MalformedInputError.
Not: what the fields mean.
"""

from __future__ import annotations

import struct

from .constants import LENGTH_PREFIX_SIZE
from .errors import MalformedInputError, MisuseError

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def u32(value: int) -> bytes:
    """Encode an unsigned 32-bit integer, big-endian."""
    return _U32.pack(value)


def u64(value: int) -> bytes:
    """Encode an unsigned 64-bit integer, big-endian."""
    return _U64.pack(value)


def lp(data: bytes) -> bytes:
    """Length-prefix: uint32 big-endian length, then the bytes."""
    return _U32.pack(len(data)) + data


class Reader:
    """Strict cursor over bytes; every failure is a MalformedInputError naming `what`."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MalformedInputError(f"{what}: expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def take(self, n: int, field: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise MalformedInputError(
                f"{self._what}: truncated in {field} (need {n} bytes at offset {self._pos}, "
                f"have {len(self._data) - self._pos})"
            )
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u32(self, field: str) -> int:
        return int(_U32.unpack(self.take(LENGTH_PREFIX_SIZE, field))[0])

    def u64(self, field: str) -> int:
        return int(_U64.unpack(self.take(8, field))[0])

    def lp(self, field: str, max_len: int) -> bytes:
        n = self.u32(field + " length")
        if n > max_len:
            raise MalformedInputError(f"{self._what}: {field} length {n} exceeds {max_len}")
        return self.take(n, field)

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def done(self) -> None:
        if self._pos != len(self._data):
            raise MalformedInputError(
                f"{self._what}: {len(self._data) - self._pos} trailing bytes"
            )


def as_bytes(value: object, what: str) -> bytes:
    """A caller's bytes-like argument as bytes; anything else is MisuseError."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise MisuseError(f"{what} must be bytes, not {type(value).__name__}")
