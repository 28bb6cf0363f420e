"""Verifier checks of the decoding vectors: identities, bundles, session and device state.

Owns: replaying pq3_identity_test, pq3_bundle_test, pq3_session_state_test and
pq3_device_state_test against this package, field by field.
Not: conversations (verify.py), making vectors (decoding.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..handshake import start_id
from ..identity import Device, PrekeyBundle, PublicIdentity
from ..primitives import sha384
from ..session import Session
from ..state import decode_session_state, encode_session_state
from ..wire import parse_message
from . import schemas as sc
from .checks import run, same
from .common import Json, ScriptedRandom, VectorError, unhex
from .decoding import state_fields


def _field(name: str, want: Any, got: Any) -> None:
    if want != got or type(want) is not type(got):
        raise VectorError(f"{name}: expected {want!r}, actual {got!r}")


def _nulls(t: Json, names: tuple[str, ...]) -> None:
    present = [n for n in names if t[n] is not None]
    if present:
        raise VectorError(f"{', '.join(present)} must be null for an invalid case")


def check_identity(t: Json) -> None:
    data = unhex(t["encoding"], "encoding")
    ok, ident = run(lambda: PublicIdentity.decode(data), t["result"], t["error"])
    if not ok or ident is None:
        _nulls(t, ("uri", "deviceId", "signingKey"))
        return
    _field("uri", t["uri"], ident.uri)
    _field("deviceId", t["deviceId"], ident.device_id)
    same("signingKey", ident.signing_key, t["signingKey"])
    same("encoding", ident.encode(), t["encoding"])


def check_bundle(t: Json) -> None:
    data = unhex(t["encoding"], "encoding")
    ok, b = run(lambda: PrekeyBundle.decode(data), t["result"], t["error"])
    if not ok or b is None:
        _nulls(t, ("prekeyPoint", "prekeyKemPublicKey", "signature", "preKeyHash"))
        return
    same("prekeyPoint", b.ecdh_public_key, t["prekeyPoint"])
    same("prekeyKemPublicKey", b.kem_public_key, t["prekeyKemPublicKey"])
    same("signature", b.signature, t["signature"])
    same("preKeyHash", sha384(data[1:]), t["preKeyHash"])


def _device(p: Json) -> Device:
    rng = ScriptedRandom()
    rng.load(
        (name, unhex(p[name], name)) for name in ("identityScalar", "prekeyScalar", "prekeyKemSeed")
    )
    device = Device.generate_deterministic_for_tests(p["uri"], p["deviceId"], rng)
    rng.expect_empty()
    same("publicIdentity", device.public_identity(), p["publicIdentity"])
    same("prekeyBundle", device.prekey_bundle(), p["prekeyBundle"])
    return device


def check_session_state(t: Json) -> None:
    device = _device(t["party"])
    blob = unhex(t["sessionState"], "sessionState")
    ok, session = run(lambda: Session.from_bytes(blob, device), t["result"], t["error"])
    if not ok or session is None:
        if t["fields"] is not None:
            raise VectorError("fields must be null for an invalid case")
        return
    if t["fields"] is None:
        raise VectorError("a valid state needs its fields")
    got = state_fields(decode_session_state(blob))
    for name, want in t["fields"].items():
        _field(f"fields.{name}", want, got[name])
    # The state itself re-encodes to the same bytes; a Session restored from it has closed its
    # sending chain (spec/06-state.md §3).
    same("sessionState (re-encoded)", encode_session_state(decode_session_state(blob)),
         t["sessionState"])
    if session.state.ratchet.sending is not None:
        raise VectorError("a restored session continued its snapshot's sending chain")


def check_device_state(t: Json) -> None:
    blob = unhex(t["deviceState"], "deviceState")
    ok, device = run(lambda: Device.from_bytes(blob), t["result"], t["error"])
    if not ok or device is None:
        _nulls(t, ("publicIdentity", "prekeyBundle", "acceptedStarts"))
        if t["acceptedStartMessages"]:
            raise VectorError("an invalid case lists no accepted messages")
        return
    if t["acceptedStarts"] is None:
        raise VectorError("a valid device state lists its accepted starts")
    same("publicIdentity", device.public_identity(), t["publicIdentity"])
    same("prekeyBundle", device.prekey_bundle(), t["prekeyBundle"])
    messages = [unhex(w, "acceptedStartMessages") for w in t["acceptedStartMessages"]]
    if len(messages) != len(t["acceptedStarts"]):
        raise VectorError("one accepted start id per accepted message")
    for i, (wire, want) in enumerate(zip(messages, t["acceptedStarts"], strict=True)):
        hd = parse_message(wire).header
        if hd.prekey_hash is None or hd.start_ciphertext is None:
            raise VectorError(f"acceptedStartMessages[{i}] does not start a session")
        same(
            f"acceptedStarts[{i}]",
            start_id(hd.prekey_hash, hd.ecdh_public_key, hd.start_ciphertext),
            want,
        )
        if not device.has_seen_start(unhex(want, "acceptedStarts")):
            raise VectorError(f"acceptedStarts[{i}] is not recorded by the device state")
    same("deviceState (re-encoded)", device.to_bytes(), t["deviceState"])


STATE_CHECKS: dict[str, Callable[[Json], None]] = {
    sc.IDENTITY_TYPE: check_identity,
    sc.BUNDLE_TYPE: check_bundle,
    sc.SESSION_STATE_TYPE: check_session_state,
    sc.DEVICE_STATE_TYPE: check_device_state,
}
