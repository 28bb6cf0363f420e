"""Comparisons shared by the verifier's checks: byte fields and expected failure classes.

Owns: `same` (a field against its hex, reporting field, expected and actual), `mismatch`
and `run` (an operation under a vector's valid/invalid expectation).
Not: any test type's checks (verify.py, verify_state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import PQ3Error
from .common import VectorError, unhex

T = TypeVar("T")


def _shown(data: bytes, at: int) -> str:
    """Hex of `data`, or for long values its length and 16 bytes from `at`."""
    if len(data) <= 64:
        return data.hex() or '""'
    start = max(0, at - 4)
    return f"{len(data)} bytes, [{start}:{start + 16}] = {data[start : start + 16].hex()}"


def mismatch(name: str, want: bytes, got: bytes) -> str:
    """'field: expected X, actual Y', abbreviated around the first differing byte."""
    at = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), None)
    if at is None:
        at = min(len(want), len(got))
    where = f" (first difference at byte {at})" if len(want) > 64 or len(got) > 64 else ""
    return f"{name}: expected {_shown(want, at)}, actual {_shown(got, at)}{where}"


def same(name: str, got: bytes, want: Any) -> None:
    expected = unhex(want, name)
    if got != expected:
        raise VectorError(mismatch(name, expected, bytes(got)))


def run(fn: Callable[[], T], result: str, error: str | None) -> tuple[bool, T | None]:
    """Run fn under the vector's expectation; (True, value) if it succeeded as allowed."""
    if (result == "valid") != (error is None):
        raise VectorError(f"result {result!r} and error {error!r} disagree")
    try:
        value = fn()
    except PQ3Error as e:
        if result == "valid":
            raise VectorError(f"unexpected {type(e).__name__}: {e}") from None
        if error is not None and type(e).__name__ != error:
            raise VectorError(f"expected {error}, got {type(e).__name__}: {e}") from None
        return False, None
    if result == "invalid":
        raise VectorError(f"expected {error}, but the operation succeeded")
    return True, value
