"""The remote commands of ``app-tokens`` (issue 17): ``whoami`` and ``tokens ...`` against an API.

They use only the public API, through ``app_tokens_sdk``. The API comes from ``--api`` or
``APP_TOKENS_API``; the caller's token ONLY from ``APP_TOKENS_TOKEN`` (never a flag, so it stays
out of shell history and process lists). Output rules: a created or rotated access token goes to
stdout alone, one line, so ``TOKEN=$(app-tokens tokens create --name x)`` works; its summary and
the refresh token (shown once) go to stderr. ``--json`` prints the API's answer as sent, to
stdout. Errors go to stderr, with an exit code per failure class (``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from app_tokens_sdk import (
    ApiError,
    AppTokens,
    AuthenticationFailed,
    Call,
    Client,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServerError,
    Unreachable,
)
from devtools.remote_output import details_lines, history_table, token_table, whoami_lines
from shared.http.models import ErrorBody, TokenCreated, token_lists
from shared.http.token_models import WhoAmI

API_VARIABLE = "APP_TOKENS_API"
TOKEN_VARIABLE = "APP_TOKENS_TOKEN"
STATUSES = ("active", "disabled", "expired", "revoked")


class Exit(IntEnum):
    """The exit code of each failure class (``app-tokens --help`` lists them)."""

    OK = 0
    OTHER = 1  # an answer in no class below (a 400 or 429 of a gateway, say)
    USAGE = 2  # argparse's own; also no API URL or no APP_TOKENS_TOKEN
    AUTH = 3  # 401: the token is missing, wrong, expired, revoked or disabled
    PERMISSION = 4  # 403: the token lacks a permission (named on stderr)
    NOT_FOUND = 5  # 404
    INVALID = 6  # 422, 413, 409: the request broke a rule, was too large, or lost a race
    SERVER = 7  # 5xx (a 503 after its retries) or the API unreachable


_EXIT_OF: tuple[tuple[type[Exception], Exit], ...] = (
    (AuthenticationFailed, Exit.AUTH),
    (PermissionDenied, Exit.PERMISSION),
    (NotFound, Exit.NOT_FOUND),
    (InvalidRequest, Exit.INVALID),
    (PayloadTooLarge, Exit.INVALID),
    (Conflict, Exit.INVALID),
    (ServerError, Exit.SERVER),
    (Unreachable, Exit.SERVER),
)

_MEANING = {
    Exit.OK: "done",
    Exit.OTHER: "any other failure",
    Exit.USAGE: "bad arguments, or no API URL, or no APP_TOKENS_TOKEN",
    Exit.AUTH: "authentication failed (401)",
    Exit.PERMISSION: "permission denied (403; the missing permission is named)",
    Exit.NOT_FOUND: "not found (404)",
    Exit.INVALID: "invalid request (422, 413, 409)",
    Exit.SERVER: "server error (5xx) or the API unreachable",
}
EXIT_CODES = (
    "remote commands (whoami, tokens ...): the API from --api URL or $APP_TOKENS_API; the caller's\n"
    "token from $APP_TOKENS_TOKEN only, never a flag.\n\nexit codes:\n"
    + "\n".join(f"  {code.value}  {_MEANING[code]}" for code in Exit)
)


class UsageError(Exception):
    """A remote command cannot start: no API URL, no token."""


@dataclass(frozen=True)
class Session:
    """What every remote command runs with: the client, the app it acts on, the output mode."""

    client: Client
    args: argparse.Namespace

    def tokens(self) -> AppTokens:
        org, app = self.args.org, self.args.app
        if org is None or app is None:  # the token's own org and app, as whoami says
            me = self.client.whoami()
            org, app = org or me.org_id, app or me.app_id
        return self.client.tokens(org, app)

    def show(self, call: Call[Any], human: Callable[[Any], str]) -> int:
        """Run a call; print its JSON (``--json``) or its human form, to stdout."""
        reply = self.client.execute(call)
        _out(_json(reply.json) if self.args.json else human(reply.model))
        return Exit.OK


def _out(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _json(value: Any) -> str:
    return json.dumps(value, indent=4)


# ---- The commands ------------------------------------------------------------------------------


def cmd_whoami(session: Session) -> int:
    """The caller's token, its org and app."""
    return session.show(Call("GET", "/v1/whoami", WhoAmI), whoami_lines)


def cmd_list(session: Session) -> int:
    """A page of tokens (``--all``: every page), newest first."""
    tokens, args = session.tokens(), session.args
    if not args.all:
        return session.show(tokens.list_call(args.status, args.limit), lambda page: token_table(page.tokens))
    pages = list(tokens.iterate(args.status, args.limit))
    everything = [token for page in pages for token in page.tokens]
    if args.json:
        _out(_json({"tokens": [t.model_dump(mode="json") for t in everything], "next_token": None}))
    else:
        _out(token_table(everything))
    return Exit.OK


def cmd_get(session: Session) -> int:
    """One token and its details."""
    return session.show(session.tokens().get_call(session.args.token_id), details_lines)


def cmd_history(session: Session) -> int:
    """What happened to a token, newest first."""
    call = session.tokens().history_call(session.args.token_id, session.args.limit)
    return session.show(call, lambda page: history_table(page.events))


def cmd_disable(session: Session) -> int:
    """Pause a token."""
    call = session.tokens().update_call(session.args.token_id, {"enabled": False})
    return session.show(call, details_lines)


def cmd_enable(session: Session) -> int:
    """Undo a disable."""
    call = session.tokens().update_call(session.args.token_id, {"enabled": True})
    return session.show(call, details_lines)


def cmd_revoke(session: Session) -> int:
    """End a token (``--cascade``: and every token it created). The API answers 204, no body."""
    args = session.args
    session.client.execute(session.tokens().revoke_call(args.token_id, args.reason, args.cascade))
    if args.json:
        _out(_json({"token_id": args.token_id, "revoked": True, "cascade": args.cascade}))
    else:
        _out(f"revoked {args.token_id}" + (" and the tokens it created" if args.cascade else ""))
    return Exit.OK


def cmd_create(session: Session) -> int:
    """A new token: its access token alone on stdout, the rest on stderr."""
    return _issue(session, session.tokens().create_call(create_body(session.args)), "created")


def cmd_rotate(session: Session) -> int:
    """New secrets for a token, printed as create prints them."""
    call = session.tokens().rotate_call(session.args.token_id, session.args.grace_seconds)
    return _issue(session, call, "rotated")


def _issue(session: Session, call: Call[TokenCreated], verb: str) -> int:
    reply = session.client.execute(call)
    if session.args.json:  # the answer as sent, both secrets in it: the caller asked for all of it
        _out(_json(reply.json))
        return Exit.OK
    created = reply.model
    assert created is not None  # a 201 or 200 with the create shape
    _err(f"{verb} {created.token.token_id} ({created.token.name})")
    _err(token_table([created.token]))
    _err("refresh token (shown once, store it now; it is never shown again):")
    _err(created.refresh_token_plaintext)
    _out(created.plaintext_token)
    return Exit.OK


def _flag(list_field: str) -> str:
    """``workspace_ids`` -> ``--workspace-id``, ``scopes`` -> ``--scope``: one flag per list, repeatable."""
    return "--" + list_field.removesuffix("s").replace("_", "-")


def create_body(args: argparse.Namespace) -> dict[str, Any]:
    """The create body from the flags; a field is sent only when its flag is given."""
    body: dict[str, Any] = {"name": args.name}
    if args.description is not None:
        body["description"] = args.description
    for list_field in token_lists():
        values = getattr(args, list_field)
        if values:
            body[list_field] = values
    if args.expires_in_days is not None:
        moment = datetime.now(UTC) + timedelta(days=args.expires_in_days)
        body["expires_at"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    elif args.expires_at is not None:
        body["expires_at"] = args.expires_at
    for name in ("rate_limit_rps", "rate_limit_burst"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    # Issue 16's create fields (IP allowlist, credits, canary): sent only when asked for, so the
    # command works against a server with or without them.
    if args.ip_allow:
        body["ip_allowlist"] = args.ip_allow
    if args.credits is not None:
        refill = None
        if args.refill_amount is not None:
            refill = {"amount": args.refill_amount, "interval": args.refill_interval}
        body["credits"] = {"remaining": args.credits, "refill": refill}
    if args.canary:
        body["canary"] = True
    return body


# ---- Running one -------------------------------------------------------------------------------


def run_remote(args: argparse.Namespace) -> int:
    """Run one remote command; its errors become an exit code and a message on stderr."""
    try:
        client = _client(args)
    except UsageError as error:
        _err(f"app-tokens: {error}")
        return Exit.USAGE
    with client:
        try:
            result: int = args.remote(Session(client, args))
        except ApiError as error:
            _report(error, args.json)
            return _exit_of(error)
        except Unreachable as error:
            _err(f"app-tokens: the API did not answer: {error}")
            return Exit.SERVER
    return result


def _client(args: argparse.Namespace) -> Client:
    api = args.api or os.environ.get(API_VARIABLE)
    if not api:
        raise UsageError(f"no API: give --api URL or set {API_VARIABLE}")
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        raise UsageError(f"no token: set {TOKEN_VARIABLE} (a token is never taken from a flag)")
    return Client(api, token)


def _exit_of(error: Exception) -> Exit:
    return next((code for kind, code in _EXIT_OF if isinstance(error, kind)), Exit.OTHER)


def _report(error: ApiError, as_json: bool) -> None:
    if as_json and error.body is not None:
        _err(_json(error.body.model_dump(mode="json")))
        return
    _err(f"app-tokens: HTTP {error.status}{f' {error.code}' if error.code else ''}: {error.message}")
    if error.required_permission:
        _err(f"missing permission: {error.required_permission}")
    details = error.body.details if isinstance(error.body, ErrorBody) else {}
    if "resource_type" in details:  # a 404 says what it did not find
        _err(f"not found: {details['resource_type']} {details.get('resource_id', '')}")


# ---- The grammar -------------------------------------------------------------------------------


def add_remote_commands(parser: argparse.ArgumentParser, commands: Any) -> None:
    """Add ``whoami`` and ``tokens ...`` to the ``app-tokens`` parser, and the exit codes to its help."""
    parser.epilog = EXIT_CODES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", help=f"the API's base URL (default: ${API_VARIABLE})")
    common.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    app = argparse.ArgumentParser(add_help=False, parents=[common])
    app.add_argument("--org", help="default: the token's own, from whoami")
    app.add_argument("--app", help="default: the token's own, from whoami")

    whoami = commands.add_parser("whoami", parents=[common], help="the caller's token, org and app")
    whoami.set_defaults(run=run_remote, remote=cmd_whoami)

    tokens = commands.add_parser("tokens", help="manage tokens through the API").add_subparsers(
        dest="action", required=True
    )
    listing = tokens.add_parser("list", parents=[app], help="the app's tokens, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, help="tokens per page (1 to 100)")
    listing.add_argument("--all", action="store_true", help="every page")
    listing.set_defaults(run=run_remote, remote=cmd_list)

    for name, remote, summary in (
        ("get", cmd_get, "one token and its details"),
        ("disable", cmd_disable, "pause a token (every request fails until enabled)"),
        ("enable", cmd_enable, "enable a disabled token"),
    ):
        one = tokens.add_parser(name, parents=[app], help=summary)
        one.add_argument("token_id")
        one.set_defaults(run=run_remote, remote=remote)

    history = tokens.add_parser("history", parents=[app], help="what happened to a token")
    history.add_argument("token_id")
    history.add_argument("--limit", type=int, help="events per page (1 to 100)")
    history.set_defaults(run=run_remote, remote=cmd_history)

    revoke = tokens.add_parser("revoke", parents=[app], help="end a token at once")
    revoke.add_argument("token_id")
    revoke.add_argument("--reason")
    revoke.add_argument("--cascade", action="store_true", help="also every token it created")
    revoke.set_defaults(run=run_remote, remote=cmd_revoke)

    rotate = tokens.add_parser("rotate", parents=[app], help="new secrets; the access token alone on stdout")
    rotate.add_argument("token_id")
    rotate.add_argument("--grace-seconds", type=int, help="how long the old access token works on")
    rotate.set_defaults(run=run_remote, remote=cmd_rotate)

    _add_create(
        tokens.add_parser("create", parents=[app], help="a new token; the access token alone on stdout")
    )


def _add_create(create: argparse.ArgumentParser) -> None:
    create.add_argument("--name", required=True)
    create.add_argument("--description")
    for list_field in token_lists():  # the grants and every restriction, repeatable
        create.add_argument(_flag(list_field), dest=list_field, action="append", metavar=list_field.upper())
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in-days", type=int)
    expiry.add_argument("--expires-at", help="ISO 8601, e.g. 2027-01-01T00:00:00Z")
    create.add_argument("--rate-limit-rps", type=int)
    create.add_argument("--rate-limit-burst", type=int)
    create.add_argument("--ip-allow", action="append", metavar="CIDR", help="repeatable")
    create.add_argument("--credits", type=int, help="uses before the token is spent")
    create.add_argument("--refill-amount", type=int, help="with --credits and --refill-interval")
    create.add_argument("--refill-interval", choices=("daily", "monthly"))
    create.add_argument("--canary", action="store_true", help="a decoy: any use raises an alert")
    create.set_defaults(run=_checked_create, remote=cmd_create)


def _checked_create(args: argparse.Namespace) -> int:
    refill = (args.refill_amount is not None, args.refill_interval is not None)
    if any(refill) and not (all(refill) and args.credits is not None):
        _err("app-tokens: --refill-amount and --refill-interval go together, with --credits")
        return Exit.USAGE
    return run_remote(args)
