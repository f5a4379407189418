"""Proof suites: soak, crash, bad input and secret scan against the sandbox services.

Each suite starts the three sandbox services (Nuntiq, Connect, Codat) as child
processes, runs the four shipped connectors against them and compares what ended up
in Nuntiq and Codat with the services' own ground truth (:mod:`tests.proof.truth`).

    python -m tests.proof soak [--runs 20]
    python -m tests.proof crash [--runs 50]
    python -m tests.proof badinput
    python -m tests.proof secrets
"""
