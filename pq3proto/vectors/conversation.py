"""Recording whole conversations as vectors, every random value named (spec/test-vectors.md §6).

Owns: the generator's conversation builder: two deterministic devices, sessions driven step
by step, each random draw recorded and labelled (ecdhScalar, kemCoins, kemSeed), each
message with its wire bytes, plaintext and auth data, expected failures checked on the spot,
and the crafting of validly re-signed bad messages from the sender's own keys.
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
from ..ratchet import evolve
from ..session import Session, close_sending_chain
from ..state import decode_session_state, encode_session_state
from ..wire import ChainHeader, encode_message, parse_message, signature_body
from .common import START_TIME, Draw, Json, ManualClock, RecordingRandom, VectorError, h, hx

INITIATOR = "initiator"
RESPONDER = "responder"
_WORDS = (
    "ok see you at noon the train is late call me when you land did you get the file "
    "lunch tomorrow sounds good running ten minutes behind photos from the weekend"
).split()


def policy_json(policy: RekeyPolicy) -> Json:
    s = policy.max_age_seconds
    if s is not None and s != int(s):
        raise VectorError("vector policies use whole seconds")
    return {"everyMessages": policy.every_messages, "maxAgeSeconds": None if s is None else int(s)}


def policy_from_json(value: Json) -> RekeyPolicy:
    s = value["maxAgeSeconds"]
    return RekeyPolicy(
        every_messages=value["everyMessages"], max_age_seconds=None if s is None else float(s)
    )


def label_draws(draws: list[Draw]) -> Json:
    """Name the draws of one operation: ecdhScalar (32), then kemCoins (32), then kemSeed (64).

    A P-256 scalar outside [1, n-1] would be drawn again; vectors never contain one.
    """
    out: Json = {"ecdhScalar": None, "kemCoins": None, "kemSeed": None}
    rest = list(draws)
    if rest:
        first = rest.pop(0)
        if first.n != P256_SCALAR_SIZE or not 1 <= int.from_bytes(first.data, "big") < P256_ORDER:
            raise VectorError("an operation's first draw is not a usable P-256 scalar")
        out["ecdhScalar"] = h(first.data)
    if rest and rest[0].n == KEM_COINS_SIZE:
        out["kemCoins"] = h(rest.pop(0).data)
    if rest and rest[0].n == KEM_SEED_SIZE:
        out["kemSeed"] = h(rest.pop(0).data)
    if rest:
        raise VectorError(f"unexpected draw sizes {[d.n for d in draws]}")
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


class ConversationBuilder:
    """Drives two sessions and writes each step down as the vector's `steps`."""

    def __init__(self, name: str, policy: RekeyPolicy, seed_prefix: bytes) -> None:
        self.policy = policy
        self.now = START_TIME
        self.steps: list[Json] = []
        self.wires: list[bytes] = []
        self.invalid = False
        self._text = random.Random(name)
        seed = seed_prefix + name.encode("utf-8")
        self.parties = {
            INITIATOR: self._party(INITIATOR, "tel:+15551234567", 7, seed),
            RESPONDER: self._party(RESPONDER, "mailto:bob@example.org", 1, seed),
        }

    @staticmethod
    def _party(role: str, uri: str, device_id: int, seed: bytes) -> _Party:
        rng = RecordingRandom(TestingOnlyDeterministicRandom(seed + b"/" + role.encode()))
        device = Device.generate_deterministic_for_tests(uri, device_id, rng)
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
        wire = self.session(role).encrypt(pt, auth_data)
        randomness = label_draws(p.rng.take())
        header = parse_message(wire).header
        # A continuation chain repeats the open request without drawing a new seed.
        repeated = header.kem_public_key == self.session(role).state.ratchet.my_kem_public
        if randomness["ecdhScalar"] is not None and (
            (randomness["kemCoins"] is None) != (header.kem_ciphertext is None)
            or ((randomness["kemSeed"] is not None) != (header.kem_public_key is not None)
            and not (randomness["kemSeed"] is None and repeated))
        ):
            raise VectorError("recorded KEM draws do not match the new chain's header")
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
            session, pt = Session.accept_deterministic_for_tests(
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
            p.session = session
            ad = parse_message(wire).auth_data
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
        sign: bool = True,
        **header_changes: Any,
    ) -> bytes:
        """A copy of `wire` with header fields or the key indicator changed.

        With sign=True it is signed again with the sender's identity key, as a buggy or
        hostile sender would; otherwise the old signature stays.
        """
        msg = parse_message(wire)
        new_header = replace(header or msg.header, **header_changes)
        ind = msg.indicator if indicator is None else indicator
        sig = msg.signature
        if sign:
            p = self.parties[sender]
            peer = self.peer(sender).device.identity
            dst = session_dst(p.device.identity.binding(), peer.binding())
            body = signature_body(
                msg.ciphertext,
                msg.auth_data,
                ind,
                new_header.ecdh_public_key,
                msg.index,
                new_header.signature_tail(dst),
            )
            sig = p.device.signing_key.sign(body, deterministic=True)
        return encode_message(
            new_header.encode(), msg.index, ind, msg.auth_data, msg.ciphertext, sig
        )

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
        dst = session_dst(p.device.identity.binding(), self.peer(sender).device.identity.binding())
        header = sending.header
        ctx = SendingChain(header.encode(), header.signature_tail(dst), header.ecdh_public_key)
        wire, _ = PythonHotPath().seal(
            ck, index, ctx, b"", plaintext, p.device.signing_key, deterministic=True
        )
        return wire

    # ── The finished vector ──

    def test(self, tc_id: int, comment: str, flags: list[str]) -> Json:
        return {
            "tcId": tc_id,
            "comment": comment,
            "flags": flags,
            "result": "invalid" if self.invalid else "valid",
            "policy": policy_json(self.policy),
            "initiator": self.parties[INITIATOR].json,
            "responder": self.parties[RESPONDER].json,
            "steps": self.steps,
        }
