"""The Lambda REQUEST authorizer: every code through real API Gateway authorizer events.

The events are built the way API Gateway builds them (``devtools.events``),
and the function under test is ``functions/authorize/app.py`` itself.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any, cast

import pytest

from devtools.events import authorizer_event, proxy_event, with_authorizer_context
from shared.domain.crypto import SecretKind, new_secret, new_token_id
from shared.domain.observability import logger
from shared.entry.runtime import Runtime
from shared.http.authorizer import (
    AuthorizerConfigurationError,
    RouteRulesInvalid,
    authorize_request,
    route_requirements,
)
from shared.services.tokens import IssuedToken
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.conftest import (
    APP,
    ORG,
    TABLE,
    TOKENS_URL,
    CallLog,
    FakeClock,
    LambdaContextStub,
    call,
    handler,
    issue,
    mint_admin,
)
from tests.integration.test_concurrency import admitted_across_threads
from tests.tokens import mistype_last_character

ROUTES = {
    "GET /v1/orders/{order_id}": {"permission": "orders:read", "scopes": ["orders"]},
    "ANY /v1/admin": {"permission": "admin:use"},
    "*": {},  # every other route asks nothing beyond the token's own restrictions
}
UNAUTHORIZED = "Unauthorized"


@pytest.fixture(autouse=True)
def protected_api(runtime: Runtime) -> None:
    """The authorizer guards an API of org ``acme``, app ``billing``, with the routes above."""
    runtime.settings = dataclasses.replace(
        runtime.settings, authorizer_org_id=ORG, authorizer_app_id=APP, authorizer_routes=json.dumps(ROUTES)
    )


def request(
    method: str,
    path: str,
    token: str | None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The REQUEST authorizer event API Gateway sends for this request to the protected API."""
    all_headers = {"Host": "api.example.com", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    proxy = proxy_event(method, path, resource=resource, path_parameters=path_parameters, headers=all_headers)
    return authorizer_event(proxy)


def authorize(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(effect, context)`` of the returned policy, or ``("Unauthorized", {})`` for API Gateway's 401."""
    try:
        policy = handler("authorize")(event, LambdaContextStub())
    except Exception as error:
        assert str(error) == UNAUTHORIZED
        return UNAUTHORIZED, {}
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Resource"] == event["methodArn"] and statement["Action"] == "execute-api:Invoke"
    context = policy["context"]
    assert all(isinstance(value, str) for value in context.values())  # API Gateway passes strings only
    return statement["Effect"], context


def outcome(method: str, path: str, token: str | None, **request_parts: Any) -> str:
    """``Allow``, ``Unauthorized`` or ``Deny:<code>``."""
    effect, context = authorize(request(method, path, token, **request_parts))
    if effect == "Allow":
        assert context["code"] == "VALID"
    return f"Deny:{context['code']}" if effect == "Deny" else effect


def make(runtime: Runtime, admin: IssuedToken, **fields: Any) -> IssuedToken:
    return issue(runtime, admin, **{"name": "guarded", **fields})


def test_a_valid_token_is_allowed_with_its_facts(runtime: Runtime, admin: IssuedToken) -> None:
    token = make(runtime, admin, permissions=["orders:read"], scopes=["orders", "audit"])
    effect, context = authorize(request("GET", "/v1/status", token.plaintext_token))
    assert effect == "Allow"
    assert context == {
        "issuer": "app-tokens",
        "code": "VALID",
        "token_id": token.token.token_id,
        "org_id": ORG,
        "app_id": APP,
        "owner_id": "admin",
        "expires_at": token.token.expires_at,
        "permissions": "orders:read",
        "scopes": "orders audit",
        "workspace_ids": "",
        "namespace_ids": "",
        "environment_ids": "",
        "endpoint_paths": "",
        "rate_limit_rps": "",
        "rate_limit_burst": "",
        "ip_allowlist": "",
    }
    assert token.plaintext_token not in json.dumps(context)


def test_no_credential_is_a_401(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    plain = make(runtime, admin)
    short = make(runtime, admin, expires_at=clock.now + timedelta(minutes=1))
    revoked = make(runtime, admin)
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{revoked.token.token_id}", token=admin.plaintext_token)
    other_app = mint_admin(runtime, ORG, "other", ["*"])
    other_org = mint_admin(runtime, "globex", APP, ["*"])
    never_issued = new_secret(SecretKind.ACCESS, new_token_id(clock.now))

    def code_and_effect(presented: str | None) -> tuple[str, str]:
        event = request("GET", "/v1/status", presented)
        settings = runtime.settings
        decision = authorize_request(runtime, settings, event)
        return decision.code.value, authorize(event)[0]

    cases: list[tuple[str | None, str]] = [
        (None, "MALFORMED"),  # no Authorization header
        ("not-a-token", "MALFORMED"),
        (plain.refresh_token_plaintext, "MALFORMED"),  # a refresh token is no access token
        (mistype_last_character(plain.plaintext_token), "MALFORMED"),  # bad checksum
        (plain.plaintext_token[:20], "MALFORMED"),  # truncated
        ("ghp_" + "a" * 36, "MALFORMED"),  # another service's token
        (never_issued, "NOT_FOUND"),
        (other_app.plaintext_token, "NOT_FOUND"),  # this API is app billing's
        (other_org.plaintext_token, "NOT_FOUND"),
        (revoked.plaintext_token, "REVOKED"),
    ]
    for presented, code in cases:
        assert code_and_effect(presented) == (code, UNAUTHORIZED), presented
    assert code_and_effect(short.plaintext_token) == ("VALID", "Allow")
    clock.advance(minutes=2)
    assert code_and_effect(short.plaintext_token) == ("EXPIRED", UNAUTHORIZED)
    basic = request("GET", "/v1/status", None, headers={"Authorization": f"Basic {plain.plaintext_token}"})
    assert authorize(basic)[0] == UNAUTHORIZED


def test_the_log_line_says_what_happened(
    runtime: Runtime, admin: IssuedToken, caplog: pytest.LogCaptureFixture
) -> None:
    revoked = make(runtime, admin)
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{revoked.token.token_id}", token=admin.plaintext_token)
    other = mint_admin(runtime, ORG, "other", ["*"])
    bound = make(runtime, admin, endpoint_paths=["/v1/status"])
    caplog.clear()
    for presented in ("junk", other.plaintext_token, revoked.plaintext_token):
        authorize(request("GET", "/v1/status", presented))
    authorize(request("GET", "/v1/elsewhere", bound.plaintext_token))
    authorize(request("GET", "/v1/status", bound.plaintext_token))

    def logged() -> list[tuple[str, str, str | None]]:
        return [
            (record.levelname, record.getMessage(), getattr(record, "code", None))
            for record in caplog.records
            if record.getMessage().startswith("request ")
        ]

    # Every refusal at INFO; the Allow (the hot path) only at DEBUG, so not at the functions' INFO.
    assert logged() == [
        ("INFO", "request unauthenticated", "MALFORMED"),
        ("INFO", "request unauthenticated", "NOT_FOUND"),
        ("INFO", "request unauthenticated", "REVOKED"),
        ("INFO", "request denied", "FORBIDDEN_PATH"),
    ]
    caplog.clear()
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        authorize(request("GET", "/v1/status", bound.plaintext_token))
    finally:
        logger.setLevel(level)
    assert logged() == [("DEBUG", "request authorized", "VALID")]
    assert getattr(caplog.records[-1], "token_id", None) == bound.token.token_id
    everything = caplog.text + "".join(str(vars(record)) for record in caplog.records)
    for token in (other, revoked, bound):
        assert token.plaintext_token not in everything


def guard(runtime: Runtime, **settings: Any) -> None:
    """The authorizer's settings for one test, over the module's."""
    runtime.settings = dataclasses.replace(runtime.settings, **settings)


def test_a_token_of_another_org_or_app_is_refused(runtime: Runtime, admin: IssuedToken) -> None:
    other_org = mint_admin(runtime, "globex", APP, ["*"])  # same app id, another org
    other_app = mint_admin(runtime, ORG, "other", ["*"])
    assert outcome("GET", "/v1/x", admin.plaintext_token) == "Allow"
    assert outcome("GET", "/v1/x", other_org.plaintext_token) == UNAUTHORIZED
    assert outcome("GET", "/v1/x", other_app.plaintext_token) == UNAUTHORIZED
    guard(runtime, authorizer_app_id="*")  # any app of acme
    assert outcome("GET", "/v1/x", other_app.plaintext_token) == "Allow"
    assert outcome("GET", "/v1/x", other_org.plaintext_token) == UNAUTHORIZED


@pytest.mark.parametrize(
    ("org_id", "app_id"),
    [(None, None), (None, APP), (ORG, None), ("", ""), ("*", APP)],
)
def test_an_unset_org_or_app_refuses_every_request(
    runtime: Runtime,
    admin: IssuedToken,
    calls: CallLog,
    caplog: pytest.LogCaptureFixture,
    org_id: str | None,
    app_id: str | None,
) -> None:
    guard(runtime, authorizer_org_id=org_id, authorizer_app_id=app_id)
    calls.clear()
    for presented in (admin.plaintext_token, None):
        with pytest.raises(AuthorizerConfigurationError):  # not "Unauthorized": API Gateway's 500
            handler("authorize")(request("GET", "/v1/x", presented), LambdaContextStub())
    assert calls.operations == []  # refused before any token is looked up
    errors = [record for record in caplog.records if record.getMessage() == "authorizer misconfigured"]
    assert len(errors) == 2 and "AUTHORIZER_" in str(getattr(errors[0], "reason", ""))
    assert not [record for record in caplog.records if record.getMessage().startswith("request ")]


def test_a_star_accepts_any_org_and_app(runtime: Runtime, admin: IssuedToken) -> None:
    guard(runtime, authorizer_org_id="*", authorizer_app_id="*")
    other_org = mint_admin(runtime, "globex", "shop", ["*"])
    effect, context = authorize(request("GET", "/v1/x", other_org.plaintext_token))
    assert (effect, context["org_id"], context["app_id"]) == ("Allow", "globex", "shop")
    assert outcome("GET", "/v1/x", admin.plaintext_token) == "Allow"
    # Any org does not mean any token: a revoked or unknown one is still no credential.
    never_issued = new_secret(SecretKind.ACCESS, new_token_id(runtime.clock()))
    assert outcome("GET", "/v1/x", never_issued) == UNAUTHORIZED


def test_a_route_without_a_rule_is_denied(runtime: Runtime, admin: IssuedToken, calls: CallLog) -> None:
    rules = {key: rule for key, rule in ROUTES.items() if key != "*"}
    guard(runtime, authorizer_routes=json.dumps(rules))
    order = {"resource": "/v1/orders/{order_id}", "path_parameters": {"order_id": "7"}}
    calls.clear()
    effect, context = authorize(request("GET", "/v1/status", admin.plaintext_token))
    assert (effect, context) == ("Deny", {"code": "FORBIDDEN_PATH"})
    # Another method of a listed resource is not listed either.
    assert outcome("DELETE", "/v1/orders/7", admin.plaintext_token, **order) == "Deny:FORBIDDEN_PATH"
    assert calls.operations == []  # decided without reading the token
    assert outcome("GET", "/v1/orders/7", admin.plaintext_token, **order) == "Allow"
    assert outcome("GET", "/v1/status", None) == UNAUTHORIZED  # no credential at all is still a 401
    guard(runtime, authorizer_routes=None)  # no rules at all: every route is closed
    assert outcome("GET", "/v1/orders/7", admin.plaintext_token, **order) == "Deny:FORBIDDEN_PATH"


def test_a_star_rule_applies_to_unlisted_routes(runtime: Runtime, admin: IssuedToken) -> None:
    rules = {"GET /v1/orders/{order_id}": {"permission": "orders:read"}, "*": {"permission": "any:use"}}
    guard(runtime, authorizer_routes=json.dumps(rules))
    reader = make(runtime, admin, permissions=["orders:read"])
    user = make(runtime, admin, permissions=["any:use"])
    order = {"resource": "/v1/orders/{order_id}", "path_parameters": {"order_id": "7"}}
    assert outcome("GET", "/v1/status", user.plaintext_token) == "Allow"
    assert outcome("GET", "/v1/status", reader.plaintext_token) == "Deny:INSUFFICIENT_SCOPE"
    # A listed route has its own rule, not the "*" rule on top.
    assert outcome("GET", "/v1/orders/7", reader.plaintext_token, **order) == "Allow"
    assert outcome("GET", "/v1/orders/7", user.plaintext_token, **order) == "Deny:INSUFFICIENT_SCOPE"


def test_the_path_grammar(runtime: Runtime, admin: IssuedToken) -> None:
    token = make(runtime, admin, endpoint_paths=["/v1/orders/*", "/v1/users/{user_id}", "/v1/status"])
    cases = {
        "/v1/orders/7": "Allow",
        "/v1/orders/7/lines/2": "Allow",  # a trailing /* matches any deeper path
        "/v1/orders": "Deny:FORBIDDEN_PATH",  # ...but at least one more segment
        "/v1/users/42": "Allow",  # {param} is exactly one segment
        "/v1/users/42/keys": "Deny:FORBIDDEN_PATH",
        "/v1/users": "Deny:FORBIDDEN_PATH",
        "/v1/status": "Allow",
        "/v1/status/x": "Deny:FORBIDDEN_PATH",  # a literal matches itself only
        "/v2/orders/7": "Deny:FORBIDDEN_PATH",
    }
    found = {path: outcome("POST", path, token.plaintext_token) for path in cases}
    assert found == cases


def test_route_rules_ask_for_permissions_and_scopes(runtime: Runtime, admin: IssuedToken) -> None:
    reader = make(runtime, admin, permissions=["orders:read"], scopes=["orders"])
    wildcard = make(runtime, admin, permissions=["orders:*"])  # no scopes: unrestricted scopes
    no_scope = make(runtime, admin, permissions=["orders:read"], scopes=["billing"])
    nothing = make(runtime, admin)
    order = {"resource": "/v1/orders/{order_id}", "path_parameters": {"order_id": "7"}}

    assert outcome("GET", "/v1/orders/7", reader.plaintext_token, **order) == "Allow"
    assert outcome("GET", "/v1/orders/7", wildcard.plaintext_token, **order) == "Allow"
    assert outcome("GET", "/v1/orders/7", no_scope.plaintext_token, **order) == "Deny:INSUFFICIENT_SCOPE"
    assert outcome("GET", "/v1/orders/7", nothing.plaintext_token, **order) == "Deny:INSUFFICIENT_SCOPE"
    # The rule is for GET: another method of the same resource asks for nothing more.
    assert outcome("DELETE", "/v1/orders/7", nothing.plaintext_token, **order) == "Allow"
    # ANY covers every method.
    for method in ("GET", "POST"):
        assert outcome(method, "/v1/admin", reader.plaintext_token) == "Deny:INSUFFICIENT_SCOPE"
        assert outcome(method, "/v1/admin", admin.plaintext_token) == "Allow"


def test_resources_from_path_parameters_and_headers(runtime: Runtime, admin: IssuedToken) -> None:
    token = make(runtime, admin, workspace_ids=["ws1"], environment_ids=["prod"])
    in_path = {"resource": "/v1/workspaces/{workspace_id}", "path_parameters": {"workspace_id": "ws1"}}
    assert outcome("GET", "/v1/workspaces/ws1", token.plaintext_token, **in_path) == "Allow"
    elsewhere = {"resource": "/v1/workspaces/{workspace_id}", "path_parameters": {"workspace_id": "ws2"}}
    assert (
        outcome("GET", "/v1/workspaces/ws2", token.plaintext_token, **elsewhere) == "Deny:FORBIDDEN_RESOURCE"
    )
    assert outcome("GET", "/v1/x", token.plaintext_token, headers={"X-Environment-Id": "prod"}) == "Allow"
    assert (
        outcome("GET", "/v1/x", token.plaintext_token, headers={"x-environment-id": "dev"})
        == "Deny:FORBIDDEN_RESOURCE"
    )
    # A request that names no workspace is not refused for it: the API behind acts on no workspace.
    assert outcome("GET", "/v1/x", token.plaintext_token) == "Allow"


def test_a_burst_exhausted_then_refilled(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    token = make(runtime, admin, rate_limit_rps=2, rate_limit_burst=3)
    contexts = [authorize(request("GET", "/v1/x", token.plaintext_token)) for _ in range(4)]
    assert [effect for effect, _ in contexts] == ["Allow", "Allow", "Allow", "Deny"]
    assert [context["rate_limit_remaining"] for _, context in contexts] == ["2", "1", "0", "0"]
    denied = contexts[-1][1]
    assert (denied["code"], denied["rate_limit_limit"]) == ("RATE_LIMITED", "3")
    assert set(denied) == {"code", "token_id", "rate_limit_limit", "rate_limit_remaining", "rate_limit_reset"}
    clock.advance(seconds=1)  # two more at 2 per second
    assert [outcome("GET", "/v1/x", token.plaintext_token) for _ in range(3)] == [
        "Allow",
        "Allow",
        "Deny:RATE_LIMITED",
    ]


@pytest.mark.also_on_dynamodb_local
def test_concurrent_requests_never_exceed_the_bucket(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    token = make(runtime, admin, rate_limit_rps=1, rate_limit_burst=6)
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))

    def attempt() -> bool:
        return authorize(request("GET", "/v1/x", token.plaintext_token))[0] == "Allow"

    allowed = admitted_across_threads(attempt, threads=6, each=4)
    assert 1 <= allowed <= 6  # 24 attempts, the clock stands still: never more than the burst


def test_revocation_denies_the_very_next_call(runtime: Runtime, admin: IssuedToken) -> None:
    token = make(runtime, admin)
    assert outcome("GET", "/v1/x", token.plaintext_token) == "Allow"
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{token.token.token_id}", token=admin.plaintext_token)
    assert outcome("GET", "/v1/x", token.plaintext_token) == UNAUTHORIZED


def test_calls_per_authorization(
    runtime: Runtime,
    admin: IssuedToken,
    calls: CallLog,
    clock: FakeClock,
) -> None:
    plain = make(runtime, admin)
    limited = make(runtime, admin, rate_limit_rps=100)
    for token in (plain, limited):
        authorize(request("GET", "/v1/x", token.plaintext_token))
    calls.clear()
    clock.advance(seconds=5)  # last_used_at is fresh: no write for it
    authorize(request("GET", "/v1/x", plain.plaintext_token))
    assert calls.operations == ["GetItem"]
    calls.clear()
    authorize(request("GET", "/v1/x", limited.plaintext_token))
    assert calls.operations == ["GetItem", "UpdateItem"]
    calls.clear()
    clock.advance(minutes=2)  # once a minute, the last_used_at write
    authorize(request("GET", "/v1/x", plain.plaintext_token))
    assert calls.operations == ["GetItem", "TransactWriteItems"]
    calls.clear()
    authorize(request("GET", "/v1/x", "atok_garbage"))
    authorize(request("GET", "/v1/x", None))
    assert calls.operations == []


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"orders": {}}',
        '{"GET orders": {}}',
        '{"GET /v1/x": {"permission": 7}}',
        '{"GET /v1/x": {"scopes": "a"}}',
        '{"GET /v1/x": {"role": "a"}}',
    ],
)
def test_route_rules_that_make_no_sense_are_refused(raw: str) -> None:
    with pytest.raises(RouteRulesInvalid):
        route_requirements(raw)


def test_the_api_behind_sees_the_authorizer_context(runtime: Runtime, admin: IssuedToken) -> None:
    event = request("GET", "/v1/hello", admin.plaintext_token)
    policy = handler("authorize")(event, LambdaContextStub())
    proxy = proxy_event("GET", "/v1/hello", headers={"Authorization": f"Bearer {admin.plaintext_token}"})
    result = handler("example_protected")(with_authorizer_context(proxy, policy), LambdaContextStub())
    body = json.loads(result["body"])
    assert result["statusCode"] == 200
    assert body["caller"] == {
        "token_id": admin.token.token_id,
        "org_id": ORG,
        "app_id": APP,
        "owner_id": "admin",
    }
    assert body["permissions"] == ["*"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders/../admin",
        "/v1/orders/%2e%2e/admin",
        "/v1/orders/..%2Fadmin",
        "/v1/orders/7%2F..%2F..%2Fadmin",
        "/v1/orders/7?x=/../admin",
        "/v1/orders/7#/../../admin",
        "/v1/orders//7",
    ],
)
def test_a_path_that_is_not_normal_is_denied_to_a_path_bound_token(
    runtime: Runtime, admin: IssuedToken, path: str
) -> None:
    """Issue 11: dot segments, encoded separators, empty segments, queries and fragments fail closed."""
    orders = issue(runtime, admin, endpoint_paths=["/v1/orders/*"])
    assert outcome("GET", "/v1/orders/7/lines", orders.plaintext_token) == "Allow"
    assert outcome("GET", path, orders.plaintext_token) == "Deny:FORBIDDEN_PATH"
