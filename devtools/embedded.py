"""The embedded AWS-compatible server for local runs: moto's server on a free loopback port."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from devtools.table import create_runtime_table
from shared.entry.runtime import get_runtime, set_runtime
from shared.services.tokens import Bootstrap, IssuedToken, bootstrap_admin

DEMO_ORG = "demo"
DEMO_APP = "demo-app"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")


EMBEDDED, DYNAMODB_LOCAL = "embedded", "local"  # `app-tokens serve --dynamodb ...`


@dataclass(frozen=True)
class LocalAws:
    """Where the functions' AWS calls go, whether this process started that server, and which."""

    endpoint: str
    embedded: bool
    server: str = "embedded moto server"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def configured_endpoint() -> str | None:
    """The endpoint the user set through botocore's own variables, if any."""
    return next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None)


class LocalAwsUnavailable(Exception):
    """The DynamoDB endpoint cannot be used (unreachable, refused, no such table and no right to make it)."""


def use_local_aws_defaults() -> None:
    """Credentials and a region for a local endpoint, unless the user has some of their own.

    A local endpoint accepts any credentials, but boto3 will not sign without some.
    """
    # Never the instance metadata service: a local run has no use for it, and a lookup of missing
    # credentials would otherwise try it (a call off this machine) before failing.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    home = Path.home() / ".aws"
    credentials_file = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials")
    config_file = Path(os.environ.get("AWS_CONFIG_FILE") or home / "config")
    user_credentials = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not any(os.environ.get(name) for name in user_credentials) and not credentials_file.exists():
        os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "local"
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config_file.exists()):
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"


@contextmanager
def local_aws(dynamodb: str = EMBEDDED) -> Iterator[LocalAws]:
    """Use the configured endpoint, or start moto's server (or, for ``local``, DynamoDB Local)
    for as long as the block runs."""
    use_local_aws_defaults()
    endpoint = configured_endpoint()
    if dynamodb == DYNAMODB_LOCAL:
        if endpoint is not None:
            raise LocalAwsUnavailable(
                f"--dynamodb local starts its own DynamoDB, but {endpoint} is configured"
            )
        with _dynamodb_local() as aws:
            yield aws
        return
    if endpoint is not None:
        yield LocalAws(endpoint=endpoint, embedded=False)
        return
    import logging

    from devtools.moto_dynamodb import EmbeddedMotoServer, installed

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's own access log would drown ours

    with installed():  # moto's stock transactions and instance log degrade it by the request
        server = EmbeddedMotoServer("127.0.0.1", 0)
        server.start()
        try:
            with _pointed_at(f"http://127.0.0.1:{server.port}") as aws:
                yield aws
        finally:
            server.stop()


@contextmanager
def _pointed_at(endpoint: str) -> Iterator[LocalAws]:
    """The functions' clients aimed at the embedded server while the block runs."""
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
        del os.environ["AWS_ENDPOINT_URL"]
        set_runtime(None)


@contextmanager
def _dynamodb_local() -> Iterator[LocalAws]:
    """DynamoDB Local for DynamoDB (the only service the API calls); stopped when the block ends."""
    from devtools.dynamodb_local import DynamoDBLocalUnavailable, running

    try:
        with running(0) as endpoint:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
            set_runtime(None)
            try:
                yield LocalAws(
                    endpoint=endpoint, embedded=True, server="DynamoDB Local, started by app-tokens"
                )
            finally:
                del os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
                set_runtime(None)
    except DynamoDBLocalUnavailable as error:
        raise LocalAwsUnavailable(str(error)) from None


def ensure_hash_key() -> bool:
    """Give the process a random hashing key if none is set; ``True`` when one was made up."""
    if os.environ.get("TOKEN_HASH_KEY"):
        return False
    os.environ["TOKEN_HASH_KEY"] = secrets.token_urlsafe(36)
    set_runtime(None)
    return True


def prepare_table(aws: LocalAws) -> IssuedToken | None:
    """Create the table if missing and, on the embedded server, a demo org, app and admin token."""
    from botocore.exceptions import BotoCoreError, ClientError

    runtime = get_runtime()
    try:
        create_runtime_table(runtime)
        if not aws.embedded:
            return None
        lifetime = timedelta(days=runtime.settings.max_token_lifetime_days)
        return bootstrap_admin(runtime, Bootstrap(DEMO_ORG, DEMO_APP, "admin", ["*"], lifetime))
    except (BotoCoreError, ClientError) as error:
        raise LocalAwsUnavailable(f"cannot use DynamoDB at {aws.endpoint}: {error}") from None
