"""``python -m tests.proof soak|crash|overlap|badinput|secrets``: the proof suites from the command line.

Every command starts its own sandbox services (child processes, scratch directory),
prints its figures and exits non-zero when a must-be-zero figure is not zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from tests.proof.env import CONNECT_CONFIG_VARIABLE, CONNECT_WINDOWS, SMALL, TINY, ProofEnv, Sizes


def _sizes(name: str) -> Sizes:
    return TINY if name == "tiny" else SMALL


def cmd_soak(args: argparse.Namespace) -> int:
    from tests.proof import soak

    started = time.monotonic()
    code, result = soak.main(rounds=args.runs, seed=args.seed, sizes=_sizes(args.size), out=sys.stderr)
    print("\n".join(result.lines()))
    print(f"elapsed               : {time.monotonic() - started:.0f}s")
    return code


def cmd_crash(args: argparse.Namespace) -> int:
    from tests.proof import crash

    started = time.monotonic()
    code, result = crash.main(runs=args.runs, seed=args.seed, sizes=_sizes(args.size), out=sys.stderr)
    print("\n".join(result.lines()))
    print(f"elapsed               : {time.monotonic() - started:.0f}s")
    return code


def cmd_overlap(args: argparse.Namespace) -> int:
    from tests.proof import drain, overlap

    started = time.monotonic()
    code, result = overlap.main(rounds=args.runs, seed=args.seed, sizes=_sizes(args.size), out=sys.stderr)
    # budgets, checkpoints and backfill windows: the overrunning and late-failing side of overlap
    result.scenarios += drain.main(seed=args.seed, out=sys.stderr)
    code = 0 if result.ok else 1
    print("\n".join(result.lines()))
    print(f"elapsed               : {time.monotonic() - started:.0f}s")
    return code


def cmd_badinput(args: argparse.Namespace) -> int:
    from tests.proof import badinput

    with ProofEnv.start(_sizes(args.size), seed=args.seed) as env:
        results = badinput.run_all(env, seed=args.seed)
    print(badinput.format_table(results))
    failed = [r for r in results if not r.passed]
    print(f"\ncases {len(results)}, passed {len(results) - len(failed)}, failed {len(failed)}")
    for r in failed:
        print(f"  FAILED {r.case} ({r.connector}): {r.outcome}; {r.error[:300]} {r.repair_detail[:200]}")
    return 1 if failed else 0


def cmd_secrets(args: argparse.Namespace) -> int:
    from tests.proof import badinput, secretscan, soak
    from tests.proof.truth import compare

    with ProofEnv.start(_sizes(args.size), seed=args.seed) as env:
        print(f"soak ({args.soak_runs} rounds) and bad-input cases first ...", file=sys.stderr)
        soak.run_soak(env, rounds=args.soak_runs, seed=args.seed)
        badinput.run_all(env, seed=args.seed)
        truth = compare(env)
        texts = list(env.texts())
        secrets = env.secret_values
        hits = secretscan.scan_texts(texts + truth.delta_texts, secrets)
        hits += secretscan.scan_shapes(texts + truth.delta_texts)
    cassettes, cassette_hits = secretscan.scan_cassettes()
    print(
        f"secret values         : {len(secrets)} ({', '.join(sorted({k.split(' #')[0] for k in secrets}))})"
    )
    print(f"texts scanned         : {len(texts)} logs/errors/results, {len(truth.delta_texts)} delta texts")
    print(f"cassettes scanned     : {cassettes}")
    print(f"hits                  : {len(hits) + len(cassette_hits)}")
    for hit in (hits + cassette_hits)[:40]:
        print(f"  {hit}")
    return 1 if hits or cassette_hits else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.proof", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, runs, text in (
        ("soak", cmd_soak, 20, "scheduled rounds of all four connectors with ~10%% failed requests"),
        ("crash", cmd_crash, 50, "SIGKILL connector processes at random points, then rerun"),
        ("overlap", cmd_overlap, 20, "overlapping, paused, killed and clock-skewed runs; who wrote what"),
        ("badinput", cmd_badinput, 0, "every bad-input case: clear error, cursor kept, rerun repairs"),
        ("secrets", cmd_secrets, 0, "scan logs, errors, delta metadata and cassettes for secrets"),
    ):
        p = sub.add_parser(name, help=text)
        if runs:
            p.add_argument(
                "--runs", type=int, default=runs, help="rounds / child runs (default: %(default)s)"
            )
        if name == "secrets":
            p.add_argument("--soak-runs", type=int, default=4, help="soak rounds before the scan")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--size", choices=("small", "tiny"), default="small", help="source data set")
        p.add_argument(
            "--connect-windows",
            action="store_true",
            help="read Connect listings through parallel windows (small pages, 4 windows at once)",
        )
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.connect_windows:  # every environment the suite starts, child processes included
        os.environ[CONNECT_CONFIG_VARIABLE] = json.dumps(CONNECT_WINDOWS)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
