"""Instructions of the parts of one steady message pair, for callgrind.

Owns: N repetitions of one part of a steady `full` message pair on a warm native session,
nothing timed. As with callgrind_workload.py, run it with N and with 0 under callgrind and
divide the difference by N:

    PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind \\
        --callgrind-out-file=p.out python benchmarks/callgrind_parts.py session 1000
    PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind \\
        --callgrind-out-file=p0.out python benchmarks/callgrind_parts.py session 0

Parts: session (Session.encrypt + Session.decrypt), hot (the two NativeHotPath calls alone),
seal (NativeHotPath.seal), raw-seal (the same C call with its arguments built inline),
stats (SessionStats.after_send), after-send (ratchet.after_send), commit (the SessionState
copy), commit-receive (ratchet.commit_fast_receive), loop (the loop alone). Every part but
the loop includes the deallocation of what it builds.
"""

from __future__ import annotations

import sys

from pq3proto import native
from pq3proto.benchmarks_support import make_pair
from pq3proto.native_ext import NULL, ffi, lib, thread_state
from pq3proto.policy import RekeyPolicy
from pq3proto.ratchet import NO_EFFECTS, after_send, commit_fast_receive
from pq3proto.session_state import commit_message

PARTS = (
    "session", "hot", "seal", "raw-seal", "stats", "after-send", "commit", "commit-receive",
    "loop",
)


def main() -> None:
    part, n = sys.argv[1], int(sys.argv[2])
    if part not in PARTS:
        raise SystemExit(f"part must be one of {', '.join(PARTS)}")
    a, b = make_pair(RekeyPolicy.never())
    pt = b"x" * 140
    for _ in range(50):
        b.decrypt(a.encrypt(pt))
    hot = native.NATIVE
    st = a.state
    r = st.ratchet
    sending = r.sending
    assert sending is not None
    chain = a._chain_context(sending.header)
    ck, signer = sending.chain_key, a._signer
    recv = b._recv_tail
    assert recv is not None
    wire, _ = hot.seal(ck, 7, chain, b"", pt, signer)
    rb = b.state.ratchet
    last = len(rb.receiving) - 1
    ctx = thread_state().ctx
    size = lib.pq3_wire_length(len(chain.header_bytes), 0, len(pt))
    for _ in range(n):
        if part == "session":
            b.decrypt(a.encrypt(pt))
        elif part == "hot":
            hot.seal(ck, 7, chain, b"", pt, signer)
            hot.open_in_order(ck, 7, recv[3], wire, b._verifier)
        elif part == "seal":
            hot.seal(ck, 7, chain, b"", pt, signer)
        elif part == "raw-seal":
            buf = ffi.new("uint8_t[]", size + 32)
            with signer._lock:
                lib.pq3_seal(
                    ctx, buf, size, buf + size, NULL, ck, 7, chain.header_bytes,
                    len(chain.header_bytes), chain.ecdh_public_key, chain.signature_tail,
                    len(chain.signature_tail), b"", 0, pt, len(pt), signer._ptr,
                )
            out = ffi.buffer(buf)
            _ = out[:size], out[size:]
        elif part == "stats":
            st.stats.after_send(NO_EFFECTS, 300, 140)
        elif part == "after-send":
            after_send(r, ck)
        elif part == "commit":
            commit_message(st, r, st.stats)
        elif part == "commit-receive":
            commit_fast_receive(rb, last, ck)


if __name__ == "__main__":
    main()
