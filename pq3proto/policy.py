"""The PQ rekey policy: when a sender asks for a fresh ML-KEM-768 secret (spec/03-ratchet.md §5).

Owns: the decision, at a direction change, whether to attach a new KEM encapsulation key.
Not: the rekey itself (ratchet.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .constants import (
    DEFAULT_REKEY_MESSAGES,
    DEFAULT_REKEY_SECONDS,
    MAX_REKEY_MESSAGES,
    MAX_REKEY_SECONDS,
)
from .encoding import Reader, u64
from .errors import MalformedInputError, MisuseError

_NONE = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class RekeyPolicy:
    """Rekey once `every_messages` messages or `max_age_seconds` seconds have passed since the
    last PQ secret entered the root key, whichever comes first; None disables that trigger.

    The check runs only when a party starts a sending chain (a change of direction), so a
    rekey needs a turn of the conversation: PQ3's design, not a timer.
    """

    every_messages: int | None = DEFAULT_REKEY_MESSAGES
    max_age_seconds: float | None = DEFAULT_REKEY_SECONDS

    def __post_init__(self) -> None:
        n, s = self.every_messages, self.max_age_seconds
        if n is not None and not (isinstance(n, int) and 0 <= n <= MAX_REKEY_MESSAGES):
            raise MisuseError(f"every_messages must be an integer in [0, {MAX_REKEY_MESSAGES}]")
        if s is not None:
            if not (math.isfinite(s) and 0 <= s <= MAX_REKEY_SECONDS):
                raise MisuseError(f"max_age_seconds must be in [0, {MAX_REKEY_SECONDS}]")
            # Whole milliseconds, as persisted: a restored session behaves identically.
            object.__setattr__(self, "max_age_seconds", round(s * 1000) / 1000)

    @classmethod
    def every_turn(cls) -> RekeyPolicy:
        """Ask for a new KEM secret at every change of direction."""
        return cls(every_messages=0, max_age_seconds=None)

    @classmethod
    def never(cls) -> RekeyPolicy:
        """Never rekey after the session start: a PQXDH-like, level-2 design, for comparison."""
        return cls(every_messages=None, max_age_seconds=None)

    def due(self, messages_since_pq: int, seconds_since_pq: float) -> bool:
        """Whether a sender starting a chain now should ask for a fresh KEM secret."""
        if self.every_messages is not None and messages_since_pq >= self.every_messages:
            return True
        return self.max_age_seconds is not None and seconds_since_pq >= self.max_age_seconds

    def describe(self) -> str:
        """A short human description: 'never', 'every-turn', 'every 50 messages or 604800 s'."""
        if self.every_messages is None and self.max_age_seconds is None:
            return "never"
        if self.every_messages == 0:
            return "every-turn"
        parts = []
        if self.every_messages is not None:
            parts.append(f"{self.every_messages} messages")
        if self.max_age_seconds is not None:
            parts.append(f"{self.max_age_seconds:g} s")
        return "every " + " or ".join(parts)

    @classmethod
    def parse(cls, text: str) -> RekeyPolicy:
        """'default', 'never', 'every-turn', or 'N' / 'N:SECONDS' (command-line form)."""
        t = text.strip().lower()
        if t == "default":
            return cls()
        if t == "never":
            return cls.never()
        if t in ("every-turn", "every_turn"):
            return cls.every_turn()
        try:
            if ":" in t:
                n, s = t.split(":", 1)
                return cls(every_messages=int(n), max_age_seconds=float(s))
            return cls(every_messages=int(t), max_age_seconds=None)
        except ValueError:
            raise MisuseError(f"unknown rekey policy {text!r}") from None

    def encode(self) -> bytes:
        """The policy as stored in session state (spec/06-state.md)."""
        n = _NONE if self.every_messages is None else self.every_messages
        s = _NONE if self.max_age_seconds is None else round(self.max_age_seconds * 1000)
        return u64(n) + u64(s)

    @classmethod
    def read(cls, r: Reader) -> RekeyPolicy:
        """Read a stored policy; raises MalformedInputError for values out of range."""
        n = r.u64("policy messages")
        s = r.u64("policy milliseconds")
        if (n != _NONE and n > MAX_REKEY_MESSAGES) or (s != _NONE and s > MAX_REKEY_SECONDS * 1000):
            raise MalformedInputError("session state: rekey policy out of range")
        try:
            return cls(
                every_messages=None if n == _NONE else n,
                max_age_seconds=None if s == _NONE else s / 1000,
            )
        except MisuseError as e:
            raise MalformedInputError(f"session state: {e}") from None
