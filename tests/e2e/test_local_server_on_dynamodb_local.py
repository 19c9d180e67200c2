"""``app-tokens serve --dynamodb local`` as a user runs it: DynamoDB Local started and stopped with it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

from devtools import dynamodb_local
from tests.e2e import test_local_server as local_server

pytestmark = pytest.mark.dynamodb_local


def test_serve_on_dynamodb_local_then_ctrl_c_stops_both(tmp_path: Path) -> None:
    server = local_server._launch(tmp_path / "stderr.log", "--dynamodb", "local")
    try:
        [line] = [line for line in server.banner if line.startswith("DynamoDB endpoint: ")]
        endpoint = line.split()[2]
        assert line.endswith("(DynamoDB Local, started by app-tokens)")
        local_server.test_list_create_revoke_over_http(server)  # the same API, unchanged, on AWS's emulator
        emulator = dynamodb_local.client(endpoint)
        # What answered was DynamoDB Local (moto has no such table on that port): the API's table.
        assert emulator.list_tables()["TableNames"] == ["app-tokens"]
    finally:
        started = time.monotonic()
        assert local_server._stop(server, signal.SIGINT) == 0
    assert time.monotonic() - started < 5
    assert server.lines.get(timeout=5) == "stopped"
    assert "Traceback" not in server.stderr.read_text()
    with pytest.raises(EndpointConnectionError):  # the emulator stopped with the server
        emulator.list_tables()
