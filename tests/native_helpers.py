"""A sending chain's constants for the C path tests (test_native, test_native_packed)."""

from __future__ import annotations

from pq3proto.message import SendingChain
from pq3proto.primitives import P256PrivateKey, TestingOnlyDeterministicRandom
from pq3proto.wire import ChainHeader


def sending_chain(rng: TestingOnlyDeterministicRandom, rekey: bool = False) -> SendingChain:
    """A fresh chain's header bytes, signed tail and point; with rekey, a large header and
    tail (KEM fields are opaque bytes at this layer)."""
    eph = P256PrivateKey.generate(rng)
    if rekey:
        header = ChainHeader(
            eph.public,
            kem_ciphertext=rng.random_bytes(1088),
            kem_public_key=rng.random_bytes(1184),
        )
    else:
        header = ChainHeader(eph.public)
    tail = header.signature_tail(rng.random_bytes(150))
    return SendingChain(header.encode(), tail, eph.public)
