"""The message wire format and the signed layout (spec/04-wire-format.md).

Owns: the byte layout of one message, its strict parser, and the exact bytes the sender's
ECDSA signature covers.
Not: keys, ratchet state or the decision which chain a message belongs to.

    version(1) flags(1) ecdhPK(65)
    [u8(len) profileId(len)]                 flags & PROFILE (start chains, non-PQ3 profiles)
    [preKeyHash(48) startCiphertext(1568)]   flags & SESSION_START
    [kemCiphertext(1088)]                    flags & KEM_CIPHERTEXT
    [kemPublicKey(1184)]                     flags & KEM_PUBLIC_KEY
    [mixedId(4)]                             flags & MIXED (first, chunked)
    [transport block]                        first, chunked (transport.py)
    index(u32) keyIndicator(32) adLen(u32) ad ctLen(u32) ct signature(64)

Everything before `index` is the chain header: identical on every message of one sending
chain, so a late or reordered message alone carries what its chain start needs. The sizes
shown are PQ3's; under another profile the KEM fields take that profile's KEM sizes. Under
the `first` and `chunked` transports the rekey material travels in a per-message transport
block instead of the KEM flags, which such a profile never sets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .constants import (
    FLAG_KEM_CIPHERTEXT,
    FLAG_KEM_PUBLIC_KEY,
    FLAG_MIXED,
    FLAG_PROFILE,
    FLAG_SESSION_START,
    KEY_INDICATOR_SIZE,
    KNOWN_FLAGS,
    LABEL_SIGNATURE,
    LABEL_SIGNATURE_VERSION,
    LENGTH_PREFIX_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_PLAINTEXT_LENGTH,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    P256_POINT_SIZE,
    P256_SIGNATURE_SIZE,
    PQ3_FLAGS,
    PREKEY_HASH_SIZE,
    REKEY_ID_SIZE,
    WIRE_VERSION,
)
from .encoding import Reader, lp, u32
from .errors import MalformedInputError, UnsupportedVersionError
from .frozen import fast_init
from .primitives import sha384
from .profile import PQ3, Profile
from .transport import TransportBlock, read_block

SIGNATURE_PREFIX = LABEL_SIGNATURE + LABEL_SIGNATURE_VERSION
# A plain chain header: no flags, so version || flags || ecdhPK and nothing after.
PLAIN_HEADER_PREFIX = bytes((WIRE_VERSION, 0))
PLAIN_HEADER_SIZE = len(PLAIN_HEADER_PREFIX) + P256_POINT_SIZE


@fast_init
@dataclass(frozen=True)
class ChainHeader:
    """The public values of one sending chain, repeated on each of its messages."""

    ecdh_public_key: bytes
    prekey_hash: bytes | None = None
    start_ciphertext: bytes | None = None  # ML-KEM-1024, session start only
    kem_ciphertext: bytes | None = None  # ML-KEM-768, answers the peer's rekey key
    kem_public_key: bytes | None = None  # ML-KEM-768, asks the peer for a rekey
    profile_id: bytes | None = None  # a non-PQ3 profile's identifier, on its start chain
    mixed_id: bytes | None = None  # first, chunked: the rekey this chain's root key mixed

    @property
    def flags(self) -> int:
        f = 0
        if self.prekey_hash is not None:
            f |= FLAG_SESSION_START
        if self.kem_ciphertext is not None:
            f |= FLAG_KEM_CIPHERTEXT
        if self.kem_public_key is not None:
            f |= FLAG_KEM_PUBLIC_KEY
        if self.profile_id is not None:
            f |= FLAG_PROFILE
        if self.mixed_id is not None:
            f |= FLAG_MIXED
        return f

    def encode(self) -> bytes:
        """version || flags || ecdhPK || chain material: the wire bytes before `index`."""
        out = bytes((WIRE_VERSION, self.flags)) + self.ecdh_public_key
        if self.profile_id is not None:
            out += bytes((len(self.profile_id),)) + self.profile_id
        if self.prekey_hash is not None:
            assert self.start_ciphertext is not None
            out += self.prekey_hash + self.start_ciphertext
        if self.kem_ciphertext is not None:
            out += self.kem_ciphertext
        if self.kem_public_key is not None:
            out += self.kem_public_key
        if self.mixed_id is not None:
            out += self.mixed_id
        return out

    def signature_tail(self, dst: bytes) -> bytes:
        """The signed bytes after `index`: dst || lp(kemPK) || lp(kemEncap) || preKeyHash."""
        encap = self.start_ciphertext if self.prekey_hash is not None else self.kem_ciphertext
        return signature_tail(dst, self.kem_public_key, encap, self.prekey_hash)


def signature_tail(
    dst: bytes, kem_public_key: bytes | None, encap: bytes | None, prekey_hash: bytes | None
) -> bytes:
    """dst || lp(kemPK) || lp(kemEncap) || preKeyHash, absent fields empty."""
    return dst + lp(kem_public_key or b"") + lp(encap or b"") + (prekey_hash or b"")


def plain_signature_tail(dst: bytes) -> bytes:
    """ChainHeader(point).signature_tail(dst) for any point: a plain chain's signed tail."""
    return signature_tail(dst, None, None, None)


def signature_body(
    ciphertext: bytes,
    auth_data: bytes,
    indicator: bytes,
    ecdh_public_key: bytes,
    index: int,
    tail: bytes,
) -> bytes:
    """The exact bytes the sender signs (spec/04-wire-format.md §3)."""
    return (
        SIGNATURE_PREFIX
        + lp(ciphertext)
        + lp(auth_data)
        + indicator
        + ecdh_public_key
        + u32(index)
        + tail
    )


def encode_message(
    header_bytes: bytes,
    index: int,
    indicator: bytes,
    auth_data: bytes,
    ciphertext: bytes,
    signature: bytes,
) -> bytes:
    return header_bytes + u32(index) + indicator + lp(auth_data) + lp(ciphertext) + signature


@dataclass(frozen=True)
class ParsedMessage:
    """One message as parsed from the wire; nothing in it is trusted yet."""

    header: ChainHeader
    index: int
    indicator: bytes
    auth_data: bytes
    ciphertext: bytes
    signature: bytes
    raw: bytes = field(repr=False)
    header_length: int
    # first, chunked: the transport block and its bytes (class defaults for PQ3 messages)
    transport: TransportBlock | None = None
    transport_bytes: bytes = b""

    def signed_body(self, dst: bytes) -> bytes:
        tail = self.header.signature_tail(dst)
        if self.transport is not None:
            tail += transport_tail(self.header, self.transport_bytes)
        return signature_body(
            self.ciphertext,
            self.auth_data,
            self.indicator,
            self.header.ecdh_public_key,
            self.index,
            tail,
        )


def chain_header_digest(msg: ParsedMessage) -> bytes:
    """SHA-384 of a message's chain header bytes, which every later message of its chain
    must repeat (03-ratchet.md §3; session state field 13)."""
    return sha384(msg.raw[: msg.header_length])


def transport_tail(header: ChainHeader, block_bytes: bytes) -> bytes:
    """What a `first` or `chunked` message adds to the signed tail: lp(mark) || lp(block)."""
    return lp(header.mixed_id or b"") + lp(block_bytes)


def read_chain_header(r: Reader, profile: Profile | None = None) -> ChainHeader:
    """Read version, flags, ecdhPK and the chain material the flags announce.

    `profile` is the session's; None reads a session start, whose profile is PQ3's unless
    its header names another.
    """
    return _read_header(r, profile)[0]


def _read_prefix(r: Reader) -> tuple[int, bytes]:
    """Version, flags and ecdhPK: what every profile's chain header begins with."""
    version = r.u8("version")
    if version != WIRE_VERSION:
        raise UnsupportedVersionError(f"message version {version} is not supported")
    flags = r.u8("flags")
    if flags & ~KNOWN_FLAGS:
        raise MalformedInputError(f"message has unknown flags {flags:#04x}")
    if flags & FLAG_SESSION_START and flags & FLAG_KEM_CIPHERTEXT:
        raise MalformedInputError("a session-start chain cannot answer a rekey")
    return flags, r.take(P256_POINT_SIZE, "ecdhPK")


def chain_of(data: bytes) -> tuple[bool, bytes]:
    """(whether it starts a session, its ecdhPK) of a message whose profile is not known yet
    (04-wire-format.md §1): for routing it to a session, which then parses it whole."""
    flags, ecdh_pk = _read_prefix(Reader(data, "message"))
    return bool(flags & FLAG_SESSION_START), ecdh_pk


def _read_header(r: Reader, profile: Profile | None) -> tuple[ChainHeader, Profile]:
    flags, ecdh_pk = _read_prefix(r)
    profile_id = None
    if flags & FLAG_PROFILE:
        if not flags & FLAG_SESSION_START:
            raise MalformedInputError("only a session-start chain names its profile")
        profile_id = r.take(r.u8("profile identifier length"), "profile identifier")
        named = Profile.from_bytes(profile_id)
        if named == PQ3:
            raise MalformedInputError("PQ3's own profile is never named on the wire")
        if profile is not None and named != profile:
            raise MalformedInputError("the message names another profile than the session's")
        profile = named
    elif profile is None:
        profile = PQ3
    elif flags & FLAG_SESSION_START and profile != PQ3:
        raise MalformedInputError("a session start of this profile must name it")
    deferred = profile.transport != "repeat"
    if flags & FLAG_MIXED and (not deferred or flags & FLAG_SESSION_START):
        raise MalformedInputError("a mixed mark on a chain that cannot carry one")
    if deferred and flags & (FLAG_KEM_CIPHERTEXT | FLAG_KEM_PUBLIC_KEY):
        raise MalformedInputError("this profile carries rekey material in its transport block")
    start_size, ct_size, pk_size = _kem_sizes(profile)
    prekey_hash = start_ct = kem_ct = kem_pk = mixed = None
    if flags & FLAG_SESSION_START:
        prekey_hash = r.take(PREKEY_HASH_SIZE, "preKeyHash")
        start_ct = r.take(start_size, "start ciphertext")
    if flags & FLAG_KEM_CIPHERTEXT:
        kem_ct = r.take(ct_size, "KEM ciphertext")
    if flags & FLAG_KEM_PUBLIC_KEY:
        kem_pk = r.take(pk_size, "KEM public key")
    if flags & FLAG_MIXED:
        mixed = r.take(REKEY_ID_SIZE, "mixed rekey id")
    header = ChainHeader(ecdh_pk, prekey_hash, start_ct, kem_ct, kem_pk, profile_id, mixed)
    return header, profile


def _kem_sizes(profile: Profile) -> tuple[int, int, int]:
    """(start ciphertext, rekey ciphertext, rekey public key) sizes of a profile."""
    if profile is PQ3:
        return MLKEM1024_CIPHERTEXT_SIZE, MLKEM768_CIPHERTEXT_SIZE, MLKEM768_PUBLIC_KEY_SIZE
    rekey = profile.rekey
    return profile.start.ciphertext_size, rekey.ciphertext_size, rekey.public_key_size


def _header_length(flags: int) -> int:
    n = 2 + P256_POINT_SIZE
    if flags & FLAG_SESSION_START:
        n += PREKEY_HASH_SIZE + MLKEM1024_CIPHERTEXT_SIZE
    if flags & FLAG_KEM_CIPHERTEXT:
        n += MLKEM768_CIPHERTEXT_SIZE
    if flags & FLAG_KEM_PUBLIC_KEY:
        n += MLKEM768_PUBLIC_KEY_SIZE
    return n


# Header length for every legal PQ3 flag byte (other profiles' flags, unknown bits and
# SESSION_START with KEM_CIPHERTEXT are absent, so they take the strict path).
_HEADER_LENGTHS = {
    f: _header_length(f)
    for f in range(PQ3_FLAGS + 1)
    if not (f & FLAG_SESSION_START and f & FLAG_KEM_CIPHERTEXT)
}
_FIXED_AFTER_HEADER = LENGTH_PREFIX_SIZE + KEY_INDICATOR_SIZE
_U32 = struct.Struct(">I")
# Chain headers recur on every message of a chain; they are public, so parsed ones are kept.
_HEADER_CACHE: dict[bytes, ChainHeader] = {}
_HEADER_CACHE_SIZE = 256


def parse_message(data: bytes, profile: Profile | None = None) -> ParsedMessage:
    """Parse one message strictly: known version and flags, exact lengths, no trailing bytes.

    `profile` is the receiving session's (its KEM sizes); None parses a session start
    (read_chain_header). The fast path below, for PQ3 only, accepts exactly what the strict
    path accepts: it returns only when every length is consistent, and leaves every other
    input to the strict path's errors.
    """
    if profile is not None and profile is not PQ3:
        return _parse_strict(data, profile)
    if type(data) is bytes and len(data) > 2 and data[0] == WIRE_VERSION:
        h = _HEADER_LENGTHS.get(data[1])
        n = len(data)
        if h is not None and n >= h + _FIXED_AFTER_HEADER + 2 * LENGTH_PREFIX_SIZE:
            p = h + _FIXED_AFTER_HEADER
            (ad_len,) = _U32.unpack_from(data, p)
            q = p + LENGTH_PREFIX_SIZE + ad_len
            if ad_len <= MAX_AUTH_DATA_LENGTH and n >= q + LENGTH_PREFIX_SIZE:
                (ct_len,) = _U32.unpack_from(data, q)
                end = q + LENGTH_PREFIX_SIZE + ct_len
                if ct_len <= MAX_PLAINTEXT_LENGTH and n == end + P256_SIGNATURE_SIZE:
                    raw_header = data[:h]
                    header = _HEADER_CACHE.get(raw_header)
                    if header is None:
                        header = read_chain_header(Reader(raw_header, "message"))
                        if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
                            _HEADER_CACHE.clear()
                        _HEADER_CACHE[raw_header] = header
                    # Same fields as the dataclass __init__ sets, without its per-field
                    # object.__setattr__ calls (a third of this function's time).
                    msg = object.__new__(ParsedMessage)
                    object.__setattr__(
                        msg,
                        "__dict__",
                        {
                            "header": header,
                            "index": _U32.unpack_from(data, h)[0],
                            "indicator": data[h + LENGTH_PREFIX_SIZE : p],
                            "auth_data": data[p + LENGTH_PREFIX_SIZE : q],
                            "ciphertext": data[q + LENGTH_PREFIX_SIZE : end],
                            "signature": data[end:],
                            "raw": data,
                            "header_length": h,
                        },
                    )
                    return msg
    return _parse_strict(data)


def _parse_strict(data: bytes, profile: Profile | None = None) -> ParsedMessage:
    r = Reader(data, "message")
    header, profile = _read_header(r, profile)
    header_length = len(data) - r.remaining()
    block = None
    block_bytes = b""
    if profile.transport != "repeat":
        block = read_block(r, profile)
        block_bytes = bytes(data[header_length : len(data) - r.remaining()])
    index = r.u32("index")
    indicator = r.take(KEY_INDICATOR_SIZE, "key indicator")
    auth_data = r.lp("auth data", MAX_AUTH_DATA_LENGTH)
    ciphertext = r.lp("ciphertext", MAX_PLAINTEXT_LENGTH)
    signature = r.take(P256_SIGNATURE_SIZE, "signature")
    r.done()
    return ParsedMessage(
        header=header,
        index=index,
        indicator=indicator,
        auth_data=auth_data,
        ciphertext=ciphertext,
        signature=signature,
        raw=bytes(data),
        header_length=header_length,
        transport=block,
        transport_bytes=block_bytes,
    )
