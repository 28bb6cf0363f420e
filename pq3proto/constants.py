"""Every label, size and limit of the protocol, in one place (spec/01-conventions.md §4).

Owns: byte strings that enter a KDF or a signature, fixed field sizes, wire versions and
flags, and resource limits with the trade-off behind each.
Not: any computation. Code elsewhere never writes a label or a size literally.
"""

from __future__ import annotations

from typing import Final

# ── KDF and signature labels (spec/01-conventions.md §4) ──────────────────────────────────
LABEL_ROOT_DERIVATION: Final = b"rkDerivation-"
LABEL_MESSAGE_KEY: Final = b"msgKeyDerivation"
LABEL_CHAIN_KEY: Final = b"chainKeyDerivation"
LABEL_KEY_INDICATOR: Final = b"msg-key-ind"
LABEL_AES_CTR: Final = b"aes-ctr"
LABEL_SESSION_START: Final = b"session_start"
LABEL_PK_RATCHET: Final = b"pk_ratchet"
LABEL_SIGNATURE: Final = b"messageSignature"
LABEL_SIGNATURE_VERSION: Final = b"v1"
LABEL_PREKEY_SIGNATURE: Final = b"pq3proto prekey bundle v1"
# Appended, with the profile identifier, to dst (and so to every signature and derivation)
# of a session under a profile other than PQ3's; PQ3's dst is unchanged (spec/10-profiles.md).
LABEL_PROFILE: Final = b"pq3proto profile"

# PQ3 pseudocode writes the first root key as b'0' * 32: 32 bytes of ASCII '0' (0x30).
INITIAL_ROOT_KEY: Final = b"0" * 32

# ── Sizes in bytes ───────────────────────────────────────────────────────────────────────
ROOT_KEY_SIZE: Final = 32
CHAIN_KEY_SIZE: Final = 32
MESSAGE_KEY_SIZE: Final = 32
KEY_INDICATOR_SIZE: Final = 32
AES_KEY_SIZE: Final = 32
AES_IV_SIZE: Final = 16
HASH_SIZE: Final = 48  # SHA-384, also the HKDF-SHA384 PRK size and the all-zero salt size
PREKEY_HASH_SIZE: Final = 48
P256_POINT_SIZE: Final = 65  # SEC1 uncompressed: 0x04 || X || Y
P256_SCALAR_SIZE: Final = 32
P256_SIGNATURE_SIZE: Final = 64  # raw r || s, each 32 bytes big-endian
ECDH_SECRET_SIZE: Final = 32
LENGTH_PREFIX_SIZE: Final = 4  # every length prefix is a big-endian uint32
KEM_SEED_SIZE: Final = 64  # ML-KEM decapsulation key kept as d || z (FIPS 203)
KEM_COINS_SIZE: Final = 32  # ML-KEM encapsulation randomness m
KEM_SHARED_SECRET_SIZE: Final = 32
# Longest KEM secret the C root step takes (PQ3_MAX_KEM_SECRET): the profiles' are 16-32.
MAX_KEM_SHARED_SECRET_SIZE: Final = 64
MLKEM768_PUBLIC_KEY_SIZE: Final = 1184
MLKEM768_CIPHERTEXT_SIZE: Final = 1088
MLKEM1024_PUBLIC_KEY_SIZE: Final = 1568
MLKEM1024_CIPHERTEXT_SIZE: Final = 1568

# ── Wire format (spec/04-wire-format.md) ────────────────────────────────────────────────
WIRE_VERSION: Final = 0x01
FLAG_SESSION_START: Final = 0x01  # preKeyHash (48) || ML-KEM-1024 ciphertext (1568)
FLAG_KEM_CIPHERTEXT: Final = 0x02  # ML-KEM-768 ciphertext answering the peer's rekey key
FLAG_KEM_PUBLIC_KEY: Final = 0x04  # fresh ML-KEM-768 encapsulation key asking for a rekey
# u8(len) || profile identifier, on session-start chains of a profile other than PQ3's
# (spec/10-profiles.md §3); PQ3 sessions never set it, so their bytes are unchanged.
FLAG_PROFILE: Final = 0x08
# mixedId (4): this chain's root key mixed the rekey secret of that request; `first` and
# `chunked` profiles only, never on a session-start chain (spec/10-profiles.md §3.2).
FLAG_MIXED: Final = 0x10
REKEY_ID_SIZE: Final = 4  # a rekey request's or answer's id: its material id (§4.2)
KNOWN_FLAGS: Final = (
    FLAG_SESSION_START | FLAG_KEM_CIPHERTEXT | FLAG_KEM_PUBLIC_KEY | FLAG_PROFILE | FLAG_MIXED
)
PQ3_FLAGS: Final = FLAG_SESSION_START | FLAG_KEM_CIPHERTEXT | FLAG_KEM_PUBLIC_KEY

IDENTITY_VERSION: Final = 0x01
BUNDLE_VERSION: Final = 0x01
BUNDLE_VERSION_PROFILE: Final = 0x02  # carries the owner's profile; only for non-PQ3 profiles
# Version 2 records each receiving chain's header digest (spec/06-state.md §1); version 1
# blobs still load, their chains unchecked until they are dropped.
SESSION_STATE_VERSION: Final = 0x02
SESSION_STATE_VERSION_1: Final = 0x01
HEADER_DIGEST_SIZE: Final = 48  # SHA-384 of a chain header's wire bytes, kept per chain
DEVICE_STATE_VERSION: Final = 0x01
DEVICE_STATE_VERSION_PROFILE: Final = 0x02  # a device whose profile is not PQ3's

# ── Limits ──────────────────────────────────────────────────────────────────────────────
# Largest forward jump inside one receiving chain. Each skipped index costs one chain step
# (two HMACs) and one stored key; a bound stops a forged-looking but validly signed index
# from burning CPU. Messages are signed, so only the peer device can trigger it.
MAX_FORWARD_JUMP: Final = 2_000
# Skipped message keys kept for late messages, across all chains. Each is 32 secret bytes;
# keeping them weakens forward secrecy for exactly those messages, so the oldest go first.
MAX_SKIPPED_KEYS: Final = 2_000
# Old receiving chains kept (their chain keys let late messages of a finished turn decrypt).
# A chain beyond this is dropped together with its skipped keys.
MAX_RECEIVING_CHAINS: Final = 5
# Peer ratchet keys of dropped chains remembered, so a very late message gets "too far
# behind" (TooFarAheadError) rather than looking like a forged ratchet step.
MAX_RETIRED_CHAINS: Final = 64
# A u32 field (message index, length prefixes): the largest value the wire can carry.
U32_MAX: Final = 0xFFFF_FFFF
# Address URIs are identifiers, not documents.
MAX_URI_LENGTH: Final = 1_024
# A prekey bundle under any profile (the largest start KEM key is FrodoKEM-1344's 21,520 B).
MAX_BUNDLE_LENGTH: Final = 1 << 16
MAX_DEVICE_ID: Final = 0xFFFF_FFFF
# Payload and associated data limits keep length prefixes and buffers sane.
MAX_PLAINTEXT_LENGTH: Final = 1 << 24
MAX_AUTH_DATA_LENGTH: Final = 1 << 16
# Session starts a device remembers per prekey to refuse replays (oldest forgotten first).
MAX_REMEMBERED_SESSION_STARTS: Final = 100_000

# Bytes of SHA-384(ratchet point) that name a chain in a trace (public; 8 hex digits).
TRACE_CHAIN_ID_BYTES: Final = 4
# Sessions a SessionStore keeps per peer device besides the one that sends (libsignal keeps
# 40). A retained session lets late messages of an older or a crossed session start still
# open, so a withheld or reordered start never destroys a live session. Each costs a few KB
# of secret state at rest (its chain keys can still open that session's undelivered messages)
# and, for a message whose chain no session knows, one more trial (a signature check, an ECDH
# and possibly an ML-KEM decapsulation). The least recently used previous session goes first.
MAX_PREVIOUS_SESSIONS: Final = 4
# Decoded sessions a SessionStore object keeps between steps, checked against the stored
# blob before each use. A hit skips a decode and continues the session's own sending chain;
# a miss restores from the blob. Memory only; the blobs on disk are the truth.
MAX_STORE_LIVE_SESSIONS: Final = 64

# Counters in a stored session state (messages, bytes) stay below this, so that no increment
# of a restored state can overflow its uint64 field; no real session comes near it.
MAX_STORED_COUNTER: Final = 1 << 62

# ── Rekey policy defaults (spec/03-ratchet.md §5) ──────────────────────────────────────
DEFAULT_REKEY_MESSAGES: Final = 50
DEFAULT_REKEY_SECONDS: Final = 7 * 24 * 3600
# Policy values must survive persistence exactly: counts fit a uint32, ages are whole
# milliseconds up to a century.
MAX_REKEY_MESSAGES: Final = 0xFFFF_FFFF
MAX_REKEY_SECONDS: Final = 100 * 365 * 24 * 3600

# ── Protocol profiles (spec/10-profiles.md) ────────────────────────────────────────────
# Per-KEM sizes live in kem_table.py, next to the KEM codes; the ML-KEM ones above are theirs.
MLKEM512_PUBLIC_KEY_SIZE: Final = 800
MLKEM512_CIPHERTEXT_SIZE: Final = 768
PROFILE_ENCODING_VERSION: Final = 0x01
PROFILE_FIXED_SIZE: Final = 6  # version (1) || start KEM (2) || rekey KEM (2) || transport (1)
PROFILE_CHUNK_PARAMS_SIZE: Final = 3  # chunk size (2) || expansion (1), chunked only
TRANSPORT_REPEAT: Final = 0x01
TRANSPORT_FIRST: Final = 0x02
TRANSPORT_CHUNKED: Final = 0x03
DEFAULT_START_KEM: Final = "ML-KEM-1024"
DEFAULT_REKEY_KEM: Final = "ML-KEM-768"

# ── Chunked transport (spec/10-profiles.md §4) ─────────────────────────────────────────
LABEL_CHUNK_MATERIAL_ID: Final = b"pq3proto chunked material v1"
CHUNK_KIND_PUBLIC_KEY: Final = 0x01
CHUNK_KIND_CIPHERTEXT: Final = 0x02
CHUNK_MATERIAL_ID_SIZE: Final = REKEY_ID_SIZE
# kind (1) || material id (4) || k (2) || n (2) || i (2), then the chunk's bytes
CHUNK_HEADER_SIZE: Final = 1 + CHUNK_MATERIAL_ID_SIZE + 2 + 2 + 2
# The code works on 16-bit symbols, one per GF(2^16) element, so a chunk holds whole symbols.
CHUNK_SYMBOL_SIZE: Final = 2
# Chunk i is the code's value at the GF(2^16) point i, and n is a uint16: at most 65,535
# chunks. A chunk is at most 2 KiB, so it never dominates a message.
MAX_CHUNK_COUNT: Final = 0xFFFF
MIN_CHUNK_SIZE: Final = 2
MAX_CHUNK_SIZE: Final = 2048
DEFAULT_CHUNK_SIZE: Final = 64  # ML-KEM-768: 19 + 17 chunks, a rekey within 50 messages
# n = expansion * k chunks are sent in turn; any k rebuild the material.
MIN_CHUNK_EXPANSION: Final = 1
MAX_CHUNK_EXPANSION: Final = 255
DEFAULT_CHUNK_EXPANSION: Final = 4
# ── Deferred transports, `first` and `chunked` (spec/10-profiles.md §3.4) ─────────────
# The transport block after the chain header: flags, then the fields they announce.
TBLOCK_REQUEST: Final = 0x01  # requestId (4): the sender's open rekey request
TBLOCK_ANSWER: Final = 0x02  # answeredId (4) || answerId (4): the sender's pending answer
TBLOCK_ANSWER_MATERIAL: Final = 0x04  # the answer's ciphertext, whole (first) or one chunk
TBLOCK_REQUEST_MATERIAL: Final = 0x08  # the request's key, whole (first) or one chunk
TBLOCK_KNOWN: Final = (
    TBLOCK_REQUEST | TBLOCK_ANSWER | TBLOCK_ANSWER_MATERIAL | TBLOCK_REQUEST_MATERIAL
)
# Ids of finished rekeys each side remembers, so that their late material is ignored.
MAX_DONE_REKEY_IDS: Final = 8
# A Reassembler persisted inside a session state (chunking.py): its own version byte.
REASSEMBLER_STATE_VERSION: Final = 0x01
