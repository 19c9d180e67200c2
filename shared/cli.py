"""The ``app-tokens`` command: table set-up, app registration and the first administrator's token."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import timedelta

from shared.models import ID_PATTERN
from shared.runtime import get_runtime
from shared.services import bootstrap_admin


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
    created = runtime.repository.create_table()
    _emit({"table": runtime.settings.table_name, "created": created})
    return 0


def cmd_apps_register(args: argparse.Namespace) -> int:
    """Register an app of an organisation, so tokens can be issued for it."""
    from shared.clock import to_iso

    runtime = get_runtime()
    created = runtime.repository.register_app(args.org, args.app, to_iso(runtime.clock()))
    _emit({"org_id": args.org, "app_id": args.app, "registered": created})
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Register the app if needed and mint a first token, printed as one JSON object."""
    runtime = get_runtime()
    days = args.expires_in_days or runtime.settings.max_token_lifetime_days
    issued = bootstrap_admin(
        runtime.repository,
        runtime.hasher,
        runtime.clock,
        org_id=args.org,
        app_id=args.app,
        user_id=args.user,
        permissions=args.permission or ["*"],
        lifetime=timedelta(days=days),
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``app-tokens`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
