"""``python -m benchmarks.hostile``: what a hostile body costs the handler of every route.

The outside review's attack: a body of unknown keys (``{"k0": 0, "k1": 0, ...}``), sent with
and without a bearer token. For each route and body size this prints the handler's time, the
peak memory Python allocated while handling it (``tracemalloc``), the status and the size of
the answer. A figure to read, not to assert: tests count what can be counted.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
import warnings
from contextlib import redirect_stdout
from importlib import import_module
from io import StringIO
from typing import Any

from moto import mock_aws

from benchmarks.cold_child import LambdaContextStandIn
from benchmarks.scenario import TOKENS_URL, environment, lambda_environment, seeded_runtime
from devtools.events import proxy_event

SOME_ID = "0123456789abcdefghjkmnpqrs"
ROUTES = [
    ("list_tokens", "GET", TOKENS_URL, True),
    ("create_token", "POST", TOKENS_URL, True),
    ("revoke_token", "DELETE", f"{TOKENS_URL}/{SOME_ID}", True),
    ("refresh_token", "POST", f"{TOKENS_URL}/{SOME_ID}/refresh", False),
    ("verify_token", "POST", f"{TOKENS_URL}/verify", True),
]


def unknown_keys(size: int) -> str:
    """A JSON object of unknown keys, about ``size`` bytes long."""
    count = size // len('"k100000": 0, ')
    return json.dumps({"refresh_token": "x", **{f"k{i}": 0 for i in range(count)}})


def measure(sizes: list[int]) -> list[dict[str, Any]]:
    """Per route and body size: one request timed, then the same request with its memory traced."""
    rows = []
    warnings.filterwarnings("ignore", "No application metrics to publish")
    # The functions' log lines go to stdout, as in Lambda: kept out of the table.
    with environment(lambda_environment()), mock_aws(), redirect_stdout(StringIO()):
        _, admin = seeded_runtime()
        for size in sizes:
            body = unknown_keys(size)
            for name, method, path, bearer in ROUTES:
                headers = {"Content-Type": "application/json"}
                if bearer:
                    headers["Authorization"] = f"Bearer {admin.plaintext_token}"
                function = import_module(f"functions.{name}.app").lambda_handler
                function(proxy_event(method, path, headers=headers), LambdaContextStandIn())  # warm the route
                gc.collect()
                started = time.perf_counter()
                result = function(
                    proxy_event(method, path, headers=headers, body=body), LambdaContextStandIn()
                )
                elapsed = time.perf_counter() - started
                # Memory in a second run: tracemalloc slows every allocation, so it would distort the time.
                gc.collect()
                tracemalloc.start()
                function(proxy_event(method, path, headers=headers, body=body), LambdaContextStandIn())
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                rows.append(
                    {
                        "route": name,
                        "body_bytes": len(body),
                        "status": result["statusCode"],
                        "answer_bytes": len(result.get("body") or ""),
                        "handler_ms": round(elapsed * 1000, 2),
                        "peak_mib": round(peak / 2**20, 2),
                    }
                )
    return rows


def main() -> None:
    """Print the table: 6 MB (the review's size, past every route's bound) and 60 KB (within all)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6_000_000, 60_000])
    rows = measure(parser.parse_args().sizes)
    lines = [f"{'route':<14} {'body':>10} {'status':>6} {'answer':>8} {'handler ms':>11} {'peak MiB':>9}"]
    lines += [
        f"{row['route']:<14} {row['body_bytes']:>10,} {row['status']:>6} {row['answer_bytes']:>8,} "
        f"{row['handler_ms']:>11} {row['peak_mib']:>9}"
        for row in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
