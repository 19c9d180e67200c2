"""Get App Token: one token of the caller's organisation, its AppToken and its details."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.domain.observability import traced
from shared.http.api import Operation, request_scope
from shared.http.operations.common import SECURITY, TOKEN_PATH, AppId, OrgId, TokenId, caller, responses
from shared.http.token_models import TokenRead, token_read
from shared.services.managing import get_token
from shared.storage.repository import TokenKey

get_router = Router()
GET_TOKEN = Operation(name="get_token", permission="app_tokens:list", router=get_router)


@get_router.get(
    TOKEN_PATH,
    summary="Get App Token",
    operation_id="getAppToken",
    description="One token: the seed's AppToken and, beside it, its `details` (`status`: active, "
    "disabled, expired or revoked; `enabled`; `created_by_token_id`; `rotated_at`; `updated_at`). "
    "Another org's token or an unknown one is the same 404 as revoke's. One strongly consistent read "
    f"after authentication. Needs `{GET_TOKEN.permission}`.",
    responses=responses({200: {"description": "The token and its details."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def get_app_token(org_id: OrgId, app_id: AppId, token_id: TokenId) -> TokenRead:
    """Get App Token."""
    key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
    with traced("get_token"):
        view = get_token(request_scope().runtime, caller(), key)
    return token_read(view)
