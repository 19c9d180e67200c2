"""Get App Token History: what happened to a token, newest first, who did it and what changed."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.domain.observability import traced
from shared.http.api import Operation, request_scope
from shared.http.operations.common import (
    SECURITY,
    TOKEN_PATH,
    AppId,
    OrgId,
    PageCursor,
    PageLimit,
    TokenId,
    caller,
    responses,
)
from shared.http.token_models import TokenHistoryPublic, history_public
from shared.services.managing import HistoryRequest, token_history
from shared.storage.repository import TokenKey

history_router = Router()
TOKEN_HISTORY = Operation(name="token_history", permission="app_tokens:list", router=history_router)


@history_router.get(
    TOKEN_PATH + "/history",
    summary="Get App Token History",
    operation_id="getAppTokenHistory",
    description="The token's history, newest first, one page at a time (one Query a page). Each event "
    "has its `type` (`created`, `updated`, `disabled`, `enabled`, `rotated`, `revoked`, `expired`, "
    "`refresh_reuse_detected`, `reported_leaked`), `occurred_at`, the `actor` (the calling token and "
    "its user; null for "
    "the service itself) and `changes` (each changed field with its old and new value, never a secret; "
    "empty for an event that changed no field). Kept as long as the token's record. "
    f"Needs `{TOKEN_HISTORY.permission}`.",
    responses=responses({200: {"description": "One page of the token's history."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def get_app_token_history(
    org_id: OrgId,
    app_id: AppId,
    token_id: TokenId,
    limit: PageLimit = 50,
    next_token: PageCursor = None,
) -> TokenHistoryPublic:
    """Get App Token History."""
    key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
    with traced("token_history"):
        page = token_history(request_scope().runtime, caller(), key, HistoryRequest(limit, next_token))
    return history_public(page)
