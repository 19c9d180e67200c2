"""``python -m benchmarks.capacity`` models the committed benchmark run (docs/capacity.md's table)."""

from __future__ import annotations

import json

import pytest

from benchmarks import capacity


def test_the_model_reads_the_committed_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main() == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["operations"]) == set(capacity.UNITS)
    results = json.loads(capacity.RESULTS.read_text())
    for name, row in out["operations"].items():
        # The warm overhead of the run plus the assumed DynamoDB latency and Lambda's own millisecond.
        assert row["duration_ms"] > results["warm"][name]["p50_ms"] + capacity.PLATFORM_MS
