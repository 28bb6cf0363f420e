"""Which message path sessions use (spec/03-ratchet.md §4; README, the C hot path).

Owns: `hot_path`, the HotPath object that sessions, the verifier and the benchmarks take,
after PQ3PROTO_NATIVE and whether the C extension loaded (native_ext.selected).
Not: either path itself (message.py, native.py).
"""

from __future__ import annotations

from . import native, native_ext
from .message import PYTHON, HotPath


def hot_path() -> HotPath:
    """The path selected by PQ3PROTO_NATIVE: '0' Python, '1' native (or fail), unset: best."""
    return native.NATIVE if native_ext.selected() else PYTHON
