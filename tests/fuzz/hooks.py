"""Schemathesis hooks: keep schema-valid cases valid where a rule needs more than the schema.

Two rules of the API cannot be written in JSON Schema, so a request that conforms to the
document can still be a documented 422:

- ``expires_at`` on create must be in the future, at most 365 days ahead and not after the
  creating token's own expiry (it needs the clock and the caller);
- revoke takes its reason from the body or ``?reason=``, not both at once;
- a list's ``next_token`` is only valid when this server signed it for this org, app and
  ``status`` filter, a history's for this token (the document's ``NextPage`` links supply
  real ones);
- a create's ``rate_limit_burst`` needs a ``rate_limit_rps``, and its lists together hold at
  most ``MAX_TOKEN_LIST_CHARACTERS`` characters;
- a revoke reason may not be one the service writes itself, in any case or with spaces around
  it (the document's ``not: enum`` only refuses the exact spellings);
- an ``ip_allowlist`` network (create, update; issue 16) may not have host bits set
  (``10.0.0.1/8``), and its networks must be unique once canonical (``10.0.0.1`` is
  ``10.0.0.1/32``): the hooks clear the host bits and drop the repeats;
- an update's ``expires_at`` must be in the future (and earlier than the token's: a later one
  is a 403, which the checks accept), its ``rate_limit_burst`` needs a rate, its lists fit the
  same budget as a create's, and a revoked token cannot be updated (422 at the token id).

One more hook keeps the run's own credential alive: the document's links let the stateful
phase take a token id from a list page and revoke it, and the first id on the page can be the
admin token the run authenticates with (``FUZZ_PROTECTED_TOKEN_ID``). Revoking it is allowed
(and tested elsewhere); here it would turn the rest of the run into 401s. Updating it is kept
away for the same reason: ``enabled: false`` or narrower permissions, restrictions or expiry
would cost the run its credential. Whoami and the list pages hand the fuzzer the admin token's
id at every turn, so such an update goes to a token this run created instead (the body as
generated): every update then meets a real token. Nor is an update sent to a token this run
may have revoked (a revoke, or a refresh, which revokes on reuse): that is a documented 422.

A leak report (``POST /v1/credentials/revoke``, issue 16) would revoke the run's credential if
a body held it (the fuzzer knows it: it sends it in every header), so the hooks drop every
credential of the admin token's id from a report's body (an empty list left becomes one string
that is no token, still a 202); the tokens of the other credentials a report names may be
revoked, so they join the ended ones.

Rotate (issue 16) is kept off the run's credential the same way (a rotation without a grace
ends the admin token's secret at once) and off tokens the run ended or disabled (a documented
422): it goes to a live, enabled token this run created, whose new refresh token then replaces
the one kept for the refresh example.

And one makes the document's refresh example real: it names a token (``_EXAMPLE_TOKEN_ID``) that
no server holds, so it is sent for a token this run created, with that token's refresh token,
as a reader trying the example would. With nine operations sharing the stateful phase's time,
the create-then-refresh link alone did not reliably give refresh its 2xx.

The hooks move a schema-valid ``expires_at`` into that window, drop a schema-valid query
reason when the body has one too and drop a made-up cursor, so that
``positive_data_acceptance`` keeps its full strength (no 422 allowed) for everything else.
Values that break the schema are left alone: they are the negative cases, and must still be
refused.
"""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

from shared.domain.lifecycle import SERVICE_REVOKE_REASONS
from shared.domain.networks import canonical_network, masked_network
from shared.domain.restrictions import TOKEN_LIST_FIELDS
from shared.http.fields import IP_NETWORK_PATTERN
from shared.http.models import MAX_TOKEN_LIST_CHARACTERS

# The admin token `app-tokens serve` prints lives 365 days; a day ahead is inside every bound.
_WITHIN_BOUNDS = timedelta(days=1)
# An update may only bring an expiry nearer: an hour ahead is earlier than any token this run
# created (a day ahead, or the default lifetime), and still in the future when it arrives.
_NEARER = timedelta(hours=1)
# Well-formed and never ours: a request sent there instead is a 404.
_NOBODY = "0" * 26
# Tokens this run revoked or may have revoked (by a refresh that met reuse); never updated.
_ENDED: set[str] = set()
# Tokens this run created, newest last: where an update of the admin token (or of an ended one) goes.
_CREATED: list[str] = []
# Their refresh tokens, until a refresh uses them.
_REFRESH_TOKENS: dict[str, str] = {}
# Tokens an update of this run disabled (and did not enable again): never rotated.
_DISABLED: set[str] = set()
# The token id and refresh token of the document's refresh example (devtools.openapi): no server
# holds them. Only that exact example is made real; any other body is sent as generated.
_EXAMPLE_TOKEN_ID = "1k1c0z5r88ffbydmt9be37zjsa"
_EXAMPLE_REFRESH_TOKEN = "aref_1k1c0z5r88ffbydmt9be37zjsa_Lq8aSDhYkwQIYOKJq8T6XwPyUtQDYfZgw4g5YtvwLKb2v5P8I"
_REASON = re.compile(r"[^\x00-\x1f\x7f]{0,512}")
_REPORT_PATH = "/v1/credentials/revoke"
# The token id in anything that might be read as one of our secrets (``parse_secret`` anchors the
# whole string; a search here is wider on purpose: it drops more, never less).
_NAMES_TOKEN = re.compile(r"a(?:tok|ref)_([0-9a-z]{26})_")
_CURSOR = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}")


def _aware_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _foreign_cursor(value: Any, path_parameters: dict[str, Any], status: Any, history: bool) -> bool:
    """A schema-valid cursor the server cannot have signed for this page.

    Either not the shape the server signs, or one of its cursors that the fuzzer moved to
    another org, app or status filter (a list's cursors are bound to all three), to another
    token's history or between a list and a history: a 422 by design.
    """
    if not isinstance(value, str) or len(value) > 1024:
        return False  # schema-invalid: a negative case, left alone
    if _CURSOR.fullmatch(value) is None:
        return True
    payload = value.partition(".")[0]
    try:
        bound = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return True
    if not isinstance(bound, dict) or (bound.get("kind") == "history") != history:
        return True
    if history:  # a token's history cursor is bound to that token
        place = (
            path_parameters.get("org_id"),
            path_parameters.get("app_id"),
            path_parameters.get("token_id"),
        )
        return (bound.get("org"), bound.get("app"), bound.get("token")) != place
    place = (path_parameters.get("org_id"), path_parameters.get("app_id"), status or "")
    return (bound.get("org"), bound.get("app"), bound.get("status")) != place


def _valid_reason(value: Any) -> bool:
    return isinstance(value, str) and _REASON.fullmatch(value) is not None


def _reserved_reason(value: Any) -> bool:
    """A reason the schema allows that the service refuses: a reserved one in another case or padded.

    The exact spellings break the schema's ``not: enum``: negative cases, left alone.
    """
    return (
        _valid_reason(value)
        and value not in SERVICE_REVOKE_REASONS
        and value.strip().lower() in SERVICE_REVOKE_REASONS
    )


def _fit_create(body: dict[str, Any]) -> None:
    """A schema-valid create body made valid: a burst gets its rate, the lists fit their budget."""
    burst = body.get("rate_limit_burst")
    if isinstance(burst, int | float) and not isinstance(burst, bool) and body.get("rate_limit_rps") is None:
        del body["rate_limit_burst"]
    lists = [body[name] for name in TOKEN_LIST_FIELDS if isinstance(body.get(name), list)]
    if not all(isinstance(item, str) for items in lists for item in items):
        return  # schema-invalid: a negative case, left alone
    while sum(len(item) for items in lists for item in items) > MAX_TOKEN_LIST_CHARACTERS:
        max(lists, key=lambda items: sum(map(len, items))).pop()
    _fit_allowlist(body)


def _fit_allowlist(body: dict[str, Any]) -> None:
    """A schema-valid ``ip_allowlist`` made valid: host bits cleared, repeats (once canonical) dropped.

    A generated list never locks the run out: only the admin token authenticates the run, and it
    has no list (the local server's requests come from 127.0.0.1 anyway).
    """
    networks = body.get("ip_allowlist")
    if not isinstance(networks, list) or not all(
        isinstance(item, str) and re.fullmatch(IP_NETWORK_PATTERN, item) for item in networks
    ):
        return  # schema-invalid: a negative case, left alone
    fitted: dict[str, str] = {}
    for item in networks:
        fitted.setdefault(canonical_network(masked_network(item)), masked_network(item))
    body["ip_allowlist"] = list(fitted.values())


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """Bring the cross-field rules in line for cases that are otherwise schema-valid."""
    operation = context.operation
    if operation is None:
        return case
    method = str(operation.method).upper()
    query = case.query or {}
    history = operation.path.endswith("/history")
    if method == "GET" and _foreign_cursor(
        query.get("next_token"), case.path_parameters or {}, query.get("status"), history
    ):
        del case.query["next_token"]
    if method == "DELETE" and _reserved_reason(query.get("reason")):
        case.query["reason"] = "fuzzed"
    if not isinstance(case.body, dict):
        return case
    if method == "POST" and operation.path.endswith("/tokens"):
        expires = _aware_datetime(case.body.get("expires_at"))
        now = datetime.now(UTC)
        if expires is not None and not now < expires <= now + _WITHIN_BOUNDS:
            case.body["expires_at"] = (now + _WITHIN_BOUNDS).isoformat()
        _fit_create(case.body)
        # No canaries: a canary refuses permissions (a 422 the schema cannot say), and the stateful
        # phase would go on to rotate or edit it (422s by design). Canaries are tested in
        # tests/integration/test_canary*.py; here every created token is a real one.
        case.body.pop("canary", None)
    elif method == "PATCH":
        expires = _aware_datetime(case.body.get("expires_at"))
        now = datetime.now(UTC)
        if expires is not None and not now + _NEARER / 2 < expires <= now + _NEARER:
            case.body["expires_at"] = (now + _NEARER).isoformat()
        _fit_create(case.body)
        if not case.body:  # the burst alone was dropped: an update must still change something
            case.body["description"] = "fuzzed"
    elif method == "DELETE":
        if _reserved_reason(case.body.get("reason")):
            case.body["reason"] = "fuzzed"
        if _valid_reason((case.query or {}).get("reason")) and _valid_reason(case.body.get("reason")):
            del case.query["reason"]
    return case


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """Never revoke nor update the run's own credential, and never update a token the run ended,
    whichever phase (or link) chose the token id.

    ``before_call`` rather than ``map_case``: ids captured from earlier responses are filled in
    after generation, so only the call itself sees the id that will be sent.
    """
    operation = context.operation
    if operation is not None and operation.path == _REPORT_PATH:
        _keep_own_credential_out_of_report(case.body)
        return
    token_id = (case.path_parameters or {}).get("token_id")
    if operation is None or not isinstance(token_id, str):
        return
    method = str(operation.method).upper()
    refresh = method == "POST" and operation.path.endswith("/refresh")
    body = case.body
    example = isinstance(body, dict) and body.get("refresh_token") == _EXAMPLE_REFRESH_TOKEN
    if refresh and token_id == _EXAMPLE_TOKEN_ID and isinstance(body, dict) and example:
        unused = [created for created in _CREATED if created in _REFRESH_TOKENS and created not in _ENDED]
        if unused:
            token_id = case.path_parameters["token_id"] = unused[-1]
            body["refresh_token"] = _REFRESH_TOKENS.pop(token_id)
    protected = os.environ.get("FUZZ_PROTECTED_TOKEN_ID")
    ours = bool(protected) and token_id == protected
    if method == "PATCH" and (ours or token_id in _ENDED):
        live = [created for created in _CREATED if created not in _ENDED]
        case.path_parameters["token_id"] = live[-1] if live else _NOBODY
    elif method == "POST" and operation.path.endswith("/rotate") and (ours or token_id in _ENDED | _DISABLED):
        live = [created for created in _CREATED if created not in _ENDED | _DISABLED]
        case.path_parameters["token_id"] = live[-1] if live else _NOBODY
    elif method == "DELETE" and ours:
        case.path_parameters["token_id"] = _NOBODY
    elif method == "DELETE" or refresh:
        _ENDED.add(token_id)


def _keep_own_credential_out_of_report(body: Any) -> None:
    """Drop the run's own credential from a leak report's body; note the tokens it may revoke."""
    credentials = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(credentials, list):
        return  # schema-invalid: a negative case, left alone
    protected = os.environ.get("FUZZ_PROTECTED_TOKEN_ID")
    named = {
        c: match.group(1) for c in credentials if isinstance(c, str) and (match := _NAMES_TOKEN.search(c))
    }
    kept = [c for c in credentials if not (protected and isinstance(c, str) and named.get(c) == protected)]
    _ENDED.update(token_id for token_id in named.values() if token_id != protected)
    body["credentials"] = kept or ["not-a-token"]


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], response: Any) -> None:
    """Keep the id and refresh token of each token this run created, for ``before_call``; and which
    of them an update disabled, and the refresh token a rotation handed out."""
    operation = context.operation
    if operation is None or response.status_code != 200:
        pass
    elif str(operation.method).upper() == "PATCH":
        updated = json.loads(response.content)
        token_id = updated["token"]["token_id"]
        (_DISABLED.discard if updated["details"]["enabled"] else _DISABLED.add)(token_id)
    elif operation.path.endswith("/rotate"):
        rotated = json.loads(response.content)
        if rotated["token"]["token_id"] in _REFRESH_TOKENS:
            _REFRESH_TOKENS[rotated["token"]["token_id"]] = rotated["refresh_token_plaintext"]
    if operation is None or str(operation.method).upper() != "POST" or not operation.path.endswith("/tokens"):
        return
    if response.status_code == 201:
        created = json.loads(response.content)
        _CREATED.append(created["token"]["token_id"])
        _REFRESH_TOKENS[created["token"]["token_id"]] = created["refresh_token_plaintext"]
