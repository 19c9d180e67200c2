"""The OpenAPI document, generated from the routes in code (the same routers the functions use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from shared.http.error_map import ERRORS

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
VERSION = "0.1.0"
# The error responses' headers the document describes, added here rather than in the routes'
# metadata because Powertools reads a header's schema into a model that writes `minimum: 1.0`.
# A 401's `WWW-Authenticate: Bearer` is the bearer scheme's own challenge, declared once as the
# document's security scheme.
_HEADER_DOCS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _optional_body(operation: dict[str, Any]) -> None:
    """An optional body as OpenAPI means it: ``required: false`` and the model itself.

    Powertools writes revoke's as a required ``anyOf[TokenRevoke, null]``, which makes a
    generated client send a body it has none of.
    """
    body = operation.get("requestBody")
    if body is None:
        return
    content = body["content"]["application/json"]
    options = content["schema"].get("anyOf", [])
    models = [option for option in options if option != {"type": "null"}]
    if len(options) == 2 and len(models) == 1:
        content["schema"] = models[0]
        body["required"] = False


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
    from shared.http.api import new_resolver
    from shared.http.catalog import OPERATIONS

    resolver = new_resolver()
    for operation in OPERATIONS:
        resolver.include_router(operation.router)
    document: dict[str, Any] = json.loads(
        resolver.get_openapi_json_schema(
            title="App Tokens",
            version=VERSION,
            description="Issue, list, read, update, disable, revoke, rotate and verify API tokens for "
            "the apps of an organisation, and see each token's history. "
            "APIs behind API Gateway can attach the token authorizer (AuthorizeFunction) instead of "
            "calling Verify App Token: same rules, same codes (docs/authorizer.md).",
            security_schemes={"bearerAuth": HTTPBearer(bearerFormat="atok_<token_id>_<secret>")},
        )
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            # Powertools declares its response-validation body for the 500; we send ErrorBody.
            operation["responses"]["500"]["content"]["application/json"]["schema"] = {
                "$ref": "#/components/schemas/ErrorBody"
            }
            _optional_body(operation)
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                error = ERRORS.get(int(status))
                if error is None or content is None:
                    continue
                content["example"] = error.example()
                headers = {name: dict(_HEADER_DOCS[name]) for name in error.headers if name in _HEADER_DOCS}
                if headers:
                    response["headers"] = headers
    _add_links(document["paths"])
    _add_examples(document["paths"])
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


_TOKENS = "/v1/orgs/{org_id}/apps/{app_id}/tokens"
_SAME_APP = {"org_id": "$request.path.org_id", "app_id": "$request.path.app_id"}


def _add_links(paths: dict[str, Any]) -> None:
    """OpenAPI links from the responses that hand out a token to what can be done with it next.

    They tell a client (and a stateful fuzzer) that the ``token_id`` and secrets of a create or
    refresh response feed revoke, refresh, verify, get, update, history and rotate on the same org
    and app.
    """

    def operation_id(path: str, method: str) -> str:
        return str(paths[path][method]["operationId"])

    revoke = operation_id(_TOKENS + "/{token_id}", "delete")
    read = operation_id(_TOKENS + "/{token_id}", "get")
    update = operation_id(_TOKENS + "/{token_id}", "patch")
    history = operation_id(_TOKENS + "/{token_id}/history", "get")
    refresh = operation_id(_TOKENS + "/{token_id}/refresh", "post")
    verify = operation_id(_TOKENS + "/verify", "post")
    rotate = operation_id(_TOKENS + "/{token_id}/rotate", "post")
    this_token = {**_SAME_APP, "token_id": "$response.body#/token/token_id"}
    links = {
        "RevokeIt": {"operationId": revoke, "parameters": this_token},
        "ReadIt": {"operationId": read, "parameters": this_token},
        "UpdateIt": {"operationId": update, "parameters": this_token},
        "ItsHistory": {"operationId": history, "parameters": this_token},
        "RefreshIt": {
            "operationId": refresh,
            "parameters": this_token,
            "requestBody": {"refresh_token": "$response.body#/refresh_token_plaintext"},
        },
        "VerifyIt": {
            "operationId": verify,
            "parameters": _SAME_APP,
            "requestBody": {"token": "$response.body#/plaintext_token"},
        },
        "RotateIt": {"operationId": rotate, "parameters": this_token},
    }
    paths[_TOKENS]["post"]["responses"]["201"]["links"] = links
    paths[_TOKENS]["get"]["responses"]["200"]["links"] = {
        "NextPage": {
            "operationId": operation_id(_TOKENS, "get"),
            "parameters": {**_SAME_APP, "next_token": "$response.body#/next_token"},
        }
    }
    paths[_TOKENS + "/{token_id}/refresh"]["post"]["responses"]["200"]["links"] = links
    paths[_TOKENS + "/{token_id}/rotate"]["post"]["responses"]["200"]["links"] = links
    paths[_TOKENS + "/{token_id}/history"]["get"]["responses"]["200"]["links"] = {
        "NextPage": {
            "operationId": history,
            "parameters": {
                **_SAME_APP,
                "token_id": "$request.path.token_id",
                "next_token": "$response.body#/next_token",
            },
        }
    }


# One example request per operation, on the org and app that `app-tokens serve` registers: a
# reader can paste them, and schemathesis's examples phase sends them.
_PARAMETER_EXAMPLES = {"org_id": "demo", "app_id": "demo-app", "token_id": "1k1c0z5r88ffbydmt9be37zjsa"}
_BODY_EXAMPLES = {
    (_TOKENS, "post"): {"name": "ci-deploy", "permissions": ["app_tokens:list"], "scopes": ["deploy"]},
    (_TOKENS + "/{token_id}", "delete"): {"reason": "rotated"},
    (_TOKENS + "/{token_id}", "patch"): {"name": "ci-deploy (paused)", "enabled": False},
    (_TOKENS + "/{token_id}/refresh", "post"): {
        "refresh_token": "aref_1k1c0z5r88ffbydmt9be37zjsa_Lq8aSDhYkwQIYOKJq8T6XwPyUtQDYfZgw4g5YtvwLKb2v5P8I"
    },
    (_TOKENS + "/verify", "post"): {
        "token": "atok_1k1c0z5r88ffbydmt9be37zjsa_1RqDcTXHwc8angZrFZhC4jjromJYuuhTGbXlh4L3BLA1pK7wM",
        "method": "GET",
        "path": "/v1/orders/7",
    },
    ("/v1/credentials/revoke", "post"): {
        "credentials": ["atok_1k1c0z5r88ffbydmt9be37zjsa_1RqDcTXHwc8angZrFZhC4jjromJYuuhTGbXlh4L3BLA1pK7wM"]
    },
    (_TOKENS + "/{token_id}/rotate", "post"): {"expire_current_in_seconds": 3600},
}


def _add_examples(paths: dict[str, Any]) -> None:
    for path, operations in paths.items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in _PARAMETER_EXAMPLES:
                    parameter["example"] = _PARAMETER_EXAMPLES[parameter["name"]]
            body = _BODY_EXAMPLES.get((path, method))
            if body is not None:
                operation["requestBody"]["content"]["application/json"]["example"] = body


def render(document: dict[str, Any]) -> str:
    """The document as it is stored: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
