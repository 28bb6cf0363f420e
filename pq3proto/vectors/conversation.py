"""Recording whole conversations as vectors, every random value named (spec/test-vectors.md §6).

Owns: the generator's conversation builder: two deterministic devices of one profile,
sessions driven step by step, each random draw recorded and labelled (ecdhScalar, kemCoins,
kemSeed), each message with its wire bytes, plaintext and auth data, expected failures
checked on the spot, and the crafting of validly re-signed bad messages from the sender's
own keys.
Not: replaying a vector (verify.py) or the protocol itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from ..constants import (
    KEM_COINS_SIZE,
    KEM_SEED_SIZE,
    KEY_INDICATOR_SIZE,
    LENGTH_PREFIX_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    PREKEY_HASH_SIZE,
)
from ..errors import PQ3Error
from ..identity import Device
from ..kdf import chain_step, session_dst
from ..message import PythonHotPath, SendingChain
from ..policy import RekeyPolicy
from ..primitives import P256_ORDER, TestingOnlyDeterministicRandom
from ..profile import PQ3, Profile
from ..ratchet import evolve
from ..session import Session, close_sending_chain
from ..state import decode_session_state, encode_session_state
from ..wire import ChainHeader, encode_message, parse_message, signature_body, transport_tail
from .common import START_TIME, Draw, Json, ManualClock, RecordingRandom, VectorError, h, hx

INITIATOR = "initiator"
RESPONDER = "responder"
_WORDS = (
    "ok see you at noon the train is late call me when you land did you get the file "
    "lunch tomorrow sounds good running ten minutes behind photos from the weekend"
).split()


def policy_json(policy: RekeyPolicy) -> Json:
    """Whole seconds as a JSON integer; other values (PinnedChoiceTest only) as a number."""
    s = policy.max_age_seconds
    age: int | float | None = None if s is None else int(s) if s == int(s) else s
    return {"everyMessages": policy.every_messages, "maxAgeSeconds": age}


def policy_from_json(value: Json) -> RekeyPolicy:
    s = value["maxAgeSeconds"]
    return RekeyPolicy(
        every_messages=value["everyMessages"], max_age_seconds=None if s is None else float(s)
    )


def profile_json(profile: Profile) -> Json:
    """A profile by its fields, with its identifier (spec/10-profiles.md §2) as `id`."""
    return {
        "id": h(profile.to_bytes()),
        "startKem": profile.start_kem,
        "rekeyKem": profile.rekey_kem,
        "transport": profile.transport,
        "chunkSize": profile.chunk_size,
        "chunkExpansion": profile.chunk_expansion,
    }


def profile_from_json(value: Json) -> Profile:
    """The profile a vector names; its fields must encode to its `id`."""
    profile = Profile(
        value["startKem"],
        value["rekeyKem"],
        value["transport"],
        value["chunkSize"],
        value["chunkExpansion"],
    )
    if h(profile.to_bytes()) != value["id"]:
        raise VectorError("the profile's fields do not encode to its id")
    return profile


_DRAW_SIZES = {"ecdhScalar": P256_SCALAR_SIZE, "kemCoins": KEM_COINS_SIZE, "kemSeed": KEM_SEED_SIZE}


def _label(draws: list[Draw], names: tuple[str, ...]) -> Json:
    """Name the draws of one operation: each name in turn takes the next draw if its size
    fits. A P-256 scalar outside [1, n-1] would be drawn again; vectors never contain one."""
    out: Json = dict.fromkeys(_DRAW_SIZES)
    rest = list(draws)
    for name in names:
        if rest and rest[0].n == _DRAW_SIZES[name]:
            data = rest.pop(0).data
            if name == "ecdhScalar" and not 1 <= int.from_bytes(data, "big") < P256_ORDER:
                raise VectorError("a drawn P-256 scalar is out of range")
            out[name] = h(data)
    if rest:
        raise VectorError(f"unexpected draw sizes {[d.n for d in draws]}")
    return out


def label_draws(draws: list[Draw]) -> Json:
    """Name the draws of a PQ3 operation: ecdhScalar (32), then kemCoins (32), then kemSeed (64)."""
    out = _label(draws, ("ecdhScalar", "kemCoins", "kemSeed"))
    if draws and out["ecdhScalar"] is None:
        raise VectorError("an operation's first draw is not a P-256 scalar")
    return out


def label_deferred_draws(draws: list[Draw], new_chain: bool) -> Json:
    """Name the draws of one encrypt under `first` or `chunked` (spec/10-profiles.md §3.2):
    ecdhScalar when it starts a chain, then kemSeed when that chain opens a request, then
    kemCoins when the message answers a whole key of the peer's, possibly mid-chain."""
    if not new_chain:
        return _label(draws, ("kemCoins",))
    out = _label(draws, ("ecdhScalar", "kemSeed", "kemCoins"))
    if out["ecdhScalar"] is None:
        raise VectorError("a new chain drew no ratchet scalar")
    return out


def field_spans(wire: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of every field of a well-formed message, by its spec name."""
    msg = parse_message(wire)
    spans: dict[str, tuple[int, int]] = {}
    pos = 0

    def add(name: str, n: int) -> None:
        nonlocal pos
        spans[name] = (pos, pos + n)
        pos += n

    add("version", 1)
    add("flags", 1)
    add("ecdhPK", P256_POINT_SIZE)
    if msg.header.prekey_hash is not None:
        add("preKeyHash", PREKEY_HASH_SIZE)
        add("startCiphertext", MLKEM1024_CIPHERTEXT_SIZE)
    if msg.header.kem_ciphertext is not None:
        add("kemCiphertext", MLKEM768_CIPHERTEXT_SIZE)
    if msg.header.kem_public_key is not None:
        add("kemPublicKey", MLKEM768_PUBLIC_KEY_SIZE)
    add("index", LENGTH_PREFIX_SIZE)
    add("keyIndicator", KEY_INDICATOR_SIZE)
    add("adLen", LENGTH_PREFIX_SIZE)
    add("authData", len(msg.auth_data))
    add("ctLen", LENGTH_PREFIX_SIZE)
    add("ciphertext", len(msg.ciphertext))
    add("signature", len(msg.signature))
    assert pos == len(wire)
    return spans


@dataclass
class _Party:
    role: str
    device: Device
    rng: RecordingRandom
    clock: ManualClock
    json: Json
    session: Session | None = None


# When a list, every finished conversation appends its seed name (seed_names() in generate.py).
SEED_LOG: list[str] | None = None


class ConversationBuilder:
    """Drives two sessions and writes each step down as the vector's `steps`."""

    def __init__(
        self, name: str, policy: RekeyPolicy, seed_prefix: bytes, profile: Profile | None = None
    ) -> None:
        self.name = name
        self.policy = policy
        self.profile = profile  # None: a PQ3 vector, whose tests do not name a profile
        self.wire_profile = PQ3 if profile is None else profile
        self.deferred = self.wire_profile.transport != "repeat"
        self.now = START_TIME
        self.steps: list[Json] = []
        self.wires: list[bytes] = []
        self.invalid = False
        self.policy_input: Json | None = None  # the policy as given, when rounding matters
        self._text = random.Random(name)
        seed = seed_prefix + name.encode("utf-8")
        self.parties = {
            INITIATOR: self._party(INITIATOR, "tel:+15551234567", 7, seed, profile),
            RESPONDER: self._party(RESPONDER, "mailto:bob@example.org", 1, seed, profile),
        }

    @staticmethod
    def _party(
        role: str, uri: str, device_id: int, seed: bytes, profile: Profile | None
    ) -> _Party:
        rng = RecordingRandom(TestingOnlyDeterministicRandom(seed + b"/" + role.encode()))
        device = Device.generate_deterministic_for_tests(uri, device_id, rng, profile=profile)
        draws = rng.take()
        if [d.n for d in draws] != [P256_SCALAR_SIZE, P256_SCALAR_SIZE, KEM_SEED_SIZE]:
            raise VectorError("device generation drew an unexpected sequence")
        return _Party(
            role,
            device,
            rng,
            ManualClock(),
            {
                "uri": uri,
                "deviceId": device_id,
                "identityScalar": h(draws[0].data),
                "prekeyScalar": h(draws[1].data),
                "prekeyKemSeed": h(draws[2].data),
                "publicIdentity": h(device.public_identity()),
                "prekeyBundle": h(device.prekey_bundle()),
            },
        )

    def peer(self, role: str) -> _Party:
        return self.parties[RESPONDER if role == INITIATOR else INITIATOR]

    def session(self, role: str) -> Session:
        s = self.parties[role].session
        if s is None:
            raise VectorError(f"{role} has no session yet")
        return s

    def advance(self, seconds: int) -> None:
        self.now += seconds

    def _tick(self, p: _Party) -> None:
        p.clock.now = float(self.now)

    def text(self, role: str) -> bytes:
        n = self._text.randint(1, 8)
        words = " ".join(self._text.choice(_WORDS) for _ in range(n))
        return f"{role[0]}{len(self.wires)}: {words}".encode()

    # ── Steps ──

    def initiate(self, bundle: bytes | None = None, error: type[PQ3Error] | None = None) -> None:
        p, q = self.parties[INITIATOR], self.parties[RESPONDER]
        self._tick(p)
        bundle_bytes = q.device.prekey_bundle() if bundle is None else bundle
        try:
            session = Session.initiate_deterministic_for_tests(
                p.device,
                q.device.public_identity(),
                bundle_bytes,
                p.rng,
                policy=self.policy,
                clock=p.clock,
            )
        except PQ3Error as e:
            self._expect(error, e)
            session = None
        else:
            self._expect(error, None)
        randomness = label_draws(p.rng.take())
        if session is not None:
            p.session = session
            if randomness["ecdhScalar"] is None or randomness["kemCoins"] is None:
                raise VectorError("a session start must draw a scalar and ML-KEM coins")
        self.steps.append(
            {
                "action": "initiate",
                "party": INITIATOR,
                "time": self.now,
                "randomness": randomness,
                "prekeyBundle": hx(bundle),
                **self._outcome(error),
            }
        )

    def send(self, role: str, plaintext: bytes | None = None, auth_data: bytes = b"") -> int:
        """Encrypt one message; returns its id (its position among the test's messages)."""
        p = self.parties[role]
        self._tick(p)
        pt = self.text(role) if plaintext is None else plaintext
        new_chain = self.session(role).state.ratchet.sending is None
        wire = self.session(role).encrypt(pt, auth_data)
        if self.deferred:
            randomness = label_deferred_draws(p.rng.take(), new_chain)
            self._check_deferred_draws(wire, randomness)
        else:
            randomness = label_draws(p.rng.take())
            self._check_draws(role, wire, randomness)
        self.wires.append(wire)
        self.steps.append(
            {
                "action": "encrypt",
                "party": role,
                "time": self.now,
                "randomness": randomness,
                "message": len(self.wires) - 1,
                "plaintext": h(pt),
                "authData": h(auth_data),
                "wire": h(wire),
            }
        )
        return len(self.wires) - 1

    def _check_draws(self, role: str, wire: bytes, randomness: Json) -> None:
        header = parse_message(wire).header
        # A continuation chain repeats the open request without drawing a new seed.
        repeated = header.kem_public_key == self.session(role).state.ratchet.my_kem_public
        if randomness["ecdhScalar"] is not None and (
            (randomness["kemCoins"] is None) != (header.kem_ciphertext is None)
            or ((randomness["kemSeed"] is not None) != (header.kem_public_key is not None)
            and not (randomness["kemSeed"] is None and repeated))
        ):
            raise VectorError("recorded KEM draws do not match the new chain's header")

    def _check_deferred_draws(self, wire: bytes, randomness: Json) -> None:
        block = parse_message(wire, self.wire_profile).transport
        assert block is not None
        if randomness["kemSeed"] is not None and block.request_material is None:
            raise VectorError("a request opened without its material on the chain's first message")
        if randomness["kemCoins"] is not None and block.answer_material is None:
            raise VectorError("an encapsulation whose message does not carry the answer")

    def deliver(self, role: str, message: int | bytes, error: type[PQ3Error] | None = None) -> None:
        """Decrypt (or, for a responder without a session, accept) one message."""
        p = self.parties[role]
        if role == RESPONDER and p.session is None:
            self.accept(message, error)
            return
        self._tick(p)
        wire = self.wires[message] if isinstance(message, int) else message
        session = self.session(role)
        before = session.to_bytes()
        pt = ad = None
        try:
            pt, ad = session.decrypt_with_auth_data(wire)
        except PQ3Error as e:
            self._expect(error, e)
            if session.to_bytes() != before:
                raise VectorError("a failed decrypt changed the session") from None
        else:
            self._expect(error, None)
        if p.rng.take():
            raise VectorError("decrypt drew random bytes")
        self.steps.append(self._delivery("decrypt", role, message, error, pt, ad))

    def accept(self, message: int | bytes, error: type[PQ3Error] | None = None) -> None:
        p, q = self.parties[RESPONDER], self.parties[INITIATOR]
        self._tick(p)
        wire = self.wires[message] if isinstance(message, int) else message
        pt = ad = None
        try:
            res: tuple[Any, ...] = Session.accept_deterministic_for_tests(
                p.device,
                q.device.public_identity(),
                wire,
                p.rng,
                policy=self.policy,
                clock=p.clock,
            )
        except PQ3Error as e:
            self._expect(error, e)
        else:
            self._expect(error, None)
            session, pt = res[0], res[1]
            if len(res) > 2:  # the device's new value, once accept returns it
                p.device = res[2]
            p.session = session
            ad = parse_message(wire, self.wire_profile).auth_data
        if p.rng.take():
            raise VectorError("accept drew random bytes")
        self.steps.append(self._delivery("accept", RESPONDER, message, error, pt, ad))

    def restore(self, role: str) -> None:
        """Serialize a party's session and continue from the restored copy."""
        p = self.parties[role]
        self._tick(p)
        blob = self.session(role).to_bytes()
        p.session = Session.from_bytes_deterministic_for_tests(blob, p.device, p.rng, clock=p.clock)
        saved = decode_session_state(blob)
        closed = evolve(saved, ratchet=close_sending_chain(saved.ratchet))
        if p.session.to_bytes() != encode_session_state(closed):
            raise VectorError("a restored session serializes differently")
        self.steps.append(
            {"action": "restore", "party": role, "time": self.now, "sessionState": h(blob)}
        )

    def _delivery(
        self,
        action: str,
        role: str,
        message: int | bytes,
        error: type[PQ3Error] | None,
        pt: bytes | None,
        ad: bytes | None,
    ) -> Json:
        return {
            "action": action,
            "party": role,
            "time": self.now,
            "message": message if isinstance(message, int) else None,
            "wire": None if isinstance(message, int) else h(message),
            **self._outcome(error),
            "plaintext": hx(pt),
            "authData": hx(ad),
        }

    def _outcome(self, error: type[PQ3Error] | None) -> Json:
        if error is not None:
            self.invalid = True
        return {
            "result": "valid" if error is None else "invalid",
            "error": None if error is None else error.__name__,
        }

    @staticmethod
    def _expect(error: type[PQ3Error] | None, got: PQ3Error | None) -> None:
        if error is None and got is not None:
            raise VectorError(f"unexpected {type(got).__name__}: {got}")
        if error is not None and type(got) is not error:
            found = "no error" if got is None else type(got).__name__
            raise VectorError(f"expected {error.__name__}, got {found}")

    # ── Crafting bad messages with the sender's own keys ──

    def resign(
        self,
        sender: str,
        wire: bytes,
        *,
        header: ChainHeader | None = None,
        indicator: bytes | None = None,
        index: int | None = None,
        block: bytes | None = None,
        sign: bool = True,
        **header_changes: Any,
    ) -> bytes:
        """A copy of `wire` with header fields, the transport block (`first`, `chunked`) or
        the key indicator changed.

        With sign=True it is signed again with the sender's identity key, as a buggy or
        hostile sender would; otherwise the old signature stays.
        """
        msg = parse_message(wire, self.wire_profile)
        new_header = replace(header or msg.header, **header_changes)
        ind = msg.indicator if indicator is None else indicator
        idx = msg.index if index is None else index
        new_block = msg.transport_bytes if block is None else block
        sig = msg.signature
        if sign:
            tail = new_header.signature_tail(self._dst(sender))
            if self.deferred:
                tail += transport_tail(new_header, new_block)
            body = signature_body(
                msg.ciphertext, msg.auth_data, ind, new_header.ecdh_public_key, idx, tail
            )
            sig = self.parties[sender].device.signing_key.sign(body, deterministic=True)
        return encode_message(
            new_header.encode() + new_block, idx, ind, msg.auth_data, msg.ciphertext, sig
        )

    def _dst(self, sender: str) -> bytes:
        me = self.parties[sender].device.identity
        peer = self.peer(sender).device.identity
        pid = b"" if self.profile is None or self.profile == PQ3 else self.profile.to_bytes()
        return session_dst(me.binding(), peer.binding(), pid)

    def seal_at(self, sender: str, index: int, plaintext: bytes) -> bytes:
        """A validly signed message of the sender's current chain at a chosen index.

        The sender's session does not learn of it, as if it had sent and lost the messages
        in between.
        """
        p = self.parties[sender]
        sending = self.session(sender).state.ratchet.sending
        if sending is None or index < sending.next_index:
            raise VectorError("seal_at needs an open sending chain at or before index")
        ck = sending.chain_key
        for _ in range(sending.next_index, index):
            _, ck = chain_step(ck)
        if self.deferred:
            raise VectorError("seal_at makes PQ3 messages only")
        header = sending.header
        dst = self._dst(sender)
        ctx = SendingChain(header.encode(), header.signature_tail(dst), header.ecdh_public_key)
        wire, _ = PythonHotPath().seal(
            ck, index, ctx, b"", plaintext, p.device.signing_key, deterministic=True
        )
        return wire

    # ── The finished vector ──

    def test(self, tc_id: int, comment: str, flags: list[str]) -> Json:
        if SEED_LOG is not None:
            SEED_LOG.append(self.name)
        out = {
            "tcId": tc_id,
            "comment": comment,
            "flags": flags,
            "result": "invalid" if self.invalid else "valid",
            "policy": self.policy_input or policy_json(self.policy),
            "initiator": self.parties[INITIATOR].json,
            "responder": self.parties[RESPONDER].json,
            "steps": self.steps,
        }
        if self.profile is not None:
            out["profile"] = profile_json(self.profile)
        return out
