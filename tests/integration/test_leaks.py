"""Secrets exist only in the one response that hands them out: not in logs, not in the table."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.table import create_table
from shared.domain.observability import logger
from shared.domain.settings import Settings
from shared.entry.runtime import Runtime, set_runtime
from shared.services.tokens import IssuedToken
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.conftest import HASH_KEY, TABLE, TOKENS_URL, FakeClock, call, mint_admin


@pytest.fixture
def production_runtime(aws: None, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime whose DynamoDB client is built the way a Lambda container builds it."""
    repository = DynamoDBTokenRepository(TABLE)
    create_table(repository.client, repository.table_name)
    runtime = Runtime(
        settings=Settings(table_name=TABLE, token_hash_key=HASH_KEY), repository=repository, clock=clock
    )
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    previous = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield
    logger.setLevel(previous)


def secret_parts(plaintext: str) -> list[str]:
    """The whole secret, and its random part alone (the prefix is public by design)."""
    return [plaintext, plaintext.rsplit("_", 1)[1]]


def test_no_secret_or_hash_in_logs_or_table(
    production_runtime: Runtime,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
) -> None:
    admin = mint_admin(production_runtime, "acme", "billing", ["*"])
    created = call(
        "create_token",
        "POST",
        TOKENS_URL,
        token=admin.plaintext_token,
        body={"name": "ci", "permissions": ["app_tokens:list", "app_tokens:revoke"]},
    )
    assert created.status == 201
    issued = created.json()
    clock.advance(minutes=2)
    assert call("list_tokens", "GET", TOKENS_URL, token=issued["plaintext_token"]).status == 200
    assert call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).status == 200
    assert (
        call("create_token", "POST", TOKENS_URL, token=issued["plaintext_token"], body={"name": "x"}).status
        == 403
    )
    token_id = issued["token"]["token_id"]
    assert (
        call("revoke_token", "DELETE", f"{TOKENS_URL}/{token_id}", token=issued["plaintext_token"]).status
        == 204
    )
    assert call("list_tokens", "GET", TOKENS_URL, token=issued["plaintext_token"]).status == 401
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "token created" in logs and "authentication failed" in logs  # the logs were captured

    client: Any = production_runtime.repository.client  # type: ignore[attr-defined]
    items = client.scan(TableName=TABLE)["Items"]  # a test may scan; the product never does
    hashes = [item[name]["S"] for item in items for name in ("access_hash", "refresh_hash") if name in item]
    assert len(hashes) == 4  # two tokens, two secrets each
    secrets = [
        *secret_parts(admin.plaintext_token),
        *secret_parts(admin.refresh_token_plaintext),
        *secret_parts(issued["plaintext_token"]),
        *secret_parts(issued["refresh_token_plaintext"]),
    ]
    for value in [*secrets, *hashes]:
        assert value not in logs
    table_text = json.dumps(items)
    for value in secrets:
        assert value not in table_text


@pytest.fixture
def powertools_package_logger() -> Iterator[logging.Logger]:
    """Powertools' package logger, bare for the test and put back after it with ``setLevel``.

    Not by assigning its ``level``: logging caches each logger's effective level and only
    ``setLevel`` clears that cache, so Powertools' child loggers stayed enabled for DEBUG after
    this test, and a later test's ``caplog`` caught their records (issue 13, found by a shuffled run).
    """
    package_logger = logging.getLogger("aws_lambda_powertools")
    handlers, level = list(package_logger.handlers), package_logger.level
    package_logger.handlers = []
    package_logger.setLevel(logging.NOTSET)
    yield package_logger
    package_logger.handlers = handlers
    package_logger.setLevel(level)


def test_no_secret_in_powertools_own_debug_logs(
    runtime: Runtime,
    admin: IssuedToken,
    powertools_package_logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """POWERTOOLS_DEBUG=true turns on Powertools' package logger, which prints each route's
    arguments (the validated body models among them) before calling it: a refresh token or a
    token under verification must not be in what it prints."""
    from aws_lambda_powertools.logging.logger import set_package_logger

    set_package_logger(stream=sys.stdout)  # what POWERTOOLS_DEBUG=true does at import
    created = call(
        "create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "debug"}
    ).json()
    verified = call(
        "verify_token",
        "POST",
        f"{TOKENS_URL}/verify",
        token=admin.plaintext_token,
        body={"token": created["plaintext_token"]},
    )
    refreshed = call(
        "refresh_token",
        "POST",
        f"{TOKENS_URL}/{created['token']['token_id']}/refresh",
        body={"refresh_token": created["refresh_token_plaintext"]},
    )
    assert (verified.status, refreshed.status) == (200, 200)
    printed = capsys.readouterr().out
    assert printed.count("Calling API Route Handler") == 3  # Powertools' debug output was on
    for secret in (created["plaintext_token"], created["refresh_token_plaintext"], admin.plaintext_token):
        for part in secret_parts(secret):
            assert part not in printed


def test_no_repr_holds_a_secret_or_a_hash(runtime: Runtime, admin: IssuedToken) -> None:
    """Whatever holds a secret or its hash prints without it: reprs end up in logs and traces."""
    from shared.domain.crypto import parse_secret
    from shared.http.models import TokenCreated, TokenRefresh, TokenVerify, public_token

    credential = runtime.repository.get_credential(admin.token.token_id)
    assert credential is not None
    holders = [
        admin,
        parse_secret(admin.plaintext_token),
        credential,
        TokenRefresh(refresh_token=admin.refresh_token_plaintext),
        TokenVerify(token=admin.plaintext_token),
        TokenCreated(
            token=public_token(admin.token),
            plaintext_token=admin.plaintext_token,
            refresh_token_plaintext=admin.refresh_token_plaintext,
        ),
    ]
    hidden = [
        *secret_parts(admin.plaintext_token),
        *secret_parts(admin.refresh_token_plaintext),
        credential.access_hash,
        credential.refresh_hash,
    ]
    for holder in holders:
        text = repr(holder) + str(holder)
        assert not [value for value in hidden if value in text], type(holder).__name__
