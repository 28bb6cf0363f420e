"""Interop between implementations: a driver protocol and a scenario runner (spec/09).

Owns: `pq3proto interop serve` (this package behind the driver protocol) and
`pq3proto interop run` (scenarios between any two drivers).
Not: the protocol itself; every operation goes through Session and Device.
"""

from __future__ import annotations

from .driver import Driver, serve
from .runner import RunReport, run

__all__ = ["Driver", "RunReport", "run", "serve"]
