"""The package's one exception hierarchy (spec/05-validation.md §1).

Owns: the failure classes every public entry point raises.
Not: deciding which check fails; the layers do that.

The hierarchy:

- `PQ3Error`: the base of every error pq3proto raises.
    - `MalformedInputError`: bytes that do not parse.
        - `UnsupportedVersionError`: a version or suite this implementation does not speak.
    - `InvalidKeyError`: a public key that is not a valid point or encapsulation key.
    - `AuthenticationError`: a signature, key indicator or bundle signature failed.
        - `DowngradeError`: an owed PQ rekey is missing, or KEM material is out of place.
    - `ReplayError`: the message, or its session start, was already accepted.
    - `TooFarAheadError`: beyond the skip bounds, or its chain was already dropped.
    - `MisuseError`: the API was used in a way the state does not allow.
    - `BackendUnavailableError`: a requested backend is not present.
    - `pq3proto.store.StoreError`: the session database cannot be opened or used.

A failed call changes nothing: catch the class, drop the input, carry on.

Messages carry counts, lengths and indices, never key or plaintext bytes. Detailed reasons
help debugging but can also help an attacker probe a receiver; applications that expose
errors to peers should map every subclass to one generic answer.
"""

from __future__ import annotations


class PQ3Error(Exception):
    """Base class of every error raised by pq3proto."""


class MalformedInputError(PQ3Error):
    """Bytes that do not parse: wrong length, trailing bytes, bad prefix or flag."""


class UnsupportedVersionError(MalformedInputError):
    """A version byte or suite this implementation does not speak."""


class InvalidKeyError(PQ3Error):
    """A public key that is not a valid P-256 point or ML-KEM encapsulation key."""


class AuthenticationError(PQ3Error):
    """A signature, key indicator or prekey bundle signature did not verify."""


class DowngradeError(AuthenticationError):
    """A PQ rekey that was owed to us is missing, or KEM material is where it may not be."""


class IdentityChangedError(AuthenticationError):
    """A validly signed start or bundle for a known peer name under another long-term key."""


class ProfileNotAllowedError(DowngradeError):
    """A session start under a profile the accepting device does not allow."""


class ReplayError(PQ3Error):
    """The message, or the session start it carries, was already accepted."""


class TooFarAheadError(PQ3Error):
    """The message lies beyond the skip bounds, or its chain was already dropped."""


class MisuseError(PQ3Error):
    """The API was used in a way the state does not allow (wrong device, bad argument)."""


class BackendUnavailableError(PQ3Error):
    """A requested backend (a KEM library, the native extension) is not present."""


class UnknownKemError(MisuseError):
    """A KEM name that no profile knows (names are liboqs's, e.g. "ML-KEM-768")."""


class ProfileError(MisuseError):
    """Profile fields that do not make a valid profile (transport, chunk parameters)."""


class UnsupportedProfileError(UnsupportedVersionError):
    """A profile identifier this implementation does not speak, or one not canonical."""


class ChunkError(MalformedInputError):
    """A chunk of KEM material that does not parse or does not fit the material it joins."""


class InconsistentChunkError(ChunkError):
    """Chunks that disagree: the same index twice with different bytes, or a rebuilt
    material whose identifier or padding does not check out (a forged or corrupt chunk)."""


# One text for a message signature that fails, on both hot paths, so that the failure reads
# the same whichever path ran. The hints name only what the caller passed in.
MESSAGE_SIGNATURE_FAILED = "message: signature does not verify or is not canonical"
ACCEPT_HINT = (
    "check the peer identity passed to accept, and that the message was sent to this device"
)
DECRYPT_HINT = (
    "check that the message came from this session's peer, not from this session itself"
)


def hinted(error: AuthenticationError, hint: str) -> AuthenticationError:
    """A message-signature failure with `hint` appended; any other error unchanged."""
    if type(error) is AuthenticationError and str(error) == MESSAGE_SIGNATURE_FAILED:
        return AuthenticationError(f"{MESSAGE_SIGNATURE_FAILED}; {hint}")
    return error


class ClusterError(PQ3Error):
    """The distributed engine failed a run: a task raised, or the cluster could not start."""


class ClusterUnreachableError(ClusterError):
    """No Dask scheduler answered at the given address within the connect timeout."""


class WorkerLostError(ClusterError):
    """A cluster worker left while the run still needed it; the run has no result."""
