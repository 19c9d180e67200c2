"""What the operations' routes share: their paths, path parameters, error responses and caller."""

from __future__ import annotations

from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.domain.principals import Principal
from shared.http.api import request_scope
from shared.http.models import ID_PATTERN, PATH_ID_PATTERN, ErrorBody, ValidationErrorBody

TOKENS_PATH = "/v1/orgs/<org_id>/apps/<app_id>/tokens"
TOKEN_PATH = TOKENS_PATH + "/<token_id>"
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]

OrgId = Annotated[str, Path(pattern=ID_PATTERN, description="The organisation's id.")]
AppId = Annotated[str, Path(pattern=ID_PATTERN, description="The app's id.")]
TokenId = Annotated[str, Path(pattern=PATH_ID_PATTERN, description="The token's id.")]

_ERROR_DESCRIPTIONS = {
    401: "Missing, malformed, unknown, expired or revoked token.",
    403: "The caller lacks the permission named in `details.required_permission`.",
    404: "No such app or token in the caller's organisation.",
    413: "The body is longer than the route's largest valid body (`details.max_bytes`, 0 for a route "
    "that takes none); it was not read.",
    422: "The request is invalid; `detail` says where and why.",
    500: "An unexpected error; nothing about it is disclosed.",
}


def responses(success: dict[int, dict[str, Any]]) -> dict[int, OpenAPIResponse]:
    """An operation's responses: its successes, and every error in the shape really sent."""
    errors: dict[int, dict[str, Any]] = {
        status: {
            "description": description,
            "content": {"application/json": {"model": ValidationErrorBody if status == 422 else ErrorBody}},
        }
        for status, description in _ERROR_DESCRIPTIONS.items()
    }
    return cast("dict[int, OpenAPIResponse]", {**success, **errors})


def caller() -> Principal:
    """The authenticated caller of the request being routed."""
    caller = request_scope().caller
    assert caller is not None, "a route with a permission always has an authenticated caller"
    return caller
