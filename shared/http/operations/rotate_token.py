"""Rotate App Token (issue 16): new secrets for a token, the old access secret kept for a grace period."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.observability import count, logger, traced
from shared.http.api import Operation, request_scope
from shared.http.error_map import ERRORS
from shared.http.models import TokenCreated
from shared.http.operations.common import SECURITY, TOKEN_PATH, AppId, OrgId, TokenId, caller, responses
from shared.http.token_models import TokenRotate
from shared.services.rotation import MAX_GRACE_SECONDS, rotate_token
from shared.storage.repository import TokenKey

rotate_router = Router()
ROTATE_TOKEN = Operation(name="rotate_token", permission="app_tokens:rotate", router=rotate_router)

# Every error of the table, the 409 included: the rotation is one conditional write, which a
# concurrent rotation, refresh or edit can beat.
_ROTATE_ERRORS = tuple(ERRORS)


@rotate_router.post(
    TOKEN_PATH + "/rotate",
    summary="Rotate App Token",
    operation_id="rotateAppToken",
    description="Give a token new secrets without downtime: the answer has the create shape, with a new "
    "`plaintext_token` and `refresh_token_plaintext`, shown once; id, permissions, restrictions and "
    "expiry stay. The old access token keeps working beside the new one for `expire_current_in_seconds` "
    f"(0 to {MAX_GRACE_SECONDS:,}; default 0, as is an absent body), and fails from the first request "
    "at or after that moment (`details.previous_secret_expires_at` shows it while it runs); the old "
    "refresh token stops working at once. A token has at most ONE previous access secret: rotating "
    "again inside a grace ends the earlier old secret at once. A refresh ends any grace too. Another "
    "org's or an unknown token is the same 404 as revoke's; a revoked, expired or disabled token is a "
    '422 at `["path", "token_id"]` (enable a disabled one first). One conditional transaction with the '
    "token's history (`rotated`) and an `App Token Rotated` event carrying `previous_secret_expires_at`: "
    "of concurrent rotations exactly one wins, the others get a 409 and nothing is written. "
    f"Needs `{ROTATE_TOKEN.permission}`.",
    responses=responses({200: {"description": "The token and its new secrets, shown once."}}, _ROTATE_ERRORS),
    security=SECURITY,
    tags=["App Tokens"],
)
def rotate_app_token(
    org_id: OrgId, app_id: AppId, token_id: TokenId, body: Annotated[TokenRotate | None, Body()] = None
) -> TokenCreated:
    """Rotate App Token."""
    seconds = body.expire_current_in_seconds if body is not None else 0
    key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
    with traced("rotate_token"):
        issued = rotate_token(request_scope().runtime, caller(), key, timedelta(seconds=seconds))
    logger.info("token rotated", extra={"token_id": token_id, "app_id": app_id, "grace_seconds": seconds})
    count("TokensRotated")
    return TokenCreated.of(issued)
