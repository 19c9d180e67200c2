"""Update App Token: rename, describe, narrow, disable or enable a token, never widen it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.edits import UPDATABLE_FIELDS
from shared.domain.observability import count, logger, traced
from shared.http.api import Operation, request_scope
from shared.http.error_map import ERRORS
from shared.http.operations.common import (
    SECURITY,
    TOKEN_PATH,
    AppId,
    OrgId,
    TokenId,
    caller,
    responses,
)
from shared.http.token_models import TokenRead, TokenUpdate, token_read
from shared.services.managing import update_token
from shared.storage.repository import TokenKey

update_router = Router()
UPDATE_TOKEN = Operation(name="update_token", permission="app_tokens:update", router=update_router)

# Every error of the table, the 409 included: the edit is one conditional write, which a
# concurrent edit can beat.
_UPDATE_ERRORS = tuple(ERRORS)


@update_router.patch(
    TOKEN_PATH,
    summary="Update App Token",
    operation_id="updateAppToken",
    description="Change any of "
    + ", ".join(f"`{name}`" for name in UPDATABLE_FIELDS)
    + "; the fields left out stay as they are, and `description: null` clears the description. "
    "A change may only narrow the token: `expires_at` earlier (and still in the future), "
    "`permissions` a subset, each restriction list within the current one (an unrestricted list "
    "may become restricted, never the reverse), rate limits lower or newly set. Widening is a 403 "
    "naming what is missing (`scopes:write`, `expires_at:later`, ...), as is a result the caller "
    "could not have created. `enabled: false` disables the token: from its next request it is "
    "refused as a revoked one (401; verify and the authorizer say `DISABLED`), until "
    "`enabled: true`. An empty body, an unknown field, `null` for any field but `description`, or a "
    'revoked or expired token (at `["path", "token_id"]`) is a 422. One conditional transaction '
    "with the token's history: a concurrent edit that won first is a 409, and nothing is written. "
    f"Needs `{UPDATE_TOKEN.permission}`.",
    responses=responses({200: {"description": "The token as it is now, and its details."}}, _UPDATE_ERRORS),
    security=SECURITY,
    tags=["App Tokens"],
)
def update_app_token(
    org_id: OrgId, app_id: AppId, token_id: TokenId, body: Annotated[TokenUpdate, Body()]
) -> TokenRead:
    """Update App Token."""
    key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
    change = body.change()
    with traced("update_token"):
        view = update_token(request_scope().runtime, caller(), key, change)
    # The changed fields' names only: their values may be long, and the history holds them.
    fields = sorted(change.values)
    logger.info("token updated", extra={"token_id": token_id, "app_id": app_id, "fields": fields})
    count("TokensUpdated")
    return token_read(view)
