"""The benchmark suite's counting part, small: DynamoDB calls and items read are part of the contract."""

from __future__ import annotations

from moto import mock_aws

from benchmarks import memory, sweep, warm
from benchmarks.scenario import environment, lambda_environment, seeded_runtime


def test_every_operation_makes_the_calls_the_spec_allows() -> None:
    results = warm.measure(requests=3, warmup=1)
    assert set(results) == set(warm.EXPECTED)
    assert warm.count_mismatches(results) == []


def test_the_sweep_reads_only_what_expired() -> None:
    result = sweep.measure(live=300, expired_steps=(3, 30), transactions=5)
    assert [step["items_read"] for step in result["steps"]] == [3, 30]
    assert result["retirements"]["calls"]["TransactWriteItems"] == 5
    assert sweep.sweep_mismatches(result) == []


def test_the_memory_curve_measures_the_functions_it_models() -> None:
    """``python -m benchmarks.memory`` runs the functions its DynamoDB waits are written for, no other."""
    with environment(lambda_environment()), mock_aws():
        runtime, admin = seeded_runtime()
        names = [target.name for target in memory.memory_targets(runtime, admin)]
    assert sorted(names) == sorted(memory.CALLS)
