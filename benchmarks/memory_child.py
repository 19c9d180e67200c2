"""One function's CPU time, cold then warm, in a fresh interpreter: run by ``benchmarks.memory``.

``python -m benchmarks.memory_child MODULE RESULT`` (a JSON list of events on stdin): import the
handler module and serve the first event (the cold start), then serve the others one by one (warm
requests). Lambda
gives a function CPU in proportion to its memory, so what a memory size changes is the CPU part
of each phase: ``time.process_time`` (this process's CPU, user and system; DynamoDB is moto in
another process, so its work is not counted, while botocore's serializing and parsing is). Like
``cold_child.py`` it imports nothing of the project before its clock starts, and it writes only
times and status codes (never a body: a create's holds a new secret).
"""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.cold_child import LambdaContextStandIn  # standard library only, like this module


def _serve(handler: Callable[[Any, Any], Any], event: Any) -> object:
    """One request; the status code, or the authorizer's outcome (it raises to answer 401)."""
    try:
        response = handler(event, LambdaContextStandIn())
    except Exception as error:  # the authorizer's 401 is an exception by API Gateway's convention
        return f"raised {type(error).__name__}"
    if isinstance(response, dict):
        return response.get("statusCode", "policy" if "policyDocument" in response else None)
    return None


def _resident_peak_mb() -> float | None:
    """The resident peak (Linux's VmHWM), against the memory size it must fit; ``None`` elsewhere.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it across ``exec`` from the parent, here the
    benchmark process with moto inside.
    """
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def main() -> None:
    """Time the import, the first request and each later one, in CPU and wall milliseconds."""
    module, result_path = sys.argv[1], sys.argv[2]
    events = json.loads(sys.stdin.read())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    from importlib import import_module

    handler = import_module(module).lambda_handler
    cpu_imported = time.process_time()
    statuses = [_serve(handler, events[0])]
    cpu_cold, wall_cold = time.process_time(), time.perf_counter()
    warm_cpu, warm_wall = [], []
    for event in events[1:]:
        cpu, wall = time.process_time(), time.perf_counter()
        statuses.append(_serve(handler, event))
        warm_cpu.append((time.process_time() - cpu) * 1000)
        warm_wall.append((time.perf_counter() - wall) * 1000)
    with open(result_path, "w") as stream:
        json.dump(
            {
                "cold_import_cpu_ms": (cpu_imported - cpu0) * 1000,
                "cold_cpu_ms": (cpu_cold - cpu0) * 1000,
                "cold_wall_ms": (wall_cold - wall0) * 1000,
                "warm_cpu_ms": warm_cpu,
                "warm_wall_ms": warm_wall,
                "statuses": sorted({str(status) for status in statuses}),
                "max_rss_mb": _resident_peak_mb(),
            },
            stream,
        )


if __name__ == "__main__":
    main()
