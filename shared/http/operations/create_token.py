"""Create App Token: a new token for the caller's user, within what the caller holds; secrets shown once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.observability import count, logger, traced
from shared.domain.records import TokenSpec
from shared.http.api import Operation, request_scope
from shared.http.models import TokenCreate, TokenCreated
from shared.http.operations.common import SECURITY, TOKENS_PATH, AppId, OrgId, caller, responses
from shared.services.tokens import create_token

create_router = Router()
CREATE_TOKEN = Operation(name="create_token", permission="app_tokens:create", router=create_router)


@create_router.post(
    TOKENS_PATH,
    summary="Create App Token",
    operation_id="createAppToken",
    description="Issue a token for the caller's user; the plaintext secrets are in this response only. "
    f"Needs `{CREATE_TOKEN.permission}`, and every permission and restriction it grants. "
    "`canary: true` makes a decoy (issue 16): a real-looking token with no permissions that never "
    "authenticates, answered everywhere as an unknown token, whose every use emits `App Token Canary "
    "Tripped` (at most once a minute per source address); only `details` on get and patch tell.",
    responses=responses({201: {"description": "The new token and its secrets, shown once."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def create_app_token(
    org_id: OrgId, app_id: AppId, body: Annotated[TokenCreate, Body()]
) -> Response[TokenCreated]:
    """Create App Token."""
    with traced("create_token"):
        spec = TokenSpec.from_fields(body.model_dump())
        issued = create_token(request_scope().runtime, caller(), org_id, app_id, spec)
    logger.info("token created", extra={"token_id": issued.token.token_id, "app_id": app_id})
    count("TokensCreated")
    created = TokenCreated.of(issued)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)
