"""The Lambda REQUEST authorizer: API Gateway's question answered by the one verification core.

A token that is missing, malformed, unknown, expired or revoked is not a credential
at all: the function raises ``Exception("Unauthorized")`` and API Gateway answers 401.
A real, live token that may not make this request (path, scope, permission,
resource, rate limit) gets a Deny policy: API Gateway answers 403. A valid one gets
an Allow policy for exactly this method ARN, with the token's facts as context.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.clock import Clock
from shared.crypto import SecretHasher
from shared.http import bearer_credential, header
from shared.principals import authorizer_context
from shared.repository import TokenRepository
from shared.settings import Settings
from shared.verification import RequestContext, Verdict, VerifyCode, verify

# Not a credential at all: API Gateway's 401, without a policy.
UNAUTHENTICATED = frozenset(
    {VerifyCode.MALFORMED, VerifyCode.NOT_FOUND, VerifyCode.EXPIRED, VerifyCode.REVOKED}
)
# Where a request names the workspace, namespace and environment it acts on: a path parameter of
# that name, else a header. The API behind must act on the ids it was authorized for.
RESOURCE_SOURCES = {
    "workspace_id": "x-workspace-id",
    "namespace_id": "x-namespace-id",
    "environment_id": "x-environment-id",
}


class RouteRulesInvalid(ValueError):
    """``AUTHORIZER_ROUTES`` is not what docs/authorizer.md describes."""


@dataclass(frozen=True)
class Requirement:
    """What a route of the protected API asks of a token beyond its own restrictions."""

    permission: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthorizerDecision:
    """The verdict's code and what the function returns: a policy, or ``None`` for a 401."""

    code: VerifyCode
    response: dict[str, Any] | None


@lru_cache(maxsize=4)
def route_requirements(raw: str | None) -> dict[tuple[str, str], Requirement]:
    """Parse ``AUTHORIZER_ROUTES``: ``{"GET /orders/{id}": {"permission": "orders:read", "scopes": [...]}}``.

    Keys are a method (or ``ANY``) and an API Gateway resource path; a route not listed
    requires nothing beyond the token's own restrictions.
    """
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise RouteRulesInvalid(f"AUTHORIZER_ROUTES is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RouteRulesInvalid("AUTHORIZER_ROUTES must be a JSON object")
    rules: dict[tuple[str, str], Requirement] = {}
    for key, rule in document.items():
        method, _, resource = str(key).partition(" ")
        if not method.isalpha() or not resource.startswith("/"):
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES key {key!r} is not 'METHOD /resource/{{param}}'")
        if not isinstance(rule, dict) or set(rule) - {"permission", "scopes"}:
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}] may only hold 'permission' and 'scopes'")
        permission, scopes = rule.get("permission"), rule.get("scopes", [])
        if permission is not None and not isinstance(permission, str):
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}].permission must be a string")
        if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}].scopes must be a list of strings")
        rules[(method.upper(), resource)] = Requirement(permission, tuple(scopes))
    return rules


def requirement_for(rules: Mapping[tuple[str, str], Requirement], method: str, resource: str) -> Requirement:
    """The rule for a method and resource; a rule for ``ANY`` covers every method."""
    return rules.get((method, resource)) or rules.get(("ANY", resource)) or Requirement()


def request_context(event: Mapping[str, Any], method: str, requirement: Requirement) -> RequestContext:
    """What an API Gateway REQUEST authorizer event asks for, in the verification core's terms."""
    path_parameters = event.get("pathParameters") or {}
    resources = {
        name: path_parameters.get(name) or header(event, header_name)
        for name, header_name in RESOURCE_SOURCES.items()
    }
    return RequestContext(
        method=method or None,
        path=event.get("path"),
        scopes=requirement.scopes,
        permission=requirement.permission,
        **resources,
    )


def _policy(principal_id: str, effect: str, method_arn: str, context: dict[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
        "context": context,
    }


def decision_for(verdict: Verdict, method_arn: str) -> AuthorizerDecision:
    """Turn the core's verdict into API Gateway's terms (see the module's docstring)."""
    token = verdict.token
    if verdict.code in UNAUTHENTICATED or token is None:
        return AuthorizerDecision(verdict.code, None)
    context = authorizer_context(token) if verdict.valid else {"token_id": token.token_id}
    context["code"] = verdict.code.value
    if verdict.rate_limit is not None:
        context["rate_limit_limit"] = str(verdict.rate_limit.limit)
        context["rate_limit_remaining"] = str(verdict.rate_limit.remaining)
        context["rate_limit_reset"] = verdict.rate_limit.reset
    effect = "Allow" if verdict.valid else "Deny"
    return AuthorizerDecision(verdict.code, _policy(token.owner_id, effect, method_arn, context))


def authorize_request(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    settings: Settings,
    event: Mapping[str, Any],
) -> AuthorizerDecision:
    """Decide an API Gateway REQUEST authorizer event with the verification core.

    The token must belong to ``AUTHORIZER_ORG_ID`` / ``AUTHORIZER_APP_ID`` when they are
    set (another's is unknown here); the route's rule comes from ``AUTHORIZER_ROUTES``.
    """
    presented = bearer_credential(header(event, "authorization"))
    if presented is None:
        return AuthorizerDecision(VerifyCode.MALFORMED, None)
    rules = route_requirements(settings.authorizer_routes)
    method = str(event.get("httpMethod") or "").upper()
    requirement = requirement_for(rules, method, str(event.get("resource")))
    verdict = verify(
        repository,
        hasher,
        clock,
        presented,
        request_context(event, method, requirement),
        org_id=settings.authorizer_org_id,
        app_id=settings.authorizer_app_id,
    )
    return decision_for(verdict, str(event.get("methodArn")))
