"""JSON Schemas of the vector files (spec/test-vectors.md).

Owns: one draft 2020-12 schema per test type (unknown fields refused at every level) and the
map from a file's `schema` field to its schema.
Not: validating a document against one (validator.py), or checking values against the
protocol (verify.py).

The schemas are written here as Python values and rendered to spec/vectors/schemas/ by the
generator; tests check that `jsonschema` agrees with `validate` on every committed file.
"""

from __future__ import annotations

import re

from .. import errors
from ..profile import TRANSPORTS
from .common import Json

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Wycheproof's "acceptable" is not used: every pq3proto rule is a MUST, so every case is
# valid or invalid, and a file saying "acceptable" does not conform.
RESULTS = ("valid", "invalid")
BUG_TYPES = (
    "AUTH_BYPASS",
    "BASIC",
    "CAN_OF_WORMS",
    "DOWNGRADE",
    "EDGE_CASE",
    "FUNCTIONALITY",
    "MALFORMED",
    "MODIFIED_SIGNATURE",
    "REPLAY",
    "RESOURCE_LIMIT",
    "SIGNATURE_MALLEABILITY",
)
ERROR_NAMES = tuple(
    sorted(
        name
        for name, cls in vars(errors).items()
        if isinstance(cls, type)
        and issubclass(cls, errors.PQ3Error)
        and cls not in (errors.PQ3Error, errors.BackendUnavailableError)
        and not issubclass(cls, errors.ClusterError)
    )
)

# Test type -> (schema file name, algorithm, flags its files may use).
ROOT_KEY_TYPE = "RootKeyTest"
CHAIN_STEP_TYPE = "ChainStepTest"
MESSAGE_KEY_TYPE = "MessageKeyTest"
SIGNATURE_TYPE = "SignedLayoutTest"
WIRE_TYPE = "WireFormatTest"
CONVERSATION_TYPE = "ConversationTest"
PINNED_CHOICE_TYPE = "PinnedChoiceTest"
PROFILE_CONVERSATION_TYPE = "ProfileConversationTest"
IDENTITY_TYPE = "IdentityDecodeTest"
BUNDLE_TYPE = "BundleDecodeTest"
SESSION_STATE_TYPE = "SessionStateTest"
DEVICE_STATE_TYPE = "DeviceStateTest"

FLAGS: dict[str, tuple[str, ...]] = {
    ROOT_KEY_TYPE: ("SessionStart", "EcdhStep", "EcdhStepWithKem", "AbsentKemSalt"),
    CHAIN_STEP_TYPE: ("SingleStep", "ChainedSteps"),
    MESSAGE_KEY_TYPE: ("EmptyPlaintext", "PartialBlock", "FullBlock", "MultiBlock"),
    SIGNATURE_TYPE: (
        "SessionStartChain",
        "RekeyChain",
        "PlainChain",
        "HighS",
        "RangeCheck",
        "ModifiedBody",
        "WrongKey",
    ),
    WIRE_TYPE: (
        "ValidFlags",
        "Truncated",
        "TrailingBytes",
        "UnknownVersion",
        "UnknownFlags",
        "IllegalFlagCombination",
        "OversizeLength",
    ),
    CONVERSATION_TYPE: (
        "Basic",
        "DirectionChanges",
        "PqRekey",
        "NoRekey",
        "TimeTrigger",
        "OutOfOrder",
        "Restore",
        "SkipBoundEdge",
        "ModifiedField",
        "Truncated",
        "TrailingBytes",
        "UnknownVersion",
        "IllegalFlagCombination",
        "WrongKeyIndicator",
        "KemDowngrade",
        "KemSubstitution",
        "InvalidKemKey",
        "UnknownPrekey",
        "Replay",
        "SkipBound",
        "DroppedChain",
        "BadBundleSignature",
        "SessionStartReplay",
    ),
    PINNED_CHOICE_TYPE: (
        "AgeTriggerBoundary",
        "MessageTriggerBoundary",
        "ZeroAgeTrigger",
        "ZeroMessageTrigger",
        "MillisecondRounding",
        "Counters",
        "SkippedKeyEviction",
        "CheckOrder",
        "SessionStartReplay",
        "Restore",
        "RetiredPoints",
        "TimeTrigger",
        "KnownChainHeader",
        "ContinuationChain",
    ),
    PROFILE_CONVERSATION_TYPE: (
        "InOrder",
        "PqRekey",
        "LostFirstMessage",
        "LateFirstMessage",
        "ChunkLoss",
        "OutOfOrder",
        "RepairChunks",
        "MidChainAnswer",
        "Restore",
        "ForgedChunk",
        "ForeignChunk",
        "StrippedBlock",
        "ModifiedBlock",
        "ForgedMark",
        "UnrequestedAnswer",
        "KemInHeader",
        "MarkUnderPq3",
        "UnknownBlockFlags",
        "Replay",
    ),
    IDENTITY_TYPE: (
        "ValidIdentity",
        "UnknownVersion",
        "BadUri",
        "ShortInput",
        "ExtraBytes",
        "InvalidPoint",
        "DecodeOrder",
    ),
    BUNDLE_TYPE: (
        "ValidBundle",
        "UnknownVersion",
        "ShortInput",
        "ExtraBytes",
        "InvalidPoint",
        "InvalidPrekeyKem",
        "DecodeOrder",
    ),
    SESSION_STATE_TYPE: (
        "ValidState",
        "UnknownVersion",
        "ShortInput",
        "ExtraBytes",
        "NonCanonical",
        "OutOfRange",
        "InvalidPoint",
        "Inconsistent",
        "OtherDevice",
    ),
    DEVICE_STATE_TYPE: (
        "ValidDevice",
        "StartId",
        "UnknownVersion",
        "ShortInput",
        "ExtraBytes",
        "OutOfRange",
        "NonCanonical",
        "Inconsistent",
        "BadBundleSignature",
    ),
}
ALGORITHMS = {
    ROOT_KEY_TYPE: "PQ3 rootAndChainKey (HKDF-SHA384)",
    CHAIN_STEP_TYPE: "PQ3 symmetric chain step (HKDF-SHA384)",
    MESSAGE_KEY_TYPE: "PQ3 message key expansion and AES-256-CTR",
    SIGNATURE_TYPE: "PQ3 signed message layout (ECDSA P-256 SHA-256, RFC 6979)",
    WIRE_TYPE: "PQ3 message wire format",
    CONVERSATION_TYPE: "PQ3 sessions (P-256, ML-KEM-768, ML-KEM-1024)",
    PINNED_CHOICE_TYPE: "PQ3 sessions: the choices spec 1.1 pins",
    PROFILE_CONVERSATION_TYPE: "pq3proto profiles: the first and chunked transports (ML-KEM)",
    IDENTITY_TYPE: "pq3proto public identity encoding",
    BUNDLE_TYPE: "pq3proto prekey bundle encoding",
    SESSION_STATE_TYPE: "pq3proto persisted session state",
    DEVICE_STATE_TYPE: "pq3proto persisted device state",
}


def schema_file(test_type: str) -> str:
    """The schema file name of a test type: RootKeyTest -> root_key_test_schema.json."""
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", test_type).lower()
    return f"{snake}_schema.json"


# ── Schema building blocks ──────────────────────────────────────────────────────────────


def _hex(size: int | None = None, nullable: bool = False) -> Json:
    pattern = "^([0-9a-f]{2})*$" if size is None else f"^[0-9a-f]{{{2 * size}}}$"
    return {"type": ["string", "null"] if nullable else "string", "pattern": pattern}


def _int(maximum: int = 0xFFFF_FFFF, nullable: bool = False) -> Json:
    kind = ["integer", "null"] if nullable else "integer"
    return {"type": kind, "minimum": 0, "maximum": maximum}


def _obj(props: Json) -> Json:
    """An object with exactly these properties, every one required (absent values are null)."""
    return {
        "type": "object",
        "properties": props,
        "required": sorted(props),
        "additionalProperties": False,
    }


def _str(nullable: bool = False) -> Json:
    return {"type": ["string", "null"] if nullable else "string"}


_RESULT = {"enum": list(RESULTS)}
_ERROR = {"enum": [*ERROR_NAMES, None]}
_IDENTITY = _obj({"uri": _str(), "deviceId": _int(), "signingKey": _hex(65)})


def _test_common(test_type: str) -> Json:
    return {
        "tcId": {"type": "integer", "minimum": 1},
        "comment": _str(),
        "flags": {"type": "array", "items": {"enum": list(FLAGS[test_type])}},
        "result": _RESULT,
    }


def _file_schema(test_type: str, test_props: Json, defs: Json | None = None) -> Json:
    note = _obj({"bugType": {"enum": list(BUG_TYPES)}, "description": _str()})
    test = _obj({**_test_common(test_type), **test_props})
    out: Json = {
        "$schema": DRAFT,
        "title": f"pq3proto {test_type} vectors",
        **_obj(
            {
                "algorithm": {"const": ALGORITHMS[test_type]},
                "schema": {"const": schema_file(test_type)},
                "generatorVersion": _str(),
                "numberOfTests": {"type": "integer", "minimum": 0},
                "header": {"type": "array", "items": _str()},
                "notes": {
                    "type": "object",
                    "properties": {flag: note for flag in FLAGS[test_type]},
                    "additionalProperties": False,
                },
                "source": _obj({"name": _str(), "version": _str()}),
                "testGroups": {
                    "type": "array",
                    "minItems": 1,
                    "items": _obj(
                        {
                            "type": {"const": test_type},
                            "tests": {"type": "array", "minItems": 1, "items": test},
                        }
                    ),
                },
            }
        ),
    }
    if defs:
        out["$defs"] = defs
    return out


def _root_key() -> Json:
    return _file_schema(
        ROOT_KEY_TYPE,
        {
            "dstKind": {"enum": ["sessionStart", "pkRatchet"]},
            "sender": _IDENTITY,
            "receiver": _IDENTITY,
            "prekeyPoint": _hex(65, nullable=True),
            "ephemeralPoint": _hex(65, nullable=True),
            "startCiphertext": _hex(1568, nullable=True),
            "prekeyKemPublicKey": _hex(1568, nullable=True),
            "previousPoint": _hex(65, nullable=True),
            "newPoint": _hex(65, nullable=True),
            "kemCiphertext": _hex(1088, nullable=True),
            "kemPublicKey": _hex(1184, nullable=True),
            "dst": _hex(),
            "oldRootKey": _hex(32),
            "ecdhSecret": _hex(32),
            "kemSecret": _hex(32, nullable=True),
            "rootKey": _hex(32),
            "chainKey": _hex(32),
        },
    )


def _chain_step() -> Json:
    step = _obj({"messageKey": _hex(32), "nextChainKey": _hex(32)})
    return _file_schema(
        CHAIN_STEP_TYPE,
        {"chainKey": _hex(32), "steps": {"type": "array", "minItems": 1, "items": step}},
    )


def _message_key() -> Json:
    return _file_schema(
        MESSAGE_KEY_TYPE,
        {
            "messageKey": _hex(32),
            "aesKey": _hex(32),
            "iv": _hex(16),
            "keyIndicator": _hex(32),
            "plaintext": _hex(),
            "ciphertext": _hex(),
        },
    )


def _signature() -> Json:
    return _file_schema(
        SIGNATURE_TYPE,
        {
            "sender": _IDENTITY,
            "receiver": _IDENTITY,
            "signingScalar": _hex(32),
            "dst": _hex(),
            "ecdhPublicKey": _hex(65),
            "preKeyHash": _hex(48, nullable=True),
            "startCiphertext": _hex(1568, nullable=True),
            "kemCiphertext": _hex(1088, nullable=True),
            "kemPublicKey": _hex(1184, nullable=True),
            "index": _int(),
            "keyIndicator": _hex(32),
            "authData": _hex(),
            "ciphertext": _hex(),
            "signatureBody": _hex(),
            "signature": _hex(64),
            "error": _ERROR,
        },
    )


def _wire() -> Json:
    fields = _obj(
        {
            "version": _int(255),
            "flags": _int(255),
            "ecdhPublicKey": _hex(65),
            "preKeyHash": _hex(48, nullable=True),
            "startCiphertext": _hex(1568, nullable=True),
            "kemCiphertext": _hex(1088, nullable=True),
            "kemPublicKey": _hex(1184, nullable=True),
            "index": _int(),
            "keyIndicator": _hex(32),
            "authData": _hex(),
            "ciphertext": _hex(),
            "signature": _hex(64),
        }
    )
    return _file_schema(
        WIRE_TYPE,
        {"wire": _hex(), "fields": {"oneOf": [fields, {"type": "null"}]}, "error": _ERROR},
    )


_PARTY = _obj(
    {
        "uri": _str(),
        "deviceId": _int(),
        "identityScalar": _hex(32),
        "prekeyScalar": _hex(32),
        "prekeyKemSeed": _hex(64),
        "publicIdentity": _hex(),
        "prekeyBundle": _hex(),
    }
)


def _conversation(test_type: str = CONVERSATION_TYPE) -> Json:
    party = _obj(
        {
            "uri": _str(),
            "deviceId": _int(),
            "identityScalar": _hex(32),
            "prekeyScalar": _hex(32),
            "prekeyKemSeed": _hex(64),
            "publicIdentity": _hex(),
            "prekeyBundle": _hex(),
        }
    )
    randomness = _obj(
        {
            "ecdhScalar": _hex(32, nullable=True),
            "kemCoins": _hex(32, nullable=True),
            "kemSeed": _hex(64, nullable=True),
        }
    )
    parties = {"enum": ["initiator", "responder"]}
    time = {"type": "integer", "minimum": 0}
    delivery = {
        "party": parties,
        "time": time,
        "message": _int(nullable=True),
        "wire": _hex(nullable=True),
        "result": _RESULT,
        "error": _ERROR,
        "plaintext": _hex(nullable=True),
        "authData": _hex(nullable=True),
    }
    steps = {
        "initiate": _obj(
            {
                "action": {"const": "initiate"},
                "party": {"const": "initiator"},
                "time": time,
                "randomness": randomness,
                "prekeyBundle": _hex(nullable=True),
                "result": _RESULT,
                "error": _ERROR,
            }
        ),
        "encrypt": _obj(
            {
                "action": {"const": "encrypt"},
                "party": parties,
                "time": time,
                "randomness": randomness,
                "message": _int(),
                "plaintext": _hex(),
                "authData": _hex(),
                "wire": _hex(),
            }
        ),
        "accept": _obj({"action": {"const": "accept"}, **delivery}),
        "decrypt": _obj({"action": {"const": "decrypt"}, **delivery}),
        "restore": _obj(
            {
                "action": {"const": "restore"},
                "party": parties,
                "time": time,
                "sessionState": _hex(),
            }
        ),
    }
    age = (
        {"type": ["number", "null"], "minimum": 0}
        if test_type == PINNED_CHOICE_TYPE
        else _int(nullable=True)
    )
    profile: Json = {}
    if test_type == PROFILE_CONVERSATION_TYPE:
        profile["profile"] = _obj(
            {
                "id": _hex(),
                "startKem": _str(),
                "rekeyKem": _str(),
                "transport": {"enum": list(TRANSPORTS)},
                "chunkSize": _int(0xFFFF, nullable=True),
                "chunkExpansion": _int(0xFF, nullable=True),
            }
        )
    return _file_schema(
        test_type,
        {
            **profile,
            "policy": _obj({"everyMessages": _int(nullable=True), "maxAgeSeconds": age}),
            "initiator": party,
            "responder": party,
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [{"$ref": f"#/$defs/{name}Step"} for name in steps]},
            },
        },
        defs={f"{name}Step": s for name, s in steps.items()},
    )


def _identity_decode() -> Json:
    return _file_schema(
        IDENTITY_TYPE,
        {
            "encoding": _hex(),
            "error": _ERROR,
            "uri": _str(nullable=True),
            "deviceId": _int(nullable=True),
            "signingKey": _hex(65, nullable=True),
        },
    )


def _bundle_decode() -> Json:
    return _file_schema(
        BUNDLE_TYPE,
        {
            "encoding": _hex(),
            "error": _ERROR,
            "prekeyPoint": _hex(65, nullable=True),
            "prekeyKemPublicKey": _hex(1568, nullable=True),
            "signature": _hex(64, nullable=True),
            "preKeyHash": _hex(48, nullable=True),
        },
    )


_COUNTER = _int((1 << 62) - 1)


def _session_state() -> Json:
    counters = _obj(
        {
            k: _COUNTER
            for k in ("sent", "received", "ecdhSteps", "rekeys", "wireBytes", "plaintextBytes")
        }
    )
    boolean = {"type": "boolean"}
    fields = _obj(
        {
            "initiator": boolean,
            "policyMessages": _int(nullable=True),
            "policyMilliseconds": _int(100 * 365 * 86_400 * 1000, nullable=True),
            "hasMyKey": boolean,
            "hasSendingChain": boolean,
            "sendingIndex": _int((1 << 62) - 1, nullable=True),
            "awaitingReply": boolean,
            "receivingChains": {"type": "array", "maxItems": 5, "items": _COUNTER},
            "skippedKeys": _int(2000),
            "retiredPoints": _int(64),
            "hasMyKem": boolean,
            "hasPeerKem": boolean,
            "sincePQ": _COUNTER,
            "lastPQ": {"type": "number"},
            "counters": counters,
        }
    )
    return _file_schema(
        SESSION_STATE_TYPE,
        {
            "party": _PARTY,
            "sessionState": _hex(),
            "error": _ERROR,
            "fields": {"oneOf": [fields, {"type": "null"}]},
        },
    )


def _device_state() -> Json:
    return _file_schema(
        DEVICE_STATE_TYPE,
        {
            "deviceState": _hex(),
            "error": _ERROR,
            "publicIdentity": _hex(nullable=True),
            "prekeyBundle": _hex(1698, nullable=True),
            "acceptedStartMessages": {"type": "array", "items": _hex()},
            "acceptedStarts": {"oneOf": [{"type": "array", "items": _hex(48)}, {"type": "null"}]},
        },
    )


SCHEMAS: dict[str, Json] = {
    schema_file(t): build()
    for t, build in (
        (ROOT_KEY_TYPE, _root_key),
        (CHAIN_STEP_TYPE, _chain_step),
        (MESSAGE_KEY_TYPE, _message_key),
        (SIGNATURE_TYPE, _signature),
        (WIRE_TYPE, _wire),
        (CONVERSATION_TYPE, _conversation),
        (PINNED_CHOICE_TYPE, lambda: _conversation(PINNED_CHOICE_TYPE)),
        (PROFILE_CONVERSATION_TYPE, lambda: _conversation(PROFILE_CONVERSATION_TYPE)),
        (IDENTITY_TYPE, _identity_decode),
        (BUNDLE_TYPE, _bundle_decode),
        (SESSION_STATE_TYPE, _session_state),
        (DEVICE_STATE_TYPE, _device_state),
    )
}
