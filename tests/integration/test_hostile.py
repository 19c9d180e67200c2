"""Hostile input at every endpoint: its documented status, our error shape, never a 500.

Beside the fuzzer (``make fuzz``), these are the cases a fuzzer rarely draws: bodies of a
megabyte and more, JSON nested past the parser's recursion limit, NUL bytes and broken
Unicode, huge headers, tokens of every malformed shape, injection strings in every field,
header case variants and repeated query parameters.

Where a case is valid or not is decided by the published contract, not by the service's
answer: field values are checked against the schemas of ``docs/openapi.json`` (with the
``jsonschema`` validator the OpenAPI validator brings), path ids against their documented
patterns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from devtools.events import proxy_event
from devtools.openapi import DOCUMENT
from shared.entry.runtime import Runtime
from shared.http.models import RequestBody, TokenCreate, TokenRefresh, TokenRevoke, TokenVerify
from shared.http.report_models import CredentialsReport
from shared.services.tokens import IssuedToken
from tests.conftest import APP, ORG, TOKENS_URL, LambdaContextStub, Result, call, handler, issue
from tests.integration.test_api import assert_401, assert_422

SPEC: dict[str, Any] = json.loads(DOCUMENT.read_text())
SCHEMAS = SPEC["components"]["schemas"]
VERIFY_URL = TOKENS_URL + "/verify"
TEMPLATE = "/v1/orgs/{org_id}/apps/{app_id}/tokens"
MEGABYTE = 1024 * 1024
ERROR_KEYS = {"error", "message", "details", "timestamp", "status_code"}
# What a response must never show: a trace, our code's files and modules, the AWS SDK, storage keys.
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|shared\.|botocore|boto3|ClientError|Exception\b|TOKEN#|ORG#|OUTBOX#|"
    r"CREDENTIAL|access_hash|refresh_hash|app-tokens-test"
)


def assert_ours(result: Result, status: int | None = None) -> Any:
    """Our shape for the status: the seed's error body, the 422 body, or a success body."""
    if status != 500:
        assert result.status != 500, result.body
    if status is not None:
        assert result.status == status, result.body
    if result.status == 204:
        return None
    body = result.json()
    if result.status == 422:
        assert set(body) == {"detail"} and body["detail"]
    elif result.status >= 400:
        assert set(body) == ERROR_KEYS and body["status_code"] == result.status
        assert not INTERNALS.search(result.body or ""), result.body
    return body


def schema_valid(schema_name: str, body: Any) -> bool:
    """Whether ``body`` conforms to the document's schema (the contract, not the service, decides)."""
    return bool(Draft202012Validator(SCHEMAS[schema_name]).is_valid(body))


def routed(
    name: str,
    method: str,
    template: str,
    parameters: dict[str, str],
    *,
    token: str | None = None,
    body: Any = None,
) -> Result:
    """A request as API Gateway routes it: its resource template and decoded path parameters."""
    path = template.format(**parameters)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    event = proxy_event(
        method,
        path,
        resource=template,
        path_parameters=parameters,
        headers=headers,
        body=json.dumps(body) if body is not None else None,
    )
    result = handler(name)(event, LambdaContextStub())
    flat = {k.lower(): v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
    return Result(status=result["statusCode"], headers=flat, body=result.get("body"))


# ---- bodies: size, depth, encoding -----------------------------------------------------------

BODY_MODELS: dict[str, type[RequestBody]] = {
    "create_token": TokenCreate,
    "revoke_token": TokenRevoke,
    "refresh_token": TokenRefresh,
    "verify_token": TokenVerify,
    "report_leaked": CredentialsReport,
}
BODY_ENDPOINTS: list[tuple[str, str, str, bool]] = [
    ("create_token", "POST", TOKENS_URL, True),
    ("revoke_token", "DELETE", TOKENS_URL + "/0123456789abcdefghjkmnpqrs", True),
    ("refresh_token", "POST", TOKENS_URL + "/0123456789abcdefghjkmnpqrs/refresh", False),
    ("verify_token", "POST", VERIFY_URL, True),
    ("report_leaked", "POST", "/v1/credentials/revoke", False),
]


@pytest.mark.parametrize(("name", "method", "path", "bearer"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "make_body",
    [
        lambda: {"name": "x" * MEGABYTE},  # one huge string
        lambda: {"padding": "x" * 3 * MEGABYTE},  # an unknown field of 3 MB
        lambda: {"scopes": [f"s{i}" for i in range(150_000)]},  # a megabyte of list items
        lambda: "[" * 100_000 + "]" * 100_000,  # nested far past the parser's recursion limit
        lambda: '{"a": ' * 5_000 + "1" + "}" * 5_000,
        lambda: '{"name": ' + "[" * 900 + "]" * 900 + "}",  # deep, yet within the limit
    ],
    ids=["1MB-string", "3MB-field", "1MB-list", "100k-deep-array", "5k-deep-object", "900-deep"],
)
def test_big_and_deep_bodies_are_413_or_422(
    admin: IssuedToken, name: str, method: str, path: str, bearer: bool, make_body: Callable[[], Any]
) -> None:
    """Longer than the route's largest valid body: a 413, unread; within it: a 422 in our shape."""
    body = make_body()
    raw = body if isinstance(body, str) else json.dumps(body)
    result = call(name, method, path, token=admin.plaintext_token if bearer else None, raw_body=raw)
    assert_ours(result, 413 if len(raw.encode()) > BODY_MODELS[name].MAX_BODY_BYTES else 422)


@pytest.mark.parametrize(("name", "method", "path", "bearer"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"name": "\xc3\x28"}', b'{"name": "\xed\xa0\x80"}', b'{"name": "\xc0\xaf"}'],
    ids=["bom-garbage", "bad-continuation", "encoded-surrogate", "overlong"],
)
def test_bytes_that_are_not_utf8_are_422_at_the_body(
    admin: IssuedToken, name: str, method: str, path: str, bearer: bool, raw: bytes
) -> None:
    result = call(name, method, path, token=admin.plaintext_token if bearer else None, raw_body=raw)
    assert_422(result, ["body"])


@pytest.mark.parametrize(("name", "method", "path", "bearer"), BODY_ENDPOINTS)
def test_nul_bytes_outside_strings_are_malformed_json(
    admin: IssuedToken, name: str, method: str, path: str, bearer: bool
) -> None:
    result = call(name, method, path, token=admin.plaintext_token if bearer else None, raw_body="\x00{}\x00")
    assert_ours(result, 422)
    assert result.json()["detail"][0]["loc"][0] == "body"


# Strings JSON can carry but that are no text a person writes: NUL, other controls, lone
# surrogates (valid JSON escapes, invalid Unicode), a byte-order mark, a right-to-left override.
ODD_STRINGS = ["a\x00b", "\x00", "tab\there", "bell\x07", "\ud800", "x\udfffy", "\ufeffbom", "\u202eevil"]
FREE_TEXT: list[tuple[str, str]] = [
    ("TokenCreate", "name"),
    ("TokenCreate", "description"),
    ("TokenRevoke", "reason"),
    ("TokenVerify", "token"),
    ("TokenRefresh", "refresh_token"),
]


def _send(schema: str, body: dict[str, Any], admin: IssuedToken, target: IssuedToken) -> Result:
    """The request a body of ``schema`` belongs to, on the app's own tokens."""
    token_path = f"{TOKENS_URL}/{target.token.token_id}"
    if schema == "TokenCreate":
        return call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body)
    if schema == "TokenRevoke":
        return call("revoke_token", "DELETE", token_path, token=admin.plaintext_token, body=body)
    if schema == "TokenRefresh":
        return call("refresh_token", "POST", token_path + "/refresh", body=body)
    return call("verify_token", "POST", VERIFY_URL, token=admin.plaintext_token, body=body)


def _body(schema: str, field: str, value: Any) -> dict[str, Any]:
    base = {"TokenCreate": {"name": "ok"}, "TokenVerify": {"token": "t"}}.get(schema, {})
    return {**base, field: value}


def _success(schema: str) -> int:
    return {"TokenCreate": 201, "TokenRevoke": 204, "TokenRefresh": 401, "TokenVerify": 200}[schema]


@pytest.mark.parametrize(("schema", "field"), FREE_TEXT)
@pytest.mark.parametrize("value", ODD_STRINGS)
def test_nul_bytes_and_broken_unicode_in_strings(
    runtime: Runtime, admin: IssuedToken, schema: str, field: str, value: str
) -> None:
    target = issue(runtime, admin)
    body = _body(schema, field, value)
    result = _send(schema, body, admin, target)
    surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if surrogate or not schema_valid(schema, body):
        assert_ours(result, 422)  # a lone surrogate is valid JSON but no Unicode text
        assert result.json()["detail"][0]["loc"][:2] == ["body", field]
    else:
        # Refresh with a string that is no refresh token: the one 401 (the body itself is valid).
        assert_ours(result, _success(schema))


ODD_PATH_IDS = ["\x00", "a\x00b", "\ud800", "é", "a#b", "a\\b", "..", "a b", "x" * 65, "%00", "'--", "$(id)"]
PATH_ID_PATTERNS = {
    p["name"]: re.compile(p["schema"]["pattern"])
    for p in SPEC["paths"][TEMPLATE + "/{token_id}"]["delete"]["parameters"]
    if p["in"] == "path"
}


@pytest.mark.parametrize("where", ["org_id", "app_id", "token_id"])
@pytest.mark.parametrize("value", ODD_PATH_IDS)
def test_odd_path_ids_are_422_at_the_path_or_404(admin: IssuedToken, where: str, value: str) -> None:
    parameters = {"org_id": ORG, "app_id": APP, "token_id": "0123456789abcdefghjkmnpqrs", where: value}
    result = routed(
        "revoke_token", "DELETE", TEMPLATE + "/{token_id}", parameters, token=admin.plaintext_token
    )
    if PATH_ID_PATTERNS[where].fullmatch(value):
        assert_ours(result, 404)  # a well-formed id that is not ours
    else:
        assert_ours(result, 422)
        assert result.json()["detail"][0]["loc"] == ["path", where]
    unauthenticated = routed("revoke_token", "DELETE", TEMPLATE + "/{token_id}", parameters)
    assert_401(unauthenticated)  # authentication still comes first


# ---- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer {t}"},
        {"AUTHORIZATION": "BEARER {t}"},
        {"Authorization": "bearer   {t}  "},
        {"aUtHoRiZaTiOn": "Bearer {t}", "CONTENT-TYPE": "Application/JSON; charset=UTF-8"},
        {"Authorization": "Bearer {t}", "X-Padding": "p" * 100_000},  # a very long header of no use
    ],
    ids=["lower", "upper", "spaces", "mixed", "long-other-header"],
)
def test_header_case_variants_and_long_headers_are_understood(
    admin: IssuedToken, headers: dict[str, str]
) -> None:
    filled = {k: v.format(t=admin.plaintext_token) for k, v in headers.items()}
    assert_ours(call("list_tokens", "GET", TOKENS_URL, headers=filled), 200)
    assert_ours(call("create_token", "POST", TOKENS_URL, headers=filled, body={"name": "h"}), 201)


def _malformed_tokens(admin: IssuedToken) -> dict[str, str]:
    good = admin.plaintext_token
    body, checksum = good[:-6], good[-6:]
    wrong_checksum = body + ("A" if checksum[0] != "A" else "B") + checksum[1:]
    return {
        "empty": "",
        "scheme only": "Bearer",
        "basic scheme": "Basic " + good,
        "no scheme": good,
        "wrong prefix": "Bearer xtok_" + good[5:],
        "refresh prefix": "Bearer aref_" + good[5:],
        "bad checksum": "Bearer " + wrong_checksum,
        "truncated": "Bearer " + good[:-1],
        "truncated to the prefix": "Bearer " + admin.token.prefix,
        "one char more": "Bearer " + good + "A",
        "upper-cased id": "Bearer atok_" + admin.token.token_id.upper() + good[5 + 26 :],
        "github token": "Bearer ghp_" + "a" * 36,
        "stripe key": "Bearer sk_live_" + "b" * 24,
        "aws key": "Bearer AKIA" + "C" * 16,
        "jwt": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "nul inside": "Bearer " + good[:10] + "\x00" + good[11:],
        "two tokens": f"Bearer {good} {good}",
        "10 KB": "Bearer " + "a" * 10_000,
        "1 MB": "Bearer atok_" + "a" * MEGABYTE,
        "injection": "Bearer ' OR '1'='1",
    }


def test_a_token_of_every_malformed_shape_is_the_one_401(admin: IssuedToken) -> None:
    bodies = set()
    for shape, header in _malformed_tokens(admin).items():
        result = call("list_tokens", "GET", TOKENS_URL, headers={"Authorization": header})
        assert_401(result)
        body = result.json()
        del body["timestamp"]
        bodies.add(json.dumps(body))
        assert shape  # every shape above was sent
    assert len(bodies) == 1  # nothing tells one cause from another


def test_malformed_tokens_at_verify_and_refresh(admin: IssuedToken) -> None:
    for header in _malformed_tokens(admin).values():
        presented = header.removeprefix("Bearer ") or "x"
        if len(presented) > 512:
            continue  # longer than the documented maximum: a 422, tested with the big bodies
        verdict = assert_ours(
            call("verify_token", "POST", VERIFY_URL, token=admin.plaintext_token, body={"token": presented}),
            200,
        )
        if presented != admin.plaintext_token:
            assert verdict["valid"] is False and verdict["code"] in {"MALFORMED", "NOT_FOUND"}
        if len(presented) <= 256:
            path = f"{TOKENS_URL}/{admin.token.token_id}/refresh"
            assert_401(call("refresh_token", "POST", path, body={"refresh_token": presented}))


# ---- injection strings in every field --------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE app_tokens; --",
    '" OR ""="',
    "1; SELECT * FROM tokens",
    "PK = :pk OR attribute_exists(PK)",  # DynamoDB expression syntax
    "#n = :v",
    ":pk",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "TOKEN#x",
    "ORG#acme#APP#billing",
    '{"$ne": null}',
]
LIST_FIELDS = ["scopes", "permissions", "workspace_ids", "namespace_ids", "environment_ids", "endpoint_paths"]
CREATE_FIELDS = [("name", str), ("description", str), *((field, list) for field in LIST_FIELDS)]
VERIFY_FIELDS = ["token", "method", "path", "permission", "workspace_id", "namespace_id", "environment_id"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_in_every_create_field(admin: IssuedToken, value: str) -> None:
    for field, kind in CREATE_FIELDS:
        body = _body("TokenCreate", field, [value] if kind is list else value)
        result = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body)
        if not schema_valid("TokenCreate", body):
            assert_ours(result, 422)
            assert result.json()["detail"][0]["loc"][:2] == ["body", field]
            continue
        created = assert_ours(result, 201)
        assert created["token"][field] == body[field]  # stored and returned as text, verbatim
        listed = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).json()["tokens"]
        same = next(t for t in listed if t["token_id"] == created["token"]["token_id"])
        assert same[field] == body[field]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_in_every_other_field(runtime: Runtime, admin: IssuedToken, value: str) -> None:
    for field in VERIFY_FIELDS:
        body = _body("TokenVerify", field, value)
        result = call("verify_token", "POST", VERIFY_URL, token=admin.plaintext_token, body=body)
        assert_ours(result, 200 if schema_valid("TokenVerify", body) else 422)
    target = issue(runtime, admin)
    token_path = f"{TOKENS_URL}/{target.token.token_id}"
    assert_401(call("refresh_token", "POST", token_path + "/refresh", body={"refresh_token": value}))
    for query in ({"next_token": value}, {"status": value}, {"limit": value}):
        assert_ours(call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query=query), 422)
    revoked = call("revoke_token", "DELETE", token_path, token=admin.plaintext_token, query={"reason": value})
    assert_ours(revoked, 204)
    listed = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query={"status": "revoked"})
    assert [t["revoked_reason"] for t in listed.json()["tokens"]] == [value]  # verbatim, never run


# ---- repeated query parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ([("limit", "5"), ("limit", "500")], ["query", "limit"]),
        ([("limit", "5"), ("limit", "5")], ["query", "limit"]),
        ([("status", "active"), ("status", "revoked")], ["query", "status"]),
        ([("next_token", "a"), ("next_token", "b")], ["query", "next_token"]),
    ],
)
def test_a_query_parameter_given_twice_is_422(
    admin: IssuedToken, query: list[tuple[str, str]], loc: list[str]
) -> None:
    """No silent first-or-last choice: two values for one parameter are refused where they are."""
    assert_422(call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query=query), loc)


def test_a_reason_given_twice_in_the_query_is_422(runtime: Runtime, admin: IssuedToken) -> None:
    target = issue(runtime, admin)
    path = f"{TOKENS_URL}/{target.token.token_id}"
    query = [("reason", "a"), ("reason", "b")]
    assert_422(
        call("revoke_token", "DELETE", path, token=admin.plaintext_token, query=query), ["query", "reason"]
    )
    stored = runtime.repository.get_token(ORG, APP, target.token.token_id)
    assert stored is not None and stored.revoked_at is None  # refused, so not revoked


# ---- regressions found by the fuzzer ------------------------------------------------------------


@pytest.mark.parametrize(("name", "method", "path", "bearer"), BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", ["[null, null]", "[null]", "[]", "[{}]", "5", '"x"', "true", "null"])
def test_a_body_that_is_no_object_is_422(
    runtime: Runtime, admin: IssuedToken, name: str, method: str, path: str, bearer: bool, raw: str
) -> None:
    """Found by schemathesis: `[null, null]` as a revoke body was taken for no body, and revoked;
    and `null`, once revoke's optional body was documented as `required: false` and not nullable."""
    target = issue(runtime, admin)
    path = path.replace("0123456789abcdefghjkmnpqrs", target.token.token_id)
    result = call(name, method, path, token=admin.plaintext_token if bearer else None, raw_body=raw)
    assert_422(result, ["body"])
    stored = runtime.repository.get_token(ORG, APP, target.token.token_id)
    assert stored is not None and stored.revoked_at is None


def test_integral_floats_are_integers_as_the_document_says(admin: IssuedToken) -> None:
    body = {"name": "f", "rate_limit_rps": 5.0, "rate_limit_burst": 10.0}
    assert schema_valid("TokenCreate", body)
    created = assert_ours(
        call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body), 201
    )
    assert (created["token"]["rate_limit_rps"], created["token"]["rate_limit_burst"]) == (5, 10)
    for wrong in (5.5, "5", True):
        body = {"name": "f", "rate_limit_rps": wrong}
        assert not schema_valid("TokenCreate", body)
        assert_ours(call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body), 422)


def test_the_document_refuses_what_the_service_refuses(admin: IssuedToken) -> None:
    """Repeated list items and whitespace in a verify path: the same answer from both."""
    for body in ({"name": "d", "scopes": ["a", "a"]}, {"name": "d", "permissions": ["*", "*"]}):
        assert not schema_valid("TokenCreate", body)
        assert_ours(call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body), 422)
    for path in ("/a\x85b", "/a\ufeffb", "/a b", "/a\u3000b", "/é/ü"):
        body = {"token": "t", "path": path}
        result = call("verify_token", "POST", VERIFY_URL, token=admin.plaintext_token, body=body)
        assert_ours(result, 200 if schema_valid("TokenVerify", body) else 422)


# ---- nothing internal in any response ----------------------------------------------------------

FAILURES: list[Exception] = [
    RuntimeError('Traceback (most recent call last): File "/var/task/shared/storage/repository.py", line 1'),
    KeyError("access_hash"),
    ValueError("PK ORG#acme#APP#billing SK TOKEN#x in app-tokens-test"),
    RecursionError("maximum recursion depth exceeded"),
    TypeError("'NoneType' object is not subscriptable"),
]
REPOSITORY_CALLS = ["get_credential", "list_tokens", "create_token", "revoke_token", "rotate_secrets"]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__)
def test_no_response_carries_a_trace_an_exception_or_an_internal_name(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    target = issue(runtime, admin)
    token_path = f"{TOKENS_URL}/{target.token.token_id}"
    requests: list[Callable[[], Result]] = [
        lambda: call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token),
        lambda: call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "x"}),
        lambda: call("revoke_token", "DELETE", token_path, token=admin.plaintext_token),
        lambda: call(
            "refresh_token",
            "POST",
            token_path + "/refresh",
            body={"refresh_token": target.refresh_token_plaintext},
        ),
        lambda: call(
            "verify_token",
            "POST",
            VERIFY_URL,
            token=admin.plaintext_token,
            body={"token": target.plaintext_token},
        ),
    ]

    def explode(*_: Any, **__: Any) -> Any:
        raise failure

    for method in REPOSITORY_CALLS:
        with monkeypatch.context() as patch:
            patch.setattr(runtime.repository, method, explode)
            for send in requests:
                result = send()
                if result.status >= 500:
                    body = assert_ours(result, 500)
                    assert body["message"] == "An unexpected error occurred" and body["details"] == {}
                    assert str(failure) not in (result.body or "")
                    assert type(failure).__name__ not in (result.body or "")
                elif result.body:
                    assert not INTERNALS.search(result.body), result.body


# ---- the cascade flag ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["yes", "1", "0", "on", "True", "FALSE", "", " true", "true ", "null", "true\x00", "tru\u00e9"]
)
def test_a_cascade_flag_that_is_not_true_or_false_is_422_and_revokes_nothing(
    runtime: Runtime, admin: IssuedToken, value: str
) -> None:
    """pydantic alone would take "1", "yes" or "on" for true: the contract says `true` or `false`."""
    parent = issue(runtime, admin, permissions=["*"])
    child = issue(runtime, parent)
    path = f"{TOKENS_URL}/{parent.token.token_id}"
    result = call("revoke_token", "DELETE", path, token=admin.plaintext_token, query={"cascade": value})
    assert_ours(result, 422)
    assert_422(result, ["query", "cascade"])
    for token in (parent, child):
        stored = runtime.repository.get_token(ORG, APP, token.token.token_id)
        assert stored is not None and stored.revoked_at is None


def test_a_cascade_flag_given_twice_is_422(runtime: Runtime, admin: IssuedToken) -> None:
    parent = issue(runtime, admin, permissions=["*"])
    path = f"{TOKENS_URL}/{parent.token.token_id}"
    query = [("cascade", "true"), ("cascade", "false")]
    result = call("revoke_token", "DELETE", path, token=admin.plaintext_token, query=query)
    assert_422(result, ["query", "cascade"])
    stored = runtime.repository.get_token(ORG, APP, parent.token.token_id)
    assert stored is not None and stored.revoked_at is None
