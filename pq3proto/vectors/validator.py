"""A JSON Schema validator for the subset of draft 2020-12 the vector schemas use.

Owns: `validate`, which implements exactly the keywords of schemas.py so the verifier needs
no third-party package; any other keyword is refused.
Not: the schemas themselves (schemas.py).
"""

from __future__ import annotations

import re
from typing import Any

from .common import Json

_KEYWORDS = frozenset(
    {
        "$schema",
        "$defs",
        "$ref",
        "title",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "oneOf",
    }
)


def _type_ok(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    raise ValueError(f"schema uses unsupported type {name!r}")


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and True differ, as JSON Schema's const and enum require."""
    return type(a) is type(b) and a == b


def validate(instance: Any, schema: Json, root: Json | None = None, path: str = "$") -> list[str]:
    """Errors of `instance` against `schema`, each naming its JSON path; empty when valid.

    Implements the keywords above with draft 2020-12 meaning (`pattern` as an ECMA regex,
    where `$` does not match before a final newline); any other keyword is refused.
    """
    root = schema if root is None else root
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) not supported: {sorted(unknown)}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        return validate(instance, root["$defs"][ref[len("#/$defs/") :]], root, path)
    errs: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(instance, n) for n in names):
            return [f"{path}: expected {' or '.join(names)}"]
    if "const" in schema and not _same(instance, schema["const"]):
        errs.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and not any(_same(instance, v) for v in schema["enum"]):
        errs.append(f"{path}: {instance!r} is not one of the allowed values")
    if isinstance(instance, str) and "pattern" in schema:
        pattern = schema["pattern"]
        if pattern.endswith("$"):
            pattern = pattern[:-1] + r"\Z"
        if re.search(pattern, instance) is None:
            errs.append(f"{path}: does not match {schema['pattern']}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errs.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errs.append(f"{path}: above {schema['maximum']}")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errs.append(f"{path}: missing field {key!r}")
        for key, value in instance.items():
            if key in props:
                errs.extend(validate(value, props[key], root, f"{path}.{key}"))
            elif schema.get("additionalProperties", True) is False:
                errs.append(f"{path}: unknown field {key!r}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errs.extend(validate(item, schema["items"], root, f"{path}[{i}]"))
    if "oneOf" in schema:
        results = [validate(instance, s, root, path) for s in schema["oneOf"]]
        matched = sum(1 for r in results if not r)
        if matched != 1:
            best = min(results, key=len) if matched == 0 else []
            errs.append(f"{path}: matches {matched} of the allowed shapes, not exactly one")
            errs.extend(best)
    return errs
