"""Lambda entry point of the lifecycle-event publisher (DynamoDB stream); logic in the shared package."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import logger
from shared.entry.runtime import get_runtime
from shared.services.publisher import publish_stream_batch


@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish a batch of stream records, reporting the failed ones for retry."""
    return publish_stream_batch(get_runtime(), event, context)
