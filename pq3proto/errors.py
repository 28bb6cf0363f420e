"""The package's one exception hierarchy (spec/05-validation.md §1).

Owns: the failure classes every public entry point raises.
Not: deciding which check fails; the layers do that.

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


class ClusterError(PQ3Error):
    """The distributed engine failed a run: a task raised, or the cluster could not start."""


class ClusterUnreachableError(ClusterError):
    """No Dask scheduler answered at the given address within the connect timeout."""


class WorkerLostError(ClusterError):
    """A cluster worker left while the run still needed it; the run has no result."""
