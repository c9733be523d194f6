"""``python -m sandbox.soak`` (``make soak``): every scenario in turn, or the one ``--scenario`` names."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Final

from sandbox.soak.run import run_soak
from sandbox.soak.scenarios import DEFAULT_SEED, SCENARIOS, scenario
from sandbox.soak.workload import SHORT_REQUESTS

DESCRIPTION: Final = "Soak: thousands of requests through the sandbox, faults at every boundary, then the invariants."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.soak", description=DESCRIPTION)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", help="run this one (repeatable; default all)")
    parser.add_argument("--requests", type=int, help="requests to send (default: the scenario's; standard 2000)")
    parser.add_argument("--pollers", type=int, default=4, help="concurrent pollers (default 4)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the requests' fates and faults")
    parser.add_argument("--short", action="store_true", help=f"the make test version (standard: {SHORT_REQUESTS})")
    parser.add_argument("--function-log", help="append the worker's JSON logs and metrics here (default: discard)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.scenario or SCENARIOS:
        changes = {"requests": args.requests} if args.requests else {}
        options = scenario(
            name, short=args.short, seed=args.seed, pollers=args.pollers, function_log=args.function_log, **changes
        )
        report = run_soak(options)
        print(report.table())
        if report.ok:
            print(f"{name}: invariants all hold\n")
            continue
        status = 1
        for failure in report.failures:
            print(f"{name}: INVARIANT BROKEN: {failure}")
    return status


if __name__ == "__main__":
    sys.exit(main())
