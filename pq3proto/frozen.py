"""Copies of this package's frozen state values with some fields changed.

Owns: `evolve`, the one way state transitions build their new values.
Not: any state itself (ratchet.py, transport.py, session.py).
"""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T")


def evolve(value: _T, **changes: Any) -> _T:
    """A copy of a frozen state value with some fields changed; the original is untouched.

    dataclasses.replace re-runs __init__ over every field (about 10 µs for RatchetState);
    copying the instance dict is a tenth of that, which matters on the per-message path.
    Only for this package's plain frozen dataclasses (no __post_init__, no slots).
    """
    new = object.__new__(type(value))
    d = dict(value.__dict__)
    d.update(changes)
    object.__setattr__(new, "__dict__", d)
    return new
