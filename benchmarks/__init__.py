"""The project's benchmark suite: cold starts, warm overhead, DynamoDB calls, the sweep, built sizes.

``python -m benchmarks`` (``make bench``) prints a table and writes the same figures to
``benchmarks/results.json``; ``--quick`` (``make bench-quick``, run by CI) repeats less and
exits non-zero when a DynamoDB call or item count differs from the contract.
"""
