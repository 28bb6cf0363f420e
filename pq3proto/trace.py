"""The per-message trace: one event for each message a session seals, opens or refuses.

Owns: the event record (TraceEvent and its parts), the Tracer callback type, and a recorder
that keeps events and writes them as JSON or CSV (docs/trace.md documents every field).
Not: producing events (session.py calls the tracer) or running conversations (experiments).
Events hold only public values: sizes, chain ids derived from public ratchet points, flags.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .constants import (
    CHUNK_KIND_PUBLIC_KEY,
    KEY_INDICATOR_SIZE,
    LENGTH_PREFIX_SIZE,
    P256_SIGNATURE_SIZE,
    TRACE_CHAIN_ID_BYTES,
)
from .primitives import sha384
from .profile import PQ3, Profile
from .transport import TransportBlock
from .wire import ChainHeader, ParsedMessage

__all__ = ["KemMaterial", "TraceEvent", "TraceRecorder", "Tracer", "WireParts", "chain_id"]

Direction = Literal["send", "receive"]


@dataclass(frozen=True)
class KemMaterial:
    """One piece of KEM material a message carried."""

    kind: Literal["start_ciphertext", "kem_ciphertext", "kem_public_key"]
    kem: str  # the KEM as liboqs names it
    size: int  # bytes of this piece on this message
    chunk: tuple[int, int] | None = None  # (i, n): chunk i of n, under a chunked transport


@dataclass(frozen=True)
class WireParts:
    """A message's wire bytes by part; total is their sum and the message's length."""

    header: int  # version, flags, ratchet point, and the start's prekey hash
    kem: int  # every KEM key, ciphertext or chunk
    framing: int  # index, key indicator and the two length prefixes
    auth_data: int
    ciphertext: int
    signature: int

    @property
    def total(self) -> int:
        return (
            self.header + self.kem + self.framing + self.auth_data + self.ciphertext
            + self.signature
        )


@dataclass(frozen=True)
class TraceEvent:
    """What one message did at one party."""

    seq: int  # this session's event number, from 0
    time: float  # the session's clock
    party: str  # the local device, "uri#device_id"
    direction: Direction
    chain: str  # short public id of the chain's ratchet point; "" if the message did not parse
    index: int  # the message's index in its chain; -1 if it did not parse
    ecdh_step: bool  # this message started a chain (send) or a new peer chain (receive)
    rekey_requested: bool  # send: this message's chain opened a new rekey request
    rekey_completed: bool  # a KEM secret entered the root key at this message, at this party
    material: tuple[KemMaterial, ...]
    parts: WireParts
    error: str | None = None  # receive only: the PQ3Error class that refused it

    def row(self) -> dict[str, Any]:
        """A flat record (for CSV and tables): material and parts spelled out."""
        d: dict[str, Any] = {
            k: v for k, v in asdict(self).items() if k not in ("material", "parts")
        }
        d["material"] = ";".join(_material_text(m) for m in self.material)
        d["kem_bytes"] = self.parts.kem
        for name in ("header", "framing", "auth_data", "ciphertext", "signature"):
            d[f"{name}_bytes"] = getattr(self.parts, name)
        d["wire_bytes"] = self.parts.total
        d["error"] = self.error or ""
        return d

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["material"] = [
            {**asdict(m), "chunk": list(m.chunk) if m.chunk else None} for m in self.material
        ]
        d["parts"] = {**asdict(self.parts), "total": self.parts.total}
        return d


Tracer = Callable[[TraceEvent], None]

CSV_COLUMNS = (
    "seq", "time", "party", "direction", "chain", "index", "ecdh_step", "rekey_requested",
    "rekey_completed", "material", "header_bytes", "kem_bytes", "framing_bytes",
    "auth_data_bytes", "ciphertext_bytes", "signature_bytes", "wire_bytes", "error",
)


@dataclass
class TraceRecorder:
    """A tracer that keeps every event, for one session or several."""

    events: list[TraceEvent] = field(default_factory=list)

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def json(self) -> str:
        return json.dumps([e.to_json() for e in self.events], indent=1)

    def csv(self) -> str:
        return events_csv(self.events)


def events_csv(events: Iterable[TraceEvent]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for e in events:
        w.writerow(e.row())
    return out.getvalue()


def chain_id(point: bytes) -> str:
    """A short public id for a ratchet point: the first bytes of its SHA-384, in hex."""
    return sha384(point)[:TRACE_CHAIN_ID_BYTES].hex()


def header_material(header: ChainHeader, profile: Profile = PQ3) -> tuple[KemMaterial, ...]:
    """The KEM material a chain header carries, with the profile's KEM names."""
    out: list[KemMaterial] = []
    if header.start_ciphertext is not None:
        out.append(
            KemMaterial("start_ciphertext", profile.start_kem, len(header.start_ciphertext))
        )
    if header.kem_ciphertext is not None:
        out.append(KemMaterial("kem_ciphertext", profile.rekey_kem, len(header.kem_ciphertext)))
    if header.kem_public_key is not None:
        out.append(KemMaterial("kem_public_key", profile.rekey_kem, len(header.kem_public_key)))
    return tuple(out)


def block_material(block: TransportBlock, profile: Profile) -> tuple[KemMaterial, ...]:
    """The KEM material a `first` or `chunked` message's transport block carries."""
    return tuple(
        KemMaterial(
            "kem_public_key" if m.kind == CHUNK_KIND_PUBLIC_KEY else "kem_ciphertext",
            profile.rekey_kem,
            m.wire_size,
            None if m.chunk is None else (m.chunk.i, m.chunk.n),
        )
        for m in block.materials
    )


def wire_parts(
    header_length: int, material: tuple[KemMaterial, ...], auth_data: int, ciphertext: int
) -> WireParts:
    kem_bytes = sum(m.size for m in material)
    return WireParts(
        header=header_length - kem_bytes,
        kem=kem_bytes,
        framing=LENGTH_PREFIX_SIZE * 3 + KEY_INDICATOR_SIZE,
        auth_data=auth_data,
        ciphertext=ciphertext,
        signature=P256_SIGNATURE_SIZE,
    )


def _material_text(m: KemMaterial) -> str:
    chunk = f"[{m.chunk[0]}/{m.chunk[1]}]" if m.chunk else ""
    return f"{m.kind}:{m.kem}:{m.size}{chunk}"


class SessionTrace:
    """One session's tracer and event counter: what the session did with a message, as a
    TraceEvent (the session calls it only while a tracer is set)."""

    __slots__ = ("clock", "party", "profile", "seq", "tracer")

    def __init__(
        self, tracer: Tracer, party: str, profile: Profile, clock: Callable[[], float], seq: int
    ) -> None:
        self.tracer, self.party, self.profile, self.clock, self.seq = (
            tracer, party, profile, clock, seq,
        )

    def message(
        self,
        direction: Direction,
        header: ChainHeader,
        index: int,
        ecdh_step: bool,
        requested: bool,
        completed: bool,
        header_length: int,
        auth_data: int,
        ciphertext: int,
        block: TransportBlock | None = None,
        block_length: int = 0,
    ) -> None:
        """A message sealed or opened: its chain, index, steps and bytes by part."""
        material = header_material(header, self.profile)
        if block is not None:
            material += block_material(block, self.profile)
        parts = wire_parts(header_length + block_length, material, auth_data, ciphertext)
        self._emit(
            direction, chain_id(header.ecdh_public_key), index, ecdh_step, requested,
            completed, parts, material, None,
        )

    def refused(self, msg: ParsedMessage | None, error: str) -> None:
        """A message refused with `error`; None if it did not even parse."""
        if msg is None:
            self._emit("receive", "", -1, False, False, False, WireParts(0, 0, 0, 0, 0, 0), (),
                       error)
            return
        material = header_material(msg.header, self.profile)
        if msg.transport is not None:
            material += block_material(msg.transport, self.profile)
        parts = wire_parts(
            msg.header_length + len(msg.transport_bytes), material, len(msg.auth_data),
            len(msg.ciphertext),
        )
        self._emit(
            "receive", chain_id(msg.header.ecdh_public_key), msg.index, False, False, False,
            parts, material, error,
        )

    def _emit(
        self,
        direction: Direction,
        chain: str,
        index: int,
        ecdh_step: bool,
        requested: bool,
        completed: bool,
        parts: WireParts,
        material: tuple[KemMaterial, ...],
        error: str | None,
    ) -> None:
        event = TraceEvent(
            self.seq, self.clock(), self.party, direction, chain, index, ecdh_step, requested,
            completed, material, parts, error,
        )
        self.tracer(event)
        self.seq += 1
