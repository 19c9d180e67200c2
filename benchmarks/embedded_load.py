"""``python -m benchmarks.embedded_load``: ``app-tokens serve`` under thousands of creates.

Starts the server as a user does (a subprocess, ``--port 0``, the ``API_URL=`` and
``ADMIN_TOKEN=`` lines of its banner), creates tokens one after another over real HTTP,
and prints the server's resident memory as it grows (its own and its children's, from
``/proc``), the median latency of the first and the last hundred creates, every status
that was not a 201, and how long the server takes to exit after SIGINT (Ctrl-C).

Figures to read, never asserted: the regression tests count what can be counted
(tests/integration/test_embedded_transactions.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TOKENS = "/v1/orgs/demo/apps/demo-app/tokens"
START_SECONDS = 120
WINDOW = 100  # the first and the last this many creates are compared


@dataclass
class Running:
    process: subprocess.Popen[str]
    host: str
    port: int
    admin_token: str


def _environment() -> dict[str, str]:
    """No endpoint, key or table from the caller's shell: the embedded server, as ``make run`` starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOKEN_HASH_KEY", "TABLE_NAME"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _banner(stream: IO[str]) -> dict[str, str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    found: dict[str, str] = {}
    deadline = time.monotonic() + START_SECONDS
    while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) != "Ctrl-C stops.":
        name, equals, value = line.partition("=")
        if equals and name.isupper():
            found[name] = value
    return found


def start(stderr: Path) -> Running:
    """``app-tokens serve --port 0`` as a subprocess, once its banner is out."""
    with stderr.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.cli", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=_environment(),
        )
    assert process.stdout is not None
    banner = _banner(process.stdout)
    host_port = banner["API_URL"].removeprefix("http://")
    host, port = host_port.rsplit(":", 1)
    return Running(process, host, int(port), banner["ADMIN_TOKEN"])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with (task / "children").open() as listing:
            found += [int(child) for child in listing.read().split()]
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (``VmRSS``), in bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            pending += _children(current)
        except FileNotFoundError:
            continue  # exited meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


Samples = list[tuple[int, int]]  # (creates so far, RSS in bytes)


def say(line: str = "") -> None:
    """One line of the report, at once (the run is long)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def create_tokens(running: Running, count: int, every: int) -> tuple[list[float], Samples, Counter[int]]:
    """``count`` creates on one keep-alive connection: each one's seconds, RSS samples, statuses."""
    connection = http.client.HTTPConnection(running.host, running.port, timeout=120)
    headers = {"Authorization": f"Bearer {running.admin_token}", "Content-Type": "application/json"}
    seconds: list[float] = []
    samples = [(0, rss_bytes(running.process.pid))]
    statuses: Counter[int] = Counter()
    for number in range(1, count + 1):
        body = json.dumps({"name": f"load-{number}", "permissions": ["app_tokens:list"]})
        began = time.perf_counter()
        connection.request("POST", TOKENS, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        seconds.append(time.perf_counter() - began)
        statuses[response.status] += 1
        if number % every == 0 or number == count:
            samples.append((number, rss_bytes(running.process.pid)))
            say(
                f"  {number:>6} creates  RSS {samples[-1][1] / 2**20:7.1f} MB  "
                f"last create {seconds[-1] * 1000:7.1f} ms"
            )
    connection.close()
    return seconds, samples, statuses


def stop_seconds(running: Running, limit: float = 120.0) -> float | None:
    """SIGINT, as Ctrl-C sends it, then the seconds until the process exits (``None``: killed at limit)."""
    began = time.perf_counter()
    running.process.send_signal(signal.SIGINT)
    try:
        running.process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()
        return None
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Run the load, print the figures; exit 0 whatever they are (a benchmark reports, never judges)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--creates", type=int, default=5000, help="how many tokens to create (default 5000)")
    parser.add_argument("--every", type=int, default=500, help="print RSS every this many creates")
    parser.add_argument("--stderr", type=Path, help="the server's stderr (default: a temp file)")
    arguments = parser.parse_args(argv)

    stderr = arguments.stderr or Path(tempfile.mkdtemp()) / "serve.stderr.log"
    running = start(stderr)
    say(f"app-tokens serve (pid {running.process.pid}) on {running.host}:{running.port}")
    began = time.perf_counter()
    try:
        seconds, samples, statuses = create_tokens(running, arguments.creates, arguments.every)
    finally:
        stopped = stop_seconds(running)
    elapsed = time.perf_counter() - began
    window = min(WINDOW, len(seconds))
    first = statistics.median(seconds[:window])
    last = statistics.median(seconds[-window:])
    growth = samples[-1][1] - samples[0][1]
    mb = 2**20
    stop = "killed after 120 s" if stopped is None else f"{stopped:.2f} s"
    say()
    say(f"creates:                         {len(seconds)} in {elapsed:.1f} s; statuses {dict(statuses)}")
    say(f"RSS at start / at the end:       {samples[0][1] / mb:.1f} MB / {samples[-1][1] / mb:.1f} MB")
    say(f"RSS growth:                      {growth / mb:.1f} MB")
    say(f"median of the first {window} creates: {first * 1000:.1f} ms")
    say(f"median of the last {window} creates:  {last * 1000:.1f} ms  ({last / first:.2f}x the first)")
    say(f"SIGINT to exit:                  {stop}")
    say(f"(server's stderr: {stderr})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
