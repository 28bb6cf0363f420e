"""Classical primitives from `cryptography` and the standard library (spec/01-conventions.md §3).

Owns: HKDF-SHA384, AES-256-CTR, SHA-384, P-256 ECDH and ECDSA with the encodings pq3proto
pins (SEC1 uncompressed points, raw low-S r || s signatures), randomness sources, and the one
constant-time comparison.
Not: ML-KEM (kem.py), or any protocol meaning of the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .constants import (
    AES_IV_SIZE,
    AES_KEY_SIZE,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    P256_SIGNATURE_SIZE,
)
from .errors import AuthenticationError, InvalidKeyError, MalformedInputError, MisuseError

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_HALF_ORDER = P256_ORDER >> 1
_CURVE = ec.SECP256R1()
_SHA256 = hashes.SHA256()
_ECDSA_RANDOM = ec.ECDSA(_SHA256)
_ECDSA_RFC6979 = ec.ECDSA(_SHA256, deterministic_signing=True)


# ── Randomness ─────────────────────────────────────────────────────────────────────────


class RandomSource(Protocol):
    """Where every random byte the protocol draws comes from."""

    def random_bytes(self, n: int) -> bytes: ...

    @property
    def deterministic(self) -> bool: ...


class SystemRandom:
    """The operating system's CSPRNG. The public API always uses this."""

    deterministic = False

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)


class TestingOnlyDeterministicRandom:
    """A seeded SHAKE-256 stream, for test vectors and tests only: never for real traffic.

    Output i is SHAKE-256(seed || uint64(counter)) for an internal counter, so draws are
    independent of how callers split them into calls only when they call in the same order.
    Signatures made with this source use RFC 6979 nonces.
    """

    deterministic = True
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0

    def random_bytes(self, n: int) -> bytes:
        block = hashlib.shake_256(self._seed + self._counter.to_bytes(8, "big")).digest(n)
        self._counter += 1
        return block

    def __repr__(self) -> str:
        return f"TestingOnlyDeterministicRandom(draws={self._counter})"


SYSTEM_RANDOM = SystemRandom()


# ── Hashing, HKDF, comparison ──────────────────────────────────────────────────────────


def sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def hmac_sha384(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha384")


_DIGEST_SIZES = {"sha384": 48, "sha256": 32, "sha512": 64, "sha1": 20}


def _digest_size(hash_name: str) -> int:
    size = _DIGEST_SIZES.get(hash_name)
    return size if size is not None else hashlib.new(hash_name).digest_size


def hkdf_extract(salt: bytes | None, ikm: bytes, hash_name: str = "sha384") -> bytes:
    """HKDF-Extract (RFC 5869 §2.2), SHA-384 unless told; an absent salt is HashLen zeros."""
    if salt is None:
        salt = bytes(_digest_size(hash_name))
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand(prk: bytes, info: bytes, length: int, hash_name: str = "sha384") -> bytes:
    """HKDF-Expand (RFC 5869 §2.3), SHA-384 unless told (other hashes serve known answers)."""
    if not 0 < length <= 255 * _digest_size(hash_name):
        raise MisuseError("HKDF-Expand length out of range")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), hash_name)
        out += block
        counter += 1
    return out[:length]


def ct_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two byte strings (length is not secret)."""
    return hmac.compare_digest(a, b)


# ── AES-256-CTR ───────────────────────────────────────────────────────────────────────


def aes256_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256 in CTR mode; the IV is the first 128-bit counter block, incremented big-endian."""
    if len(key) != AES_KEY_SIZE or len(iv) != AES_IV_SIZE:
        raise MisuseError("AES-256-CTR key or IV has the wrong size")
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


# ── P-256 points and keys ─────────────────────────────────────────────────────────────


# Ratchet points are decoded twice (on receipt, then by the next sending chain) and
# identity points on every session object; they are public, so decoded ones are kept.
_POINT_CACHE: dict[bytes, ec.EllipticCurvePublicKey] = {}
_POINT_CACHE_SIZE = 64


def decode_point(data: bytes) -> ec.EllipticCurvePublicKey:
    """Decode a SEC1 uncompressed P-256 point; anything else is InvalidKeyError."""
    if type(data) is bytes:
        cached = _POINT_CACHE.get(data)
        if cached is not None:
            return cached
    if len(data) != P256_POINT_SIZE or data[0] != 0x04:
        raise InvalidKeyError(
            f"P-256 public key must be {P256_POINT_SIZE} bytes, uncompressed (0x04 prefix)"
        )
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes(data))
    except ValueError:
        raise InvalidKeyError("P-256 public key is not a point on the curve") from None
    if len(_POINT_CACHE) >= _POINT_CACHE_SIZE:
        _POINT_CACHE.clear()
    _POINT_CACHE[bytes(data)] = key
    return key


def encode_point(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class P256PrivateKey:
    """A P-256 private key; used for ECDH and for ECDSA. Must be kept secret.

    A key made by `from_computed_public` holds only its scalar and public point until a
    Python-path operation needs the `cryptography` object, which is then built once.
    """

    __slots__ = ("_key_obj", "_public", "_scalar")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key_obj: ec.EllipticCurvePrivateKey | None = key
        self._public = encode_point(key.public_key())
        self._scalar: bytes | None = None

    @classmethod
    def generate(cls, rng: RandomSource = SYSTEM_RANDOM) -> P256PrivateKey:
        """Draw a scalar uniformly from [1, n-1] by rejection sampling 32-byte strings."""
        return cls.from_scalar(draw_scalar(rng))

    @classmethod
    def from_scalar(cls, scalar: bytes) -> P256PrivateKey:
        d = _scalar_value(scalar)
        key = cls(ec.derive_private_key(d, _CURVE))
        key._scalar = bytes(scalar)
        return key

    @classmethod
    def from_computed_public(cls, scalar: bytes, public: bytes) -> P256PrivateKey:
        """A key from its scalar and the public point computed from it elsewhere (the C path).

        The caller vouches that `public` = scalar * G; nothing is multiplied here.
        """
        _scalar_value(scalar)
        if len(public) != P256_POINT_SIZE or public[0] != 0x04:
            raise InvalidKeyError("P-256 public key must be 65 bytes, uncompressed")
        key = object.__new__(cls)
        key._key_obj = None
        key._public = bytes(public)
        key._scalar = bytes(scalar)
        return key

    @property
    def _key(self) -> ec.EllipticCurvePrivateKey:
        k = self._key_obj
        if k is None:
            assert self._scalar is not None
            k = self._key_obj = ec.derive_private_key(int.from_bytes(self._scalar, "big"), _CURVE)
        return k

    def scalar(self) -> bytes:
        """The private scalar, 32 bytes big-endian. Must be kept secret."""
        if self._scalar is None:
            value = self._key.private_numbers().private_value
            self._scalar = value.to_bytes(P256_SCALAR_SIZE, "big")
        return self._scalar

    @property
    def public(self) -> bytes:
        """The public point, SEC1 uncompressed."""
        return self._public

    def exchange(self, peer_point: bytes) -> bytes:
        """ECDH: the 32-byte x-coordinate of d * peer. The peer point is validated first."""
        return self._key.exchange(ec.ECDH(), decode_point(peer_point))

    def sign(self, message: bytes, deterministic: bool = False) -> bytes:
        """ECDSA P-256 with SHA-256; raw r || s with s normalized to the low half.

        `deterministic` selects RFC 6979 nonces, for vectors and tests.
        """
        der = self._key.sign(message, _ECDSA_RFC6979 if deterministic else _ECDSA_RANDOM)
        r, s = decode_dss_signature(der)
        if s > P256_HALF_ORDER:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return "P256PrivateKey(<secret>)"


def draw_scalar(rng: RandomSource) -> bytes:
    """A P-256 private scalar uniform in [1, n-1]: rejection sampling of 32-byte strings."""
    while True:
        raw = rng.random_bytes(P256_SCALAR_SIZE)
        if 1 <= int.from_bytes(raw, "big") < P256_ORDER:
            return raw


def _scalar_value(scalar: bytes) -> int:
    if len(scalar) != P256_SCALAR_SIZE:
        raise MalformedInputError(f"P-256 private scalar must be {P256_SCALAR_SIZE} bytes")
    d = int.from_bytes(scalar, "big")
    if not 1 <= d < P256_ORDER:
        raise InvalidKeyError("P-256 private scalar out of range")
    return d


class Verifier:
    """A parsed peer signing key, checked once and reused for every message."""

    __slots__ = ("_key", "point")

    def __init__(self, point: bytes) -> None:
        self.point = bytes(point)
        self._key = decode_point(self.point)

    def verify(self, message: bytes, signature: bytes) -> None:
        if len(signature) != P256_SIGNATURE_SIZE:
            raise AuthenticationError("signature has the wrong length")
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (1 <= r < P256_ORDER and 1 <= s <= P256_HALF_ORDER):
            raise AuthenticationError("signature is not canonical (r, s out of range or high s)")
        try:
            self._key.verify(encode_dss_signature(r, s), message, _ECDSA_RANDOM)
        except InvalidSignature:
            raise AuthenticationError("signature does not verify") from None


def ecdsa_verify(public_point: bytes, message: bytes, signature: bytes) -> None:
    """Verify a raw low-S ECDSA P-256/SHA-256 signature; raise AuthenticationError if bad."""
    Verifier(public_point).verify(message, signature)
