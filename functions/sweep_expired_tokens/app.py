"""Lambda entry point of the scheduled expiry sweep; all logic lives in the shared package."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.observability import logger, metrics
from shared.entry.runtime import get_runtime
from shared.services.sweep import run_scheduled_sweep, shards_of


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Run one sweep for a scheduled event: over its ``shards``, or every shard when it names none."""
    return run_scheduled_sweep(get_runtime(), context, shards_of(event))
