"""The API's routes, one router per operation, so each function carries only its own."""

from __future__ import annotations

from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.api import Operation, request_scope
from shared.cascade import CASCADE_BOUND, revoke_with_descendants
from shared.errors import AuthenticationFailed, InvalidInput, NotFound
from shared.lifecycle import REFRESH_REUSE_REASON
from shared.models import (
    ID_PATTERN,
    PATH_ID_PATTERN,
    ErrorBody,
    QueryFlag,
    RateLimitPublic,
    Reason,
    TokenCreate,
    TokenCreated,
    TokenRefresh,
    TokenRevoke,
    TokensPublic,
    TokenVerification,
    TokenVerify,
    ValidationErrorBody,
)
from shared.observability import count, logger, traced
from shared.principals import Principal
from shared.repository import StatusFilter
from shared.services import (
    PERMISSION_CREATE,
    PERMISSION_LIST,
    PERMISSION_REVOKE,
    PERMISSION_VERIFY,
    create_token,
    list_tokens,
    refresh_token,
    revoke_token,
)
from shared.verification import RequestContext, verify

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


def _responses(success: dict[int, dict[str, Any]]) -> dict[int, OpenAPIResponse]:
    errors: dict[int, dict[str, Any]] = {
        status: {
            "description": description,
            "content": {"application/json": {"model": ValidationErrorBody if status == 422 else ErrorBody}},
        }
        for status, description in _ERROR_DESCRIPTIONS.items()
    }
    return cast("dict[int, OpenAPIResponse]", {**success, **errors})


def _caller() -> Principal:
    caller = request_scope().caller
    assert caller is not None, "a route with a permission always has an authenticated caller"
    return caller


list_router = Router()


@list_router.get(
    TOKENS_PATH,
    summary="List App Tokens",
    operation_id="listAppTokens",
    description="The app's tokens, newest first, one page at a time. Needs `app_tokens:list`.",
    responses=_responses({200: {"description": "One page of tokens."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def list_app_tokens(
    org_id: OrgId,
    app_id: AppId,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 50,
    next_token: Annotated[
        str | None, Query(max_length=1024, description="The cursor from the previous page.")
    ] = None,
    status: Annotated[StatusFilter | None, Query(description="Only tokens in this state.")] = None,
) -> TokensPublic:
    """List App Tokens."""
    runtime = request_scope().runtime
    with traced("list_tokens"):
        listing = list_tokens(
            runtime.repository,
            runtime.hasher,
            runtime.clock,
            _caller(),
            org_id,
            app_id,
            limit=limit,
            next_token=next_token,
            status=status,
        )
    return TokensPublic(tokens=[token.to_public() for token in listing.tokens], next_token=listing.next_token)


create_router = Router()


@create_router.post(
    TOKENS_PATH,
    summary="Create App Token",
    operation_id="createAppToken",
    description="Issue a token for the caller's user; the plaintext secrets are in this response only. "
    "Needs `app_tokens:create`, and every permission and restriction it grants.",
    responses=_responses({201: {"description": "The new token and its secrets, shown once."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def create_app_token(
    org_id: OrgId, app_id: AppId, body: Annotated[TokenCreate, Body()]
) -> Response[TokenCreated]:
    """Create App Token."""
    runtime = request_scope().runtime
    with traced("create_token"):
        issued = create_token(
            runtime.repository,
            runtime.hasher,
            runtime.clock,
            runtime.lifetimes,
            _caller(),
            org_id,
            app_id,
            body,
        )
    logger.info("token created", extra={"token_id": issued.token.token_id, "app_id": app_id})
    count("TokensCreated")
    created = TokenCreated(
        token=issued.token.to_public(),
        plaintext_token=issued.plaintext_token,
        refresh_token_plaintext=issued.refresh_token_plaintext,
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


revoke_router = Router()


@revoke_router.delete(
    TOKEN_PATH,
    summary="Revoke App Token",
    operation_id="revokeAppToken",
    description="Revoke a token at once. Revoking it again changes nothing. The reason may come in the body "
    "or as `?reason=`, not both. Needs `app_tokens:revoke`.\n\n"
    "With `?cascade=true`, every token it created is revoked too, and every token those created, "
    "across the organisation's apps, each with `revoked_reason` `parent_revoked` and its own "
    f'`App Token Revoked` event (marked `cascade: "true"`). The 204 comes once the descendants '
    f"are revoked, up to the first {CASCADE_BOUND}; any more follow within seconds, through the event "
    "publisher. A token "
    "already revoked keeps its first revocation, and its descendants are revoked all the same.",
    responses=_responses({204: {"description": "Revoked (or already revoked).", "content": {}}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def revoke_app_token(
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
    runtime = request_scope().runtime
    stated = _one_reason(body, reason)
    arguments = (
        runtime.repository,
        runtime.clock,
        runtime.lifetimes,
        _caller(),
        org_id,
        app_id,
        token_id,
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
        raise InvalidInput(
            ("query", "reason"),
            "Give the reason in the body or the query, not both",
            "reason_twice",
            query_reason,
            {},
        )
    return body_reason if body_reason is not None else query_reason


refresh_router = Router()

_REFRESH_ERRORS = {status: _responses({})[status] for status in (401, 413, 422, 500)}


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
    responses={200: {"description": "The token and its new secrets, shown once."}, **_REFRESH_ERRORS},
    tags=["App Tokens"],
)
def refresh_app_token(
    org_id: OrgId, app_id: AppId, token_id: TokenId, body: Annotated[TokenRefresh, Body()]
) -> TokenCreated:
    """Refresh App Token."""
    runtime = request_scope().runtime
    with traced("refresh_token"):
        try:
            issued = refresh_token(
                runtime.repository,
                runtime.hasher,
                runtime.clock,
                runtime.lifetimes,
                org_id,
                app_id,
                token_id,
                body.refresh_token,
                grace=runtime.refresh_grace,
            )
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
    return TokenCreated(
        token=issued.token.to_public(),
        plaintext_token=issued.plaintext_token,
        refresh_token_plaintext=issued.refresh_token_plaintext,
    )


verify_router = Router()


@verify_router.post(
    TOKENS_PATH + "/verify",
    summary="Verify App Token",
    operation_id="verifyAppToken",
    description="Decide whether a token may make a request (method, path, scopes, permission, workspace, "
    "namespace, environment), for services not behind API Gateway. Always 200 for a decision: an "
    "invalid token is `valid: false` with a code and no metadata. Enforces the token's rate limit. "
    "Needs `app_tokens:verify`.",
    responses=_responses({200: {"description": "The verdict."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def verify_app_token(org_id: OrgId, app_id: AppId, body: Annotated[TokenVerify, Body()]) -> TokenVerification:
    """Verify App Token."""
    scope = request_scope()
    caller = _caller()
    if caller.org_id != org_id:
        raise NotFound("app", app_id)
    runtime = scope.runtime
    context = RequestContext(
        method=body.method,
        path=body.path,
        scopes=tuple(body.scopes),
        permission=body.permission,
        workspace_id=body.workspace_id,
        namespace_id=body.namespace_id,
        environment_id=body.environment_id,
    )
    with traced("verify_token"):
        verdict = verify(
            runtime.repository,
            runtime.hasher,
            runtime.clock,
            body.token,
            context,
            org_id=org_id,
            app_id=app_id,
        )
    logger.info("token verified", extra={"code": verdict.code.value, "app_id": app_id})
    rate_limit = verdict.rate_limit
    return TokenVerification(
        valid=verdict.valid,
        code=verdict.code.value,
        token=verdict.token.to_public() if verdict.valid and verdict.token else None,
        rate_limit=RateLimitPublic(**vars(rate_limit)) if rate_limit and verdict.token else None,
    )


LIST_TOKENS = Operation(name="list_tokens", permission=PERMISSION_LIST, router=list_router)
CREATE_TOKEN = Operation(name="create_token", permission=PERMISSION_CREATE, router=create_router)
REVOKE_TOKEN = Operation(name="revoke_token", permission=PERMISSION_REVOKE, router=revoke_router)
REFRESH_TOKEN = Operation(name="refresh_token", permission=None, router=refresh_router)
VERIFY_TOKEN = Operation(name="verify_token", permission=PERMISSION_VERIFY, router=verify_router)
OPERATIONS = (LIST_TOKENS, CREATE_TOKEN, REVOKE_TOKEN, REFRESH_TOKEN, VERIFY_TOKEN)
