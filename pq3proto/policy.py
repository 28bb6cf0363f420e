"""The PQ rekey policy: when a sender asks for a fresh ML-KEM-768 secret (spec/03-ratchet.md §5).

Owns: the decision, at a direction change, whether to attach a new KEM encapsulation key.
Not: the rekey itself (ratchet.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import DEFAULT_REKEY_MESSAGES, DEFAULT_REKEY_SECONDS
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
        if self.every_messages is not None and self.every_messages < 0:
            raise MisuseError("every_messages must be >= 0 or None")
        if self.max_age_seconds is not None and self.max_age_seconds < 0:
            raise MisuseError("max_age_seconds must be >= 0 or None")

    @classmethod
    def every_turn(cls) -> RekeyPolicy:
        """Ask for a new KEM secret at every change of direction."""
        return cls(every_messages=0, max_age_seconds=None)

    @classmethod
    def never(cls) -> RekeyPolicy:
        """Never rekey after the session start: a PQXDH-like, level-2 design, for comparison."""
        return cls(every_messages=None, max_age_seconds=None)

    def due(self, messages_since_pq: int, seconds_since_pq: float) -> bool:
        if self.every_messages is not None and messages_since_pq >= self.every_messages:
            return True
        return self.max_age_seconds is not None and seconds_since_pq >= self.max_age_seconds

    def describe(self) -> str:
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
        n = _NONE if self.every_messages is None else self.every_messages
        s = _NONE if self.max_age_seconds is None else round(self.max_age_seconds * 1000)
        return u64(n) + u64(s)

    @classmethod
    def read(cls, r: Reader) -> RekeyPolicy:
        n = r.u64("policy messages")
        s = r.u64("policy milliseconds")
        try:
            return cls(
                every_messages=None if n == _NONE else n,
                max_age_seconds=None if s == _NONE else s / 1000,
            )
        except MisuseError as e:
            raise MalformedInputError(f"session state: {e}") from None
