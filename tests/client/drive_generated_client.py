"""Drive the client that openapi-python-client generated from docs/openapi.json against a live server.

Run by the client virtualenv's interpreter (scripts/client-check.sh), never by the project's: it
imports only the generated package ``app_tokens_client`` and the standard library. For every
operation of the document and every status it documents that a caller can bring about, it makes
the request through the generated client and checks that

- the status is the one intended;
- ``response.parsed`` is an instance of the generated model that the document names for that
  status (a 204 has no body and parses to ``None``);
- no model anywhere in the parsed answer kept a property the document does not declare
  (``additional_properties`` empty, recursively). The document's two free-form maps, an error's
  ``details`` and a validation problem's ``ctx`` (``additionalProperties: true``, no properties),
  are maps by contract: their entries are the content, not unknowns.

Some documented statuses cannot be brought about from outside: 500 and 503 on every operation (an
unexpected exception; DynamoDB throttling past botocore's retries), and a few (operation, status)
pairs named with their reasons. They are listed as not reachable, and the check fails if the
document documents any other status that no case covers, if a listed pair is no longer documented,
or if a case produces one. Prints one line per case and a summary; never
prints a secret (bodies are shown only for an unexpected answer, and then redacted).

Usage: API_URL=... ADMIN_TOKEN=... python drive_generated_client.py docs/openapi.json
"""

from __future__ import annotations

import datetime
import enum
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import httpx
from app_tokens_client import models
from app_tokens_client.api.app_tokens import (
    create_app_token,
    get_app_token,
    get_app_token_history,
    list_app_tokens,
    refresh_app_token,
    revoke_app_token,
    revoke_leaked_credentials,
    rotate_app_token,
    update_app_token,
    verify_app_token,
    who_am_i,
)
from app_tokens_client.client import AuthenticatedClient, Client
from app_tokens_client.types import UNSET, Response, Unset

# Documented on every operation, brought about by no request.
NOT_REACHABLE_ANYWHERE = {
    "500": "an unexpected exception in a handler: no request brings one about",
    "503": "DynamoDB throttling that outlasts botocore's retries: the embedded table never throttles",
}
# Documented on one operation, and not reachable from outside there (the other operations' are).
NOT_REACHABLE = {
    ("updateAppToken", "409"): "a concurrent edit between the update's read and its conditional write, "
    "inside one request: no sequence of requests makes that race happen deterministically",
    ("rotateAppToken", "409"): "a concurrent rotation, refresh or edit between the rotation's read and its "
    "conditional write, inside one request: no sequence of requests makes that race happen deterministically",
    ("whoAmI", "404"): "only a caller vouched for by a trusted JWT authorizer has no token to show; "
    "app-tokens serve trusts none, and a request cannot carry an authorizer's context",
    ("whoAmI", "422"): "no parameter, and any body is a 413 before it is parsed (max_bytes 0): "
    "nothing of a request can be invalid",
}
ORG, APP = "demo", "demo-app"
OTHER_APP = "no-such-app"  # never registered: the app's 404
OTHER_ORG = "another-org"  # not the caller's: verify's 404
UNKNOWN_TOKEN_ID = "0000000000000000000000000a"
# Well-formed (shape and checksum) for UNKNOWN_TOKEN_ID, of no token: a report of it reads and stops.
UNKNOWN_ACCESS_TOKEN = "atok_0000000000000000000000000a_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA44jogM"
# Makes any body longer than its route's largest valid one (create's, 1,220,037 bytes, the largest).
LARGE = "x" * 2_000_000
# The document's free-form maps and the generated models that hold them.
FREE_FORM = {"ErrorBody.details": "ErrorBodyDetails", "ValidationErrorItem.ctx": "ValidationErrorItemCtx"}
_SECRET = re.compile(r"a(tok|ref)_[0-9a-z]{26}_[0-9A-Za-z]+")


@dataclass(frozen=True)
class Case:
    operation_id: str
    status: str
    what: str
    call: Callable[[], Response[Any]]


class CheckFailed(Exception):
    pass


def _redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


def _free_form_properties(document: dict[str, Any]) -> set[str]:
    """``Schema.property`` of every property the document declares as a free-form map."""
    return {
        f"{name}.{prop}"
        for name, schema in document["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if spec.get("type") == "object"
        and spec.get("additionalProperties") is True
        and not spec.get("properties")
    }


def _unknown_properties(value: Any, where: str, maps: set[type], out: list[str]) -> None:
    """Every ``additional_properties`` entry of a declared model, at any depth."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _unknown_properties(item, f"{where}[{index}]", maps, out)
        return
    if not attrs.has(type(value)):
        assert isinstance(
            value, (str, int, float, bool, type(None), Unset, datetime.datetime, enum.Enum, dict)
        )
        return
    extra = value.additional_properties
    if type(value) not in maps and extra:
        out.append(f"{where} ({type(value).__name__}): {sorted(extra)}")
    for field in attrs.fields(type(value)):
        if field.name != "additional_properties":
            _unknown_properties(getattr(value, field.name), f"{where}.{field.name}", maps, out)


class Driver:
    def __init__(self, document: dict[str, Any], api_url: str, admin_token: str) -> None:
        self.document = document
        self.api_url = api_url
        self.admin = AuthenticatedClient(base_url=api_url, token=admin_token, raise_on_unexpected_status=True)
        self.anonymous = Client(base_url=api_url, raise_on_unexpected_status=True)
        # The generator makes a model with no declared field only from a free-form map.
        self.maps = {
            cls
            for cls in vars(models).values()
            if isinstance(cls, type)
            and attrs.has(cls)
            and [field.name for field in attrs.fields(cls)] == ["additional_properties"]
        }
        free_form = _free_form_properties(document)
        if free_form != set(FREE_FORM) or {cls.__name__ for cls in self.maps} != set(FREE_FORM.values()):
            raise CheckFailed(f"free-form maps changed: {sorted(free_form)}, {sorted(map(str, self.maps))}")
        self.checked: dict[tuple[str, str], str] = {}

    def expected_model(self, operation_id: str, status: str) -> type | None:
        for operations in self.document["paths"].values():
            for operation in operations.values():
                if operation["operationId"] != operation_id:
                    continue
                response = operation["responses"][status]
                content = response.get("content")
                if not content:
                    return None
                ref = content["application/json"]["schema"]["$ref"]
                cls = getattr(models, ref.rsplit("/", 1)[-1])
                assert isinstance(cls, type)
                return cls
        raise CheckFailed(f"{operation_id} is not in the document")

    def documented(self) -> set[tuple[str, str]]:
        return {
            (operation["operationId"], status)
            for operations in self.document["paths"].values()
            for operation in operations.values()
            for status in operation["responses"]
        }

    def check(self, case: Case) -> Any:
        response = case.call()
        status = str(int(response.status_code))
        label = f"{case.operation_id} {case.status} ({case.what})"
        if status != case.status:
            body = _redact(response.content.decode("utf-8", "replace"))[:500]
            raise CheckFailed(f"{label}: got {status}: {body}")
        expected = self.expected_model(case.operation_id, case.status)
        parsed = response.parsed
        if expected is None:
            if parsed is not None or response.content:
                raise CheckFailed(f"{label}: a body where the document declares none")
        elif not isinstance(parsed, expected):
            raise CheckFailed(f"{label}: parsed as {type(parsed).__name__}, not {expected.__name__}")
        unknown: list[str] = []
        _unknown_properties(parsed, "body", self.maps, unknown)
        if unknown:
            raise CheckFailed(f"{label}: properties the document does not declare: {unknown}")
        self.checked[(case.operation_id, case.status)] = case.what
        model = "no body" if expected is None else expected.__name__
        sys.stdout.write(f"client-check: {label} -> {status}, parsed as {model}\n")
        return parsed

    def not_reachable(self) -> dict[tuple[str, str], str]:
        """Every documented (operation, status) no request can bring about, with its reason."""
        documented = self.documented()
        stale = sorted(set(NOT_REACHABLE) - documented)
        if stale:
            raise CheckFailed(f"listed as not reachable but no longer documented: {stale}")
        anywhere = {
            (op, status): NOT_REACHABLE_ANYWHERE[status]
            for op, status in documented
            if status in NOT_REACHABLE_ANYWHERE
        }
        return {**anywhere, **NOT_REACHABLE}

    def run(self) -> int:
        unreachable = self.not_reachable()
        for case in self.cases():
            if (case.operation_id, case.status) in unreachable:
                raise CheckFailed(f"a case for {case.operation_id} {case.status}, listed as not reachable")
            self.check(case)
        documented = self.documented()
        missing = sorted(documented - self.checked.keys() - unreachable.keys())
        if missing:
            raise CheckFailed(f"documented statuses no case produced: {missing}")
        for (op, status), why in sorted(NOT_REACHABLE.items()):
            sys.stdout.write(f"client-check: {op} {status} not reachable from outside: {why}\n")
        operations = {op for op, _ in documented}
        anywhere = "; ".join(f"{status} anywhere: {why}" for status, why in NOT_REACHABLE_ANYWHERE.items())
        listed = ", ".join(f"{op} {status}" for op, status in sorted(NOT_REACHABLE))
        sys.stdout.write(
            f"client-check: {len(operations)} operations, {len(self.checked)} (operation, status) pairs "
            f"checked through the generated client; {len(unreachable)} documented but not reachable "
            f"from outside ({anywhere}; and {listed}, as above)\n"
        )
        return 0

    # The requests, in an order that makes each one's preconditions: tokens first.
    def cases(self) -> list[Case]:
        admin, anonymous = self.admin, self.anonymous
        created: dict[str, Any] = {}

        def create(name: str, permissions: list[str], **extra: Any) -> Response[Any]:
            # An expiry the server accepts on any day: 30 days from now, as the README's example.
            expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=30)
            body = models.TokenCreate(name=name, permissions=permissions, expires_at=expires, **extra)
            response = create_app_token.sync_detailed(ORG, APP, client=admin, body=body)
            if isinstance(response.parsed, models.TokenCreated):
                created[name] = response.parsed
            return response

        def as_token(name: str) -> AuthenticatedClient:
            return AuthenticatedClient(
                base_url=self.api_url, token=created[name].plaintext_token, raise_on_unexpected_status=True
            )

        def bad_token() -> AuthenticatedClient:
            return AuthenticatedClient(
                base_url=self.api_url, token="not-a-token", raise_on_unexpected_status=True
            )

        def with_a_body(operation: Any, *args: str | Callable[[], str]) -> Callable[[], Response[Any]]:
            # A GET takes no body, so its generated function sends none; its own module's request
            # arguments (a callable one read when the request is made) plus a body, parsed by its
            # own generated response parser.
            def call() -> Response[Any]:
                kwargs = operation._get_kwargs(*(arg if isinstance(arg, str) else arg() for arg in args))
                kwargs["content"] = LARGE.encode()
                kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
                raw: httpx.Response = admin.get_httpx_client().request(**kwargs)
                return operation._build_response(client=admin, response=raw)

            return call

        def verify_body(token: str) -> models.TokenVerify:
            return models.TokenVerify(token=token, method="GET", path="/v1/orders/7")

        def rotating() -> str:
            return str(created["rotating"].token.token_id)

        def subject() -> str:
            return str(created["subject"].token.token_id)

        def rerolled() -> str:
            return str(created["rerolled"].token.token_id)

        def rotate(
            body: Any, client: Callable[[], AuthenticatedClient] = lambda: admin
        ) -> Callable[[], Response[Any]]:
            return lambda: rotate_app_token.sync_detailed(ORG, APP, rerolled(), client=client(), body=body)

        def update(
            body: models.TokenUpdate,
            token_id: Callable[[], str] = subject,
            client: Callable[[], AuthenticatedClient] = lambda: admin,
        ) -> Callable[[], Response[Any]]:
            return lambda: update_app_token.sync_detailed(ORG, APP, token_id(), client=client(), body=body)

        # Further than the create's 30 days: widening the expiry, which an update may not do.
        later = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=60)

        def refresh_with(secret: Callable[[], str]) -> Callable[[], Response[Any]]:
            return lambda: refresh_app_token.sync_detailed(
                ORG, APP, rotating(), client=anonymous, body=models.TokenRefresh(refresh_token=secret())
            )

        def report(credentials: Callable[[], list[str]]) -> Callable[[], Response[Any]]:
            # No authentication: whoever found the secrets reports them.
            return lambda: revoke_leaked_credentials.sync_detailed(
                client=anonymous, body=models.CredentialsReport(credentials=credentials())
            )

        lister = ["app_tokens:list"]
        no_name = models.TokenCreate(name="x")
        cases = [
            Case("createAppToken", "201", "admin creates a token that may only list",
                 lambda: create("lister", lister, scopes=["deploy"], rate_limit_rps=1, rate_limit_burst=5)),
            Case("createAppToken", "201", "admin creates a token to refresh and revoke",
                 lambda: create("rotating", lister)),
            Case("createAppToken", "201", "admin creates a token with no permission",
                 lambda: create("bare", [])),
            Case("createAppToken", "201", "admin creates a token to read, update, disable and trace",
                 lambda: create("subject", lister, scopes=["deploy", "read"])),
            Case("createAppToken", "201", "admin creates a token to rotate",
                 lambda: create("rerolled", lister)),
            Case("createAppToken", "401", "no credential",
                 lambda: create_app_token.sync_detailed(ORG, APP, client=bad_token(), body=no_name)),
            Case("createAppToken", "403", "a token without app_tokens:create",
                 lambda: create_app_token.sync_detailed(ORG, APP, client=as_token("lister"), body=no_name)),
            Case("createAppToken", "404", "an app never registered",
                 lambda: create_app_token.sync_detailed(ORG, OTHER_APP, client=admin, body=no_name)),
            Case("createAppToken", "413", "a body longer than the largest valid one",
                 lambda: create_app_token.sync_detailed(ORG, APP, client=admin,
                                                        body=models.TokenCreate(name=LARGE))),
            Case("createAppToken", "422", "an empty name",
                 lambda: create_app_token.sync_detailed(ORG, APP, client=admin,
                                                        body=models.TokenCreate(name=""))),
            Case("listAppTokens", "200", "admin lists",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=admin, limit=10)),
            Case("listAppTokens", "200", "the listing token lists active tokens",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=as_token("lister"),
                                                       status=models.ListAppTokensStatusType0.ACTIVE)),
            Case("listAppTokens", "401", "a malformed credential",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=bad_token())),
            Case("listAppTokens", "403", "a token without app_tokens:list",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=as_token("bare"))),
            Case("listAppTokens", "404", "an app never registered",
                 lambda: list_app_tokens.sync_detailed(ORG, OTHER_APP, client=admin)),
            Case("listAppTokens", "413", "a body on a route that takes none",
                 with_a_body(list_app_tokens, ORG, APP)),
            Case("listAppTokens", "422", "limit 0",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=admin, limit=0)),
            Case("verifyAppToken", "200", "admin verifies a rate-limited token (VALID, with its bucket)",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=admin,
                                                        body=verify_body(created["lister"].plaintext_token))),
            Case("verifyAppToken", "200", "admin verifies a malformed token (MALFORMED, no metadata)",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=admin, body=verify_body("nope"))),
            Case("verifyAppToken", "401", "no credential",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=bad_token(),
                                                        body=verify_body("nope"))),
            Case("verifyAppToken", "403", "a token without app_tokens:verify",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=as_token("lister"),
                                                        body=verify_body("nope"))),
            Case("verifyAppToken", "404", "an org not the caller's",
                 lambda: verify_app_token.sync_detailed(OTHER_ORG, APP, client=admin,
                                                        body=verify_body("nope"))),
            Case("verifyAppToken", "413", "a body longer than the largest valid one",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=admin, body=verify_body(LARGE))),
            Case("verifyAppToken", "422", "an empty token",
                 lambda: verify_app_token.sync_detailed(ORG, APP, client=admin, body=verify_body(""))),
            Case("whoAmI", "200", "the admin token",
                 lambda: who_am_i.sync_detailed(client=admin)),
            Case("whoAmI", "200", "a token with no permission (none is needed)",
                 lambda: who_am_i.sync_detailed(client=as_token("bare"))),
            Case("whoAmI", "401", "a malformed credential",
                 lambda: who_am_i.sync_detailed(client=bad_token())),
            Case("whoAmI", "413", "a body on a route that takes none", with_a_body(who_am_i)),
            Case("getAppToken", "200", "admin reads a token",
                 lambda: get_app_token.sync_detailed(ORG, APP, subject(), client=admin)),
            Case("getAppToken", "200", "the listing token reads itself",
                 lambda: get_app_token.sync_detailed(ORG, APP, subject(), client=as_token("subject"))),
            Case("getAppToken", "401", "a malformed credential",
                 lambda: get_app_token.sync_detailed(ORG, APP, subject(), client=bad_token())),
            Case("getAppToken", "403", "a token without app_tokens:list",
                 lambda: get_app_token.sync_detailed(ORG, APP, subject(), client=as_token("bare"))),
            Case("getAppToken", "404", "a token id that does not exist",
                 lambda: get_app_token.sync_detailed(ORG, APP, UNKNOWN_TOKEN_ID, client=admin)),
            Case("getAppToken", "413", "a body on a route that takes none",
                 with_a_body(get_app_token, ORG, APP, subject)),
            Case("getAppToken", "422", "a token id no id can be",
                 lambda: get_app_token.sync_detailed(ORG, APP, "bad.id", client=admin)),
            Case("updateAppToken", "200", "admin renames a token, describes it and narrows its scopes",
                 update(models.TokenUpdate(name="subject-eu", description="the EU one", scopes=["deploy"]))),
            Case("updateAppToken", "200", "admin disables it",
                 update(models.TokenUpdate(enabled=False))),
            Case("whoAmI", "401", "the disabled token, refused as a revoked one",
                 lambda: who_am_i.sync_detailed(client=as_token("subject"))),
            Case("getAppToken", "200", "admin reads the disabled token",
                 lambda: get_app_token.sync_detailed(ORG, APP, subject(), client=admin)),
            Case("updateAppToken", "200", "admin enables it again, clearing its description",
                 update(models.TokenUpdate(enabled=True, description=None))),
            Case("whoAmI", "200", "the token enabled again",
                 lambda: who_am_i.sync_detailed(client=as_token("subject"))),
            Case("updateAppToken", "401", "a malformed credential",
                 update(models.TokenUpdate(name="x"), client=bad_token)),
            Case("updateAppToken", "403", "a token without app_tokens:update",
                 update(models.TokenUpdate(name="x"), client=lambda: as_token("subject"))),
            Case("updateAppToken", "403", "admin widens the expiry (an update may only narrow)",
                 update(models.TokenUpdate(expires_at=later))),
            Case("updateAppToken", "404", "a token id that does not exist",
                 update(models.TokenUpdate(name="x"), token_id=lambda: UNKNOWN_TOKEN_ID)),
            Case("updateAppToken", "413", "a body longer than the largest valid one",
                 update(models.TokenUpdate(name=LARGE))),
            Case("updateAppToken", "422", "an empty body (no field to change)",
                 update(models.TokenUpdate())),
            Case("getAppTokenHistory", "200", "admin reads the token's history (created, updated, "
                 "disabled, enabled, with their changes)",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, subject(), client=admin)),
            Case("getAppTokenHistory", "200", "the listing token reads its own, one event a page",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, subject(), client=as_token("subject"),
                                                             limit=1)),
            Case("getAppTokenHistory", "401", "a malformed credential",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, subject(), client=bad_token())),
            Case("getAppTokenHistory", "403", "a token without app_tokens:list",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, subject(), client=as_token("bare"))),
            Case("getAppTokenHistory", "404", "a token id that does not exist",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, UNKNOWN_TOKEN_ID, client=admin)),
            Case("getAppTokenHistory", "413", "a body on a route that takes none",
                 with_a_body(get_app_token_history, ORG, APP, subject)),
            Case("getAppTokenHistory", "422", "limit 0",
                 lambda: get_app_token_history.sync_detailed(ORG, APP, subject(), client=admin, limit=0)),
            Case("rotateAppToken", "200", "admin rotates a token, its old secret kept for an hour",
                 rotate(models.TokenRotate(expire_current_in_seconds=3600))),
            Case("listAppTokens", "200", "the rotated token's old secret, within its grace",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=as_token("rerolled"))),
            Case("getAppToken", "200", "admin reads the rotated token (details.previous_secret_expires_at)",
                 lambda: get_app_token.sync_detailed(ORG, APP, rerolled(), client=admin)),
            Case("rotateAppToken", "200", "no body at all (no grace: the previous secret ends now)",
                 rotate(UNSET)),
            Case("listAppTokens", "401", "the rotated token's old secret, after a rotation without a grace",
                 lambda: list_app_tokens.sync_detailed(ORG, APP, client=as_token("rerolled"))),
            Case("rotateAppToken", "401", "a malformed credential",
                 rotate(models.TokenRotate(), client=bad_token)),
            Case("rotateAppToken", "403", "a token without app_tokens:rotate",
                 rotate(models.TokenRotate(), client=lambda: as_token("lister"))),
            Case("rotateAppToken", "404", "a token id that does not exist",
                 lambda: rotate_app_token.sync_detailed(ORG, APP, UNKNOWN_TOKEN_ID, client=admin,
                                                        body=models.TokenRotate())),
            Case("rotateAppToken", "413", "a body longer than the largest valid one",
                 with_a_body(rotate_app_token, ORG, APP, rerolled)),
            Case("rotateAppToken", "422", "a grace longer than a week",
                 rotate(models.TokenRotate(expire_current_in_seconds=604_801))),
            Case("refreshAppToken", "200", "the create's refresh token",
                 refresh_with(lambda: str(created["rotating"].refresh_token_plaintext))),
            Case("refreshAppToken", "401", "a refresh token of another token",
                 refresh_with(lambda: str(created["lister"].refresh_token_plaintext))),
            Case("refreshAppToken", "413", "a body longer than the largest valid one",
                 refresh_with(lambda: LARGE)),
            Case("refreshAppToken", "422", "an empty refresh token", refresh_with(lambda: "")),
            Case("revokeAppToken", "401", "a malformed credential",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, rotating(), client=bad_token())),
            Case("revokeAppToken", "403", "a token without app_tokens:revoke",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, rotating(), client=as_token("lister"))),
            Case("revokeAppToken", "404", "a token id that does not exist",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, UNKNOWN_TOKEN_ID, client=admin)),
            Case("revokeAppToken", "413", "a body longer than the largest valid one",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, rotating(), client=admin,
                                                        body=models.TokenRevoke(reason=LARGE))),
            Case("revokeAppToken", "422", "a reason in the body and the query both",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, rotating(), client=admin,
                                                        body=models.TokenRevoke(reason="a"), reason="b")),
            Case("revokeAppToken", "204", "no body at all (the optional body left unset)",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, rotating(), client=admin, body=UNSET)),
            Case("revokeAppToken", "204", "a reason in the body, with cascade",
                 lambda: revoke_app_token.sync_detailed(ORG, APP, str(created["lister"].token.token_id),
                                                        client=admin, body=models.TokenRevoke(reason="done"),
                                                        cascade=True)),
            # Last: the report revokes "bare", which no case above uses any more.
            Case("revokeLeakedCredentials", "202", "anyone reports a live token, an unknown one and junk",
                 report(lambda: [str(created["bare"].plaintext_token), UNKNOWN_ACCESS_TOKEN, "junk"])),
            Case("whoAmI", "401", "the reported token, revoked",
                 lambda: who_am_i.sync_detailed(client=as_token("bare"))),
            Case("revokeLeakedCredentials", "202", "the same again: the answer does not change",
                 report(lambda: [str(created["bare"].plaintext_token)])),
            Case("revokeLeakedCredentials", "413", "a body longer than the largest valid one",
                 report(lambda: [LARGE])),
            Case("revokeLeakedCredentials", "422", "an empty list", report(lambda: [])),
        ]  # fmt: skip
        return cases


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    document = json.loads(Path(argv[1]).read_text())
    try:
        return Driver(document, os.environ["API_URL"], os.environ["ADMIN_TOKEN"]).run()
    except CheckFailed as problem:
        sys.stderr.write(f"client-check: FAILED: {_redact(str(problem))}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
