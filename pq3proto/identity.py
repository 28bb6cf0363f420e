"""Devices, public identities and signed prekey bundles (spec/03-ratchet.md §1, 06-state.md §2).

Owns: a device's long-term ECDSA identity key, its address, its profile, its prekeys (P-256
ECDH and the profile's start KEM, ML-KEM-1024 under PQ3), the signed bundle others fetch,
the prekey hash that finds it again, and the record of session starts already accepted.
Not: sessions, chains or messages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from . import kem
from .constants import (
    BUNDLE_VERSION,
    BUNDLE_VERSION_PROFILE,
    DEVICE_STATE_VERSION,
    DEVICE_STATE_VERSION_PROFILE,
    IDENTITY_VERSION,
    KEM_SEED_SIZE,
    LABEL_PREKEY_SIGNATURE,
    MAX_BUNDLE_LENGTH,
    MAX_DEVICE_ID,
    MAX_REMEMBERED_SESSION_STARTS,
    MAX_URI_LENGTH,
    MLKEM1024_PUBLIC_KEY_SIZE,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    P256_SIGNATURE_SIZE,
    PREKEY_HASH_SIZE,
)
from .encoding import Reader, lp, u32
from .errors import MalformedInputError, MisuseError, ReplayError, UnsupportedVersionError
from .kdf import identity_binding
from .primitives import (
    SYSTEM_RANDOM,
    P256PrivateKey,
    RandomSource,
    Verifier,
    ct_equal,
    decode_point,
    sha384,
)
from .profile import PQ3, Profile


@dataclass(frozen=True)
class PublicIdentity:
    """What others know of a device: its address and its long-term signing key (ltk)."""

    uri: str
    device_id: int
    signing_key: bytes

    def __post_init__(self) -> None:
        raw = self.uri.encode("utf-8")
        if not raw or len(raw) > MAX_URI_LENGTH:
            raise MisuseError(f"URI must be 1 to {MAX_URI_LENGTH} bytes of UTF-8")
        if not 0 <= self.device_id <= MAX_DEVICE_ID:
            raise MisuseError("device_id must fit in an unsigned 32-bit integer")

    def binding(self) -> bytes:
        """This device's part of dstForSession."""
        return identity_binding(self.uri.encode("utf-8"), self.device_id, self.signing_key)

    def encode(self) -> bytes:
        return bytes((IDENTITY_VERSION,)) + self.binding()

    @classmethod
    def decode(cls, data: bytes) -> PublicIdentity:
        r = Reader(data, "public identity")
        out = cls._read(r)
        r.done()
        return out

    @classmethod
    def _read(cls, r: Reader) -> PublicIdentity:
        version = r.u8("version")
        if version != IDENTITY_VERSION:
            raise UnsupportedVersionError(f"public identity version {version} is not supported")
        raw_uri = r.lp("uri", MAX_URI_LENGTH)
        try:
            uri = raw_uri.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedInputError("public identity: URI is not UTF-8") from None
        if not uri:
            raise MalformedInputError("public identity: empty URI")
        device_id = r.u32("device id")
        key = r.take(P256_POINT_SIZE, "signing key")
        decode_point(key)
        return cls(uri, device_id, key)

    def __str__(self) -> str:
        return f"{self.uri}#{self.device_id}"


@dataclass(frozen=True)
class PrekeyBundle:
    """A device's signed prekeys: P-256 ECDH point and start-KEM encapsulation key.

    Under PQ3 the start KEM is ML-KEM-1024 and the bundle is PQ3's (version 1); under
    another profile the bundle names that profile (version 2), and the signature covers it.
    """

    ecdh_public_key: bytes
    kem_public_key: bytes
    signature: bytes
    profile: Profile = PQ3

    def encode(self) -> bytes:
        if self.profile == PQ3:
            head = bytes((BUNDLE_VERSION,))
        else:
            pid = self.profile.to_bytes()
            head = bytes((BUNDLE_VERSION_PROFILE, len(pid))) + pid
        return head + self.ecdh_public_key + self.kem_public_key + self.signature

    @classmethod
    def decode(cls, data: bytes) -> PrekeyBundle:
        r = Reader(data, "prekey bundle")
        version = r.u8("version")
        if version == BUNDLE_VERSION:
            profile = PQ3
        elif version == BUNDLE_VERSION_PROFILE:
            profile = Profile.from_bytes(r.take(r.u8("profile length"), "profile"))
            if profile == PQ3:
                raise MalformedInputError("prekey bundle: PQ3's profile uses version 1")
        else:
            raise UnsupportedVersionError(f"prekey bundle version {version} is not supported")
        ecdh = r.take(P256_POINT_SIZE, "ECDH prekey")
        kem_pk = r.take(profile.start.public_key_size, "KEM prekey")
        sig = r.take(P256_SIGNATURE_SIZE, "signature")
        r.done()
        decode_point(ecdh)
        if profile == PQ3:
            kem.get_backend().validate_public_key(kem.MLKEM1024, kem_pk)
        else:
            kem.named(profile.start_kem).validate_public_key(kem_pk)
        return cls(ecdh, kem_pk, sig, profile)

    @staticmethod
    def signed_content(
        owner: PublicIdentity, ecdh_pk: bytes, kem_pk: bytes, profile: Profile = PQ3
    ) -> bytes:
        content = LABEL_PREKEY_SIGNATURE + owner.binding() + ecdh_pk + kem_pk
        if profile != PQ3:
            content += lp(profile.to_bytes())
        return content

    def verify(self, owner: PublicIdentity) -> None:
        """Check the owner's signature; raises AuthenticationError."""
        content = self.signed_content(
            owner, self.ecdh_public_key, self.kem_public_key, self.profile
        )
        Verifier(owner.signing_key).verify(content, self.signature)

    def prekey_hash(self) -> bytes:
        """preKeyHash = SHA-384(ecdh prekey || KEM prekey || signature), as in PQ3."""
        return sha384(self.ecdh_public_key + self.kem_public_key + self.signature)


@dataclass(eq=False)
class Device:
    """A device: identity key, address, current prekeys, and accepted session starts.

    Holds secrets: never log it. `repr` shows the address only.
    """

    identity: PublicIdentity
    _signing_key: P256PrivateKey = field(repr=False)
    _prekey_ecdh: P256PrivateKey = field(repr=False)
    _prekey_kem_seed: bytes = field(repr=False)
    _bundle: PrekeyBundle = field(repr=False)
    _seen_starts: OrderedDict[bytes, None] = field(repr=False, default_factory=OrderedDict)
    _lock: threading.Lock = field(repr=False, default_factory=threading.Lock, compare=False)

    # ── Construction ──

    @classmethod
    def generate(cls, uri: str, device_id: int, *, profile: Profile | None = None) -> Device:
        """A new device with fresh keys from the system CSPRNG; its bundle names `profile`."""
        return cls._generate(uri, device_id, SYSTEM_RANDOM, profile or PQ3)

    @classmethod
    def generate_deterministic_for_tests(
        cls, uri: str, device_id: int, rng: RandomSource, *, profile: Profile | None = None
    ) -> Device:
        """A device whose keys come from `rng`: for test vectors and tests only."""
        return cls._generate(uri, device_id, rng, profile or PQ3)

    @classmethod
    def _generate(cls, uri: str, device_id: int, rng: RandomSource, profile: Profile) -> Device:
        signing = P256PrivateKey.generate(rng)
        identity = PublicIdentity(uri, device_id, signing.public)
        ecdh, seed, bundle = cls._new_prekeys(identity, signing, rng, profile)
        return cls(identity, signing, ecdh, seed, bundle)

    @staticmethod
    def _new_prekeys(
        identity: PublicIdentity, signing: P256PrivateKey, rng: RandomSource, profile: Profile
    ) -> tuple[P256PrivateKey, bytes, PrekeyBundle]:
        ecdh = P256PrivateKey.generate(rng)
        if profile == PQ3:
            seed, kem_pk = kem.generate_seed_and_key(kem.MLKEM1024, rng)
        else:
            seed, kem_pk = kem.named(profile.start_kem).generate(rng)
        content = PrekeyBundle.signed_content(identity, ecdh.public, kem_pk, profile)
        sig = signing.sign(content, deterministic=rng.deterministic)
        return ecdh, seed, PrekeyBundle(ecdh.public, kem_pk, sig, profile)

    def rotate_prekey(self, rng: RandomSource = SYSTEM_RANDOM) -> None:
        """Replace the prekeys. Sessions not yet started against the old bundle will fail."""
        self._prekey_ecdh, self._prekey_kem_seed, self._bundle = self._new_prekeys(
            self.identity, self._signing_key, rng, self.profile
        )
        self._seen_starts.clear()

    # ── Public values ──

    def public_identity(self) -> bytes:
        return self.identity.encode()

    def prekey_bundle(self) -> bytes:
        return self._bundle.encode()

    @property
    def bundle(self) -> PrekeyBundle:
        return self._bundle

    @property
    def profile(self) -> Profile:
        """The design this device's bundle offers; accept allows it by default."""
        return self._bundle.profile

    # ── Used by the session layer ──

    @property
    def signing_key(self) -> P256PrivateKey:
        return self._signing_key

    def prekey_secrets(self, prekey_hash: bytes) -> tuple[P256PrivateKey, bytes] | None:
        """The (ECDH prekey, start-KEM state) for a prekey hash, or None if it is not ours."""
        if prekey_hash != self._bundle.prekey_hash():
            return None
        return self._prekey_ecdh, self._prekey_kem_seed

    def has_seen_start(self, start_id: bytes) -> bool:
        return start_id in self._seen_starts

    def record_start(self, start_id: bytes, save: Callable[[Device], None]) -> None:
        """Record an accepted session start and have `save` persist this device with it.

        If save raises, the record is undone and the exception propagates: a start counts as
        accepted only once the record that refuses its replay is durable.
        """
        with self._lock:  # two accepts of one start race here; exactly one records it
            if start_id in self._seen_starts:
                raise ReplayError("this session start was already accepted")
            before = self._seen_starts.copy()
            self._seen_starts[start_id] = None
            while len(self._seen_starts) > MAX_REMEMBERED_SESSION_STARTS:
                self._seen_starts.popitem(last=False)
            try:
                save(self)
            except BaseException:
                self._seen_starts = before
                raise

    # ── Persistence ──

    def to_bytes(self) -> bytes:
        """Serialize every secret of the device. The result must be stored as a secret."""
        pq3 = self.profile == PQ3
        version = DEVICE_STATE_VERSION if pq3 else DEVICE_STATE_VERSION_PROFILE
        out = bytes((version,)) + self.identity.encode()
        out += self._signing_key.scalar() + self._prekey_ecdh.scalar()
        if pq3:
            out += self._prekey_kem_seed + self._bundle.encode()
        else:  # the bundle first: its profile gives the start-KEM state's length
            out += lp(self._bundle.encode()) + self._prekey_kem_seed
        out += u32(len(self._seen_starts)) + b"".join(self._seen_starts)
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> Device:
        r = Reader(data, "device state")
        version = r.u8("version")
        if version not in (DEVICE_STATE_VERSION, DEVICE_STATE_VERSION_PROFILE):
            raise UnsupportedVersionError(f"device state version {version} is not supported")
        identity = PublicIdentity._read(r)
        signing = P256PrivateKey.from_scalar(r.take(P256_SCALAR_SIZE, "signing key"))
        ecdh = P256PrivateKey.from_scalar(r.take(P256_SCALAR_SIZE, "ECDH prekey"))
        if version == DEVICE_STATE_VERSION:
            seed = r.take(KEM_SEED_SIZE, "KEM prekey seed")
            bundle_len = 1 + P256_POINT_SIZE + MLKEM1024_PUBLIC_KEY_SIZE + P256_SIGNATURE_SIZE
            bundle = PrekeyBundle.decode(r.take(bundle_len, "bundle"))
        else:
            bundle = PrekeyBundle.decode(r.lp("bundle", MAX_BUNDLE_LENGTH))
            seed = r.take(bundle.profile.start.state_size, "KEM prekey state")
        if (version == DEVICE_STATE_VERSION) != (bundle.profile == PQ3):
            raise MalformedInputError("device state: version does not match the profile")
        count = r.u32("remembered starts")
        if count > MAX_REMEMBERED_SESSION_STARTS:
            raise MalformedInputError("device state: too many remembered session starts")
        seen: OrderedDict[bytes, None] = OrderedDict()
        for _ in range(count):
            seen[r.take(PREKEY_HASH_SIZE, "session start id")] = None
        r.done()
        if signing.public != identity.signing_key or ecdh.public != bundle.ecdh_public_key:
            raise MalformedInputError("device state: keys do not match their public values")
        if not _kem_state_matches(bundle, seed):
            raise MalformedInputError("device state: KEM seed does not match the bundle")
        bundle.verify(identity)
        device = cls(identity, signing, ecdh, seed, bundle, seen)
        if device.to_bytes() != data:
            raise MalformedInputError("device state: not in canonical form")
        return device

    def __repr__(self) -> str:
        return f"Device({self.identity})"




def _kem_state_matches(bundle: PrekeyBundle, state: bytes) -> bool:
    """Whether a start-KEM state belongs to the bundle's key: PQ3 rebuilds the key from the
    seed; other profiles check one encapsulation round trip."""
    if bundle.profile == PQ3:
        return kem.get_backend().public_key_from_seed(kem.MLKEM1024, state) == bundle.kem_public_key
    start = kem.named(bundle.profile.start_kem)
    if len(state) != start.info.state_size:
        return False
    secret, ct = start.encapsulate(bundle.kem_public_key)
    return ct_equal(start.decapsulate(state, ct), secret)
