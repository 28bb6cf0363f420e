"""Traffic shapes of a two-party conversation: who sends each message.

Owns: the one traffic vocabulary of `demo --traffic`, `bench --traffic` and `simulate --traffic`,
and the seeded sequence of senders each shape produces.
Not: delivery over a network (experiments/delivery.py), sessions or cryptography.

- `ping-pong`: the direction changes at every message.
- `bursty` or `bursty:MEAN`: turn lengths follow a geometric law with mean MEAN messages
  (default 5), so the direction changes with probability 1/MEAN after each message.
- `one-sided`: A sends runs of 30 to 50 messages, and B replies with one message between them.
- `one-way`: only A sends; the direction never changes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .errors import MisuseError

__all__ = ["DEFAULT_BURST_MEAN", "KINDS", "MAX_BURST_MEAN", "Traffic"]

KINDS = ("ping-pong", "bursty", "one-sided", "one-way")
DEFAULT_BURST_MEAN = 5.0
MAX_BURST_MEAN = 1_000_000.0
_ONE_SIDED_RUN = (30, 50)


@dataclass(frozen=True)
class Traffic:
    """One traffic shape; `Traffic.parse("bursty:3")` reads the command-line form."""

    kind: str
    mean: float = DEFAULT_BURST_MEAN  # bursty only: mean turn length in messages

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MisuseError(f"unknown traffic {self.kind!r}; known: {', '.join(KINDS)}")
        if not (math.isfinite(self.mean) and 1.0 <= self.mean <= MAX_BURST_MEAN):
            raise MisuseError(f"bursty:MEAN needs 1 <= MEAN <= {MAX_BURST_MEAN:g}")

    @classmethod
    def parse(cls, text: str) -> Traffic:
        """'ping-pong', 'bursty', 'bursty:MEAN', 'one-sided' or 'one-way'."""
        t = text.strip().lower()
        kind, sep, arg = t.partition(":")
        if kind not in KINDS:
            raise MisuseError(f"unknown traffic {text!r}; known: ping-pong, bursty[:MEAN], "
                              "one-sided, one-way")
        if not sep:
            return cls(kind)
        if kind != "bursty":
            raise MisuseError(f"traffic {kind!r} takes no :MEAN")
        try:
            mean = float(arg)
        except ValueError:
            raise MisuseError(f"bursty:MEAN needs a number, got {arg!r}") from None
        return cls(kind, mean)

    def __str__(self) -> str:
        if self.kind == "bursty" and self.mean != DEFAULT_BURST_MEAN:
            return f"bursty:{self.mean:g}"
        return self.kind

    def turn_probability(self) -> float | None:
        """Probability of a direction change after each message; None for one-sided."""
        if self.kind == "ping-pong":
            return 1.0
        if self.kind == "bursty":
            return 1.0 / self.mean
        if self.kind == "one-way":
            return 0.0
        return None

    @classmethod
    def from_turn_probability(cls, p: float) -> Traffic:
        """The shape whose direction changes with probability p after each message."""
        if not 0.0 <= p <= 1.0:
            raise MisuseError("a turn probability must lie in [0, 1]")
        if p == 0.0:
            return cls("one-way")
        if p == 1.0:
            return cls("ping-pong")
        return cls("bursty", min(MAX_BURST_MEAN, 1.0 / p))

    def describe(self) -> str:
        """One line for reports."""
        if self.kind == "ping-pong":
            return "ping-pong: the direction changes at every message"
        if self.kind == "bursty":
            return f"bursty: turns of {self.mean:g} messages on average (geometric)"
        if self.kind == "one-sided":
            return "one-sided: A sends runs of 30-50, B replies with one message"
        return "one-way: only A sends"

    def senders(self, messages: int, seed: int) -> list[str]:
        """Who sends each message ("A" or "B"), a seeded sequence that starts with A."""
        rng = random.Random(seed)
        out: list[str] = []
        sender = "A"
        stay = 1.0 - 1.0 / self.mean
        while len(out) < messages:
            if self.kind == "one-way":
                return ["A"] * messages
            if self.kind == "ping-pong":
                run = 1
            elif self.kind == "bursty":
                run = 1
                while rng.random() < stay:
                    run += 1
            else:
                run = rng.randint(*_ONE_SIDED_RUN) if sender == "A" else 1
            out.extend([sender] * run)
            sender = "B" if sender == "A" else "A"
        return out[:messages]
