"""Where a request comes from reaches the verification core the same way from every entry point.

The management API and the authorizer read API Gateway's own ``requestContext.identity.sourceIp``
(never a header a client sets) and the ``User-Agent`` header; the verify endpoint takes both from
its body, as the calling service saw them. IP allowlists and canary trips (issue 16) decide on it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.events import authorizer_event, proxy_event
from shared.domain.observability import logger
from shared.entry.runtime import Runtime
from shared.http.authorizer import authorize_request
from shared.http.request import request_origin
from shared.services import verification
from shared.services.tokens import IssuedToken
from shared.services.verification import Origin, RequestContext, Verdict
from tests.conftest import (
    APP,
    ORG,
    TOKENS_URL,
    LambdaContextStub,
    call,
    handler,
    with_authorizer_environment,
)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[RequestContext]:
    """Every request context the verification core was asked to decide, in order."""
    contexts: list[RequestContext] = []
    decide = verification.verify

    def recording(deps: Any, presented: str, context: RequestContext, **scope: Any) -> Verdict:
        contexts.append(context)
        return decide(deps, presented, context, **scope)

    monkeypatch.setattr(verification, "verify", recording)
    for module in ("shared.services.authentication", "shared.http.authorizer"):
        monkeypatch.setattr(f"{module}.verify", recording)
    monkeypatch.setattr("shared.http.operations.verify_token.verify", recording)
    return contexts


def test_the_origin_is_api_gateways_source_address_and_the_user_agent() -> None:
    event = proxy_event("GET", "/v1/whoami", headers={"user-AGENT": "curl/8.5"}, source_ip="2001:db8::7")
    assert request_origin(event) == Origin(source_ip="2001:db8::7", user_agent="curl/8.5")
    # A client cannot pose as another address with a header.
    spoofed = proxy_event("GET", "/v1/whoami", headers={"X-Forwarded-For": "10.0.0.1"}, source_ip="192.0.2.9")
    assert request_origin(spoofed) == Origin(source_ip="192.0.2.9")
    assert request_origin({"requestContext": {"identity": None}}) == Origin()
    assert request_origin({}) == Origin()


def test_the_management_api_passes_its_origin_method_and_path(
    admin: IssuedToken, seen: list[RequestContext]
) -> None:
    result = call(
        "list_tokens",
        "GET",
        TOKENS_URL,
        token=admin.plaintext_token,
        headers={"User-Agent": "console/1"},
        source_ip="198.51.100.4",
    )
    assert result.status == 200
    (context,) = seen
    assert context.origin == Origin(source_ip="198.51.100.4", user_agent="console/1")
    assert (context.method, context.asked["path"]) == ("GET", TOKENS_URL)


def test_the_verify_endpoint_passes_the_origin_its_caller_reports(
    admin: IssuedToken, seen: list[RequestContext]
) -> None:
    body = {"token": admin.plaintext_token, "source_ip": "2001:DB8::0:1", "user_agent": "app/2"}
    result = call("verify_token", "POST", f"{TOKENS_URL}/verify", token=admin.plaintext_token, body=body)
    assert result.status == 200 and result.json()["valid"] is True
    # The first context is the caller's own authentication (from 127.0.0.1), the second the verdict asked.
    assert seen[1].origin == Origin(source_ip="2001:db8::1", user_agent="app/2")


def test_the_authorizer_passes_its_origin(
    runtime: Any, admin: IssuedToken, seen: list[RequestContext]
) -> None:
    guarded = {"AUTHORIZER_ORG_ID": ORG, "AUTHORIZER_APP_ID": APP, "AUTHORIZER_ROUTES": '{"*": {}}'}
    settings = with_authorizer_environment(runtime.settings, guarded)
    proxy = proxy_event(
        "GET",
        "/orders",
        headers={"Authorization": f"Bearer {admin.plaintext_token}", "User-Agent": "shop/3"},
        source_ip="203.0.113.5",
    )
    decision = authorize_request(runtime, settings, authorizer_event(proxy))
    assert decision.code.value == "VALID"
    assert seen[-1].origin == Origin(source_ip="203.0.113.5", user_agent="shop/3")


def test_every_log_line_of_a_request_carries_the_rest_apis_request_id(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """The correlation id is ``requestContext.requestId`` of each request, and only of that one."""
    lines: list[dict[str, Any]] = []
    for request_id in ("req-first", "req-second"):
        event = proxy_event("GET", "/v1/whoami", headers={"Authorization": "Bearer junk"})
        event["requestContext"]["requestId"] = request_id
        caplog.clear()
        assert handler("whoami")(event, LambdaContextStub())["statusCode"] == 401
        failed = [r for r in caplog.records if r.getMessage() == "authentication failed"]
        assert len(failed) == 1
        lines.append(json.loads(logger.registered_formatter.format(failed[0])))
    assert [line["correlation_id"] for line in lines] == ["req-first", "req-second"]
