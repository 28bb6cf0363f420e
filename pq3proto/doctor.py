"""`pq3proto doctor`: what this installation runs on, and what to install for what is missing.

Owns: the report of the hot path and why, the KEM backends and the chosen one, liboqs, the
library versions, and the advice; as text or as JSON (schema "pq3proto-doctor/1").
Not: choosing a path or a backend (paths.hot_path, kem.get_backend).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.metadata
import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from . import __version__, kem, native
from .cliargs import OQS_INSTALL, PLOT_INSTALL
from .errors import PQ3Error

__all__ = ["SCHEMA", "add_parser", "collect", "format_report"]

SCHEMA = "pq3proto-doctor/1"
_APT = "apt-get install gcc libssl-dev python3-dev"
_REINSTALL = (
    "then reinstall from the source tree: .venv/bin/pip install --force-reinstall --no-deps ."
    " (or -e '.[test]' for a development install)"
)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _build_tools() -> dict[str, bool]:
    """What the C build needs: a compiler, the OpenSSL headers, the Python headers."""
    includes = {sysconfig.get_paths().get("include") or "", "/usr/include"}
    inc_dir = sysconfig.get_config_var("INCLUDEDIR") or "/usr/include"
    return {
        "gcc": shutil.which(os.environ.get("CC") or "gcc") is not None,
        "openssl_headers": any(
            (Path(d) / "openssl" / "evp.h").exists() for d in (inc_dir, "/usr/include")
        ),
        "python_headers": any((Path(d) / "Python.h").exists() for d in includes if d),
    }


def _hot_path() -> dict[str, Any]:
    env = os.environ.get("PQ3PROTO_NATIVE")
    loaded = native.available()
    out: dict[str, Any] = {
        "active": None,
        "extension_loaded": loaded,
        "extension_reason": native.unavailable_reason() or None,
        "PQ3PROTO_NATIVE": env,
        "error": None,
    }
    try:
        out["active"] = native.active_path()
    except PQ3Error as e:
        out["error"] = f"{type(e).__name__}: {e}"
    choice = (env or "").strip()
    if out["error"]:
        why = "no path: " + out["error"]
    elif choice == "0":
        why = "PQ3PROTO_NATIVE=0 asks for the pure-Python path"
    elif choice == "1":
        why = "PQ3PROTO_NATIVE=1 asks for the C path, and the extension loaded"
    elif loaded:
        why = "the C extension loaded (PQ3PROTO_NATIVE unset: the best path available)"
    else:
        why = "the C extension is not loaded, so the slower pure-Python path runs"
    out["why"] = why
    if not loaded:
        out["build_tools"] = _build_tools()
    return out


def _kem() -> dict[str, Any]:
    env = os.environ.get(kem.ENV_BACKEND)
    chosen = env or kem.DEFAULT_BACKEND
    reasons = kem.available_backends()
    return {
        "chosen": chosen,
        kem.ENV_BACKEND: env,
        "chosen_usable": reasons.get(chosen, "unknown backend") is None,
        "backends": {name: {"usable": why is None, "reason": why} for name, why in reasons.items()},
    }


def _liboqs() -> dict[str, Any]:
    found = kem.find_liboqs()
    version: str | None = None
    if found is not None:
        try:
            fn = ctypes.CDLL(str(found)).OQS_version
            fn.restype = ctypes.c_char_p
            raw = fn()
            version = raw.decode() if raw else None
        except (OSError, AttributeError):
            version = None
    return {
        "library": None if found is None else str(found),
        "version": version,
        "liboqs_python": _version("liboqs-python"),
        "OQS_INSTALL_PATH": os.environ.get("OQS_INSTALL_PATH"),
    }


def _openssl() -> dict[str, Any]:
    from cryptography.hazmat.backends.openssl.backend import backend

    from .benchmarks_support import machine_info

    system = machine_info()["openssl_system_libcrypto"]
    return {
        "system_libcrypto": system.get("version"),
        "system_libcrypto_path": system.get("library"),
        "cryptography": backend.openssl_version_text(),
    }


def _advice(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    hp = doc["hot_path"]
    if hp["error"]:
        out.append("set PQ3PROTO_NATIVE to 0, 1 or leave it unset")
    if not hp["extension_loaded"]:
        tools = hp.get("build_tools", {})
        missing = [k for k, ok in tools.items() if not ok]
        need = f" (missing here: {', '.join(missing)})" if missing else ""
        out.append(f"for the C path{need}: {_APT}; {_REINSTALL}")
    if not doc["kem"]["chosen_usable"]:
        out.append(
            f"the chosen KEM backend {doc['kem']['chosen']!r} cannot run: unset "
            f"{kem.ENV_BACKEND} or install what its reason names"
        )
    if doc["liboqs"]["library"] is None:
        out.append(
            "optional, for the liboqs backend: build liboqs as a shared library, set "
            f"OQS_INSTALL_PATH to its prefix, and {OQS_INSTALL}"
        )
    elif doc["liboqs"]["liboqs_python"] is None:
        out.append(f"optional, for the liboqs backend: {OQS_INSTALL}")
    if doc["versions"]["matplotlib"] is None:
        out.append(f"optional, for simulate --plot: {PLOT_INSTALL}")
    return out


def collect() -> dict[str, Any]:
    """Everything the report says, as JSON-ready data."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "pq3proto": __version__,
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "hot_path": _hot_path(),
        "kem": _kem(),
        "liboqs": _liboqs(),
        "openssl": _openssl(),
        "versions": {
            name: _version(name)
            for name in ("cryptography", "cffi", "numpy", "kyber-py", "matplotlib")
        },
    }
    doc["advice"] = _advice(doc)
    doc["ok"] = doc["hot_path"]["error"] is None and doc["kem"]["chosen_usable"]
    return doc


def format_report(doc: dict[str, Any]) -> str:
    """The human form of `collect()`."""
    hp, k, oqs, ssl, v = doc["hot_path"], doc["kem"], doc["liboqs"], doc["openssl"], doc["versions"]
    env = hp["PQ3PROTO_NATIVE"]
    lines = [
        f"pq3proto doctor: pq3proto {doc['pq3proto']}, Python {doc['python']} "
        f"({doc['python_executable']})",
        f"  hot path      {hp['active'] or 'none'}: {hp['why']}",
        f"  extension     {'loaded' if hp['extension_loaded'] else 'not loaded'}"
        + (f": {hp['extension_reason']}" if hp["extension_reason"] else ""),
        f"  PQ3PROTO_NATIVE {'unset' if env is None else repr(env)} "
        "(0: pure Python, 1: native or fail, unset: best available)",
    ]
    if "build_tools" in hp:
        tools = ", ".join(f"{name} {'yes' if ok else 'MISSING'}" for name, ok in
                          hp["build_tools"].items())
        lines.append(f"  C build needs {tools}")
    env_kem = k[kem.ENV_BACKEND]
    lines.append(
        f"  KEM backend   {k['chosen']} ({kem.ENV_BACKEND}="
        f"{'unset, the default' if env_kem is None else repr(env_kem)})"
        f"{'' if k['chosen_usable'] else ': CANNOT RUN'}"
    )
    for name, b in k["backends"].items():
        # The first clause says what is missing; the advice below says what to install.
        state = "usable" if b["usable"] else f"unavailable: {b['reason'].split(': ')[0]}"
        lines.append(f"    {name:<11} {state}")
    if oqs["library"] is None:
        lines.append("  liboqs        not found")
    else:
        lines.append(
            f"  liboqs        {oqs['version'] or 'unknown version'} at {oqs['library']}; "
            f"liboqs-python {oqs['liboqs_python'] or 'not installed'}"
        )
    lines += [
        f"  OpenSSL       system libcrypto {ssl['system_libcrypto'] or 'not found'} "
        "(the C path); "
        f"cryptography's {ssl['cryptography']}",
        "  versions      " + ", ".join(f"{n} {ver or 'missing'}" for n, ver in v.items()),
    ]
    if doc["advice"]:
        lines.append("To install what is missing:")
        lines += [f"  - {a}" for a in doc["advice"]]
    else:
        lines.append("Nothing is missing.")
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    doc = collect()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_report(doc))
    return 0 if doc["ok"] else 1


def add_parser(subparsers: Any) -> None:
    """Register `pq3proto doctor`."""
    p = subparsers.add_parser(
        "doctor",
        help="say which hot path and KEM backend run here, and what to install",
        description="Report the active hot path and why, the KEM backends, liboqs, the "
        "OpenSSL and library versions, and what to install for anything missing. Exit "
        "status 1 when the configured path or KEM backend cannot run.",
    )
    p.add_argument("--json", action="store_true",
                   help=f"print the report as JSON, schema {SCHEMA} (default: text)")
    p.set_defaults(func=_main)
