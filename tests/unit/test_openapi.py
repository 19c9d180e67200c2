"""The OpenAPI document: valid, generated from the code, complete, and true to the bodies we send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from devtools.cli import main
from devtools.openapi import DOCUMENT, build_document, render
from shared.http.catalog import OPERATIONS
from shared.http.models import ValidationErrorBody

ERRORS = {"401", "403", "404", "422", "500", "503"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_the_stored_document_is_what_the_code_generates(document: dict[str, Any]) -> None:
    assert DOCUMENT.read_text() == render(document), "docs/openapi.json drifted: run `make openapi`"


def test_it_passes_the_validator(document: dict[str, Any]) -> None:
    validate(document)


def test_every_operation_documents_its_statuses(document: dict[str, Any]) -> None:
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) == len(OPERATIONS) == 11
    for path, method, operation in operations:
        statuses = set(operation["responses"])
        # Every route documents its size bound (413); list's is 0, since it takes no body.
        assert "413" in statuses, (method, path)
        # Only an update and a rotation (issue 16) are conditional writes that a concurrent one can beat.
        assert ("409" in statuses) == (method == "patch" or path.endswith("/rotate")), (method, path)
        if path.endswith("/refresh"):
            assert statuses == {"200", "401", "413", "422", "500", "503"}
            assert "security" not in operation  # the refresh token in the body is the credential
        elif path == "/v1/credentials/revoke":
            # No authentication, and one answer whatever the credentials: no 401, 403 or 404.
            assert statuses == {"202", "413", "422", "500", "503"}
            assert "security" not in operation
        elif path == "/v1/whoami":
            # Any valid token: no permission, so no 403; a caller with no token to show is a 404.
            assert statuses == {"200", "401", "404", "413", "422", "500", "503"}
            assert operation["security"] == [{"bearerAuth": []}]
        else:
            assert statuses >= ERRORS, (method, path)
            assert operation["security"] == [{"bearerAuth": []}]
        for status in (ERRORS | {"413"}) & statuses:
            assert "example" in operation["responses"][status]["content"]["application/json"]


def test_the_422_schema_is_the_body_we_send(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    body = schemas["ValidationErrorBody"]
    assert body["required"] == ["detail"]
    assert body["properties"]["detail"]["items"] == {"$ref": "#/components/schemas/ValidationErrorItem"}
    item = schemas["ValidationErrorItem"]
    assert set(item["properties"]) == set(item["required"]) == {"loc", "msg", "type", "input", "ctx"}
    assert set(ValidationErrorBody.model_fields) == {"detail"}
    assert "HTTPValidationError" not in schemas  # Powertools' own 422 shape is never sent


def test_204_promises_no_body_and_bearer_is_declared(document: dict[str, Any]) -> None:
    revoke = document["paths"]["/v1/orgs/{org_id}/apps/{app_id}/tokens/{token_id}"]["delete"]
    assert revoke["responses"]["204"]["content"] == {}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_cli_writes_and_checks_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "openapi.json"
    assert main(["openapi", "--output", str(target)]) == 0
    assert target.read_bytes() == DOCUMENT.read_bytes()  # sorted keys, indent 2, final newline
    assert main(["openapi", "--check", "--output", str(target)]) == 0
    target.write_text(target.read_text().replace('"App Tokens"', '"Old Title"'))
    capsys.readouterr()
    assert main(["openapi", "--check", "--output", str(target)]) == 1
    assert "differs from the code" in capsys.readouterr().err


def test_every_422_is_exactly_our_model(document: dict[str, Any]) -> None:
    schema = ValidationErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    definitions = schema.pop("$defs")
    schemas = document["components"]["schemas"]
    assert schemas["ValidationErrorBody"] == schema
    assert all(schemas[name] == definition for name, definition in definitions.items())
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation["responses"]["422"]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ValidationErrorBody"}


def test_a_created_token_links_to_reading_updating_and_tracing_it(document: dict[str, Any]) -> None:
    tokens = "/v1/orgs/{org_id}/apps/{app_id}/tokens"
    links = document["paths"][tokens]["post"]["responses"]["201"]["links"]
    this_token = {
        "org_id": "$request.path.org_id",
        "app_id": "$request.path.app_id",
        "token_id": "$response.body#/token/token_id",
    }
    for name, operation_id in (
        ("ReadIt", "getAppToken"),
        ("UpdateIt", "updateAppToken"),
        ("ItsHistory", "getAppTokenHistory"),
    ):
        assert links[name] == {"operationId": operation_id, "parameters": this_token}
    history = document["paths"][tokens + "/{token_id}/history"]["get"]["responses"]["200"]["links"]
    assert history["NextPage"]["parameters"]["next_token"] == "$response.body#/next_token"
    ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    assert {"whoAmI", "getAppToken", "updateAppToken", "getAppTokenHistory"} <= ids


def test_the_update_body_refuses_what_the_service_refuses(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["TokenUpdate"]
    assert schema["minProperties"] == 1 and schema["additionalProperties"] is False
    assert not [name for name, field in schema["properties"].items() if "default" in field]
    nullable = [
        name for name, field in schema["properties"].items() if {"type": "null"} in field.get("anyOf", [])
    ]
    assert nullable == ["description", "credits"]  # credits: null removes the limit (issue 16)
