"""The App Tokens API from Python: ``from app_tokens_sdk import Client`` (issue 17).

Everything is in ``app_tokens_sdk.client`` (one module); it is not part of the Lambda layer.
"""

from app_tokens_sdk.client import (
    ApiError,
    AppTokens,
    AuthenticationFailed,
    Call,
    Client,
    ClientError,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Reply,
    RetryPolicy,
    ServerError,
    Unreachable,
)

__all__ = [
    "ApiError",
    "AppTokens",
    "AuthenticationFailed",
    "Call",
    "Client",
    "ClientError",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Reply",
    "RetryPolicy",
    "ServerError",
    "Unreachable",
]
