"""pq3proto: a faithful, fast PQ3-style post-quantum messaging protocol.

    from pq3proto import Device, Session, RekeyPolicy, PQ3Error

The normative description is spec/ in the source tree; this package follows it.
"""

from .errors import (
    AuthenticationError,
    BackendUnavailableError,
    DowngradeError,
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
from .session import Session, SessionStats

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BackendUnavailableError",
    "Device",
    "DowngradeError",
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
    "TooFarAheadError",
    "UnsupportedVersionError",
    "__version__",
]
