"""Custom traffic patterns read from a file: who sends each message, one letter per message.

Owns: the pattern file format and its strict parser.
Not: the built-in shapes (pq3proto.traffic).

Format: the letters `A` (the initiator) and `B`, one per message, in any layout: one per line
or many on a line ("AAAB"), with whitespace ignored and `#` starting a comment to the end of
the line. Letters are case-insensitive. The first message is A's (B has no session before it).
A pattern shorter than the conversation repeats from its start.
"""

from __future__ import annotations

from ..errors import MisuseError

MAX_PATTERN_BYTES = 1_000_000


def parse_pattern(text: str) -> tuple[str, ...]:
    """The senders of a pattern file's text; MisuseError, naming line and column, otherwise."""
    out: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0]
        for col, ch in enumerate(body, 1):
            if ch.isspace():
                continue
            up = ch.upper()
            if up not in ("A", "B"):
                raise MisuseError(
                    f"line {lineno}, column {col}: {ch!r} is not a sender; use A or B"
                )
            out.append(up)
    if not out:
        raise MisuseError("the pattern names no sender; write A and B, one per message")
    if out[0] != "A":
        raise MisuseError("the pattern must start with A: B has no session before A's first")
    return tuple(out)


def read_pattern(path: str) -> tuple[str, ...]:
    """parse_pattern of a file (UTF-8, at most 1 MB)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_PATTERN_BYTES + 1)
    except OSError as e:
        raise MisuseError(f"cannot read pattern file {path}: {e.strerror}") from None
    if len(raw) > MAX_PATTERN_BYTES:
        raise MisuseError(f"pattern file {path} is larger than {MAX_PATTERN_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MisuseError(f"pattern file {path} is not UTF-8 text") from None
    return parse_pattern(text)


def senders_for(pattern: tuple[str, ...], messages: int) -> list[str]:
    """`messages` senders: the pattern, repeated from its start as often as needed."""
    return [pattern[i % len(pattern)] for i in range(messages)]
