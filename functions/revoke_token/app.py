"""Lambda entry point of the revoke token operation; all logic lives in the shared package."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import logger, metrics
from shared.http.api import build_handler
from shared.http.operations.revoke_token import REVOKE_TOKEN

_handle = build_handler(REVOKE_TOKEN)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Serve one API Gateway REST proxy event."""
    return _handle(event, context)
