"""Interop test vectors: generator, verifier and schemas (spec/test-vectors.md).

Owns: the committed vector set under spec/vectors/ (one JSON file per protocol layer plus
whole-conversation transcripts), its JSON Schemas, the generator that writes it byte for
byte reproducibly, and the verifier that checks a vector directory against this package.
Not: any protocol computation; every value comes from the protocol modules.
"""

from __future__ import annotations

from .generate import generate_all, write_all
from .verify import VerifyReport, verify_directory, verify_path

__all__ = ["VerifyReport", "generate_all", "verify_directory", "verify_path", "write_all"]
