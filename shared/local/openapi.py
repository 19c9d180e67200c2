"""The OpenAPI document, generated from the routes in code (the same routers the functions use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
VERSION = "0.1.0"
_ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "401": {"error": "AUTHENTICATION_FAILED", "message": "Authentication required", "details": {},
            "timestamp": "2025-01-01T00:00:00.000000", "status_code": 401},
    "403": {"error": "FORBIDDEN", "message": "You don't have permission to perform this action",
            "details": {"required_permission": "app_tokens:create"},
            "timestamp": "2025-01-01T00:00:00.000000", "status_code": 403},
    "404": {"error": "RESOURCE_NOT_FOUND", "message": "The requested resource was not found",
            "details": {"resource_type": "app", "resource_id": "billing"},
            "timestamp": "2025-01-01T00:00:00.000000", "status_code": 404},
    "422": {"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing", "input": {},
                        "ctx": {}}]},
    "500": {"error": "INTERNAL_SERVER_ERROR", "message": "An unexpected error occurred", "details": {},
            "timestamp": "2025-01-01T00:00:00.000000", "status_code": 500},
}  # fmt: skip


def _referenced(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, found)


def build_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document: every route, every status, our error shapes, examples."""
    from shared.api import new_resolver
    from shared.routes import OPERATIONS

    resolver = new_resolver()
    for operation in OPERATIONS:
        resolver.include_router(operation.router)
    document: dict[str, Any] = json.loads(
        resolver.get_openapi_json_schema(
            title="App Tokens",
            version=VERSION,
            description="Issue, list, revoke, rotate and verify API tokens for the apps of an organisation. "
            "APIs behind API Gateway can attach the token authorizer (AuthorizeFunction) instead of "
            "calling Verify App Token: same rules, same codes (docs/authorizer.md).",
            security_schemes={"bearerAuth": HTTPBearer(bearerFormat="atok_<token_id>_<secret>")},
        )
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                if status in _ERROR_EXAMPLES and content is not None:
                    content["example"] = _ERROR_EXAMPLES[status]
    # Powertools adds its own validation-error schemas; we never send those bodies.
    used: set[str] = set()
    _referenced(document["paths"], used)
    schemas = document["components"]["schemas"]
    while True:
        reachable = set(used)
        for name in used:
            _referenced(schemas.get(name, {}), reachable)
        if reachable == used:
            break
        used = reachable
    document["components"]["schemas"] = {name: schema for name, schema in schemas.items() if name in used}
    return document


def render(document: dict[str, Any]) -> str:
    """The document as it is stored: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
