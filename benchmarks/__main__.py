"""``python -m benchmarks [--quick] [--no-build]``: run the suite, print the table, write the JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cold, report, sizes, sweep, warm

RESULTS = Path(__file__).with_name("results.json")
# (cold rounds, warm requests, live tokens for the sweep, expired tokens per sweep step, warm
# requests before the second memory reading)
FULL = (5, 500, 10_000, sweep.EXPIRED_STEPS, 10_000)
QUICK = (1, 50, 200, (10, 100), 100)


def run(quick: bool, build: bool) -> dict[str, Any]:
    """Every part of the suite; the quick mode repeats less and skips the profile."""
    rounds, requests, live, expired_steps, memory_requests = QUICK if quick else FULL
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if quick else "full",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    _progress("DynamoDB calls and warm overhead")
    results["warm"] = warm.measure(requests, warmup=5 if quick else 10)
    _progress("cold starts and floors")
    # The parts whose figures are counts and bytes (the sweep, sam build) run beside the memory
    # children, once every timed part is done: nothing timed shares the machine with them.
    background: list[Future[dict[str, Any]]] = []

    def start_untimed() -> None:
        _progress("memory, with the expiry sweep" + (" and sam build" if build else "") + " beside it")
        background.append(pool.submit(sweep.measure_apart, live, expired_steps, 20 if quick else 100))
        if build:
            background.append(pool.submit(sizes.measure))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results["cold_start"] = cold.measure(
            rounds, profile=not quick, memory_requests=memory_requests, untimed=start_untimed
        )
        results["sweep"] = background[0].result()
        if build:
            results["sizes"] = background[1].result()
    results["mismatches"] = warm.count_mismatches(results["warm"]) + sweep.sweep_mismatches(results["sweep"])
    return results


_STARTED = time.monotonic()


def _progress(step: str) -> None:
    # The elapsed time says which part of a long run is the long one.
    sys.stderr.write(f"benchmarks: {step}... ({time.monotonic() - _STARTED:.0f} s in)\n")


def main(argv: list[str] | None = None) -> int:
    """Run, print, write; exit 1 when a DynamoDB call or item count breaks the contract."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI); counts still checked")
    parser.add_argument("--no-build", action="store_true", help="skip sam build and the size table")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"default: {RESULTS.name} beside this file"
    )
    args = parser.parse_args(argv)
    results = run(quick=args.quick, build=not args.no_build)
    results["total_s"] = round(time.monotonic() - _STARTED)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(report.render(results) + "\n")
    return 1 if results["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
