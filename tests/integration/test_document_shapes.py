"""Real responses of every operation, every documented status, validated against the document.

A generated client parses each response with the schema ``docs/openapi.json`` gives for that
operation and status; a schema that is not the body really sent (the 500 was declared as
Powertools' validation error) breaks it. So the bodies here are the service's own, made to
happen, and each is checked with the schema its operation documents for its status.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator

from devtools.openapi import DOCUMENT
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from tests.conftest import TOKENS_URL, Result, call, issue, mint_admin

SPEC: dict[str, Any] = json.loads(DOCUMENT.read_text())
TEMPLATE = "/v1/orgs/{org_id}/apps/{app_id}/tokens"
OPERATIONS = {
    "list_tokens": (TEMPLATE, "get", "GET", TOKENS_URL),
    "create_token": (TEMPLATE, "post", "POST", TOKENS_URL),
    "revoke_token": (TEMPLATE + "/{token_id}", "delete", "DELETE", TOKENS_URL + "/{token_id}"),
    "refresh_token": (TEMPLATE + "/{token_id}/refresh", "post", "POST", TOKENS_URL + "/{token_id}/refresh"),
    "verify_token": (TEMPLATE + "/verify", "post", "POST", TOKENS_URL + "/verify"),
}
FAILURE = {
    500: ClientError({"Error": {"Code": "ValidationException", "Message": "internals"}}, "GetItem"),
    503: ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem"),
}


def assert_documented(name: str, result: Result) -> None:
    """The body matches the schema the document gives this operation for this status."""
    template, method, _, _ = OPERATIONS[name]
    response = SPEC["paths"][template][method]["responses"][str(result.status)]
    content = response.get("content", {}).get("application/json")
    if content is None:
        assert not result.body, result.body
        return
    schema = {**content["schema"], "components": SPEC["components"]}
    errors = [error.message for error in Draft202012Validator(schema).iter_errors(result.json())]
    assert not errors, (name, result.status, errors)


def request(name: str, token: str | None, token_id: str = "0" * 26, **kwargs: Any) -> Result:
    _, _, method, path = OPERATIONS[name]
    return call(name, method, path.format(token_id=token_id), token=token, **kwargs)


BODIES = {
    "list_tokens": None,
    "create_token": {"name": "t"},
    "revoke_token": None,
    "verify_token": {"token": "atok_x"},
}


def test_every_status_of_every_operation_is_the_documented_shape(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: set[tuple[str, int]] = set()

    def check(name: str, result: Result) -> None:
        assert_documented(name, result)
        seen.add((name, result.status))

    nobody = mint_admin(runtime, "acme", "billing", [])
    too_long = '{"a": "' + "x" * 2_000_000 + '"}'
    for name, body in BODIES.items():
        elsewhere = OPERATIONS[name][3].replace("/orgs/acme/", "/orgs/other/").format(token_id="0" * 26)
        check(name, request(name, None, body=body))  # 401
        check(name, request(name, nobody.plaintext_token, body=body))  # 403
        check(name, call(name, OPERATIONS[name][2], elsewhere, token=admin.plaintext_token, body=body))  # 404
        check(name, request(name, admin.plaintext_token, raw_body=too_long))  # 413
        invalid = {"query": {"limit": "0"}} if name == "list_tokens" else {"raw_body": '{"unknown": 1}'}
        check(name, request(name, admin.plaintext_token, **invalid))  # 422
    # Successes
    child = issue(runtime, admin)
    check("list_tokens", request("list_tokens", admin.plaintext_token))
    check("create_token", request("create_token", admin.plaintext_token, body={"name": "t"}))
    check(
        "verify_token", request("verify_token", admin.plaintext_token, body={"token": child.plaintext_token})
    )
    refresh = {"refresh_token": child.refresh_token_plaintext}
    check("refresh_token", request("refresh_token", None, child.token.token_id, body=refresh))
    check("refresh_token", request("refresh_token", None, child.token.token_id, body={"refresh_token": "x"}))
    check("refresh_token", request("refresh_token", None, child.token.token_id, raw_body="[1]"))
    check("refresh_token", request("refresh_token", None, raw_body='{"a": "' + "x" * 100_000 + '"}'))
    check("revoke_token", request("revoke_token", admin.plaintext_token, child.token.token_id))
    # The two failures every operation documents: a bug (500) and DynamoDB busy (503).
    for status, failure in FAILURE.items():

        def fail(*_: Any, failure: ClientError = failure, **__: Any) -> None:
            raise failure

        monkeypatch.setattr(runtime.repository, "get_credential", fail)
        for name, body in {
            **BODIES,
            "refresh_token": {"refresh_token": child.refresh_token_plaintext},
        }.items():
            token = None if name == "refresh_token" else admin.plaintext_token
            token_id = child.token.token_id
            result = request(name, token, token_id, body=body)
            assert result.status == status, (name, result.body)
            check(name, result)
        monkeypatch.undo()
    for name, (template, method, _, _) in OPERATIONS.items():
        documented = {int(status) for status in SPEC["paths"][template][method]["responses"]}
        assert documented == {status for operation, status in seen if operation == name}, name
