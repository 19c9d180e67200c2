"""The API's CORS headers for the web console's origin (issue 17), through the functions' handlers.

API Gateway answers the preflight; each answer itself must carry the origin, the refusals made
before routing as much as the routed ones, or the console could not read a 401's or a 403's body.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.domain.settings import get_settings
from shared.entry.runtime import Runtime
from tests.conftest import APP, ORG, call, mint_admin

CONSOLE = "https://d111111abcdef8.cloudfront.net"
TOKENS = f"/v1/orgs/{ORG}/apps/{APP}/tokens"


@pytest.fixture
def console_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CONSOLE_ORIGIN", CONSOLE)
    get_settings.cache_clear()
    yield CONSOLE
    get_settings.cache_clear()


def test_a_routed_answer_allows_exactly_the_console_origin(runtime: Runtime, console_origin: str) -> None:
    admin = mint_admin(runtime, ORG, APP, ["*"])
    result = call(
        "whoami", "GET", "/v1/whoami", token=admin.plaintext_token, headers={"Origin": console_origin}
    )
    assert result.status == 200
    assert result.headers["access-control-allow-origin"] == CONSOLE
    assert result.headers["vary"] == "Origin"


def test_refusals_before_routing_carry_it_too(runtime: Runtime, console_origin: str) -> None:
    weak = mint_admin(runtime, ORG, APP, ["app_tokens:list"])
    origin = {"Origin": console_origin}
    unauthenticated = call("whoami", "GET", "/v1/whoami", headers=origin)
    forbidden = call(
        "create_token", "POST", TOKENS, token=weak.plaintext_token, body={"name": "x"}, headers=origin
    )
    assert (unauthenticated.status, forbidden.status) == (401, 403)
    assert forbidden.json()["details"]["required_permission"] == "app_tokens:create"
    for result in (unauthenticated, forbidden):
        assert result.headers["access-control-allow-origin"] == CONSOLE


def test_another_origin_is_not_allowed(runtime: Runtime, console_origin: str) -> None:
    admin = mint_admin(runtime, ORG, APP, ["*"])
    for origin in ("https://evil.example", CONSOLE + ".evil.example", "null"):
        result = call("whoami", "GET", "/v1/whoami", token=admin.plaintext_token, headers={"Origin": origin})
        assert result.status == 200
        assert "access-control-allow-origin" not in result.headers


def test_without_the_setting_no_answer_has_cors_headers(runtime: Runtime) -> None:
    get_settings.cache_clear()
    admin = mint_admin(runtime, ORG, APP, ["*"])
    result = call("whoami", "GET", "/v1/whoami", token=admin.plaintext_token, headers={"Origin": CONSOLE})
    assert not {name for name in result.headers if name.startswith("access-control-") or name == "vary"}
