"""Revoke App Token: end a token at once, alone or (``?cascade=true``) with every token it created."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from shared.domain.observability import count, logger, traced
from shared.http.api import Operation, request_scope
from shared.http.error_map import InvalidRequest
from shared.http.models import QueryFlag, Reason, TokenRevoke
from shared.http.operations.common import SECURITY, TOKEN_PATH, AppId, OrgId, TokenId, caller, responses
from shared.services.cascade import CASCADE_BOUND, revoke_with_descendants
from shared.services.tokens import revoke_token
from shared.storage.repository import TokenKey

revoke_router = Router()
REVOKE_TOKEN = Operation(name="revoke_token", permission="app_tokens:revoke", router=revoke_router)


@revoke_router.delete(
    TOKEN_PATH,
    summary="Revoke App Token",
    operation_id="revokeAppToken",
    description="Revoke a token at once. Revoking it again changes nothing. The reason may come in the body "
    f"or as `?reason=`, not both. Needs `{REVOKE_TOKEN.permission}`.\n\n"
    "With `?cascade=true`, every token it created is revoked too, and every token those created, "
    "across the organisation's apps, each with `revoked_reason` `parent_revoked` and its own "
    f'`App Token Revoked` event (marked `cascade: "true"`). The 204 comes once the descendants '
    f"are revoked, up to the first {CASCADE_BOUND}; any more follow within seconds, through the event "
    "publisher. A token "
    "already revoked keeps its first revocation, and its descendants are revoked all the same.",
    responses=responses({204: {"description": "Revoked (or already revoked).", "content": {}}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def revoke_app_token(  # noqa: PLR0913, PLR0917 - Powertools reads the operation's inputs from its signature
    org_id: OrgId,
    app_id: AppId,
    token_id: TokenId,
    body: Annotated[TokenRevoke | None, Body()] = None,
    reason: Annotated[Reason | None, Query(description="Why the token is revoked.")] = None,
    cascade: Annotated[
        QueryFlag, Query(description="Also revoke every token this token created, transitively.")
    ] = False,
) -> Response[None]:
    """Revoke App Token."""
    stated = _one_reason(body, reason)
    arguments = (
        request_scope().runtime,
        caller(),
        TokenKey(org_id=org_id, app_id=app_id, token_id=token_id),
        stated,
    )
    if cascade:
        with traced("revoke_token_cascade"):
            report = revoke_with_descendants(*arguments)
        logger.info(
            "token revoked with its descendants",
            extra={
                "token_id": token_id,
                "app_id": app_id,
                "revoked": report.revoked,
                "left_to_publisher": len(report.pending) > 0,
            },
        )
        count("CascadeRevocations")
        return Response(status_code=204, body=None)
    with traced("revoke_token"):
        revoked_now = revoke_token(*arguments)
    if revoked_now:
        logger.info("token revoked", extra={"token_id": token_id, "app_id": app_id})
        count("TokensRevoked")
    return Response(status_code=204, body=None)


def _one_reason(body: TokenRevoke | None, query_reason: str | None) -> str | None:
    body_reason = body.reason if body is not None else None
    if body_reason is not None and query_reason is not None:
        raise InvalidRequest(
            ("query", "reason"),
            "Give the reason in the body or the query, not both",
            "reason_twice",
            query_reason,
            {},
        )
    return body_reason if body_reason is not None else query_reason
