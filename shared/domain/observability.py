"""Logging, metrics and tracing, set up so that none of them can carry a secret.

Tracing is opt-in and lazy: ``Tracer()`` imports the X-Ray SDK, which costs
hundreds of milliseconds of cold start, so it is only built when tracing is on
(``POWERTOOLS_TRACE_DISABLED`` is not true and the function runs under X-Ray).
Responses are never captured: a create response holds the plaintext token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE_NAME = "app-tokens"
METRICS_NAMESPACE = "AppTokens"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE_NAME))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE))


def count(metric_name: str) -> None:
    """Add one to a count metric of this invocation."""
    metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=1)


def tracing_enabled() -> bool:
    """Whether this process runs under X-Ray with tracing not switched off."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true")
    return not disabled and "_X_AMZN_TRACE_ID" in os.environ


@lru_cache(maxsize=1)
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE_NAME, auto_patch=True)


@contextmanager
def traced(name: str) -> Iterator[None]:
    """An X-Ray subsegment around a block when tracing is on; nothing at all otherwise."""
    if not tracing_enabled():
        yield
        return
    with _tracer().provider.in_subsegment(f"## {name}"):
        yield
