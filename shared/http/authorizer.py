"""The Lambda REQUEST authorizer: API Gateway's question answered by the one verification core.

A token that is missing, malformed, unknown, expired or revoked is not a credential
at all: the function raises ``Exception("Unauthorized")`` and API Gateway answers 401.
A real, live token that may not make this request (path, scope, permission,
resource, rate limit) gets a Deny policy: API Gateway answers 403. A valid one gets
an Allow policy for exactly this method ARN, with the token's facts as context.

Closed by default: the org and app whose tokens count must be configured (an id, or
``*`` for any), and a route that ``AUTHORIZER_ROUTES`` does not list is denied unless
a ``"*"`` rule is there for every route not listed. A configuration that cannot guard
anything safely raises :class:`AuthorizerConfigurationError` on every request, which
API Gateway answers with a 500: a mistake never opens the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.domain.principals import authorizer_context
from shared.domain.restrictions import RESTRICTIONS
from shared.domain.settings import Settings
from shared.http.request import header, request_origin
from shared.services.authentication import bearer_credential
from shared.services.deps import VerifyDeps
from shared.services.verification import RequestContext, Verdict, VerifyCode, verify

# Not a credential at all: API Gateway's 401, without a policy.
UNAUTHENTICATED = frozenset(
    {VerifyCode.MALFORMED, VerifyCode.NOT_FOUND, VerifyCode.EXPIRED, VerifyCode.REVOKED, VerifyCode.DISABLED}
)
# Where a request names the ids it acts on (each restriction with a header): a path parameter of
# that name, else the header. The API behind must act on the ids it was authorized for.
RESOURCE_SOURCES = {r.request_field: r.header for r in RESTRICTIONS if r.header is not None}


# The value of AUTHORIZER_ORG_ID / AUTHORIZER_APP_ID that stands for any org or app, and the key of
# AUTHORIZER_ROUTES whose rule applies to every route not listed.
ANY = "*"
# A Deny for a route without a rule is decided before any token is read, so it names no owner.
NO_PRINCIPAL = "anonymous"


class AuthorizerConfigurationError(ValueError):
    """The authorizer's settings cannot guard an API safely; every request fails until they are fixed."""


class RouteRulesInvalid(AuthorizerConfigurationError):
    """``AUTHORIZER_ROUTES`` is not what docs/authorizer.md describes."""


@dataclass(frozen=True)
class GuardedApp:
    """Whose tokens the authorizer accepts; ``None`` is any org (or any app of the org)."""

    org_id: str | None
    app_id: str | None


def guarded_app(org_id: str | None, app_id: str | None) -> GuardedApp:
    """``AUTHORIZER_ORG_ID`` and ``AUTHORIZER_APP_ID``, both required: an id, or ``*`` for any.

    Unset means nobody chose, so it is an error rather than "any". A specific app of any org
    is refused as well: an app id is only unique within its org, so any other org could
    register an app of that name and get in.
    """
    if not org_id or not app_id:
        raise AuthorizerConfigurationError(
            "AUTHORIZER_ORG_ID and AUTHORIZER_APP_ID must both be set: an id, or '*' for any"
        )
    if org_id == ANY and app_id != ANY:
        raise AuthorizerConfigurationError(
            "AUTHORIZER_APP_ID must be '*' when AUTHORIZER_ORG_ID is '*': "
            "an app id is only unique within its org"
        )
    return GuardedApp(None if org_id == ANY else org_id, None if app_id == ANY else app_id)


@dataclass(frozen=True)
class Requirement:
    """What a route of the protected API asks of a token beyond its own restrictions."""

    permission: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteRules:
    """``AUTHORIZER_ROUTES`` parsed: a rule per method and resource, and the ``"*"`` rule if any."""

    routes: Mapping[tuple[str, str], Requirement]
    default: Requirement | None = None


@dataclass(frozen=True)
class AuthorizerDecision:
    """The verdict's code and what the function returns: a policy, or ``None`` for a 401.

    ``reason`` tells a refusal apart where the code alone does not (a route without a rule).
    """

    code: VerifyCode
    response: dict[str, Any] | None
    reason: str | None = None

    @property
    def outcome(self) -> str:
        """``authorized`` (Allow), ``denied`` (a Deny policy, 403) or ``unauthenticated`` (401)."""
        if self.response is None:
            return "unauthenticated"
        return "authorized" if self.code is VerifyCode.VALID else "denied"

    def log_fields(self) -> dict[str, str]:
        """What a log line may say about the decision: the code, why, and the token's id, never a secret."""
        fields = {"outcome": self.outcome, "code": self.code.value}
        if self.reason:
            fields["reason"] = self.reason
        token_id = ((self.response or {}).get("context") or {}).get("token_id")
        if token_id:
            fields["token_id"] = str(token_id)
        return fields


@lru_cache(maxsize=4)
def route_requirements(raw: str | None) -> RouteRules:
    """Parse ``AUTHORIZER_ROUTES``: ``{"GET /orders/{id}": {"permission": "orders:read", "scopes": [...]}}``.

    Keys are a method (or ``ANY``) and an API Gateway resource path, or ``"*"`` for every
    route not listed. Without a ``"*"`` rule a route not listed is denied.
    """
    if not raw:
        return RouteRules({})
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise RouteRulesInvalid(f"AUTHORIZER_ROUTES is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RouteRulesInvalid("AUTHORIZER_ROUTES must be a JSON object")
    rules: dict[tuple[str, str], Requirement] = {}
    default: Requirement | None = None
    for key, rule in document.items():
        method, _, resource = str(key).partition(" ")
        if key != ANY and (not method.isalpha() or not resource.startswith("/")):
            raise RouteRulesInvalid(
                f"AUTHORIZER_ROUTES key {key!r} is not 'METHOD /resource/{{param}}' or '{ANY}'"
            )
        if not isinstance(rule, dict) or set(rule) - {"permission", "scopes"}:
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}] may only hold 'permission' and 'scopes'")
        permission, scopes = rule.get("permission"), rule.get("scopes", [])
        if permission is not None and not isinstance(permission, str):
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}].permission must be a string")
        if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
            raise RouteRulesInvalid(f"AUTHORIZER_ROUTES[{key!r}].scopes must be a list of strings")
        requirement = Requirement(permission, tuple(scopes))
        if key == ANY:
            default = requirement
        else:
            rules[(method.upper(), resource)] = requirement
    return RouteRules(rules, default)


def requirement_for(rules: RouteRules, method: str, resource: str) -> Requirement | None:
    """The rule for a method and resource (``ANY`` covers every method), else the ``"*"`` rule.

    ``None``: no rule at all, so the route is closed.
    """
    found = rules.routes.get((method, resource)) or rules.routes.get(("ANY", resource))
    return found if found is not None else rules.default


def request_context(event: Mapping[str, Any], method: str, requirement: Requirement) -> RequestContext:
    """What an API Gateway REQUEST authorizer event asks for, in the verification core's terms."""
    path_parameters = event.get("pathParameters") or {}
    resources: dict[str, Any] = {
        name: path_parameters.get(name) or header(event, header_name)
        for name, header_name in RESOURCE_SOURCES.items()
    }
    return RequestContext.of(
        method=method or None,
        path=event.get("path"),
        scopes=requirement.scopes,
        permission=requirement.permission,
        origin=request_origin(event),
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
    if verdict.credits_remaining is not None:
        # Issue 16: the credits left after this request, for the API behind (USAGE_EXHAUSTED: Deny).
        context["credits_remaining"] = str(verdict.credits_remaining)
    effect = "Allow" if verdict.valid else "Deny"
    return AuthorizerDecision(verdict.code, _policy(token.owner_id, effect, method_arn, context))


def authorize_request(deps: VerifyDeps, settings: Settings, event: Mapping[str, Any]) -> AuthorizerDecision:
    """Decide an API Gateway REQUEST authorizer event with the verification core.

    The token must belong to ``AUTHORIZER_ORG_ID`` / ``AUTHORIZER_APP_ID`` (another's is
    unknown here); the route's rule comes from ``AUTHORIZER_ROUTES``. A route without a
    rule is a Deny (``FORBIDDEN_PATH``) decided without reading the table. Raises
    :class:`AuthorizerConfigurationError` when the settings cannot guard anything.
    """
    guarded = guarded_app(settings.authorizer_org_id, settings.authorizer_app_id)
    rules = route_requirements(settings.authorizer_routes)
    presented = bearer_credential(header(event, "authorization"))
    if presented is None:
        return AuthorizerDecision(VerifyCode.MALFORMED, None)
    method = str(event.get("httpMethod") or "").upper()
    method_arn = str(event.get("methodArn"))
    requirement = requirement_for(rules, method, str(event.get("resource")))
    if requirement is None:
        code = VerifyCode.FORBIDDEN_PATH
        policy = _policy(NO_PRINCIPAL, "Deny", method_arn, {"code": code.value})
        return AuthorizerDecision(code, policy, reason="no rule for this route in AUTHORIZER_ROUTES")
    context = request_context(event, method, requirement)
    verdict = verify(deps, presented, context, org_id=guarded.org_id, app_id=guarded.app_id)
    return decision_for(verdict, method_arn)
