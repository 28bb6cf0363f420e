"""The per-message fast paths: frozen copies and builds, and HotPath.open_in_order.

Owns: `frozen.copier` and `frozen.fast_init` against evolve and the dataclass __init__;
open_in_order on both paths (equal to parsing and open, None for any other message, typed
errors for a forged one), Session.decrypt taking it without changing what decrypt
accepts or refuses, and native sessions on several threads at once.
Not: the packed batches (test_native_packed.py) or the session rules (test_session.py).
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from pq3proto import errors, native, primitives
from pq3proto.benchmarks_support import make_pair
from pq3proto.frozen import copier, evolve, fast_init
from pq3proto.message import PYTHON, SendingChain
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import P256PrivateKey
from pq3proto.wire import ChainHeader, parse_message

needs_native = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason())
PATHS = [
    pytest.param(PYTHON, id="python"),
    pytest.param(native.NATIVE, id="native", marks=needs_native),
]


@fast_init
@dataclasses.dataclass(frozen=True)
class _Point:
    x: int
    y: int = 7
    label: str = "p"


def test_fast_init_matches_the_dataclass() -> None:
    p = _Point(1)
    assert (p.x, p.y, p.label) == (1, 7, "p")
    assert _Point(1, 2, label="q") == _Point(x=1, y=2, label="q")
    assert repr(_Point(3)) == "_Point(x=3, y=7, label='p')"
    assert hash(_Point(1)) == hash(_Point(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Point()  # type: ignore[call-arg]


def test_fast_init_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass
    class Mutable:
        x: int

    for cls in (Checked, Mutable):
        with pytest.raises(TypeError):
            fast_init(cls)


def test_copier_equals_evolve_and_leaves_the_original() -> None:
    p = _Point(1, 2)
    move = copier("x", "label")
    q = move(p, 5, "q")
    assert q == evolve(p, x=5, label="q") == _Point(5, 2, "q")
    assert p == _Point(1, 2) and type(q) is _Point
    with pytest.raises(ValueError):
        copier("__dict__")


def _chain(rng: primitives.TestingOnlyDeterministicRandom) -> SendingChain:
    eph = P256PrivateKey.generate(rng)
    header = ChainHeader(eph.public, kem_public_key=rng.random_bytes(1184))
    return SendingChain(header.encode(), header.signature_tail(rng.random_bytes(150)), eph.public)


@pytest.mark.parametrize("path", PATHS)
def test_open_in_order_equals_parse_and_open(path: object) -> None:
    hot = path  # PythonHotPath or NativeHotPath
    rng = primitives.TestingOnlyDeterministicRandom(b"test_fast_paths open_in_order")
    key = P256PrivateKey.generate(rng)
    chain = _chain(rng)
    ck = rng.random_bytes(32)
    signer, verifier = hot.signer(key), hot.verifier(key.public)  # type: ignore[attr-defined]
    for pt, ad in ((b"", b""), (b"x" * 140, b"ad"), (bytes(999), b"")):
        wire, next_ck = hot.seal(ck, 41, chain, ad, pt, signer)  # type: ignore[attr-defined]
        got = hot.open_in_order(ck, 41, chain, wire, verifier)  # type: ignore[attr-defined]
        msg = parse_message(wire)
        assert got == (pt, ad, next_ck)
        opened, _ = PYTHON.open(ck, False, msg, chain.signature_tail, None)
        assert got[:2] == (opened, msg.auth_data)
        # Any other message is not opened, and says so with None.
        other = _chain(rng)
        for bad in (
            (ck, 42, chain, wire),  # another index
            (ck, 41, other, wire),  # another chain's header
            (ck, 41, chain, wire + b"\0"),  # bytes after the signature
            (ck, 41, chain, wire[:-1]),
            (ck, 41, chain, wire[: len(chain.header_bytes) + 10]),
        ):
            assert hot.open_in_order(*bad, verifier) is None  # type: ignore[attr-defined]
        # The right message, forged: the errors of open.
        at = len(chain.header_bytes) + 4
        tampered = wire[:at] + bytes((wire[at] ^ 1,)) + wire[at + 1 :]
        with pytest.raises(errors.AuthenticationError):
            hot.open_in_order(ck, 41, chain, tampered, verifier)  # type: ignore[attr-defined]
        with pytest.raises(errors.AuthenticationError, match="indicator"):
            hot.open_in_order(ck, 41, chain, tampered, None)  # type: ignore[attr-defined]


def test_open_in_order_same_on_both_paths() -> None:
    if not native.available():
        pytest.skip(native.unavailable_reason())
    rng = primitives.TestingOnlyDeterministicRandom(b"test_fast_paths both paths")
    chain = _chain(rng)
    ck = rng.random_bytes(32)
    wire, _ = PYTHON.seal(ck, 3, chain, b"ad", b"hello", None)
    assert native.NATIVE.open_in_order(ck, 3, chain, wire, None) == PYTHON.open_in_order(
        ck, 3, chain, wire, None
    )


def test_decrypt_in_order_out_of_order_replay_and_forgery(hot_path_name: str) -> None:
    alice, bob = make_pair(RekeyPolicy.never())
    wires = [alice.encrypt(b"m%d" % i, b"ad%d" % i) for i in range(4)]
    assert bob.decrypt_with_auth_data(wires[0]) == (b"m0", b"ad0")
    assert bob.decrypt(wires[2]) == b"m2"  # skips one: the full path
    assert bob.decrypt(wires[3]) == b"m3"  # in order again
    assert bob.decrypt(wires[1]) == b"m1"  # a stored skipped key
    with pytest.raises(errors.ReplayError):
        bob.decrypt(wires[3])
    nxt = alice.encrypt(b"m4")
    forged = nxt[:-1] + bytes((nxt[-1] ^ 1,))
    before = bob.to_bytes()
    with pytest.raises(errors.AuthenticationError):
        bob.decrypt(forged)
    assert bob.to_bytes() == before
    assert bob.decrypt(nxt) == b"m4"
    assert bob.stats.received == 6 and alice.decrypt(bob.encrypt(b"back")) == b"back"


class _Scripted:
    """Hands out the given 32-byte draws in order, then a fixed valid scalar."""

    deterministic = True

    def __init__(self, *draws: bytes) -> None:
        self.draws = list(draws)
        self.taken = 0

    def random_bytes(self, n: int) -> bytes:
        self.taken += 1
        return self.draws.pop(0) if self.draws else bytes(31) + b"\x07"


@pytest.mark.parametrize("path", PATHS)
def test_p256_generate_rejects_as_draw_scalar(path: object) -> None:
    order = primitives.P256_ORDER.to_bytes(32, "big")
    rng = _Scripted(bytes(32), order, b"\xff" * 32)
    key = path.p256_generate(rng)  # type: ignore[attr-defined]
    assert rng.taken == 4 and key.scalar() == bytes(31) + b"\x07"
    assert key.public == P256PrivateKey.from_scalar(key.scalar()).public


def test_threads_sealing_and_opening_at_once_use_their_own_c_scratch() -> None:
    if not native.available():
        pytest.skip(native.unavailable_reason())
    # cffi releases the GIL inside each C call: threads sealing and opening at once, on
    # their own sessions, must never see each other's cipher context or outputs.
    pairs = [make_pair(RekeyPolicy.never(), tag=i) for i in range(4)]
    wrong: list[object] = []

    def talk(i: int) -> None:
        s, r = pairs[i]
        try:
            for j in range(150):
                pt = bytes((i,)) * (j * 7 % 500)
                if r.decrypt(s.encrypt(pt)) != pt:
                    wrong.append(i)
                if j % 10 == 9:
                    s, r = r, s
        except errors.PQ3Error as e:
            wrong.append(e)

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
