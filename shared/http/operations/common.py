"""What the operations' routes share: their paths, path parameters, error responses and caller."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.domain.principals import Principal
from shared.http.api import request_scope
from shared.http.error_map import ERRORS
from shared.http.models import ID_PATTERN, PATH_ID_PATTERN, ErrorBody, ValidationErrorBody
from shared.services.paging import MAX_PAGE_SIZE

TOKENS_PATH = "/v1/orgs/<org_id>/apps/<app_id>/tokens"
TOKEN_PATH = TOKENS_PATH + "/<token_id>"
WHOAMI_PATH = "/v1/whoami"
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]

OrgId = Annotated[str, Path(pattern=ID_PATTERN, description="The organisation's id.")]
AppId = Annotated[str, Path(pattern=ID_PATTERN, description="The app's id.")]
TokenId = Annotated[str, Path(pattern=PATH_ID_PATTERN, description="The token's id.")]
# The paging parameters of every paged operation (the token list, a token's history).
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
PageCursor = Annotated[str | None, Query(max_length=1024, description="The cursor from the previous page.")]

# Every operation reads or writes DynamoDB, so every one can meet throttling that outlasts
# botocore's retries (503), and every one can fail unexpectedly (500). A 409 only where a
# conditional edit can lose to a concurrent one (update): those operations name it themselves.
ALL_ERRORS = tuple(status for status in ERRORS if status != HTTPStatus.CONFLICT)


def responses(
    success: dict[int, dict[str, Any]], errors: tuple[int, ...] = ALL_ERRORS
) -> dict[int, OpenAPIResponse]:
    """An operation's responses: its successes, and its errors (all by default) in the shape really sent."""
    documented: dict[int, dict[str, Any]] = {}
    for status in errors:
        error = ERRORS[status]  # its headers are described by the document's generator (devtools.openapi)
        documented[status] = {
            "description": error.description,
            "content": {"application/json": {"model": ValidationErrorBody if status == 422 else ErrorBody}},
        }
    return cast("dict[int, OpenAPIResponse]", {**success, **documented})


def caller() -> Principal:
    """The authenticated caller of the request being routed."""
    caller = request_scope().caller
    assert caller is not None, "a route with a permission always has an authenticated caller"
    return caller
