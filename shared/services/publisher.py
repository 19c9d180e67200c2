"""The publisher function's body: outbox items from the table's stream, onto the EventBridge bus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.lifecycle import CASCADE_PENDING, publish
from shared.domain.observability import logger
from shared.domain.settings import Settings
from shared.services.cascade import continue_cascade
from shared.services.deps import Deps
from shared.storage.repository import event_from_outbox_item

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class PublisherDeps(Deps, Protocol):
    """What the publisher needs besides the use cases' collaborators: the bus and its client."""

    @property
    def settings(self) -> Settings: ...
    @property
    def events(self) -> EventBridgeClient: ...


def publish_stream_batch(
    deps: PublisherDeps, event: dict[str, Any], context: LambdaContext
) -> dict[str, Any]:
    """Publish each new outbox item; a record that fails is reported so that the stream retries it alone.

    The revoked event of a token a cascade revoked, and a cascade's pending item, first have
    the token's live children revoked (``shared.services.cascade.continue_cascade``).
    """

    def publish_record(record: DynamoDBRecord) -> None:
        if record.raw_event.get("eventName") != "INSERT":
            return
        lifecycle_event = event_from_outbox_item(record.raw_event.get("dynamodb", {}).get("NewImage", {}))
        if lifecycle_event is None:
            return  # a token or credential item: those are never events
        # A cascade's step before the event goes out: if it fails, the record is retried whole and
        # the step, idempotent, runs again; an event is never published for a step not taken.
        report = continue_cascade(deps, lifecycle_event)
        if report is not None:
            logger.info(
                "cascade continued",
                extra={
                    "token_id": lifecycle_event.token_id,
                    "revoked": report.revoked,
                    "pending": len(report.pending),
                },
            )
        if lifecycle_event.detail_type == CASCADE_PENDING:
            return  # the service's own bookkeeping, not news for the bus
        publish(deps.events, deps.settings.event_bus_name, [lifecycle_event], deps.repository.get_token)
        logger.info(
            "event published",
            extra={"detail_type": lifecycle_event.detail_type, "token_id": lifecycle_event.token_id},
        )

    if not event.get("Records"):
        return {"batchItemFailures": []}  # Powertools refuses an empty batch; there is nothing to do
    # Report failures item by item even when all fail: the stream retries exactly those.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )
    return dict(response)
