"""Delivery simulation and adversary experiments over recorded transcripts (spec/03-ratchet.md).

Owns: the seeded delivery simulator (delivery.py), the compromise and harvest-now-decrypt-later
adversary that replays the protocol's own derivations on a wire transcript under any profile
(adversary.py, hndl.py), the active attacks (attacks.py), the experiment sweeps (run.py) and
`pq3proto simulate` (cli.py), the traced conversations (traced.py, `pq3proto trace`) and the
profile comparison (profiles.py, patterns.py, `pq3proto profiles`).
Not: any protocol rule. Nothing here is imported by the protocol modules.
"""
