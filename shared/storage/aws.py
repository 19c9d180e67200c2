"""boto3 clients, built on first use so that a cold start pays only for what a request needs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

# botocore's DEBUG logs print whole request and response bodies, credential hashes included.
# Nothing in this service needs them, so they are capped at INFO wherever a client is made.
_WIRE_LOGGERS = ("botocore", "urllib3")


def quiet_wire_logs() -> None:
    """Keep botocore and urllib3 from logging request bodies, whatever the root level is."""
    for name in _WIRE_LOGGERS:
        wire_logger = logging.getLogger(name)
        # Set explicitly: an unset level would follow the root logger down to DEBUG.
        if wire_logger.level < logging.INFO:
            wire_logger.setLevel(logging.INFO)


def new_dynamodb_client() -> DynamoDBClient:
    """A DynamoDB client. Endpoints come from botocore's own variables (``AWS_ENDPOINT_URL[_DYNAMODB]``)."""
    import boto3
    from botocore.config import Config

    quiet_wire_logs()
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )
    return boto3.client("dynamodb", config=config)


def new_events_client() -> EventBridgeClient:
    """An EventBridge client (endpoint from ``AWS_ENDPOINT_URL[_EVENTS]`` when set)."""
    import boto3

    quiet_wire_logs()
    return boto3.client("events")
