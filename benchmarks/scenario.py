"""What every benchmark shares: a Lambda-like environment, a seeded app, one request per operation.

Plaintext tokens made here live in memory (and in a child's stdin) only: nothing in this
package writes one to a file, a log or the results.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from devtools.events import authorizer_event, proxy_event
from devtools.invoke import preserved_environment
from devtools.table import create_runtime_table
from shared.domain.credits import Credits
from shared.domain.records import TokenSpec
from shared.entry.runtime import Runtime, get_runtime, set_runtime
from shared.services.tokens import Bootstrap, IssuedToken, bootstrap_admin, create_token

ORG = "bench"
APP = "bench-app"
TABLE = "app-tokens-bench"
TOKENS_URL = f"/v1/orgs/{ORG}/apps/{APP}/tokens"
REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def lambda_environment() -> dict[str, str]:
    """The variables a deployed function has (template Globals), with a fresh local hashing key.

    Tracing is off, as the template's default; fake credentials, since only moto is ever reached.
    """
    return {
        "TABLE_NAME": TABLE,
        "TOKEN_HASH_KEY": secrets.token_urlsafe(36),
        "POWERTOOLS_SERVICE_NAME": "app-tokens",
        "POWERTOOLS_METRICS_NAMESPACE": "AppTokens",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "EVENT_BUS_NAME": "default",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        # The authorizer guards the bench app's API; every route asks nothing beyond the token.
        "AUTHORIZER_ORG_ID": ORG,
        "AUTHORIZER_APP_ID": APP,
        "AUTHORIZER_ROUTES": json.dumps({"*": {}}),
    }


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """Set ``variables`` (and drop any endpoint of the user's) for the block, then restore everything."""
    with preserved_environment():
        for name in (
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_PROFILE",
            "TOKEN_HASH_KEY_PARAMETER",
        ):
            os.environ.pop(name, None)
        os.environ.update(variables)
        set_runtime(None)
        yield


def seeded_runtime() -> tuple[Runtime, IssuedToken]:
    """The process's runtime on a fresh table, the app registered, and an admin token holding ``*``."""
    runtime = get_runtime()
    create_runtime_table(runtime)
    admin = bootstrap_admin(runtime, Bootstrap(ORG, APP, "bench", ["*"], timedelta(days=300)))
    return runtime, admin


# The kinds of token whose verification costs differ: a rate limit and credits each add the
# one conditional write of the bucket; both together share that one write.
LIMITS: dict[str, dict[str, Any]] = {
    "no limits": {},
    "rate limit": {"rate_limit_rps": 1_000, "rate_limit_burst": 1_000},
    "credits": {"credits": Credits(remaining=1_000_000_000)},
    "rate limit + credits": {
        "rate_limit_rps": 1_000,
        "rate_limit_burst": 1_000,
        "credits": Credits(remaining=1_000_000_000),
    },
}


def issue(runtime: Runtime, admin: IssuedToken, limits: str = "no limits") -> IssuedToken:
    """A token created by ``admin`` through the create use case (one transaction), with ``LIMITS[limits]``."""
    spec = TokenSpec(name="bench", permissions=("orders:read",), **LIMITS[limits])
    return create_token(runtime, admin.token, ORG, APP, spec)


def _event(method: str, path: str, bearer: str | None, body: Any = None, **query: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    text = json.dumps(body) if body is not None else None
    return proxy_event(method, path, headers=headers, query=query, body=text)


def list_event(bearer: str, limit: int) -> dict[str, Any]:
    """GET a page of ``limit`` tokens."""
    return _event("GET", TOKENS_URL, bearer, limit=str(limit))


def create_event(bearer: str) -> dict[str, Any]:
    """POST a new token with a permission and a scope."""
    return _event(
        "POST", TOKENS_URL, bearer, {"name": "bench", "permissions": ["orders:read"], "scopes": ["x"]}
    )


def revoke_event(bearer: str, token_id: str) -> dict[str, Any]:
    """DELETE one token, with a reason."""
    return _event("DELETE", f"{TOKENS_URL}/{token_id}", bearer, reason="benchmark")


def verify_event(bearer: str, presented: str) -> dict[str, Any]:
    """POST a verification of ``presented`` for a GET of an orders path."""
    return _event(
        "POST", f"{TOKENS_URL}/verify", bearer, {"token": presented, "method": "GET", "path": "/v1/o/7"}
    )


def refresh_event(token: IssuedToken) -> dict[str, Any]:
    """POST a rotation of ``token`` with its refresh token (the credential; no Authorization)."""
    url = f"{TOKENS_URL}/{token.token.token_id}/refresh"
    return _event("POST", url, None, {"refresh_token": token.refresh_token_plaintext})


def event_file(name: str) -> dict[str, Any]:
    """One of the repository's event files (``events/<name>.json``)."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return event


def token_url(token_id: str, suffix: str = "") -> str:
    """The path of one token (and of its ``/history``, ``/rotate``...)."""
    return f"{TOKENS_URL}/{token_id}{suffix}"


def whoami_event(bearer: str) -> dict[str, Any]:
    """GET the caller's own token."""
    return _event("GET", "/v1/whoami", bearer)


def get_event(bearer: str, token_id: str) -> dict[str, Any]:
    """GET one token's details."""
    return _event("GET", token_url(token_id), bearer)


def patch_event(bearer: str, token_id: str) -> dict[str, Any]:
    """PATCH one token's name."""
    return _event("PATCH", token_url(token_id), bearer, {"name": "bench renamed"})


def history_event(bearer: str, token_id: str) -> dict[str, Any]:
    """GET one token's history."""
    return _event("GET", token_url(token_id, "/history"), bearer)


def rotate_event(bearer: str, token_id: str) -> dict[str, Any]:
    """POST a rotation of one token by an admin, the old secret valid for an hour more."""
    return _event("POST", token_url(token_id, "/rotate"), bearer, {"expire_current_in_seconds": 3600})


def report_leaked_event(leaked: str) -> dict[str, Any]:
    """POST a leaked credential to the unauthenticated report endpoint."""
    return _event("POST", "/v1/credentials/revoke", None, {"credentials": [leaked]})


def authorize_event(presented: str) -> dict[str, Any]:
    """The REQUEST authorizer event API Gateway sends for a GET of the protected API with ``presented``."""
    proxy = _event("GET", "/v1/o/7", presented)
    return authorizer_event(proxy)


def floor_event() -> dict[str, Any]:
    """The design floor's request: a POST of a one-field JSON body to its one route."""
    return proxy_event(
        "POST", "/floor", headers={"Content-Type": "application/json"}, body='{"name": "floor"}'
    )
