"""Every function's ``lambda_handler``, built in one place with its Powertools decorators.

Each ``functions/<name>/app.py`` names what it runs (``http_function(CREATE_TOKEN)``,
``authorizer_function()``, ...); the logging context (``clear_state``, the REST API's
correlation id for the HTTP functions) and the metrics flush are applied here only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import count, logger, metrics
from shared.entry.runtime import get_runtime
from shared.http.api import LambdaHandler, Operation, build_handler
from shared.http.authorizer import AuthorizerConfigurationError, authorize_request
from shared.services.publisher import publish_stream_batch
from shared.services.sweep import run_scheduled_sweep, shards_of


def http_function(operation: Operation) -> LambdaHandler:
    """The handler of one management API operation, behind an API Gateway REST proxy integration."""
    handle = build_handler(operation, get_runtime)

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
    )
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Serve one API Gateway REST proxy event."""
        return handle(event, context)

    return lambda_handler


def authorizer_function() -> LambdaHandler:
    """The handler of the REQUEST authorizer that other APIs attach."""

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer one API Gateway REQUEST authorizer event with a policy, or a 401."""
        return _authorize(event)

    return lambda_handler


def _authorize(event: dict[str, Any]) -> dict[str, Any]:
    runtime = get_runtime()
    try:
        decision = authorize_request(runtime, runtime.settings, event)
    except AuthorizerConfigurationError as error:
        # Raised on: API Gateway answers 500 to every request until the configuration is fixed.
        logger.error("authorizer misconfigured", extra={"reason": str(error)})
        count("AuthorizerMisconfigured")
        raise
    logger.info(
        f"request {decision.outcome}",
        extra={**decision.log_fields(), "method": event.get("httpMethod"), "resource": event.get("resource")},
    )
    count(f"Authorizer{decision.code.value.title().replace('_', '')}")
    if decision.response is None:
        # API Gateway's convention: exactly this message makes it answer 401 Unauthorized.
        raise Exception("Unauthorized")
    return decision.response


def sweep_function() -> LambdaHandler:
    """The handler of the scheduled expiry sweep."""

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Run one sweep for a scheduled event: over its ``shards``, or every shard when it names none."""
        return run_scheduled_sweep(get_runtime(), context, shards_of(event))

    return lambda_handler


def publisher_function() -> LambdaHandler:
    """The handler of the lifecycle-event publisher, on the table's DynamoDB stream."""

    # No metrics flush (log_metrics): the publisher records no metric.
    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Publish a batch of stream records, reporting the failed ones for retry."""
        return publish_stream_batch(get_runtime(), event, context)

    return lambda_handler
