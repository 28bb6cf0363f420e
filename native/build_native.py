"""cffi builder of the C hot path `_pq3proto_native` (spec/03-ratchet.md §4).

Owns: the cdef (read from native/pq3native.h), the compile and link flags.
Not: the C code (native/pq3native_*.c) or the Python wrapper (pq3proto/native.py).

Run from the project root (setup.py does), or directly: `python native/build_native.py`
builds the module in place for a quick check.
"""

from __future__ import annotations

import glob
import os

from cffi import FFI

_HERE = os.path.dirname(os.path.abspath(__file__))
_HEADER = os.path.join(_HERE, "pq3native.h")
# The library is every native/pq3native_*.c (test_pq3native.c is the sanitizer harness).
SOURCES = sorted(glob.glob(os.path.join(_HERE, "pq3native_*.c")))

# -Wpedantic stays off here: cffi's generated wrapper is not pedantic C99. The C files
# themselves are compiled with -Wpedantic by tests/test_native.py.
EXTRA_COMPILE_ARGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def _cdef() -> str:
    """The header without preprocessor lines: cffi parses declarations only."""
    with open(_HEADER, encoding="utf-8") as f:
        return "".join(line for line in f if not line.lstrip().startswith("#"))


def _rel(path: str) -> str:
    """setuptools wants source paths relative to the project root it runs in."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "_pq3proto_native",
    '#include "pq3native.h"\n',
    sources=[_rel(f) for f in SOURCES],
    include_dirs=[_rel(_HERE)],
    libraries=["crypto"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=_HERE, verbose=True)
