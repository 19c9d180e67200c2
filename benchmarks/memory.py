"""``python -m benchmarks.memory``: each function's CPU time, cold and warm, and its cost-latency curve.

Lambda gives a function CPU in proportion to its memory: 1,769 MB is one full vCPU, below that a
share of it (AWS's documentation); a single-threaded Python handler gains nothing above 1,769 MB.
So each phase's duration at a memory size is modelled as its CPU time measured here (one local
core standing for one Lambda vCPU: an assumption, stated in docs/capacity.md) stretched by
1,769 / MB, plus the time it waits for DynamoDB (``benchmarks.capacity``'s latencies, which no CPU
shortens) and Lambda's own millisecond. Cost is the billed duration (rounded up to the millisecond)
times the memory in GB at the arm64 price, plus the request charge. Cold starts are billed too:
since August 2025 Lambda bills the init phase of on-demand functions like the handler's.

Prints JSON: the measured CPU times and resident peaks, then per function and memory size the
warm and cold durations and the cost per million requests (at 1% cold starts).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.capacity import LATENCY_MS, PLATFORM_MS, PRICE_LAMBDA_GB_S_ARM, PRICE_LAMBDA_REQUEST
from benchmarks.cold import Target, _put_key_in_ssm, run_child, targets
from benchmarks.scenario import environment, event_file, issue, lambda_environment, seeded_runtime
from devtools.embedded import local_aws
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken

# Run as a module, from the repository root, so that it shares the cold child's context stand-in.
CHILD = ("-m", "benchmarks.memory_child")
SIZES_MB = (128, 256, 512, 1024, 1769)
FULL_VCPU_MB = 1769
COLD_SHARE = 0.01  # the share of requests that meet a cold start, for the blended cost
# The DynamoDB calls each function's request waits for (the warm benchmark's counts; the
# authorizer's as verify's credential read, the refresh as one read and one transaction).
CALLS = {
    "ListTokensFunction": {"GetItem": 1, "Query": 1},
    "CreateTokenFunction": {"GetItem": 1, "TransactWriteItems": 1},
    "RevokeTokenFunction": {"GetItem": 1, "TransactWriteItems": 1},
    "RefreshTokenFunction": {"GetItem": 1, "TransactWriteItems": 1},
    "VerifyTokenFunction": {"GetItem": 2},
    "AuthorizeFunction": {"GetItem": 1},
    "SweepExpiredTokensFunction": {"Query": 32},
    "PublishEventsFunction": {"GetItem": 1},
}
AUTHORIZER_ROUTES = '{"GET /v1/workspaces/{workspace_id}/hello": {}}'


def _authorizer_event(token: IssuedToken) -> dict[str, Any]:
    """The repository's authorizer event, carrying a live token of the bench app."""
    event = event_file("authorize")
    bearer = f"Bearer {token.plaintext_token}"
    event["headers"]["Authorization"] = bearer
    event["multiValueHeaders"]["Authorization"] = [bearer]
    return event


def memory_targets(runtime: Runtime, admin: IssuedToken) -> list[Target]:
    """The cold benchmark's functions that :data:`CALLS` models (docs/capacity.md: the others take
    the Globals size), the authorizer with this benchmark's routes."""
    chosen = [t for t in targets(runtime, admin) if t.name in CALLS and t.name != "AuthorizeFunction"]
    live = issue(runtime, admin)
    authorizer = Target("AuthorizeFunction", "functions.authorize.app", lambda: _authorizer_event(live), None)
    return [*chosen, authorizer]


def _run_child(target: Target, requests: int, bytecode: Path) -> dict[str, Any]:
    """One fresh interpreter: the cold start, then ``requests`` warm requests, each with its own event."""
    assert target.request is not None
    events = [target.request() for _ in range(requests + 1)]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the layer ships bytecode: none is compiled when timed
    result, _ = run_child((*CHILD, target.module), events, env, bytecode)
    if target.status is not None and result["statuses"] != [str(target.status)]:
        raise RuntimeError(f"{target.name} answered {result['statuses']}, expected {target.status}")
    return result


def measure(rounds: int, requests: int) -> dict[str, dict[str, Any]]:
    """Median CPU milliseconds per function: import, cold start (import + first request), warm request."""
    variables = {
        **lambda_environment(),
        "AUTHORIZER_ORG_ID": "bench",
        "AUTHORIZER_APP_ID": "bench-app",
        "AUTHORIZER_ROUTES": AUTHORIZER_ROUTES,
    }
    with environment(variables), local_aws(), tempfile.TemporaryDirectory() as scratch:
        bytecode = Path(scratch)
        runtime, admin = seeded_runtime()
        _put_key_in_ssm(runtime)
        chosen = memory_targets(runtime, admin)
        for target in chosen:
            _run_child(target, 1, bytecode)  # untimed: bytecode written, files in the page cache
        runs: dict[str, list[dict[str, Any]]] = {target.name: [] for target in chosen}
        for _ in range(rounds):
            for target in chosen:
                runs[target.name].append(_run_child(target, requests, bytecode))
    return {
        name: {
            "import_cpu_ms": round(statistics.median(r["cold_import_cpu_ms"] for r in results), 1),
            "cold_cpu_ms": round(statistics.median(r["cold_cpu_ms"] for r in results), 1),
            "cold_wall_ms": round(statistics.median(r["cold_wall_ms"] for r in results), 1),
            "warm_cpu_p50_ms": round(statistics.median(ms for r in results for ms in r["warm_cpu_ms"]), 3),
            "warm_wall_p50_ms": round(statistics.median(ms for r in results for ms in r["warm_wall_ms"]), 3),
            "max_rss_mb": round(max(r["max_rss_mb"] or 0 for r in results), 1),
            "answers": sorted({status for r in results for status in r["statuses"]}),
        }
        for name, results in runs.items()
    }


def curve(name: str, cpu: dict[str, Any]) -> dict[int, dict[str, float]]:
    """Modelled warm and cold durations, and the cost per million requests, at each memory size."""
    wait_ms = sum(LATENCY_MS[call] * count for call, count in CALLS[name].items()) + PLATFORM_MS
    rows = {}
    for size in SIZES_MB:
        stretch = max(1.0, FULL_VCPU_MB / size)
        warm_ms = cpu["warm_cpu_p50_ms"] * stretch + wait_ms
        cold_ms = cpu["cold_cpu_ms"] * stretch + wait_ms
        gb_ms = size / 1024 * PRICE_LAMBDA_GB_S_ARM / 1000
        warm_cost = math.ceil(warm_ms) * gb_ms + PRICE_LAMBDA_REQUEST
        cold_cost = math.ceil(cold_ms) * gb_ms + PRICE_LAMBDA_REQUEST
        blended = (1 - COLD_SHARE) * warm_cost + COLD_SHARE * cold_cost
        rows[size] = {
            "warm_ms": round(warm_ms, 1),
            "cold_ms": round(cold_ms, 0),
            "usd_per_million_warm": round(warm_cost * 1e6, 3),
            "usd_per_million_at_1pct_cold": round(blended * 1e6, 3),
        }
    return rows


def main() -> int:
    """Measure, model, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    measured = measure(args.rounds, args.requests)
    out = {
        "rounds": args.rounds,
        "warm_requests_per_round": args.requests,
        "load_before": os.getloadavg()[0],
        "measured": measured,
        "curve": {name: curve(name, cpu) for name, cpu in measured.items()},
    }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
