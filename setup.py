"""Build hook for the optional C hot path `_pq3proto_native` (native/build_native.py).

Everything else lives in pyproject.toml. Without a C compiler or the OpenSSL headers the
install still succeeds, pure Python, with a warning; pq3proto.native.unavailable_reason()
then says why at run time.
"""

from __future__ import annotations

import sys
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

try:  # setuptools >= 59 vendors distutils; its errors are what compilers raise
    from distutils.errors import CCompilerError, DistutilsError
except ImportError:  # pragma: no cover
    from setuptools.errors import CCompileError as CCompilerError  # type: ignore
    from setuptools.errors import DistutilsError  # type: ignore

_WARNING = """
******************************************************************************
WARNING: pq3proto's C extension _pq3proto_native was not built:
    {error}
pq3proto is installed and works on its pure-Python path, only slower.
To get the C path: install a C compiler and the OpenSSL 3 headers
(Debian/Ubuntu: apt-get install build-essential libssl-dev), then reinstall.
******************************************************************************
"""


class OptionalBuildExt(build_ext):
    """build_ext that turns a failed C build into a warning instead of a failed install."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, DistutilsError, OSError) as exc:
            self._warn(exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except (CCompilerError, DistutilsError, OSError) as exc:
            self._warn(exc)

    @staticmethod
    def _warn(exc: BaseException) -> None:
        sys.stderr.write(_WARNING.format(error=f"{type(exc).__name__}: {exc}"))
        sys.stderr.flush()


setup(
    cmdclass={"build_ext": OptionalBuildExt},
    cffi_modules=["native/build_native.py:ffibuilder"],
)
