"""The failure classes of profiles, named KEMs and chunked material (spec/10-profiles.md).

Owns: five subclasses of errors.py's classes.
Not: the hierarchy's roots (errors.py).

They live here, not in errors.py, until profiles are wired: the vector schemas enumerate
errors.py's classes, and the committed vectors must not change before they cover profiles.
Catching the parents (MisuseError, MalformedInputError, PQ3Error) catches these too.
"""

from __future__ import annotations

from .errors import MalformedInputError, MisuseError, UnsupportedVersionError


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
