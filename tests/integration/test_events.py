"""``app-tokens invoke`` runs every file in events/ as a developer would, with the documented outcome.

Each run goes the whole way: the handler and environment from template.yaml, the
embedded moto server, the table, the demo org and app, and the ``{{ADMIN_TOKEN}}``
placeholder replaced by the admin token minted for them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.core.base_backend import BackendDict

from devtools.cli import main
from tests.conftest import assert_event_outcome

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())


@pytest.fixture(autouse=True)
def fresh_moto() -> Iterator[None]:
    """The embedded server shares moto's in-process state: start and leave it empty."""
    BackendDict.reset()
    yield
    BackendDict.reset()


def invoke(capsys: pytest.CaptureFixture[str], function: str, event: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["invoke", function, "--event", str(event)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invoke_runs_the_event_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECTED[name]
    environment = dict(os.environ)
    code, out, _ = invoke(capsys, expected["function"], EVENTS / name)
    assert code == (1 if "error" in expected else 0)
    result = json.loads(out)  # stdout holds the result alone: logs and metrics went to stderr
    assert_event_outcome(expected, result)
    assert dict(os.environ) == environment, "invoke must leave the caller's environment as it found it"


def test_the_readme_lists_every_event_file() -> None:
    readme = (EVENTS / "README.md").read_text()
    for name, expected in EXPECTED.items():
        assert f"`{name}` | `{expected['function']}`" in readme, name


def test_an_unknown_function_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(capsys, "NoSuchFunction", EVENTS / "list_tokens.json")
    assert (code, out) == (2, "")
    assert "no function 'NoSuchFunction'" in err and "ListTokensFunction" in err


@pytest.mark.parametrize("content", [None, "{not json"])
def test_an_unusable_event_file_is_a_usage_error(
    content: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    if content is not None:
        event.write_text(content)
    code, out, err = invoke(capsys, "ListTokensFunction", event)
    assert (code, out) == (2, "")
    assert err.startswith("app-tokens invoke: ") and len(err.strip().splitlines()) == 1


def test_an_unreachable_endpoint_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from devtools.embedded import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")  # nobody listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, out, err = invoke(capsys, "ListTokensFunction", EVENTS / "list_tokens.json")
    assert (code, out) == (2, "")
    assert err.startswith("app-tokens invoke: cannot use DynamoDB at http://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1
