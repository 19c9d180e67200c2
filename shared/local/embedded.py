"""The embedded AWS-compatible server for local runs: moto's server on a free loopback port."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from shared.runtime import get_runtime, set_runtime
from shared.services import IssuedToken, bootstrap_admin

DEMO_ORG = "demo"
DEMO_APP = "demo-app"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class LocalAws:
    """Where the functions' AWS calls go, and whether this process started that server."""

    endpoint: str
    embedded: bool


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def configured_endpoint() -> str | None:
    """The endpoint the user set through botocore's own variables, if any."""
    return next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None)


@contextmanager
def local_aws() -> Iterator[LocalAws]:
    """Use the configured endpoint, or start moto's server for as long as the block runs."""
    endpoint = configured_endpoint()
    if endpoint is not None:
        yield LocalAws(endpoint=endpoint, embedded=False)
        return
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's own access log would drown ours

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # Fake credentials and a region: moto accepts anything, and no real account is ever reached.
    defaults = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    set_runtime(None)
    try:
        yield LocalAws(endpoint=endpoint, embedded=True)
    finally:
        server.stop()
        del os.environ["AWS_ENDPOINT_URL"]
        set_runtime(None)


def ensure_hash_key() -> bool:
    """Give the process a random hashing key if none is set; ``True`` when one was made up."""
    if os.environ.get("TOKEN_HASH_KEY"):
        return False
    os.environ["TOKEN_HASH_KEY"] = secrets.token_urlsafe(36)
    set_runtime(None)
    return True


def prepare_table(with_demo: bool) -> IssuedToken | None:
    """Create the table if missing and, on the embedded server, a demo org, app and admin token."""
    runtime = get_runtime()
    runtime.repository.create_table()
    if not with_demo:
        return None
    return bootstrap_admin(
        runtime.repository,
        runtime.hasher,
        runtime.clock,
        org_id=DEMO_ORG,
        app_id=DEMO_APP,
        user_id="admin",
        permissions=["*"],
        lifetime=timedelta(days=runtime.settings.max_token_lifetime_days),
    )
