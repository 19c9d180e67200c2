"""The OpenAPI document: valid, generated from the code, complete, and true to the bodies we send."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from shared.local.openapi import DOCUMENT, build_document, render
from shared.models import ValidationErrorBody

ERRORS = {"401", "403", "404", "422", "500"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_the_stored_document_is_what_the_code_generates(document: dict[str, Any]) -> None:
    assert DOCUMENT.read_text() == render(document), "docs/openapi.json drifted: run `make openapi`"


def test_it_passes_the_validator(document: dict[str, Any]) -> None:
    validate(document)


def test_every_operation_documents_its_statuses(document: dict[str, Any]) -> None:
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) == 4
    for path, method, operation in operations:
        statuses = set(operation["responses"])
        if path.endswith("/refresh"):
            assert statuses == {"200", "401", "422", "500"}
            assert "security" not in operation  # the refresh token in the body is the credential
        else:
            assert statuses >= ERRORS, (method, path)
            assert operation["security"] == [{"bearerAuth": []}]
        for status in ERRORS & statuses:
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
