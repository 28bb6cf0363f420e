"""Session's one-call paths: the next in-order message of the chain last received on, and
a plain new chain's first message each way (ratchet.py's plain_* rules).

Owns: SessionFastPaths, mixed into Session. Each path commits exactly the state the full
path (Session._encrypt, Session._open) would commit for the same message, or returns None
and leaves the message to it; tests/test_fast_paths.py and tests/test_new_chain_path.py
compare the two.
Not: when a path is tried (session.py), any rule of the ratchet (ratchet.py), or the C
calls (the HotPath in use).
"""

from __future__ import annotations

from typing import Any

from .kdf import pk_ratchet_dst_prefix
from .message import HotPath, SendingChain
from .primitives import RandomSource, draw_scalar, sha384
from .ratchet import (
    ECDH_STEP,
    NO_EFFECTS,
    RatchetState,
    commit_fast_receive,
    commit_plain_receiving_chain,
    commit_plain_sending_chain,
    plain_receiving_chain,
)
from .session_state import SessionState, commit_message
from .wire import PLAIN_HEADER_PREFIX, PLAIN_HEADER_SIZE, ChainHeader

_POINT_AT = len(PLAIN_HEADER_PREFIX)


class SessionFastPaths:
    """Session's one-call paths, mixed into Session."""

    # Session's attributes these paths use; their slots live here, the others in Session.
    __slots__ = (
        "_dst_recv",
        "_dst_send",
        "_hot",
        "_plain_tail_recv",
        "_plain_tail_send",
        "_recv_tail",
        "_rng",
        "_send_ctx",
        "_signer",
        "_state",
        "_verifier",
    )
    _state: SessionState
    _hot: HotPath
    _signer: Any
    _verifier: Any
    _rng: RandomSource
    _dst_send: bytes
    _dst_recv: bytes
    _plain_tail_send: bytes
    _plain_tail_recv: bytes
    _send_ctx: tuple[ChainHeader, SendingChain] | None
    _recv_tail: tuple[ChainHeader, bytes, bytes, SendingChain] | None

    def _open_in_order(
        self, wire: bytes, cached: tuple[ChainHeader, bytes, bytes, SendingChain]
    ) -> tuple[bytes, bytes] | None:
        """The next message of the chain last received on, opened in one C call without
        parsing it in Python (the same checks, in the same order, as _open's in-order path).
        None: it is not that message exactly, and decrypt takes the full path."""
        header, _, digest, ctx = cached
        if not wire.startswith(ctx.header_bytes):
            return None
        st = self._state
        r = st.ratchet
        pos = r.find_chain(header.ecdh_public_key)
        if pos < 0:
            return None
        chain = r.receiving[pos]
        if chain.header_digest is not None and chain.header_digest != digest:
            return None
        opened = self._hot.open_in_order(
            chain.chain_key, chain.next_index, ctx, wire, self._verifier
        )
        if opened is None:
            return None
        pt, auth_data, next_ck = opened
        stats = st.stats.after_receive(NO_EFFECTS)
        self._state = commit_message(st, commit_fast_receive(r, pos, next_ck), stats)
        return pt, auth_data

    def _open_new_chain(self, wire: bytes) -> tuple[bytes, bytes] | None:
        """Message 0 of a plain new peer chain in one hot-path call (ratchet.py). None: not
        that message, or not without an error or a KEM step; decrypt takes the full path."""
        st = self._state
        r = st.ratchet
        point = wire[_POINT_AT:PLAIN_HEADER_SIZE]
        if not plain_receiving_chain(r, point):
            return None
        assert r.my_ecdh is not None and r.my_point is not None
        tail = self._plain_tail_recv
        opened = self._hot.open_new_chain(
            r.root_key,
            r.my_ecdh,
            pk_ratchet_dst_prefix(self._dst_recv, r.my_point),
            tail,
            wire,
            self._verifier,
        )
        if opened is None:
            return None
        pt, auth_data, root_key, next_ck = opened
        header_bytes = wire[:PLAIN_HEADER_SIZE]
        digest = sha384(header_bytes)
        new_r = commit_plain_receiving_chain(r, point, digest, root_key, next_ck)
        self._recv_tail = (
            ChainHeader(point), tail, digest, SendingChain(header_bytes, tail, point)
        )
        self._state = commit_message(st, new_r, st.stats.after_receive(ECDH_STEP))
        return pt, auth_data

    def _seal_new_chain(
        self, st: SessionState, r: RatchetState, plaintext: bytes, auth_data: bytes
    ) -> bytes:
        """A plain sending chain and its message 0 in one hot-path call (ratchet.py)."""
        scalar = draw_scalar(self._rng)
        tail = self._plain_tail_send
        key, root_key, next_ck, wire = self._hot.seal_new_chain(
            r.root_key,
            scalar,
            r.peer_point,
            pk_ratchet_dst_prefix(self._dst_send, r.peer_point),
            tail,
            auth_data,
            plaintext,
            self._signer,
            self._rng.deterministic,
        )
        new_r = commit_plain_sending_chain(r, key, root_key, next_ck)
        sending = new_r.sending
        assert sending is not None
        point = key.public
        self._send_ctx = (sending.header, SendingChain(PLAIN_HEADER_PREFIX + point, tail, point))
        stats = st.stats.after_send(ECDH_STEP, len(wire), len(plaintext))
        self._state = commit_message(st, new_r, stats)
        return wire
