"""Management handlers behind an authorizer: they trust its context instead of reading the token again.

Only the authorizer named by ``TRUSTED_AUTHORIZER`` is trusted; without its context a
request is authenticated from its bearer token as always.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from devtools.events import authorizer_event, proxy_event
from shared.domain.principals import ClaimNames, TrustedAuthorizer
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from tests.conftest import APP, ORG, TOKENS_URL, CallLog, LambdaContextStub, call, handler, issue
from tests.integration.test_api import assert_401, assert_403, assert_404

JSON_LIST = '["app_tokens:*"]'


@pytest.fixture(autouse=True)
def management_behind_our_authorizer(runtime: Runtime) -> None:
    """Our authorizer configured as docs/authorizer.md says for the management API: any org, any route.

    The handlers themselves check the caller's org against the path and each route's permission.
    """
    runtime.settings = dataclasses.replace(
        runtime.settings, authorizer_org_id="*", authorizer_app_id="*", authorizer_routes='{"*": {}}'
    )


def trust(runtime: Runtime, mode: TrustedAuthorizer, **claims: str) -> None:
    runtime.settings = dataclasses.replace(
        runtime.settings, trusted_authorizer=mode, claim_names=ClaimNames(**claims)
    )


def vouched_by_our_authorizer(token: IssuedToken, method: str, path: str) -> dict[str, Any]:
    """The ``requestContext.authorizer`` API Gateway passes on after our authorizer allowed ``token``."""
    proxy = proxy_event(method, path, headers={"Authorization": f"Bearer {token.plaintext_token}"})
    policy = handler("authorize")(authorizer_event(proxy), LambdaContextStub())
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    return {"principalId": policy["principalId"], **policy["context"]}


def test_our_authorizers_context_is_trusted_without_a_second_read(
    runtime: Runtime,
    admin: IssuedToken,
    calls: CallLog,
) -> None:
    trust(runtime, TrustedAuthorizer.APP_TOKENS)
    context = vouched_by_our_authorizer(admin, "GET", TOKENS_URL)
    calls.clear()
    listed = call("list_tokens", "GET", TOKENS_URL, authorizer=context)
    assert listed.status == 200, listed.body
    assert calls.operations == ["Query"]  # no GetItem for the caller: the authorizer did it


def test_the_context_carries_the_callers_limits(runtime: Runtime, admin: IssuedToken) -> None:
    trust(runtime, TrustedAuthorizer.APP_TOKENS)
    narrow = issue(runtime, admin, permissions=["app_tokens:create"], workspace_ids=["ws1", "ws2"])
    context = vouched_by_our_authorizer(narrow, "POST", TOKENS_URL)
    created = call("create_token", "POST", TOKENS_URL, body={"name": "n"}, authorizer=context)
    assert_403(created, "workspace_ids:*")  # an empty list would widen the caller's
    body = {"name": "n", "workspace_ids": ["ws2"]}
    created = call("create_token", "POST", TOKENS_URL, body=body, authorizer=context)
    assert created.status == 201, created.body
    token = created.json()["token"]
    assert (token["owner_id"], token["expires_at"] <= narrow.token.expires_at) == ("admin", True)
    assert_403(call("list_tokens", "GET", TOKENS_URL, authorizer=context), "app_tokens:list")


def test_without_trust_the_context_counts_for_nothing(runtime: Runtime, admin: IssuedToken) -> None:
    context = vouched_by_our_authorizer(admin, "GET", TOKENS_URL)
    assert_401(call("list_tokens", "GET", TOKENS_URL, authorizer=context))  # TRUSTED_AUTHORIZER=none
    trust(runtime, TrustedAuthorizer.CLAIMS)
    assert_401(call("list_tokens", "GET", TOKENS_URL, authorizer=context))  # not the trusted kind


def test_a_request_without_the_context_still_authenticates_its_token(
    runtime: Runtime, admin: IssuedToken
) -> None:
    trust(runtime, TrustedAuthorizer.APP_TOKENS)
    assert call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).status == 200
    assert_401(call("list_tokens", "GET", TOKENS_URL, authorizer={"principalId": "x", "org_id": ORG}))


@pytest.mark.parametrize(
    "authorizer",
    [
        # A Cognito user pool authorizer on a REST API: claims as strings.
        {"claims": {"sub": "user-7", "custom:org_id": ORG, "custom:permissions": "app_tokens:create"}},
        # An HTTP API JWT authorizer: claims under jwt, a list claim as a JSON array.
        {
            "jwt": {
                "claims": {"sub": "user-7", "custom:org_id": ORG, "custom:permissions": '["app_tokens:*"]'}
            }
        },
    ],
)
def test_a_jwt_users_claims_are_trusted(
    runtime: Runtime, admin: IssuedToken, authorizer: dict[str, Any]
) -> None:
    trust(runtime, TrustedAuthorizer.CLAIMS)
    created = call("create_token", "POST", TOKENS_URL, body={"name": "from a user"}, authorizer=authorizer)
    assert created.status == 201, created.body
    token = created.json()["token"]
    assert (token["owner_id"], token["created_by_user_id"]) == ("user-7", "user-7")
    other_org = f"/v1/orgs/globex/apps/{APP}/tokens"
    assert_404(call("create_token", "POST", other_org, body={"name": "x"}, authorizer=authorizer), "app", APP)


def test_claim_names_are_settings(runtime: Runtime, admin: IssuedToken) -> None:
    trust(runtime, TrustedAuthorizer.CLAIMS, user_id="email", org_id="tenant", permissions="cognito:groups")
    claims = {"email": "ana@example.com", "tenant": ORG, "cognito:groups": "[app_tokens:list other:thing]"}
    assert call("list_tokens", "GET", TOKENS_URL, authorizer={"claims": claims}).status == 200
    refused = call("create_token", "POST", TOKENS_URL, body={"name": "x"}, authorizer={"claims": claims})
    assert_403(refused, "app_tokens:create")
    # Without the org claim nobody is vouched for: the bearer token is read, and there is none.
    assert_401(call("list_tokens", "GET", TOKENS_URL, authorizer={"claims": {"email": "ana@example.com"}}))
