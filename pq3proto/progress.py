"""A one-line progress bar for long runs (pq3proto bench, pq3proto simulate).

Owns: drawing progress on stderr. Not: what is measured or simulated.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line progress bar on a stream (stderr), redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, total: int, label: str, enabled: bool, stream: TextIO | None = None):
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._last = 0.0
        self._start = time.monotonic()
        self._drawn: tuple[int, int, str] | None = None
        self._closed = False

    def advance(self, n: int) -> None:
        """Count n more units of work."""
        self.set(self.done + n)

    def set(self, done: int) -> None:
        """Set the units done so far."""
        self.done = done
        if not self.enabled:
            return
        if self._closed:  # finished: only a new run (done < total) draws again
            if done >= self.total:
                return
            self._closed = False
        now = time.monotonic()
        if now - self._last >= 0.1 or done >= self.total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        state = (self.done, self.total, self.label)
        if state == self._drawn:
            return
        self._drawn = state
        frac = min(1.0, self.done / self.total)
        filled = int(frac * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.monotonic() - self._start
        self.stream.write(
            f"\r{self.label:<24} [{bar}] {frac * 100:5.1f}% {self.done:,}/{self.total:,} "
            f"{elapsed:6.1f} s"
        )
        self.stream.flush()

    def update(self, done: int, total: int, label: str) -> None:
        """Callback form, for loops that know their total and label only as they go."""
        self.total = max(1, total)
        self.label = label
        self.set(done)
        if done >= total:
            self.close()

    def close(self) -> None:
        """Finish the line; a second call does nothing."""
        if self.enabled and not self._closed:
            self._closed = True
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
