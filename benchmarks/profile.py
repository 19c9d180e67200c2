"""``python -m benchmarks.profile [OPERATION ...]``: a sampling profile of warm requests, by who spends.

The warm benchmark's requests (:mod:`benchmarks.warm`: answers replayed after the first) run with
``SIGPROF`` firing every half millisecond of the process's CPU time (or at the kernel's tick, if
coarser); while a handler runs, each signal reads the interrupted stack. A sample is charged to
the innermost frame outside the standard library and the methods dataclasses generate (a
``json.dumps`` called by Powertools' log formatter is Powertools' time), and that frame's package
says who spends: botocore (the DynamoDB call itself, which the warm overhead subtracts),
Powertools, pydantic, our ``shared`` package, or the rest. Then the functions with the most
samples of their own. A diagnostic beside ``make bench``: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import signal
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

INTERVAL_S = 0.0005
# Frames charged to their caller: the standard library, the methods dataclasses generate (their
# code comes from exec, "<string>": a TokenRecord built by our code is our time), jmespath (which
# botocore's endpoint rules and Powertools both use), and this profiler's own (a signal landing in
# its handler is charged to what the handler interrupted).
TRANSPARENT = (sysconfig.get_paths()["stdlib"], "<frozen ", "<string>", __file__)
TRANSPARENT_PACKAGES = ("/jmespath/",)
# Who spends, by where the charged frame's file lives (the first match wins).
BOTOCORE = "botocore (the call itself)"
OWNERS = (
    (BOTOCORE, ("/botocore/", "/boto3/", "/urllib3/", "/moto/", "/benchmarks/replay")),
    ("aws_lambda_powertools", ("/aws_lambda_powertools/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("shared (ours)", (str(Path(__file__).resolve().parent.parent / "shared"),)),
)
DEFAULT_OPERATIONS = ("authorize", "verify", "create", "list (page of 100)")


def _transparent(filename: str) -> bool:
    return filename.startswith(TRANSPARENT) or any(package in filename for package in TRANSPARENT_PACKAGES)


@dataclass
class Samples:
    """What the signals found while :meth:`watching` was on: samples by owner and by function."""

    owners: Counter[str] = field(default_factory=Counter)
    functions: Counter[tuple[str, str]] = field(default_factory=Counter)
    active: bool = False
    cpu_s: float = 0.0

    def record(self, frame: FrameType | None) -> None:
        """Charge one sample to the innermost frame of ``frame``'s stack outside the standard library."""
        while frame is not None and _transparent(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is None:
            return
        code = frame.f_code
        owner = next((name for name, marks in OWNERS if any(m in code.co_filename for m in marks)), "other")
        self.owners[owner] += 1
        where = code.co_filename.split("site-packages/")[-1].removeprefix(str(Path.cwd()) + "/")
        self.functions[(owner, f"{where}:{code.co_firstlineno} {code.co_name}")] += 1

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Sample while the block runs (the timer itself runs for the whole profile)."""
        self.active = True
        started = time.process_time()
        try:
            yield
        finally:
            self.active = False
            self.cpu_s += time.process_time() - started


@contextmanager
def sampling(samples: Samples, interval_s: float = INTERVAL_S) -> Iterator[Samples]:
    """``SIGPROF`` every ``interval_s`` of CPU time, recorded into ``samples`` while it is watching."""

    def on_signal(_: int, frame: FrameType | None) -> None:
        if samples.active:
            samples.record(frame)

    previous = signal.signal(signal.SIGPROF, on_signal)
    signal.setitimer(signal.ITIMER_PROF, interval_s, interval_s)
    try:
        yield samples
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def profile(operation: str, requests: int, warmup: int = 20) -> Samples:
    """The samples of ``requests`` warm requests of one operation of the warm benchmark."""
    from benchmarks import warm

    samples = Samples()

    def watched(handler: warm.Handler) -> warm.Handler:
        served = 0

        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            nonlocal served
            served += 1
            if served <= warmup:  # the first is moto's own answer, recorded for the replay
                return handler(event, context)
            with samples.watching():
                return handler(event, context)

        return lambda_handler

    with sampling(samples):
        warm.measure(requests, warmup, only={operation}, wrap=watched)
    return samples


def render(operation: str, samples: Samples, top: int = 12) -> str:
    """The owners' shares, then the functions with the most samples outside botocore."""
    total = sum(samples.owners.values()) or 1
    lines = [
        f"{operation}: {total} samples over {samples.cpu_s:.2f} s of CPU inside the handler "
        f"(one per {samples.cpu_s / total * 1000:.1f} ms: the kernel's timer ticks coarser than asked)"
    ]
    lines += [f"  {count / total:6.1%}  {owner}" for owner, count in samples.owners.most_common()]
    lines.append("  most samples of their own, botocore's left out:")
    spent = [(name, n) for (owner, name), n in samples.functions.most_common() if owner != BOTOCORE]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in spent[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Profile each operation named (default: the hot ones) and print who spends."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("operations", nargs="*", default=DEFAULT_OPERATIONS, help="names of the warm table")
    parser.add_argument("--requests", type=int, default=3_000, help="per operation (default: 3,000)")
    args = parser.parse_args(argv)
    for operation in args.operations:
        sys.stdout.write(render(operation, profile(operation, args.requests)) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
