"""The sampling profiler of ``benchmarks.profile``: who a sample is charged to, and that it samples."""

from __future__ import annotations

import json
import sys
from collections import Counter
from types import FrameType

from benchmarks.profile import Samples, sampling


def _frame_inside_json() -> FrameType:
    """A frame of the standard library's json encoder, called from this module."""
    seen: list[FrameType] = []

    def default(_: object) -> str:
        seen.append(sys._getframe(1))  # the encoder's own frame, in json/
        return "x"

    json.dumps(object(), default=default)
    return seen[0]


def test_a_standard_library_frame_is_charged_to_its_caller() -> None:
    samples = Samples()
    frame = _frame_inside_json()
    assert "json" in frame.f_code.co_filename
    samples.record(frame)
    assert samples.owners == {"other": 1}
    ((owner, function),) = samples.functions
    assert owner == "other"
    assert function.endswith("_frame_inside_json")


def _spin(samples: Samples, wanted: int) -> None:
    # Until the timer has fired often enough: it counts CPU time, so this ends on any machine.
    while sum(samples.owners.values()) < wanted:
        sum(range(1_000))


def test_only_what_runs_while_watching_is_sampled() -> None:
    samples = Samples()
    with sampling(samples):
        sum(range(100_000))  # not watched
        with samples.watching():
            _spin(samples, 5)
    by_function = Counter[str]()
    for (_, function), count in samples.functions.items():
        by_function[function.rsplit(" ", 1)[1]] += count
    # Besides the loop, only the few instructions entering and leaving the watch run while it is on
    # (the profiler's frames are charged to this test): each far shorter than one tick of the
    # timer, so at most one sample apiece.
    assert set(by_function) <= {"_spin", "test_only_what_runs_while_watching_is_sampled"}
    assert by_function["_spin"] >= 3
    assert samples.cpu_s > 0
