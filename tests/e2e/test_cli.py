"""The remote commands of ``app-tokens`` (issue 17), against a real ``app-tokens serve`` over HTTP.

Most tests run ``devtools.cli.main`` in this process (``capsys`` holds what it wrote to stdout and
stderr, apart), with the API and the token in the environment as a user sets them; the last ones
run the console script in bash, as ``TOKEN=$(app-tokens tokens create ...)`` in a shell would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.cli import build_parser, main
from devtools.remote import Exit, create_body
from tests.e2e.test_local_server import Server, _clean_environment, _launch, _stop

BASH = shutil.which("bash") or "/bin/bash"
CONSOLE_SCRIPT = Path(sys.executable).with_name("app-tokens")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _launch(tmp_path_factory.mktemp("cli") / "stderr.log")
    yield running
    if running.process.poll() is None:
        _stop(running, signal.SIGINT)


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(*argv, token=...)``: one run of ``app-tokens`` as the admin (or ``token``)."""

    def run(*argv: str, token: str | None = None) -> Ran:
        monkeypatch.setenv("APP_TOKENS_API", server.url)
        monkeypatch.setenv("APP_TOKENS_TOKEN", token or server.admin_token)
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def _create(cli: Any, *flags: str) -> tuple[str, str]:
    """A new token's id and plaintext, through ``tokens create``."""
    ran = cli("tokens", "create", *flags)
    assert ran.code == Exit.OK, ran.err
    plaintext = ran.out.strip()
    return plaintext.split("_")[1], plaintext


# ---- Each command ------------------------------------------------------------------------------


def test_whoami_json_prints_the_whoami_body(cli: Any, server: Server) -> None:
    ran = cli("whoami", "--json")
    assert ran.code == Exit.OK and ran.err == ""
    body = ran.json()
    assert set(body) == {"token", "org_id", "app_id", "details"}
    assert (body["org_id"], body["app_id"]) == ("demo", "demo-app")
    assert server.admin_token.split("_")[1] == body["token"]["token_id"]
    human = cli("whoami")
    assert human.code == Exit.OK and "demo-app" in human.out and server.admin_token not in human.out


def test_create_prints_the_access_token_alone_on_stdout_and_the_rest_on_stderr(cli: Any) -> None:
    ran = cli(
        "tokens", "create", "--name", "ci-deploy", "--description", "deploys",
        "--permission", "app_tokens:list", "--scope", "deploy", "--workspace-id", "eu-1",
        "--expires-in-days", "30", "--rate-limit-rps", "5", "--rate-limit-burst", "10",
    )  # fmt: skip
    assert ran.code == Exit.OK
    lines = ran.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("atok_")
    assert "aref_" in ran.err and "shown once" in ran.err and "ci-deploy" in ran.err
    assert lines[0] not in ran.err  # the access token is printed once, on stdout only
    token_id = lines[0].split("_")[1]
    got = cli("tokens", "get", token_id, "--json").json()
    token = got["token"]
    assert (token["name"], token["description"], token["scopes"]) == ("ci-deploy", "deploys", ["deploy"])
    assert (token["workspace_ids"], token["permissions"]) == (["eu-1"], ["app_tokens:list"])
    assert (token["rate_limit_rps"], token["rate_limit_burst"]) == (5, 10)
    assert got["details"]["status"] == "active"
    # The new token works as the caller of the next command.
    me = cli("whoami", "--json", token=lines[0])
    assert me.code == Exit.OK and me.json()["token"]["token_id"] == token_id


def test_create_json_prints_the_201_body_on_stdout_only(cli: Any) -> None:
    ahead = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%dT00:00:00Z")
    ran = cli("tokens", "create", "--name", "scripted", "--expires-at", ahead, "--json")
    assert ran.code == Exit.OK and ran.err == ""
    assert set(ran.json()) == {"token", "plaintext_token", "refresh_token_plaintext"}
    assert ran.json()["token"]["expires_at"] == ahead.replace("Z", ".000000Z")


def test_list_shows_a_table_newest_first_and_json_the_page(cli: Any) -> None:
    token_id, _ = _create(cli, "--name", "listed-one")
    ran = cli("tokens", "list", "--limit", "2")
    assert ran.code == Exit.OK and ran.err == ""
    header, first, *_ = ran.out.splitlines()
    assert header.split() == ["ID", "NAME", "STATUS", "EXPIRES", "LAST", "USED"]
    assert first.split()[:3] == [token_id, "listed-one", "active"]
    assert re.search(r"  in \d+ days \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)  ", first)  # relative and absolute
    assert first.rstrip().endswith("never")
    page = cli("tokens", "list", "--limit", "1", "--json").json()
    assert len(page["tokens"]) == 1 and page["next_token"]


def test_list_all_follows_every_page_and_status_filters(cli: Any) -> None:
    revoked_id, _ = _create(cli, "--name", "to-revoke")
    assert cli("tokens", "revoke", revoked_id).code == Exit.OK
    every = cli("tokens", "list", "--all", "--limit", "1", "--json").json()
    one_by_one = [t["token_id"] for t in every["tokens"]]
    assert revoked_id in one_by_one and len(one_by_one) == len(set(one_by_one)) >= 2
    assert every["next_token"] is None
    revoked = cli("tokens", "list", "--status", "revoked", "--json").json()["tokens"]
    assert revoked_id in [t["token_id"] for t in revoked]
    assert all(t["revoked_at"] for t in revoked)


def test_disable_and_enable(cli: Any) -> None:
    token_id, plaintext = _create(cli, "--name", "pausable")
    ran = cli("tokens", "disable", token_id, "--json")
    assert ran.code == Exit.OK and ran.json()["details"]["status"] == "disabled"
    assert cli("whoami", token=plaintext).code == Exit.AUTH
    ran = cli("tokens", "enable", token_id)
    assert ran.code == Exit.OK and "active" in ran.out
    assert cli("whoami", token=plaintext).code == Exit.OK


def test_rotate_with_a_grace_keeps_the_old_token_working(cli: Any) -> None:
    token_id, old = _create(cli, "--name", "rotated")
    ran = cli("tokens", "rotate", token_id, "--grace-seconds", "3600")
    assert ran.code == Exit.OK
    new = ran.out.strip()
    assert new.startswith(f"atok_{token_id}_") and new != old and len(ran.out.splitlines()) == 1
    assert "aref_" in ran.err and new not in ran.err
    assert cli("whoami", token=old).code == Exit.OK  # inside its grace
    assert cli("whoami", token=new).code == Exit.OK
    details = cli("tokens", "get", token_id, "--json").json()["details"]
    assert details["previous_secret_expires_at"] is not None


def test_history_lists_what_happened(cli: Any) -> None:
    token_id, _ = _create(cli, "--name", "traced")
    cli("tokens", "disable", token_id)
    ran = cli("tokens", "history", token_id)
    assert ran.code == Exit.OK
    rows = ran.out.splitlines()
    assert rows[0].split() == ["WHEN", "EVENT", "BY", "CHANGED"]
    assert " disabled " in rows[1] and rows[1].rstrip().endswith("enabled") and " created " in rows[2]
    events = cli("tokens", "history", token_id, "--json").json()["events"]
    assert [e["type"] for e in events] == ["disabled", "created"]


def test_revoke_with_a_reason_and_cascade(cli: Any) -> None:
    parent_id, parent = _create(cli, "--name", "parent", "--permission", "app_tokens:create")
    other_id, other = _create(cli, "--name", "the-admins-own")
    grandchild = cli("tokens", "create", "--name", "grandchild", token=parent)
    assert grandchild.code == Exit.OK
    grandchild_id = grandchild.out.strip().split("_")[1]
    ran = cli("tokens", "revoke", parent_id, "--reason", "offboarded", "--cascade", "--json")
    assert ran.code == Exit.OK
    assert ran.json() == {"token_id": parent_id, "revoked": True, "cascade": True}
    assert cli("tokens", "get", parent_id, "--json").json()["token"]["revoked_reason"] == "offboarded"
    descendant = cli("tokens", "get", grandchild_id, "--json").json()["token"]
    assert descendant["revoked_reason"] == "parent_revoked"
    assert cli("whoami", token=other).code == Exit.OK  # the admin's, not the parent's: untouched
    assert cli("tokens", "get", other_id, "--json").json()["token"]["revoked_at"] is None


def test_org_and_app_flags_name_another_app(cli: Any) -> None:
    ran = cli("tokens", "list", "--org", "demo", "--app", "another-app")
    assert ran.code == Exit.NOT_FOUND and "another-app" in ran.err  # not the token's app: the API's 404
    assert cli("tokens", "list", "--org", "demo", "--app", "demo-app", "--json").code == Exit.OK


# ---- Exit codes and error messages -------------------------------------------------------------


def test_each_failure_class_has_its_exit_code(cli: Any, server: Server) -> None:
    _, weak = _create(cli, "--name", "weak", "--permission", "app_tokens:list")
    forbidden = cli("tokens", "create", "--name", "x", token=weak)
    assert forbidden.code == Exit.PERMISSION and Exit.PERMISSION.value == 4
    assert "app_tokens:create" in forbidden.err and forbidden.out == ""
    invalid = cli("tokens", "create", "--name", "")
    assert invalid.code == Exit.INVALID and Exit.INVALID.value == 6 and "body.name" in invalid.err
    missing = cli("tokens", "get", "0000000000000000000000000a")
    assert missing.code == Exit.NOT_FOUND and Exit.NOT_FOUND.value == 5 and "404" in missing.err
    unauthenticated = cli("whoami", token="atok_0000000000000000000000000a_nope")
    assert unauthenticated.code == Exit.AUTH and Exit.AUTH.value == 3 and "401" in unauthenticated.err
    unreachable = cli("whoami", "--api", "http://127.0.0.1:1")
    assert unreachable.code == Exit.SERVER and Exit.SERVER.value == 7
    assert server.admin_token not in unreachable.err


def test_a_422_in_json_mode_is_the_contracts_body_on_stderr(cli: Any) -> None:
    ran = cli("tokens", "create", "--name", "", "--json")
    assert ran.code == Exit.INVALID and ran.out == ""
    assert json.loads(ran.err)["detail"][0]["loc"] == ["body", "name"]


def test_without_a_token_or_an_api_nothing_is_sent(
    server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_TOKENS_API", server.url)
    monkeypatch.delenv("APP_TOKENS_TOKEN", raising=False)
    assert main(["whoami"]) == Exit.USAGE
    assert "APP_TOKENS_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("APP_TOKENS_TOKEN", server.admin_token)
    monkeypatch.delenv("APP_TOKENS_API")
    assert main(["whoami"]) == Exit.USAGE
    assert "APP_TOKENS_API" in capsys.readouterr().err


def test_there_is_no_token_flag() -> None:
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["whoami", "--token", "atok_x"])
    assert raised.value.code == Exit.USAGE


# ---- In a shell --------------------------------------------------------------------------------


def _bash(server: Server, script: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **_clean_environment(),
        "APP_TOKENS_API": server.url,
        "APP_TOKENS_TOKEN": server.admin_token,
        "PATH": f"{CONSOLE_SCRIPT.parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        [BASH, "-c", script], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def test_token_equals_dollar_create_works_in_a_shell(server: Server) -> None:
    done = _bash(
        server,
        "TOKEN=$(app-tokens tokens create --name from-a-shell 2>/dev/null) || exit 9\n"
        'APP_TOKENS_TOKEN="$TOKEN" app-tokens whoami --json\n',
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["token"]["name"] == "from-a-shell"


def test_the_console_script_exits_with_the_class_code(server: Server) -> None:
    done = _bash(server, "app-tokens tokens get 0000000000000000000000000a")
    assert done.returncode == Exit.NOT_FOUND and done.stdout == ""
    assert "RESOURCE_NOT_FOUND" in done.stderr


# ---- The create flags --------------------------------------------------------------------------


def test_the_later_create_fields_are_sent_only_when_their_flags_are_given() -> None:
    parse = build_parser().parse_args
    plain = create_body(parse(["tokens", "create", "--name", "x"]))
    assert plain == {"name": "x"}
    full = create_body(
        parse(
            ["tokens", "create", "--name", "x", "--ip-allow", "10.0.0.0/8", "--ip-allow", "192.0.2.1/32",
             "--credits", "100", "--refill-amount", "50", "--refill-interval", "daily", "--canary"]
        )
    )  # fmt: skip
    assert full == {
        "name": "x",
        "ip_allowlist": ["10.0.0.0/8", "192.0.2.1/32"],
        "credits": {"remaining": 100, "refill": {"amount": 50, "interval": "daily"}},
        "canary": True,
    }
    assert create_body(parse(["tokens", "create", "--name", "x", "--credits", "3"]))["credits"] == {
        "remaining": 3,
        "refill": None,
    }


def test_the_guard_flags_reach_the_api(cli: Any) -> None:
    """Issue 16's create flags against the server: the allowlist and credits in details, a canary that
    never authenticates."""
    token_id, plaintext = _create(
        cli, "--name", "guarded", "--ip-allow", "127.0.0.1", "--ip-allow", "2001:DB8::/32",
        "--credits", "40", "--refill-amount", "100", "--refill-interval", "monthly",
    )  # fmt: skip
    details = cli("tokens", "get", token_id, "--json").json()["details"]
    assert details["ip_allowlist"] == ["127.0.0.1/32", "2001:db8::/32"]
    assert (details["credits"]["remaining"], details["credits"]["refill"]) == (
        40,
        {"amount": 100, "interval": "monthly"},
    )
    assert cli("whoami", "--json", token=plaintext).code == Exit.OK  # this server's requests: 127.0.0.1
    decoy_id, decoy = _create(cli, "--name", "planted", "--canary")
    assert cli("whoami", token=decoy).code == Exit.AUTH  # answered as an unknown token
    assert cli("tokens", "get", decoy_id, "--json").json()["details"]["canary"] is True


def test_a_refill_without_credits_is_a_usage_error(cli: Any) -> None:
    ran = cli("tokens", "create", "--name", "x", "--refill-amount", "5", "--refill-interval", "daily")
    assert ran.code == Exit.USAGE and ran.out == ""
