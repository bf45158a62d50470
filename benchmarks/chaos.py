"""The crash-safety campaign: Celery workers posting into a simulated QuickBooks Online
company while workers are killed with SIGKILL, Redis and PostgreSQL are restarted and the
company answers with lost responses, 5xx, 429 and 401; after each run the books are
checked against the source (``salesync.sandbox.chaos``).

Prints the number of runs and the outcome: duplicates, losses, runs that did not settle.
With ``--record FILE`` every run's outcome is appended to FILE as a JSON line, so
campaigns with different seeds (on different days or machines) add up; ``--report FILE``
prints the outcome of every run recorded there. Usage:
    python benchmarks/chaos.py [--runs 1000] [--workers 2] [--orders-per-day 3] [--seed 1]
    python benchmarks/chaos.py --runs 250 --seed 3 --record chaos.jsonl
    python benchmarks/chaos.py --report chaos.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from salesync.sandbox.chaos import Campaign, Outcome, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders-per-day", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, help="keep the workers' logs here")
    parser.add_argument("--record", type=Path, help="append each run's outcome to this file")
    parser.add_argument(
        "--report", type=Path, help="print the outcome of the runs recorded in this file"
    )
    args = parser.parse_args()
    if args.report:
        recorded = [
            Outcome(**json.loads(line))
            for line in args.report.read_text().splitlines()
            if line.strip()
        ]
        print(report(recorded))
        return
    # SIGTERM ends the campaign like Ctrl-C: its servers and workers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="salesync-chaos-") as temporary:
        home = args.home or Path(temporary)
        home.mkdir(parents=True, exist_ok=True)
        campaign = Campaign(
            home, workers=args.workers, orders_per_day=args.orders_per_day, seed=args.seed
        )
        with campaign:
            for number in range(1, args.runs + 1):
                outcome = campaign.run(number)
                outcomes.append(outcome)
                if args.record:
                    with args.record.open("a") as record:
                        print(
                            json.dumps({**dataclasses.asdict(outcome), "seed": args.seed}),
                            file=record,
                        )
                if not outcome.clean or number % 25 == 0:
                    print(
                        f"run {number}: {outcome.action}, faults {outcome.faults or 'none'}, "
                        f"{'clean' if outcome.clean else 'NOT CLEAN'} "
                        f"({outcome.losses} lost, {outcome.duplicates} doubled, "
                        f"settled {outcome.settled}) in {outcome.seconds:.1f} s",
                        flush=True,
                    )
                for line in outcome.stuck:
                    print(f"  {line}", flush=True)
    print(report(outcomes))
    print(f"campaign took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
