"""Every function's ``lambda_handler``, built in one place with its Powertools decorators.

Each ``functions/<name>/app.py`` names what it runs (``http_function(CREATE_TOKEN)``,
``authorizer_function()``, ...); the logging context (``clear_state``, the REST API's
correlation id for the HTTP functions) and the metrics flush are applied here only. Each factory
imports what its function runs when it is called, so that a function loads only its own code: the
sweep never imports the HTTP resolver and pydantic, nor an HTTP function the sweep (cold starts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import count, logger, metrics
from shared.entry.runtime import get_runtime

if TYPE_CHECKING:
    from shared.http.api import Operation

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def http_function(operation: Operation) -> LambdaHandler:
    """The handler of one management API operation, behind an API Gateway REST proxy integration."""
    from shared.entry.snapstart import register_snapshot_hooks
    from shared.http.api import build_handler

    # The HTTP functions are the ones the template's EnableSnapStart turns SnapStart on for; without
    # it the hooks are registered but never run (Lambda runs them only when it snapshots).
    register_snapshot_hooks()
    handle = build_handler(operation, get_runtime)

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Serve one API Gateway REST proxy event."""
        # The REST API's request id, read directly: Powertools' correlation_id_path would run a
        # JMESPath search on every request for this one key.
        request_context = event.get("requestContext")
        if isinstance(request_context, dict):
            logger.set_correlation_id(request_context.get("requestId"))
        return handle(event, context)

    return lambda_handler


def authorizer_function() -> LambdaHandler:
    """The handler of the REQUEST authorizer that other APIs attach."""
    from shared.http.authorizer import AuthorizerConfigurationError, authorize_request

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer one API Gateway REQUEST authorizer event with a policy, or a 401."""
        runtime = get_runtime()
        try:
            decision = authorize_request(runtime, runtime.settings, event)
        except AuthorizerConfigurationError as error:
            # Raised on: API Gateway answers 500 to every request until the configuration is fixed.
            logger.error("authorizer misconfigured", extra={"reason": str(error)})
            count("AuthorizerMisconfigured")
            raise
        # An Allow is logged at DEBUG: it is the hot path of every API guarded, where a line per
        # request costs about as much in CloudWatch Logs as the invocation itself (docs/decisions.md).
        # Every refusal stays at INFO; the metric below counts every decision, Allows included.
        log = logger.debug if decision.outcome == "authorized" else logger.info
        log(
            f"request {decision.outcome}",
            extra={
                **decision.log_fields(),
                "method": event.get("httpMethod"),
                "resource": event.get("resource"),
            },
        )
        count(f"Authorizer{decision.code.value.title().replace('_', '')}")
        if decision.response is None:
            # API Gateway's convention: exactly this message makes it answer 401 Unauthorized.
            raise Exception("Unauthorized")
        return decision.response

    return lambda_handler


def sweep_function() -> LambdaHandler:
    """The handler of the scheduled expiry sweep."""
    from shared.services.sweep import run_scheduled_sweep, shards_of

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Run one sweep for a scheduled event: over its ``shards``, or every shard when it names none."""
        return run_scheduled_sweep(get_runtime(), context, shards_of(event))

    return lambda_handler


def publisher_function() -> LambdaHandler:
    """The handler of the lifecycle-event publisher, on the table's DynamoDB stream."""
    from shared.services.publisher import publish_stream_batch

    # No metrics flush (log_metrics): the publisher records no metric.
    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Publish a batch of stream records, reporting the failed ones for retry."""
        return publish_stream_batch(get_runtime(), event, context)

    return lambda_handler
