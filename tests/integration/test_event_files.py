"""Every file in events/ runs through the function template.yaml gives it, with the documented outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.handlers import load_handler
from devtools.invoke import ADMIN_TOKEN_PLACEHOLDER
from devtools.template import functions, load_template
from shared.entry.runtime import Runtime
from tests.conftest import LambdaContextStub, assert_event_outcome, mint_admin, with_authorizer_environment

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())


def test_every_event_file_has_an_expected_outcome() -> None:
    files = {path.name for path in EVENTS.glob("*.json")} - {"expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file(name: str, runtime: Runtime, aws: None) -> None:
    import boto3

    boto3.client("events").list_event_buses()  # the default bus exists, as in any account
    admin = mint_admin(runtime, "demo", "demo-app", ["*"])
    expected = EXPECTED[name]
    spec = functions(load_template())[expected["function"]]
    # As `app-tokens invoke` runs it: the template's environment, which guards the demo org and app.
    runtime.settings = with_authorizer_environment(runtime.settings, spec.environment)
    event = json.loads((EVENTS / name).read_text().replace(ADMIN_TOKEN_PLACEHOLDER, admin.plaintext_token))
    try:
        result = load_handler(spec)(event, LambdaContextStub())
    except Exception as error:  # the authorizer's 401 is an exception, by API Gateway's convention
        result = {"errorMessage": str(error), "errorType": type(error).__name__}
    assert_event_outcome(expected, result)
