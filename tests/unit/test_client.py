"""The typed client (app_tokens_sdk): its retry rule, its typed errors and the requests it sends.

The API is an ``httpx.MockTransport`` answering from a script, and ``sleep`` is a recorder, so
no test waits and every count is exact. The same client against a real server: tests/e2e/test_cli.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
import pytest

from app_tokens_sdk import (
    AuthenticationFailed,
    Client,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RetryPolicy,
    ServerError,
    Unreachable,
)
from shared.http.token_models import TokenDetailsPublic

API = "http://api.test"
# Shaped like a token, never issued by anything: what the Authorization header must carry.
TOKEN = "atok_1k1c0z563j2ht4p6fmfwnn6crn_" + "x" * 50
TOKEN_JSON = {
    "token_id": "1k1c0z5r88ffbydmt9be37zjsa",
    "token_type": "pat",
    "owner_type": "user",
    "owner_id": "admin",
    "org_id": "demo",
    "name": "ci-deploy",
    "description": None,
    "prefix": "atok_1k1c0z5r88ffbydmt9be37zjsa",
    "scopes": [],
    "permissions": ["app_tokens:list"],
    "workspace_ids": [],
    "namespace_ids": [],
    "environment_ids": [],
    "endpoint_paths": [],
    "rate_limit_rps": None,
    "rate_limit_burst": None,
    "created_by_user_id": "admin",
    "issued_at": "2026-11-29T01:30:51.243791Z",
    "expires_at": "2026-12-29T00:00:00.000000Z",
    "last_used_at": None,
    "revoked_at": None,
    "revoked_reason": None,
}
# Every details field the API shows, null but for the flags a token always has: in step with the
# model as issues add facts.
DETAILS = {
    **dict.fromkeys(TokenDetailsPublic.model_fields),
    **{"status": "active", "enabled": True, "canary": False, "ip_allowlist": []},
}
WHOAMI = {"token": TOKEN_JSON, "org_id": "demo", "app_id": "demo-app", "details": DETAILS}
CREATED = {
    "token": TOKEN_JSON,
    "plaintext_token": "atok_x_secret",
    "refresh_token_plaintext": "aref_x_secret",
}
BUSY = {
    "error": "SERVICE_UNAVAILABLE",
    "message": "The service is busy; retry after the time in Retry-After",
    "details": {},
    "timestamp": "2026-11-29T01:30:52.217811",
    "status_code": 503,
}


@dataclass
class Script:
    """The answers the API gives, in order, and the requests it received."""

    answers: list[httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def client(self, attempts: int = 4, max_delay: float = 30.0) -> Client:
        policy = RetryPolicy(attempts=attempts, max_delay=max_delay, sleep=self.sleeps.append)
        return Client(API, TOKEN, retry=policy, http=httpx.Client(transport=httpx.MockTransport(self.handle)))


def busy(retry_after: str | None = "2") -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(503, json=BUSY, headers=headers)


def error(status: int, code: str, details: dict[str, object] | None = None) -> httpx.Response:
    body = {**BUSY, "error": code, "message": code.lower(), "details": details or {}, "status_code": status}
    return httpx.Response(status, json=body)


# ---- Retries -----------------------------------------------------------------------------------


def test_a_503_is_retried_after_its_retry_after_then_the_200_is_the_answer() -> None:
    script = Script([busy("2"), httpx.Response(200, json=WHOAMI)])
    me = script.client().whoami()
    assert (me.org_id, me.app_id) == ("demo", "demo-app")
    assert len(script.requests) == 2
    assert script.sleeps == [2.0]


def test_a_create_is_retried_on_a_503_since_nothing_was_written() -> None:
    script = Script([busy("1"), busy("0"), httpx.Response(201, json=CREATED)])
    created = script.client().tokens("demo", "demo-app").create({"name": "ci-deploy"})
    assert created.token.name == "ci-deploy"
    assert [r.method for r in script.requests] == ["POST", "POST", "POST"]
    assert [json.loads(r.content) for r in script.requests] == [{"name": "ci-deploy"}] * 3
    assert script.sleeps == [1.0, 0.0]


@pytest.mark.parametrize("status", [500, 502, 504, 429, 409, 401])
def test_no_other_status_is_retried(status: int) -> None:
    script = Script([error(status, "SOMETHING"), httpx.Response(200, json=WHOAMI)])
    with pytest.raises(Exception) as raised:
        script.client().whoami()
    assert getattr(raised.value, "status", None) == status
    assert len(script.requests) == 1 and script.sleeps == []


def test_a_500_is_a_server_error_at_once() -> None:
    script = Script([error(500, "INTERNAL_SERVER_ERROR"), httpx.Response(200, json=WHOAMI)])
    with pytest.raises(ServerError) as raised:
        script.client().tokens("demo", "demo-app").create({"name": "x"})
    assert raised.value.status == 500 and raised.value.code == "INTERNAL_SERVER_ERROR"
    assert len(script.requests) == 1 and script.sleeps == []


def test_the_attempts_are_bounded_and_the_last_503_is_raised() -> None:
    script = Script([busy("1") for _ in range(5)])
    with pytest.raises(ServerError) as raised:
        script.client(attempts=3).whoami()
    assert raised.value.status == 503 and raised.value.code == "SERVICE_UNAVAILABLE"
    assert len(script.requests) == 3 and script.sleeps == [1.0, 1.0]


def test_without_retry_after_the_wait_doubles() -> None:
    script = Script([busy(None), busy("soon"), busy(None), httpx.Response(200, json=WHOAMI)])
    script.client().whoami()
    assert script.sleeps == [0.5, 1.0, 2.0]


def test_a_retry_after_beyond_the_bound_is_not_waited_out() -> None:
    script = Script([busy("3600"), httpx.Response(200, json=WHOAMI)])
    with pytest.raises(ServerError):
        script.client(max_delay=30).whoami()
    assert len(script.requests) == 1 and script.sleeps == []


def test_an_unreachable_api_is_not_retried_and_its_error_holds_no_token() -> None:
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    client = Client(API, TOKEN, http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(Unreachable) as raised:
        client.tokens("demo", "demo-app").create({"name": "x"})
    assert len(calls) == 1
    assert TOKEN not in str(raised.value) and TOKEN not in repr(client)


# ---- Typed errors ------------------------------------------------------------------------------


def test_a_403_names_the_missing_permission() -> None:
    script = Script([error(403, "FORBIDDEN", {"required_permission": "app_tokens:create"})])
    with pytest.raises(PermissionDenied) as raised:
        script.client().tokens("demo", "demo-app").create({"name": "x"})
    assert raised.value.required_permission == "app_tokens:create"
    assert raised.value.code == "FORBIDDEN" and raised.value.status == 403


def test_a_422_carries_its_items() -> None:
    item = {"loc": ["body", "name"], "msg": "too short", "type": "string_too_short", "input": "", "ctx": {}}
    script = Script([httpx.Response(422, json={"detail": [item]})])
    with pytest.raises(InvalidRequest) as raised:
        script.client().tokens("demo", "demo-app").create({"name": ""})
    assert [i.loc for i in raised.value.items] == [["body", "name"]]
    assert raised.value.message == "body.name: too short" and raised.value.code is None


@pytest.mark.parametrize(("status", "kind"), [(401, AuthenticationFailed), (404, NotFound)])
def test_each_status_has_its_class(status: int, kind: type[Exception]) -> None:
    script = Script([error(status, "X")])
    with pytest.raises(kind):
        script.client().tokens("demo", "demo-app").get("1k1c0z5r88ffbydmt9be37zjsa")


def test_an_answer_in_no_contract_shape_is_still_typed() -> None:
    script = Script([httpx.Response(502, text="Bad Gateway")])
    with pytest.raises(ServerError) as raised:
        script.client().whoami()
    assert raised.value.body is None and raised.value.message == "Bad Gateway"


# ---- What is sent ------------------------------------------------------------------------------


def test_each_call_sends_its_method_path_query_and_body() -> None:
    read = {"token": TOKEN_JSON, "details": DETAILS}
    script = Script(
        [
            httpx.Response(204),
            httpx.Response(200, json=CREATED),
            httpx.Response(200, json=read),
            httpx.Response(200, json={"tokens": [TOKEN_JSON], "next_token": None}),
            httpx.Response(200, json=CREATED),
        ]
    )
    tokens = script.client().tokens("demo", "demo-app")
    tid = "1k1c0z5r88ffbydmt9be37zjsa"
    tokens.revoke(tid, reason="leaked", cascade=True)
    tokens.rotate(tid, grace_seconds=60)
    tokens.disable(tid)
    tokens.list(status="revoked", limit=5)
    tokens.refresh(tid, "aref_x_secret")
    sent = [(r.method, r.url.path, dict(r.url.params), r.content) for r in script.requests]
    base = "/v1/orgs/demo/apps/demo-app/tokens"
    assert sent == [
        ("DELETE", f"{base}/{tid}", {"cascade": "true"}, b'{"reason":"leaked"}'),
        ("POST", f"{base}/{tid}/rotate", {}, b'{"expire_current_in_seconds":60}'),
        ("PATCH", f"{base}/{tid}", {}, b'{"enabled":false}'),
        ("GET", base, {"status": "revoked", "limit": "5"}, b""),
        ("POST", f"{base}/{tid}/refresh", {}, b'{"refresh_token":"aref_x_secret"}'),
    ]
    auth = [r.headers.get("Authorization") for r in script.requests]
    assert auth == [f"Bearer {TOKEN}"] * 4 + [None]  # the refresh token is the credential


def test_execute_gives_the_json_as_sent_beside_the_model() -> None:
    extra = {**WHOAMI, "details": {**DETAILS, "a_field_of_a_later_version": 1}}
    script = Script([httpx.Response(200, json=extra)])
    client = script.client()
    reply = client.execute(client.tokens("demo", "demo-app").get_call("1k1c0z5r88ffbydmt9be37zjsa"))
    assert reply.json == extra and reply.status == 200
