"""The benchmark suite's counting part, small: DynamoDB calls and items read are part of the contract."""

from __future__ import annotations

from benchmarks import sweep, warm


def test_every_operation_makes_the_calls_the_spec_allows() -> None:
    results = warm.measure(requests=3, warmup=1)
    assert set(results) == set(warm.EXPECTED)
    assert warm.count_mismatches(results) == []


def test_the_sweep_reads_only_what_expired() -> None:
    result = sweep.measure(live=300, expired_steps=(3, 30), transactions=5)
    assert [step["items_read"] for step in result["steps"]] == [3, 30]
    assert result["retirements"]["calls"]["TransactWriteItems"] == 5
    assert sweep.sweep_mismatches(result) == []
