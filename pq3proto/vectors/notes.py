"""What each vector flag means: (bugType, description), shared by every file (spec/test-vectors.md).

Owns: the notes table.
Not: which tests carry a flag (the file builders).
"""

from __future__ import annotations

# Flag -> (bugType, description), shared by every file that uses the flag.
NOTES: dict[str, tuple[str, str]] = {
    "SessionStart": (
        "BASIC",
        "Root key of a session start: old root key is the 32-byte "
        "ASCII '0' string, KEM secret from ML-KEM-1024.",
    ),
    "EcdhStep": ("BASIC", "Root key update of an ECDH ratchet step without a PQ secret."),
    "EcdhStepWithKem": (
        "BASIC",
        "Root key update of an ECDH ratchet step that mixes in an "
        "ML-KEM-768 secret; the dst ends with ciphertext || key.",
    ),
    "AbsentKemSalt": (
        "EDGE_CASE",
        "No KEM secret: the second HKDF-Extract still runs, with "
        "the absent salt of RFC 5869 (48 zero bytes).",
    ),
    "SingleStep": ("BASIC", "One symmetric chain step."),
    "ChainedSteps": (
        "BASIC",
        "Several chain steps in sequence, each from the previous step's next chain key.",
    ),
    "EmptyPlaintext": ("EDGE_CASE", "Empty plaintext: empty ciphertext."),
    "PartialBlock": ("BASIC", "Plaintext not a multiple of the AES block size."),
    "FullBlock": ("EDGE_CASE", "Plaintext of exactly one AES block."),
    "MultiBlock": (
        "BASIC",
        "Plaintext of several AES blocks: the 128-bit counter block increments big-endian.",
    ),
    "SessionStartChain": (
        "BASIC",
        "Signed layout of a session-start chain message: the "
        "encapsulation field is the ML-KEM-1024 ciphertext, preKeyHash ends "
        "the body.",
    ),
    "RekeyChain": ("BASIC", "Signed layout of a chain carrying ML-KEM-768 material."),
    "PlainChain": (
        "BASIC",
        "Signed layout of a chain without KEM material: both length-prefixed KEM fields are empty.",
    ),
    "HighS": ("SIGNATURE_MALLEABILITY", "s replaced by n - s: signatures must be low-S."),
    "RangeCheck": ("MODIFIED_SIGNATURE", "r or s out of range (zero, or not below n)."),
    "ModifiedBody": ("MODIFIED_SIGNATURE", "A signed field changed after signing."),
    "WrongKey": ("MODIFIED_SIGNATURE", "Signed by a key other than the sender's."),
    "ValidFlags": ("BASIC", "A well-formed message with one of the allowed flag sets."),
    "Truncated": ("MALFORMED", "The message ends early."),
    "TrailingBytes": ("MALFORMED", "Bytes follow the signature."),
    "UnknownVersion": ("MALFORMED", "A version byte other than 1: UnsupportedVersionError."),
    "UnknownFlags": ("MALFORMED", "A flag bit this version does not define."),
    "IllegalFlagCombination": ("MALFORMED", "SESSION_START together with KEM_CIPHERTEXT."),
    "OversizeLength": (
        "RESOURCE_LIMIT",
        "A length prefix above the protocol limit, refused before any allocation.",
    ),
    "Basic": ("BASIC", "A short exchange in both directions."),
    "DirectionChanges": ("FUNCTIONALITY", "Many changes of direction, each an ECDH step."),
    "PqRekey": ("FUNCTIONALITY", "ML-KEM-768 rekeys ride on ECDH steps as the policy asks."),
    "NoRekey": ("FUNCTIONALITY", "Policy never: no KEM material after the session start."),
    "TimeTrigger": ("FUNCTIONALITY", "The rekey is due by age, read from the injected clock."),
    "OutOfOrder": (
        "FUNCTIONALITY",
        "Messages delivered out of order, within and across "
        "chains, through skipped keys and old receiving chains.",
    ),
    "Restore": (
        "FUNCTIONALITY",
        "A session serialized and restored mid-conversation; the "
        "sessionState blob is this implementation's spec/06-state.md encoding.",
    ),
    "SkipBoundEdge": ("EDGE_CASE", "A message exactly MAX_FORWARD_JUMP ahead: still accepted."),
    "ModifiedField": ("AUTH_BYPASS", "One byte of one field changed in transit."),
    "WrongKeyIndicator": (
        "AUTH_BYPASS",
        "A validly signed message whose key indicator does not match its message key.",
    ),
    "KemDowngrade": (
        "DOWNGRADE",
        "KEM material stripped or added where the rekey state forbids it.",
    ),
    "KemSubstitution": (
        "AUTH_BYPASS",
        "KEM ciphertext or key replaced by another of the right size.",
    ),
    "InvalidKemKey": ("CAN_OF_WORMS", "An ML-KEM-768 key failing the FIPS 203 modulus check."),
    "UnknownPrekey": ("FUNCTIONALITY", "A session start naming a prekey the device does not hold."),
    "Replay": ("REPLAY", "A message delivered a second time."),
    "SkipBound": ("RESOURCE_LIMIT", "A message more than MAX_FORWARD_JUMP ahead of its chain."),
    "DroppedChain": (
        "RESOURCE_LIMIT",
        "A late message of a receiving chain already dropped "
        "(more than MAX_RECEIVING_CHAINS newer chains).",
    ),
    "BadBundleSignature": (
        "AUTH_BYPASS",
        "A prekey bundle whose signature does not verify under the peer's identity key.",
    ),
    "SessionStartReplay": (
        "REPLAY",
        "A session start accepted a second time, by the same "
        "or another message of its first chain.",
    ),
}
