"""Shared pieces of the vector generator and verifier (spec/test-vectors.md, Representation).

Owns: the file names and versions of the vector set, the canonical JSON rendering, hex
helpers, the recording and the scripted random sources (how every random value the protocol
draws is written down and injected again), and the manual clock.
Not: the content of any vector (generate.py), checking one (verify.py), or schemas
(schemas.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import __version__

GENERATOR_VERSION = f"pq3proto {__version__}, vectors 1"
SOURCE_NAME = "pq3proto.vectors.generate"
SOURCE_VERSION = "1"
SEED_PREFIX = b"pq3proto test vectors v1/"
START_TIME = 1_700_000_000  # seconds; every conversation's clock starts here

# File stem -> (schema file name, group/test type). One test type per file.
ROOT_KEY = "pq3_root_key_test"
CHAIN_STEP = "pq3_chain_step_test"
MESSAGE_KEY = "pq3_message_key_test"
SIGNATURE = "pq3_signature_test"
WIRE = "pq3_wire_test"
CONVERSATION = "pq3_conversation_test"
CONVERSATION_NEGATIVE = "pq3_conversation_negative_test"
PINNED_CHOICE = "pq3_pinned_choice_test"
IDENTITY = "pq3_identity_test"
BUNDLE = "pq3_bundle_test"
SESSION_STATE = "pq3_session_state_test"
DEVICE_STATE = "pq3_device_state_test"
PROFILE_TRANSPORT = "profile_transport_test"
PROFILE_TRANSPORT_NEGATIVE = "profile_transport_negative_test"
FILE_STEMS = (
    ROOT_KEY,
    CHAIN_STEP,
    MESSAGE_KEY,
    SIGNATURE,
    WIRE,
    CONVERSATION,
    CONVERSATION_NEGATIVE,
    PINNED_CHOICE,
    IDENTITY,
    BUNDLE,
    SESSION_STATE,
    DEVICE_STATE,
    PROFILE_TRANSPORT,
    PROFILE_TRANSPORT_NEGATIVE,
)
SCHEMAS_DIR = "schemas"

Json = dict[str, Any]


class VectorError(Exception):
    """A vector file or a vector run is inconsistent: never a protocol failure class."""


def render(doc: Any) -> bytes:
    """Canonical bytes of a JSON document: sorted keys, two-space indent, ASCII, final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def hx(data: bytes | None) -> str | None:
    """Bytes as lowercase hex; None (absent) stays None and renders as JSON null."""
    return None if data is None else bytes(data).hex()


def h(data: bytes) -> str:
    """Bytes as lowercase hex."""
    return bytes(data).hex()


def unhex(value: Any, field: str) -> bytes:
    """Lowercase hex to bytes; anything else is a VectorError naming the field."""
    if not isinstance(value, str):
        raise VectorError(f"{field}: expected a hex string")
    if value != value.lower() or len(value) % 2:
        raise VectorError(f"{field}: not lowercase hex of whole bytes")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise VectorError(f"{field}: not hex") from None


def unhex_opt(value: Any, field: str) -> bytes | None:
    return None if value is None else unhex(value, field)


@dataclass(frozen=True)
class Draw:
    """One call to RandomSource.random_bytes: how many bytes, and what came out."""

    n: int
    data: bytes


class RecordingRandom:
    """A deterministic source that writes down every draw, for the generator."""

    deterministic = True

    def __init__(self, inner: Any) -> None:
        if not inner.deterministic:
            raise VectorError("vectors need a deterministic source underneath")
        self._inner = inner
        self.draws: list[Draw] = []

    def random_bytes(self, n: int) -> bytes:
        data = bytes(self._inner.random_bytes(n))
        self.draws.append(Draw(n, data))
        return data

    def take(self) -> list[Draw]:
        """The draws since the last take, oldest first."""
        out, self.draws = self.draws, []
        return out


class ScriptedRandom:
    """Returns exactly the given values, in order, for the verifier; any mismatch is loud.

    `deterministic` is True, so the protocol signs with RFC 6979 and encapsulates through
    the derandomized ML-KEM entry point, exactly as when the vectors were made.
    """

    deterministic = True

    def __init__(self) -> None:
        self._queue: list[tuple[str, bytes]] = []

    def load(self, values: Iterable[tuple[str, bytes]]) -> None:
        """Queue named values for the next operation; the previous ones must be used up."""
        self.expect_empty()
        self._queue = list(values)

    def random_bytes(self, n: int) -> bytes:
        if not self._queue:
            raise VectorError(f"the implementation drew {n} random bytes the vector does not give")
        name, data = self._queue.pop(0)
        if len(data) != n:
            raise VectorError(f"the implementation drew {n} bytes where the vector gives {name}")
        return data

    def expect_empty(self) -> None:
        if self._queue:
            names = ", ".join(name for name, _ in self._queue)
            self._queue = []
            raise VectorError(f"the implementation did not draw {names}")


class ManualClock:
    """The clock a party's session reads; the vector sets it before every step."""

    def __init__(self, now: float = START_TIME) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now
