"""Refresh App Token: rotate both secrets with the refresh token, which is the credential."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.errors import AuthenticationFailed
from shared.domain.lifecycle import REFRESH_REUSE_REASON
from shared.domain.observability import count, logger, traced
from shared.http.api import Operation, request_scope
from shared.http.models import TokenCreated, TokenRefresh
from shared.http.operations.common import TOKEN_PATH, AppId, OrgId, TokenId, responses
from shared.services.tokens import refresh_token
from shared.storage.repository import TokenKey

refresh_router = Router()
# No permission: the body's refresh token is the credential, so no Authorization header is read.
REFRESH_TOKEN = Operation(name="refresh_token", permission=None, router=refresh_router)

_REFRESH_ERRORS = (401, 413, 422, 500, 503)


@refresh_router.post(
    TOKEN_PATH + "/refresh",
    summary="Refresh App Token",
    operation_id="refreshAppToken",
    description="Rotate both secrets of a token with its refresh token, which is the credential (no "
    "`Authorization` header). The old access and refresh tokens stop working at once; id, permissions, "
    "restrictions and expiry stay. A retry is not theft: presenting the immediately previous refresh "
    "token again within `REFRESH_TOKEN_GRACE_SECONDS` (default 30) of its rotation rotates again and "
    "returns a fresh pair, and the pair handed out in between stops working. Presenting any other "
    "refresh token that was already rotated away, or the previous one after the grace, revokes the "
    "token (`refresh_token_reuse`). Of concurrent refreshes exactly one wins; the others get a 401 "
    "and the token stays live.",
    responses=responses(
        {200: {"description": "The token and its new secrets, shown once."}}, _REFRESH_ERRORS
    ),
    tags=["App Tokens"],
)
def refresh_app_token(
    org_id: OrgId, app_id: AppId, token_id: TokenId, body: Annotated[TokenRefresh, Body()]
) -> TokenCreated:
    """Refresh App Token."""
    with traced("refresh_token"):
        try:
            key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
            scope = request_scope()
            issued = refresh_token(scope.runtime, key, body.refresh_token, scope.use)
        except AuthenticationFailed as failure:
            if failure.reason == "refresh_reuse":
                logger.warning(
                    "refresh token reuse: token revoked",
                    extra={"token_id": token_id, "reason": REFRESH_REUSE_REASON},
                )
                count("RefreshTokenReuse")
            raise
    logger.info("token rotated", extra={"token_id": token_id, "app_id": app_id})
    count("TokensRotated")
    return TokenCreated.of(issued)
