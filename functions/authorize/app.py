"""Lambda entry point of the REQUEST authorizer that other APIs attach; the logic is in shared."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import count, logger, metrics
from shared.entry.runtime import get_runtime
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
    logger.info(
        f"request {decision.outcome}",
        extra={**decision.log_fields(), "method": event.get("httpMethod"), "resource": event.get("resource")},
    )
    count(f"Authorizer{decision.code.value.title().replace('_', '')}")
    if decision.response is None:
        # API Gateway's convention: exactly this message makes it answer 401 Unauthorized.
        raise Exception("Unauthorized")
    return decision.response
