"""List App Tokens: one page of an app's tokens, newest first, optionally only those in one state."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.observability import traced
from shared.domain.records import StatusFilter
from shared.http.api import Operation, request_scope
from shared.http.models import TokensPublic, public_token
from shared.http.operations.common import (
    SECURITY,
    TOKENS_PATH,
    AppId,
    OrgId,
    PageCursor,
    PageLimit,
    caller,
    responses,
)
from shared.services.listing import PageRequest, list_tokens

list_router = Router()
LIST_TOKENS = Operation(name="list_tokens", permission="app_tokens:list", router=list_router)


@list_router.get(
    TOKENS_PATH,
    summary="List App Tokens",
    operation_id="listAppTokens",
    description=f"The app's tokens, newest first, one page at a time. Needs `{LIST_TOKENS.permission}`.",
    responses=responses({200: {"description": "One page of tokens."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def list_app_tokens(
    org_id: OrgId,
    app_id: AppId,
    limit: PageLimit = 50,
    next_token: PageCursor = None,
    status: Annotated[StatusFilter | None, Query(description="Only tokens in this state.")] = None,
) -> TokensPublic:
    """List App Tokens."""
    page = PageRequest(limit=limit, next_token=next_token, status=status)
    with traced("list_tokens"):
        listing = list_tokens(request_scope().runtime, caller(), org_id, app_id, page)
    return TokensPublic(
        tokens=[public_token(token) for token in listing.tokens], next_token=listing.next_token
    )
