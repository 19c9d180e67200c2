"""Verify App Token: may this token make this request? The verdict for services not behind API Gateway."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.errors import NotFound
from shared.domain.observability import logger, traced
from shared.domain.restrictions import RESTRICTIONS
from shared.http.api import Operation, request_scope
from shared.http.models import RateLimitPublic, TokenVerification, TokenVerify, public_token
from shared.http.operations.common import SECURITY, TOKENS_PATH, AppId, OrgId, caller, responses
from shared.services.verification import Origin, RequestContext, verify

verify_router = Router()
VERIFY_TOKEN = Operation(name="verify_token", permission="app_tokens:verify", router=verify_router)


@verify_router.post(
    TOKENS_PATH + "/verify",
    summary="Verify App Token",
    operation_id="verifyAppToken",
    description="Decide whether a token may make a request (method, path, scopes, permission, workspace, "
    "namespace, environment), for services not behind API Gateway. Always 200 for a decision: an "
    "invalid token is `valid: false` with a code and no metadata. Enforces the token's rate limit, and "
    "spends `cost` (default 1) of its usage credits: fewer left than that is `USAGE_EXHAUSTED` (429-like: "
    "it passes again at the next refill); `credits_remaining` is what is left (null: unlimited). "
    f"Needs `{VERIFY_TOKEN.permission}`.",
    responses=responses({200: {"description": "The verdict."}}),
    security=SECURITY,
    tags=["App Tokens"],
)
def verify_app_token(org_id: OrgId, app_id: AppId, body: Annotated[TokenVerify, Body()]) -> TokenVerification:
    """Verify App Token."""
    scope = request_scope()
    if caller().org_id != org_id:
        raise NotFound("app", app_id)
    asked = {r.request_field: getattr(body, r.request_field) for r in RESTRICTIONS}
    origin = Origin(source_ip=body.source_ip, user_agent=body.user_agent)
    context = RequestContext.of(
        method=body.method, permission=body.permission, cost=body.cost, origin=origin, **asked
    )
    with traced("verify_token"):
        verdict = verify(scope.runtime, body.token, context, org_id=org_id, app_id=app_id)
    # A VALID verdict at DEBUG, as the authorizer's Allow (docs/decisions.md): verify is the other
    # hot path, in front of each request of the services that call it. Every refusal at INFO.
    log = logger.debug if verdict.valid else logger.info
    log("token verified", extra={"code": verdict.code.value, "app_id": app_id})
    rate_limit = verdict.rate_limit
    return TokenVerification(
        valid=verdict.valid,
        code=verdict.code.value,
        token=public_token(verdict.token) if verdict.valid and verdict.token else None,
        rate_limit=RateLimitPublic(**vars(rate_limit)) if rate_limit and verdict.token else None,
        credits_remaining=verdict.credits_remaining if verdict.token else None,
    )
