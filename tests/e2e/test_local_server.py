"""``app-tokens serve`` as a user runs it: a subprocess, real HTTP, the admin token it prints."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from devtools.server import MAX_BODY_BYTES
from shared.http.models import TokenCreate

TOKENS = "/v1/orgs/demo/apps/demo-app/tokens"
START_SECONDS = 60  # generous for a loaded CI machine; a healthy start takes two or three


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    port: int
    admin_token: str
    lines: queue.Queue[str]
    stderr: Path
    banner: list[str]


def _clean_environment() -> dict[str, str]:
    """No endpoint, key or table from the developer's shell: the server must start on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOKEN_HASH_KEY", "TABLE_NAME"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(port: int, stderr: IO[str] | int, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.cli", "serve", "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=_clean_environment(),
    )


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """Stdout's lines as they come, so that a hung server fails the test instead of hanging it."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _banner(lines: queue.Queue[str]) -> tuple[dict[str, str], list[str]]:
    """The ``NAME=value`` lines of the banner, and all its lines, up to its last line."""
    found: dict[str, str] = {}
    seen: list[str] = []
    deadline = time.monotonic() + START_SECONDS
    while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) != "Ctrl-C stops.":
        seen.append(line)
        name, equals, value = line.partition("=")
        if equals and name.isupper():
            found[name] = value
    return found, seen


def _launch(stderr_path: Path, *options: str) -> Server:
    with stderr_path.open("w") as stderr:
        process = _start(0, stderr, *options)
    assert process.stdout is not None
    lines = _lines(process.stdout)
    banner, seen = _banner(lines)
    url = banner["API_URL"]
    return Server(process, url, int(url.rsplit(":", 1)[1]), banner["ADMIN_TOKEN"], lines, stderr_path, seen)


def _stop(server: Server, signum: int) -> int:
    server.process.send_signal(signum)
    return server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _launch(tmp_path_factory.mktemp("serve") / "stderr.log")
    yield running
    if running.process.poll() is None:
        _stop(running, signal.SIGINT)


def request(
    server: Server, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            raw, status = response.read(), response.status
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raw, status, content_type = error.read(), error.code, error.headers.get("Content-Type", "")
    if "json" in content_type and raw:
        return status, json.loads(raw)
    return status, raw.decode()


def test_list_create_revoke_over_http(server: Server) -> None:
    status, page = request(server, "GET", TOKENS, server.admin_token)
    # The module's server is shared, so other tests' tokens may be listed too (in any test order).
    admin_id = server.admin_token.split("_")[1]
    assert status == 200 and admin_id in [t["token_id"] for t in page["tokens"]]
    status, created = request(
        server, "POST", TOKENS, server.admin_token, {"name": "e2e", "permissions": ["app_tokens:list"]}
    )
    assert status == 201 and created["plaintext_token"].startswith("atok_")
    new_token = created["plaintext_token"]
    status, page = request(server, "GET", TOKENS, new_token)
    assert status == 200 and created["token"]["token_id"] in [t["token_id"] for t in page["tokens"]]
    status, body = request(server, "DELETE", f"{TOKENS}/{created['token']['token_id']}", server.admin_token)
    assert (status, body) == (204, "")
    status, body = request(server, "GET", TOKENS, new_token)
    assert status == 401 and body["error"] == "AUTHENTICATION_FAILED"


def test_whoami_get_patch_history_over_http(server: Server) -> None:
    """The routes of issue 15 are served from the template, and the banner suggests whoami."""
    assert any(line.endswith("/v1/whoami") and "curl" in line for line in server.banner)
    status, me = request(server, "GET", "/v1/whoami", server.admin_token)
    assert status == 200 and (me["org_id"], me["app_id"]) == ("demo", "demo-app")
    status, created = request(server, "POST", TOKENS, server.admin_token, {"name": "e2e-edit"})
    assert status == 201
    path = f"{TOKENS}/{created['token']['token_id']}"
    status, read = request(server, "GET", path, server.admin_token)
    assert status == 200 and read["details"]["status"] == "active"
    status, edited = request(server, "PATCH", path, server.admin_token, {"enabled": False})
    assert status == 200 and edited["details"]["status"] == "disabled"
    assert request(server, "GET", "/v1/whoami", created["plaintext_token"])[0] == 401
    status, history = request(server, "GET", path + "/history", server.admin_token)
    assert status == 200 and [event["type"] for event in history["events"]] == ["disabled", "created"]


def test_bad_input_is_a_422_not_a_500(server: Server) -> None:
    status, body = request(server, "POST", TOKENS, server.admin_token, {"name": ""})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "name"]


def test_unrouted_requests_are_our_404(server: Server) -> None:
    status, body = request(server, "GET", "/v1/nothing", server.admin_token)
    assert status == 404 and body["error"] == "RESOURCE_NOT_FOUND"
    assert body["details"] == {"resource_type": "route", "resource_id": "/v1/nothing"}


def _raw(server: Server, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Allow"), json.loads(response.read())
    finally:
        connection.close()


def test_what_http_server_refuses_is_in_our_shape(server: Server) -> None:
    """http.server answers TRACE (501) and over-long header lines (431) with HTML pages of its own."""
    status, allow, body = _raw(server, "TRACE", TOKENS, {})
    assert (status, allow, body["error"]) == (405, "GET, POST", "METHOD_NOT_ALLOWED")
    status, _, body = _raw(server, "GET", TOKENS, {"X-Long": "a" * 70_000})
    assert (status, body["error"], body["status_code"]) == (431, "REQUEST_HEADER_FIELDS_TOO_LARGE", 431)
    assert set(body) == {"error", "message", "details", "timestamp", "status_code"}


def test_a_body_of_a_megabyte_and_more_is_a_422_or_413_over_http(server: Server) -> None:
    """Under the 10 MiB limit, read whole: refused by the model in our shape, or past the
    route's largest valid body (create's is about 1.1 MB) refused unparsed with a 413."""
    status, body = request(server, "POST", TOKENS, server.admin_token, {"name": "n" * 1024 * 1024})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "name"]
    assert len(body["detail"][0]["input"]) < 2048  # the echo is bounded
    status, body = request(server, "POST", TOKENS, server.admin_token, {"name": "n" * 4 * 1024 * 1024})
    assert status == 413 and body["details"]["max_bytes"] == TokenCreate.MAX_BODY_BYTES


def test_the_docs(server: Server) -> None:
    status, document = request(server, "GET", "/openapi.json")
    assert status == 200 and "/v1/orgs/{org_id}/apps/{app_id}/tokens" in document["paths"]
    status, page = request(server, "GET", "/docs")
    assert status == 200 and "swagger-ui" in page


def test_an_oversized_body_is_refused_unread(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", TOKENS)
        connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        connection.endheaders()  # no body is sent: the answer must not wait for it
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 413 and body["details"]["max_bytes"] == MAX_BODY_BYTES


def test_a_port_in_use_is_one_clear_line(server: Server) -> None:
    second = _start(server.port, subprocess.PIPE)
    _, stderr = second.communicate(timeout=START_SECONDS)
    assert second.returncode == 2
    assert stderr == f"app-tokens serve: cannot listen on 127.0.0.1:{server.port}: Address already in use\n"


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    other = _launch(tmp_path / "stderr.log")
    assert _stop(other, signal.SIGTERM) == 0
    assert "Traceback" not in other.stderr.read_text()


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    # A server of its own: stopping the module's would fail whichever of its tests came after.
    server = _launch(tmp_path / "stderr.log")
    status, _ = request(server, "GET", TOKENS, server.admin_token)  # an access line with a credential
    assert status == 200
    started = time.monotonic()
    assert _stop(server, signal.SIGINT) == 0
    assert time.monotonic() - started < 5
    assert server.lines.get(timeout=5) == "stopped"
    log = server.stderr.read_text()
    assert "Traceback" not in log
    assert server.admin_token not in log  # the access log never shows a header
