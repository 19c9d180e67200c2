"""A Lambda context for local invocations, with the function's name and a time limit."""

from __future__ import annotations

import time
import uuid

from aws_lambda_powertools.utilities.typing import LambdaContext


class LocalContext(LambdaContext):
    """What Lambda would pass as ``context``; the remaining time counts down from ``timeout``."""

    def __init__(self, function_name: str, timeout_seconds: float = 300.0, memory_mb: int = 512) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._memory_limit_in_mb = memory_mb
        self._invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        """Milliseconds left before the (local) time limit."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
