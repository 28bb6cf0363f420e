"""`pq3proto profiles`: compare rekey KEMs on the same traffic and loss, read off the trace.

Owns: the subcommand's arguments, its table, JSON and plot.
Not: the experiment (profiles.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import cliargs, kem
from ..policy import RekeyPolicy
from ..progress import Progress
from .profiles import compare_profiles

CANDIDATE_KEMS = ("ML-KEM-768", "HQC-1", "FrodoKEM-640-AES", "BIKE-L1")
DEFAULT_TRAFFIC = "ping-pong,one-sided"
DEFAULT_LOSS = "0,0.05,0.2"

LEGEND = """\
Legend
  rekey KEM     the profile's rekey KEM (start KEM ML-KEM-1024, transport repeat)
  loss          probability that the network drops a message; with loss, messages are also
                reordered (exponential delay, mean 1.5 message intervals)
  B/msg         wire bytes per message sent: mean and 99th percentile
  ovh           mean bytes per message beyond the ciphertext (header, KEM material, signature)
  rekeys        requests opened by a chain start / completed at the requester
  latency       mean messages (both directions) and simulated seconds from a request to the
                requester mixing the answer's secret into its root key
  open          share of requests still open when the conversation ended
  KEM us        this machine's CPU for one rekey's key generation + encapsulation +
                decapsulation, median of 5"""


def _kem_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    runnable = kem.names()
    bad = [n for n in names if n not in runnable]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct KEMs this machine runs ({', '.join(runnable)}); got {text!r}"
        )
    return names


def _loss_list(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected probabilities, got {text!r}") from None
    if not values or any(not 0.0 <= v < 1.0 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError("expected distinct probabilities in [0, 1)")
    return values


def format_table(doc: dict[str, Any]) -> str:
    cpu = doc["kem_cpu_us_per_rekey"]
    head = (f"{'rekey KEM':<18} {'traffic':<10} {'loss':>5} {'B/msg':>7} {'p99':>7} {'ovh':>7} "
            f"{'rekeys':>7} {'latency':>15} {'open':>5} {'KEM us':>8}")
    lines = [head]
    for c in doc["cells"]:
        lat = (
            "-" if c["latency_messages_mean"] is None
            else f"{c['latency_messages_mean']:.1f} / {c['latency_seconds_mean']:.0f} s"
        )
        lines.append(
            f"{c['rekey_kem']:<18} {c['traffic']:<10} {c['loss']:>5.2f} {c['bytes_mean']:>7.0f} "
            f"{c['bytes_p99']:>7.0f} {c['overhead_mean']:>7.0f} "
            f"{c['rekeys_requested']:>3}/{c['rekeys_completed']:<3} {lat:>15} "
            f"{c['never_completed']:>5.0%} {cpu[c['rekey_kem']]:>8.0f}"
        )
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str) -> None:
    """Bytes per message and rekey latency per rekey KEM, one line per traffic and loss."""
    plt = cliargs.pyplot()
    kems: list[str] = doc["parameters"]["rekey_kems"]
    xs = list(range(len(kems)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for traffic in doc["parameters"]["traffic"]:
        for loss in doc["parameters"]["loss"]:
            rows = {
                c["rekey_kem"]: c for c in doc["cells"]
                if c["traffic"] == traffic and c["loss"] == loss
            }
            label = f"{traffic}, loss {loss:g}"
            ax1.plot(xs, [rows[k]["bytes_mean"] for k in kems], "o-", label=label)
            lat = [rows[k]["latency_messages_mean"] for k in kems]
            ax2.plot(xs, [float("nan") if v is None else v for v in lat], "o-", label=label)
    m = doc["parameters"]["messages"]
    ax1.set_title(f"Wire bytes per message ({m} messages, transport repeat)")
    ax1.set_ylabel("bytes per message (mean)")
    ax1.set_yscale("log")
    ax2.set_title("Rekey latency: request to the requester's mixed secret")
    ax2.set_ylabel("messages (mean)")
    for ax in (ax1, ax2):
        ax.set_xticks(xs, kems)
        ax.set_xlabel(f"rekey KEM (policy {doc['parameters']['policy']})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _main(args: argparse.Namespace) -> int:
    kems = args.rekey_kems or [k for k in CANDIDATE_KEMS if k in kem.names()]
    bar = Progress(0, "", enabled=cliargs.progress_enabled(args.progress))
    doc = compare_profiles(
        kems, [str(t) for t in args.traffic], args.loss, args.messages, args.seed,
        RekeyPolicy.parse(args.policy), lambda d, t: bar.update(d, t, "conversations"),
    )
    cliargs.print_report(format_table(doc), LEGEND, doc, args.json, args.plot, plot)
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "profiles",
        help="compare rekey KEMs on the same traffic and loss",
        description="Run one traced conversation per rekey KEM x traffic x loss and report "
        "bytes per message, rekey latency, requests never completed and KEM CPU per rekey.",
    )
    p.add_argument("--rekey-kems", type=_kem_list, default=None, metavar="NAME[,NAME...]",
                   help=f"rekey KEMs to compare (default: those of {', '.join(CANDIDATE_KEMS)} "
                   "this machine runs; the liboqs KEMs need liboqs)")
    p.add_argument("--traffic", type=cliargs.traffic_list,
                   default=cliargs.traffic_list(DEFAULT_TRAFFIC), metavar="SHAPE[,SHAPE...]",
                   help=f"traffic shapes, each {cliargs.TRAFFIC_SYNTAX} "
                   f"(default: {DEFAULT_TRAFFIC})")
    p.add_argument("--loss", type=_loss_list, default=_loss_list(DEFAULT_LOSS),
                   metavar="P[,P...]",
                   help=f"loss probabilities; with loss, messages are reordered too "
                   f"(default: {DEFAULT_LOSS})")
    p.add_argument("--messages", type=cliargs.int_at_least(20), default=300,
                   help="messages per conversation (default: %(default)s)")
    p.add_argument("--policy", type=cliargs.policy, default="default",
                   help=f"rekey policy: {cliargs.POLICY_SYNTAX} (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for keys, traffic and network (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write every cell as JSON (default: none)")
    p.add_argument("--plot", metavar="PATH", type=cliargs.plot_file, default=None,
                   help="write a plot, .png, .pdf or .svg; needs the [plot] extra "
                   "(default: none)")
    cliargs.add_progress_option(p)
    p.set_defaults(func=_main)
