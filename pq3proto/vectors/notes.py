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
    "AgeTriggerBoundary": (
        "EDGE_CASE",
        "The age trigger at its boundary: due exactly when now - lastPQ >= T (binary64 "
        "seconds), not one second before.",
    ),
    "MessageTriggerBoundary": (
        "EDGE_CASE",
        "The message trigger at its boundary: due exactly when sincePQ >= N, where sincePQ "
        "counts messages sent and received.",
    ),
    "ZeroAgeTrigger": ("EDGE_CASE", "T = 0: due at session start and at every chain start."),
    "ZeroMessageTrigger": (
        "EDGE_CASE",
        "N = 0: due at session start and at every chain start.",
    ),
    "MillisecondRounding": (
        "EDGE_CASE",
        "T is kept in whole milliseconds, round(T * 1000) with ties to even, and persisted so.",
    ),
    "Counters": (
        "FUNCTIONALITY",
        "The six counters of the stored state: received includes the accepted message, a "
        "rekey counts at both sides, initiate and accept are not ECDH steps.",
    ),
    "SkippedKeyEviction": (
        "RESOURCE_LIMIT",
        "More than MAX_SKIPPED_KEYS skipped keys: the oldest inserted is evicted and its "
        "message is then a replay.",
    ),
    "CheckOrder": (
        "EDGE_CASE",
        "A message that breaks two rules fails with the class of the rule checked first "
        "(spec/05-validation.md §4).",
    ),
    "KnownChainHeader": (
        "AUTH_BYPASS",
        "A later message of a known chain re-signed with another header: refused, because every "
        "message must repeat the header its chain was created from (03-ratchet.md §3).",
    ),
    "ContinuationChain": (
        "FUNCTIONALITY",
        "A restored session opens a continuation chain; the peer accepts a new chain while not "
        "awaiting a reply (03-ratchet.md §3, 06-state.md §3).",
    ),
    "RetiredPoints": (
        "FUNCTIONALITY",
        "The stored state holds retired chain points (more than MAX_RECEIVING_CHAINS chains seen).",
    ),
    "ValidIdentity": ("BASIC", "A well-formed public identity."),
    "BadUri": ("MALFORMED", "A URI that is empty, longer than 1024 bytes or not UTF-8."),
    "InvalidPoint": ("CAN_OF_WORMS", "A P-256 point that is off the curve or not uncompressed."),
    "DecodeOrder": (
        "EDGE_CASE",
        "An encoding that breaks two rules: the class is that of the rule checked first.",
    ),
    "ValidBundle": ("BASIC", "A well-formed prekey bundle."),
    "ValidState": ("BASIC", "A stored state that decodes, with its decoded fields."),
    "NonCanonical": (
        "MALFORMED",
        "A byte that is not the one canonical encoding (a boolean or presence byte above 1, "
        "a repeated entry).",
    ),
    "OutOfRange": ("MALFORMED", "A count, counter, scalar or policy value out of its range."),
    "Inconsistent": ("MALFORMED", "Fields that are each well-formed but contradict each other."),
    "OtherDevice": ("FUNCTIONALITY", "A state restored with a device it does not belong to."),
    "ValidDevice": ("BASIC", "A device state that decodes."),
    "StartId": (
        "FUNCTIONALITY",
        "The accepted start ids are SHA-384(preKeyHash || E || startCt) of the listed messages.",
    ),
    "ShortInput": ("MALFORMED", "The encoding ends early."),
    "ExtraBytes": ("MALFORMED", "Bytes follow the end of the encoding."),
    "InvalidPrekeyKem": (
        "CAN_OF_WORMS",
        "An ML-KEM-1024 prekey failing the FIPS 203 modulus check.",
    ),
    # Profiles: the first and chunked transports (spec/10-profiles.md §3.2-§3.4).
    "InOrder": ("BASIC", "Every message delivered once, in order."),
    "LostFirstMessage": (
        "FUNCTIONALITY",
        "first: the one message of a chain that carries KEM material is lost; the material "
        "rides again on the sender's next chain.",
    ),
    "LateFirstMessage": (
        "FUNCTIONALITY",
        "first: the message carrying KEM material arrives after later messages of its chain.",
    ),
    "ChunkLoss": ("FUNCTIONALITY", "chunked: messages carrying chunks are lost."),
    "RepairChunks": (
        "EDGE_CASE",
        "chunked: material rebuilt from a set of k chunks that includes repair chunks "
        "(index k or above), not from the k systematic ones.",
    ),
    "MidChainAnswer": (
        "EDGE_CASE",
        "The peer's key becomes whole while the answerer's sending chain is open: the answer "
        "is encapsulated (kemCoins drawn alone) and its material sent in the middle of it.",
    ),
    "ForgedChunk": (
        "CAN_OF_WORMS",
        "chunked: a validly signed chunk with changed bytes completes a material whose "
        "SHA-256 does not match its id: InconsistentChunkError, nothing kept.",
    ),
    "ForeignChunk": (
        "CAN_OF_WORMS",
        "chunked: a chunk whose material id is not the one its block names.",
    ),
    "StrippedBlock": (
        "DOWNGRADE",
        "The transport block emptied without signing again: the signature covers it.",
    ),
    "ModifiedBlock": (
        "MODIFIED_SIGNATURE",
        "One byte of the transport block changed without signing again.",
    ),
    "ForgedMark": (
        "DOWNGRADE",
        "A chain header marked mixed (flag 0x10) that names no answer the receiver holds.",
    ),
    "UnrequestedAnswer": (
        "DOWNGRADE",
        "A block answering a request the receiver never made.",
    ),
    "KemInHeader": (
        "MALFORMED",
        "A deferred profile's chain header with flag 0x02 or 0x04: its KEM material rides "
        "only in the transport block.",
    ),
    "MarkUnderPq3": ("MALFORMED", "Flag 0x10 (mixed) on a PQ3 message."),
    "UnknownBlockFlags": ("MALFORMED", "A transport block with a flag bit no transport defines."),
}
