"""Delivery simulation and adversary experiments over recorded PQ3 transcripts (spec/03-ratchet.md).

Owns: the seeded delivery simulator (delivery.py), the compromise and harvest-now-decrypt-later
adversary that replays the protocol's own derivations on a wire transcript (adversary.py), the
experiment sweeps (run.py) and the `pq3proto simulate` subcommand (cli.py).
Not: any protocol rule. Nothing here is imported by the protocol modules.
"""
