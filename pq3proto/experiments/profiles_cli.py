"""`pq3proto profiles`: compare transports x rekey KEMs on the same traffic and loss.

Owns: the subcommand's arguments, its table, JSON and plot.
Not: the experiment (profiles.py) or the pattern file format (patterns.py).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from .. import cliargs, kem
from ..constants import MAX_CHUNK_EXPANSION, MAX_CHUNK_SIZE, MIN_CHUNK_EXPANSION
from ..errors import MisuseError
from ..policy import RekeyPolicy
from ..profile import TRANSPORTS
from ..progress import Progress
from .hndl import DEFAULT_COMPROMISE_EVERY
from .patterns import read_pattern
from .profiles import ChunkRule, Workload, compare_profiles

CANDIDATE_KEMS = ("ML-KEM-768", "HQC-1", "FrodoKEM-640-AES", "BIKE-L1")
DEFAULT_TRANSPORTS = ",".join(TRANSPORTS)
DEFAULT_TRAFFIC = "ping-pong,bursty,one-sided"
DEFAULT_LOSS = "0,0.05,0.2"
MIN_CHUNK = 16

LEGEND = """\
Legend
  transport     repeat (PQ3: the rekey key or ciphertext on every message of its chain),
                first (on the chain's first message only), chunked-SxE (erasure-coded chunks of
                S bytes, E x k of them, one per message); start KEM ML-KEM-1024
  loss          probability that the network drops a message; with loss, messages are also
                reordered (exponential delay, mean 1.5 message intervals)
  B/msg, p99    wire bytes per message sent: mean and 99th percentile
  rekeys        requests opened / completed at the requester
  latency       mean messages sent (both parties) and simulated seconds (60 s per message)
                from a request to the requester mixing its secret: on receipt of the answer
                (repeat), on its next sending chain (first, chunked)
  open          share of requests never completed by the end of the conversation
  HNDL          adversary.py's measured exposure: one party's state stolen after message t
                (every 25th by default), every ECDH key of the run broken later; messages
                after t it reads (mean) and the share of compromises a rekey healed
  CPU us        this machine's CPU per rekey: KEM key generation + encapsulation +
                decapsulation, plus chunk encoding and decoding under chunked (median of 5)"""


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _kem_list(text: str) -> list[str]:
    names = _csv(text)
    runnable = kem.names()
    bad = [n for n in names if n not in runnable]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct KEMs this machine runs ({', '.join(runnable)}); got {text!r}"
        )
    return names


def _transport_list(text: str) -> list[str]:
    names = [t.lower() for t in _csv(text)]
    if not names or any(n not in TRANSPORTS for n in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct transports of {', '.join(TRANSPORTS)}; got {text!r}"
        )
    return names


def _loss_list(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected probabilities, got {text!r}") from None
    if (
        not values
        or any(not (math.isfinite(v) and 0.0 <= v < 1.0) for v in values)
        or len(set(values)) != len(values)
    ):
        raise argparse.ArgumentTypeError("expected distinct probabilities in [0, 1)")
    return values


def _size(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not MIN_CHUNK <= n <= MAX_CHUNK_SIZE or n % 2:
        raise argparse.ArgumentTypeError(
            f"a chunk size is an even number from {MIN_CHUNK} to {MAX_CHUNK_SIZE}, got {n}"
        )
    return n


def _expansion(text: str) -> int:
    n = cliargs.int_at_least(MIN_CHUNK_EXPANSION)(text)
    if n > MAX_CHUNK_EXPANSION:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CHUNK_EXPANSION}, got {n}")
    return n


def chunk_sizes(text: str) -> ChunkRule:
    """`auto`, one size N, or either followed by KEM=N overrides, comma-separated."""
    size: int | None = None
    per: dict[str, int] = {}
    items = _csv(text)
    if not items:
        raise argparse.ArgumentTypeError("expected auto, N, or KEM=N[,KEM=N...]")
    for i, item in enumerate(items):
        name, sep, value = item.partition("=")
        if not sep:
            if i:
                raise argparse.ArgumentTypeError("auto or N comes first, then KEM=N overrides")
            size = None if item.lower() == "auto" else _size(item)
            continue
        if name not in kem.names():
            raise argparse.ArgumentTypeError(f"{name!r} is not a KEM this machine runs")
        if name in per:
            raise argparse.ArgumentTypeError(f"{name} is given twice")
        per[name] = _size(value)
    return ChunkRule(size, per)


def _pattern_file(text: str) -> Workload:
    try:
        senders = read_pattern(text)
    except MisuseError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return Workload(f"file:{text.rsplit('/', 1)[-1]}", senders)


def format_table(doc: dict[str, Any]) -> str:
    cpu = doc["cpu_us_per_rekey"]
    head = (f"{'transport':<13} {'rekey KEM':<17} {'traffic':<14} {'loss':>4} {'B/msg':>6} "
            f"{'p99':>6} {'rekeys':>7} {'latency':>14} {'open':>4} {'HNDL':>11} {'CPU us':>7}")
    lines = [head]
    for c in doc["cells"]:
        lat = (
            "-" if c["latency_messages_mean"] is None
            else f"{c['latency_messages_mean']:.1f} / {c['latency_seconds_mean']:.0f} s"
        )
        t = c["transport"] if c["chunk_size"] is None else f"chunked-{c['chunk_size']}"
        us = cpu[c["profile"]]
        hndl = f"{c['hndl_exposure_mean']:.0f} ({c['hndl_healed']:.0%})"
        lines.append(
            f"{t:<13} {c['rekey_kem']:<17} {c['traffic']:<14} {c['loss']:>4.2f} "
            f"{c['bytes_mean']:>6.0f} {c['bytes_p99']:>6.0f} "
            f"{c['rekeys_requested']:>3}/{c['rekeys_completed']:<3} {lat:>14} "
            f"{c['never_completed']:>4.0%} {hndl:>11} {us['kem_us'] + us['chunk_us']:>7.0f}"
        )
    return "\n".join(lines)


TRANSPORT_COLORS = {"repeat": "tab:red", "first": "tab:blue", "chunked": "tab:green"}
KEM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot(doc: dict[str, Any], path: str) -> None:
    """Bytes per message against rekey latency, one point per transport x KEM; a panel per
    traffic (columns) and loss (rows). A rekey that never completed sits on the top line."""
    plt = cliargs.pyplot()
    from matplotlib.ticker import NullFormatter

    p = doc["parameters"]
    traffics, losses, kems = p["traffic"], p["loss"], p["rekey_kems"]
    lat = [c["latency_messages_mean"] for c in doc["cells"] if c["latency_messages_mean"]]
    top = max([10.0, *lat]) * 2.0
    fig, axes = plt.subplots(len(losses), len(traffics), squeeze=False,
                             figsize=(3.6 * len(traffics) + 1.0, 2.9 * len(losses) + 0.6),
                             sharex=True, sharey=True)
    for r, loss in enumerate(losses):
        for col, traffic in enumerate(traffics):
            ax = axes[r][col]
            for c in doc["cells"]:
                if c["traffic"] != traffic or c["loss"] != loss:
                    continue
                y = c["latency_messages_mean"]
                marker = KEM_MARKERS[kems.index(c["rekey_kem"]) % len(KEM_MARKERS)]
                ax.scatter(c["bytes_mean"], top if y is None else y, s=42, marker=marker,
                           color=TRANSPORT_COLORS.get(c["transport"], "k"),
                           facecolors="none" if y is None else None)
            ax.axhline(top, color="grey", lw=0.6, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, alpha=0.3, which="both")
            ax.set_title(f"{traffic}, loss {loss:g}", fontsize=9)
            if r == len(losses) - 1:
                ax.set_xlabel("wire bytes per message (mean)")
            if col == 0:
                ax.set_ylabel("rekey latency (messages)")
        axes[r][0].annotate("never completed", (0.02, top), xycoords=("axes fraction", "data"),
                            fontsize=7, va="bottom", color="grey")
    handles = [plt.Line2D([], [], color=TRANSPORT_COLORS[t], marker="o", ls="", label=t)
               for t in p["transports"]]
    handles += [plt.Line2D([], [], color="k", marker=KEM_MARKERS[i % len(KEM_MARKERS)],
                           ls="", label=k) for i, k in enumerate(kems)]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle(f"{p['messages']} messages, policy {p['policy']}, chunks {p['chunk_size']}"
                 " (open marker: no rekey completed)", fontsize=9, y=0.005, va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _main(args: argparse.Namespace) -> int:
    kems = args.rekey_kems or [k for k in CANDIDATE_KEMS if k in kem.names()]
    workloads = [Workload(str(t)) for t in args.traffic] + list(args.pattern_file or [])
    names = [w.name for w in workloads]
    if len(set(names)) != len(names):
        raise MisuseError("a traffic or pattern file is listed twice")
    rule = ChunkRule(args.chunk_size.size, args.chunk_size.per_kem, args.chunk_expansion)
    bar = Progress(0, "", enabled=cliargs.progress_enabled(args.progress))
    doc = compare_profiles(
        args.transports, kems, workloads, args.loss, args.messages, args.seed,
        RekeyPolicy.parse(args.policy), rule, args.compromise_every,
        lambda d, t: bar.update(d, t, "conversations"),
    )
    cliargs.print_report(format_table(doc), LEGEND, doc, args.json, args.plot, plot)
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "profiles",
        help="compare transports x rekey KEMs on the same traffic and loss",
        description="Run one traced conversation per transport x rekey KEM x traffic x loss "
        "and report bytes per message, rekey latency, requests never completed, HNDL "
        "exposure after a compromise (measured by the adversary) and CPU per rekey. "
        "This is the profile comparison of `pq3proto simulate`.",
    )
    p.add_argument("--transports", type=_transport_list,
                   default=_transport_list(DEFAULT_TRANSPORTS), metavar="T[,T...]",
                   help=f"transports to compare (default: {DEFAULT_TRANSPORTS})")
    p.add_argument("--rekey-kems", type=_kem_list, default=None, metavar="NAME[,NAME...]",
                   help=f"rekey KEMs to compare (default: those of {', '.join(CANDIDATE_KEMS)} "
                   "this machine runs; the liboqs KEMs need liboqs)")
    p.add_argument("--chunk-size", type=chunk_sizes, default=chunk_sizes("auto"),
                   metavar="auto|N[,KEM=N...]",
                   help="chunked: bytes per chunk, one for all KEMs or per KEM; auto is the "
                   "smallest of 64, 128, ..., 2048 that cuts each material of the KEM into at "
                   "most 20 chunks (ML-KEM-768 64, BIKE-L1 128, HQC-1 256, FrodoKEM-640 512) "
                   "(default: auto)")
    p.add_argument("--chunk-expansion", type=_expansion,
                   default=4, metavar="E",
                   help=f"chunked: n = E x k chunks, {MIN_CHUNK_EXPANSION} to "
                   f"{MAX_CHUNK_EXPANSION} (default: %(default)s)")
    p.add_argument("--traffic", type=cliargs.traffic_list,
                   default=cliargs.traffic_list(DEFAULT_TRAFFIC), metavar="SHAPE[,SHAPE...]",
                   help=f"traffic shapes, each {cliargs.TRAFFIC_SYNTAX} "
                   f"(default: {DEFAULT_TRAFFIC})")
    p.add_argument("--pattern-file", type=_pattern_file, action="append", default=None,
                   metavar="PATH",
                   help="also run a custom pattern: A and B, one letter per message (one per "
                   "line or several on a line, # comments), starting with A, repeated to fill "
                   "--messages; may be given more than once (default: none)")
    p.add_argument("--loss", type=_loss_list, default=_loss_list(DEFAULT_LOSS),
                   metavar="P[,P...]",
                   help=f"loss probabilities; with loss, messages are reordered too "
                   f"(default: {DEFAULT_LOSS})")
    p.add_argument("--messages", type=cliargs.int_at_least(20), default=300,
                   help="messages per conversation (default: %(default)s)")
    p.add_argument("--policy", type=cliargs.policy, default="default",
                   help=f"rekey policy: {cliargs.POLICY_SYNTAX} (default: %(default)s)")
    p.add_argument("--compromise-every", type=cliargs.positive_int,
                   default=DEFAULT_COMPROMISE_EVERY, metavar="N",
                   help="HNDL: compromise each party after every N-th message, up to 60%% of "
                   "the conversation (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for keys, traffic and network (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write every cell as JSON (default: none)")
    p.add_argument("--plot", metavar="PATH", type=cliargs.plot_file, default=None,
                   help="write a plot, .png, .pdf or .svg; needs the [plot] extra "
                   "(default: none)")
    cliargs.add_progress_option(p)
    p.set_defaults(func=_main)
