"""The interop driver: this package behind the line-oriented JSON protocol of spec/09.

Owns: `Driver.handle` (one request object to one response object), the named devices and
sessions a driver holds, the per-operation seeded randomness and clock, and `serve` (the
stdin/stdout loop of `pq3proto interop serve`).
Not: running scenarios between two drivers (runner.py). Testing only: every draw comes from
a seeded SHAKE-256 stream (01-conventions.md §3, deterministic mode).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from .. import __version__
from ..errors import MisuseError, PQ3Error
from ..identity import Device
from ..paths import hot_path
from ..policy import RekeyPolicy
from ..primitives import TestingOnlyDeterministicRandom
from ..profile import Profile
from ..session import Session
from ..wire import parse_message

PROTOCOL_VERSION = 1
Json = dict[str, Any]


class DriverError(Exception):
    """A request the driver protocol does not allow (not a protocol failure class)."""


class SeededRandom:
    """The randomness of one driver: each operation loads its own seed (or none)."""

    deterministic = True

    def __init__(self) -> None:
        self._stream: TestingOnlyDeterministicRandom | None = None

    def load(self, seed: bytes | None) -> None:
        self._stream = None if seed is None else TestingOnlyDeterministicRandom(seed)

    def random_bytes(self, n: int) -> bytes:
        if self._stream is None:
            raise DriverError("the operation drew random bytes but the request gave no seed")
        return self._stream.random_bytes(n)


class Clock:
    """The clock every session of a driver reads; each request may set it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _hex(req: Json, name: str) -> bytes:
    value = req.get(name)
    if not isinstance(value, str):
        raise DriverError(f"{name}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DriverError(f"{name}: not hex") from None


def _name(req: Json, name: str) -> str:
    value = req.get(name)
    if not isinstance(value, str) or not value:
        raise DriverError(f"{name}: expected a non-empty string")
    return value


def _profile(req: Json) -> Profile | None:
    value = req.get("profile")
    if value is None:
        return None
    if not isinstance(value, str):
        raise DriverError("profile must be a hex string or null")
    try:
        return Profile.from_bytes(bytes.fromhex(value))
    except ValueError:
        raise DriverError("profile is not hex") from None


def policy_from_json(value: Any) -> RekeyPolicy:
    """{"everyMessages": int | null, "maxAgeSeconds": number | null}; null itself: default."""
    if value is None:
        return RekeyPolicy()
    if not isinstance(value, dict) or set(value) != {"everyMessages", "maxAgeSeconds"}:
        raise DriverError("policy: expected everyMessages and maxAgeSeconds")
    age = value["maxAgeSeconds"]
    return RekeyPolicy(value["everyMessages"], None if age is None else float(age))


class Driver:
    """Devices and sessions by name, driven one request at a time."""

    def __init__(self) -> None:
        self.rng = SeededRandom()
        self.clock = Clock()
        self.devices: dict[str, Device] = {}
        self.sessions: dict[str, Session] = {}
        self._ops: dict[str, Callable[[Json], Json]] = {
            "hello": self._hello,
            "create_device": self._create_device,
            "device_to_bytes": self._device_to_bytes,
            "device_from_bytes": self._device_from_bytes,
            "initiate": self._initiate,
            "accept": self._accept,
            "encrypt": self._encrypt,
            "decrypt": self._decrypt,
            "to_bytes": self._to_bytes,
            "from_bytes": self._from_bytes,
        }

    def handle(self, req: Any) -> Json:
        """One response for one request; never raises."""
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            if not isinstance(req, dict):
                raise DriverError("a request is a JSON object")
            op = req.get("op")
            if op not in self._ops:
                raise DriverError(f"unknown op {op!r}")
            if "time" in req:
                if not isinstance(req["time"], (int, float)) or isinstance(req["time"], bool):
                    raise DriverError("time: expected a number")
                self.clock.now = float(req["time"])
            seed = req.get("seed")
            self.rng.load(None if seed is None else _hex(req, "seed"))
            out = self._ops[op](req)
            self.rng.load(None)
            return {"id": rid, "ok": True, **out}
        except PQ3Error as e:
            return {"id": rid, "ok": False, "error": type(e).__name__, "message": str(e)}
        except DriverError as e:
            return {"id": rid, "ok": False, "error": "DriverError", "message": str(e)}

    def _device(self, req: Json) -> Device:
        name = _name(req, "device")
        if name not in self.devices:
            raise DriverError(f"no device {name!r}")
        return self.devices[name]

    def _session(self, req: Json) -> Session:
        name = _name(req, "session")
        if name not in self.sessions:
            raise MisuseError(f"no session {name!r}")
        return self.sessions[name]

    def _hello(self, req: Json) -> Json:
        return {
            "implementation": f"pq3proto {__version__}",
            "protocol": PROTOCOL_VERSION,
            "path": hot_path().name,
        }

    def _create_device(self, req: Json) -> Json:
        uri, device_id = req.get("uri"), req.get("deviceId")
        if not isinstance(uri, str) or not isinstance(device_id, int):
            raise DriverError("create_device needs uri (string) and deviceId (integer)")
        device = Device.generate_deterministic_for_tests(
            uri, device_id, self.rng, profile=_profile(req)
        )
        self.devices[_name(req, "device")] = device
        return {
            "publicIdentity": device.public_identity().hex(),
            "prekeyBundle": device.prekey_bundle().hex(),
        }

    def _device_to_bytes(self, req: Json) -> Json:
        return {"deviceState": self._device(req).to_bytes().hex()}

    def _device_from_bytes(self, req: Json) -> Json:
        device = Device.from_bytes(_hex(req, "deviceState"))
        self.devices[_name(req, "device")] = device
        return {"publicIdentity": device.public_identity().hex()}

    def _initiate(self, req: Json) -> Json:
        session = Session.initiate_deterministic_for_tests(
            self._device(req),
            _hex(req, "peerIdentity"),
            _hex(req, "prekeyBundle"),
            self.rng,
            policy=policy_from_json(req.get("policy")),
            clock=self.clock,
        )
        self.sessions[_name(req, "session")] = session
        return {}

    def _accept(self, req: Json) -> Json:
        wire = _hex(req, "wire")
        res: tuple[Any, ...] = Session.accept_deterministic_for_tests(
            self._device(req),
            _hex(req, "peerIdentity"),
            wire,
            self.rng,
            policy=policy_from_json(req.get("policy")),
            clock=self.clock,
        )
        session, plaintext = res[0], res[1]
        if len(res) > 2:  # the device's new value, once accept returns it
            self.devices[_name(req, "device")] = res[2]
        self.sessions[_name(req, "session")] = session
        return {"plaintext": plaintext.hex(), "authData": parse_message(wire).auth_data.hex()}

    def _encrypt(self, req: Json) -> Json:
        ad = _hex(req, "authData") if req.get("authData") is not None else b""
        return {"wire": self._session(req).encrypt(_hex(req, "plaintext"), ad).hex()}

    def _decrypt(self, req: Json) -> Json:
        pt, ad = self._session(req).decrypt_with_auth_data(_hex(req, "wire"))
        return {"plaintext": pt.hex(), "authData": ad.hex()}

    def _to_bytes(self, req: Json) -> Json:
        return {"sessionState": self._session(req).to_bytes().hex()}

    def _from_bytes(self, req: Json) -> Json:
        session = Session.from_bytes_deterministic_for_tests(
            _hex(req, "sessionState"), self._device(req), self.rng, clock=self.clock
        )
        self.sessions[_name(req, "session")] = session
        return {}


def serve(inp: IO[str] | None = None, out: IO[str] | None = None) -> int:
    """Answer one JSON request per input line until EOF or {"op": "shutdown"}."""
    inp = inp or sys.stdin
    out = out or sys.stdout
    driver = Driver()
    for line in inp:
        if not line.strip():
            continue
        try:
            req: Any = json.loads(line)
        except ValueError:
            req = None
            resp: Json = {"id": None, "ok": False, "error": "DriverError", "message": "not JSON"}
        else:
            if isinstance(req, dict) and req.get("op") == "shutdown":
                out.write(json.dumps({"id": req.get("id"), "ok": True}) + "\n")
                out.flush()
                return 0
            resp = driver.handle(req)
        out.write(json.dumps(resp, sort_keys=True) + "\n")
        out.flush()
    return 0


def environment() -> str:
    return f"pq3proto {__version__}, path {hot_path().name}, PID {os.getpid()}"
