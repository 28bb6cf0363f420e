"""pq3proto: a faithful, fast PQ3-style post-quantum messaging protocol.

    from pq3proto import Device, Session, RekeyPolicy, PQ3Error

    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    b, first = Session.accept(bob, alice.public_identity(), a.encrypt(b"hello"),
                              save_device=lambda d: None)   # persist d in a real application
    assert a.decrypt(b.encrypt(b"hi")) == b"hi"

The normative description is spec/ in the source tree; this package follows it.

Modules of the public API:

- `pq3proto.identity`: devices, their public identities and signed prekey bundles.
- `pq3proto.session`: `Session` (start, encrypt, decrypt, persist) and `SessionStats`.
- `pq3proto.profile`: `Profile`, the design a session runs (KEMs, how rekey material travels).
- `pq3proto.trace`: the per-message trace (`Session.tracer`, `TraceRecorder`).
- `pq3proto.policy`: `RekeyPolicy`, when a sender asks for a fresh ML-KEM-768 secret.
- `pq3proto.store`: `SessionStore`, durable sessions in SQLite.
- `pq3proto.errors`: the one exception hierarchy; every error derives from `PQ3Error`.
- `pq3proto.kem`: the KEMs by name, and the ML-KEM backends (openssl, reference, liboqs).
- `pq3proto.native`: the optional C hot path; `native.active_path()` says which path runs.
- `pq3proto.traffic`, `pq3proto.experiments`: traffic shapes, and the adversary experiments
  behind `pq3proto simulate`.
- `pq3proto.vectors`: the interop test vectors.
- `pq3proto.constants`: every label, size and limit.

`SessionStats` counts one side of a session:

- `sent`, `received`: messages this side sealed and opened.
- `wire_bytes`, `plaintext_bytes`: bytes of the messages this side *sent* only; a
  conversation's total is the sum over both sides.
- `ecdh_ratchets`: ECDH ratchet steps this side took, sending and receiving.
- `pq_rekeys`: ML-KEM-768 secrets mixed into this side's root key. Both sides mix in every
  completed rekey, so each side counts every rekey of the conversation, whichever side asked
  for it: do not add the two sides' counts.
"""

from .errors import (
    AuthenticationError,
    BackendUnavailableError,
    DowngradeError,
    IdentityChangedError,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
    ReplayError,
    TooFarAheadError,
    UnsupportedVersionError,
)
from .identity import Device, PrekeyBundle, PublicIdentity
from .policy import RekeyPolicy
from .profile import Profile
from .session import Session
from .session_state import SessionStats
from .store import StoreError

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BackendUnavailableError",
    "Device",
    "DowngradeError",
    "IdentityChangedError",
    "InvalidKeyError",
    "MalformedInputError",
    "MisuseError",
    "PQ3Error",
    "PrekeyBundle",
    "Profile",
    "PublicIdentity",
    "RekeyPolicy",
    "ReplayError",
    "Session",
    "SessionStats",
    "StoreError",
    "TooFarAheadError",
    "UnsupportedVersionError",
    "__version__",
]
