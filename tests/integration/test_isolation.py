"""Tenant isolation: every operation, by every caller, against every target.

Two orgs with two apps each (the second org reuses the first's app ids, so an app id alone
never identifies an app); in each org a token with each permission set, plus a revoked and
an expired one. Every caller tries list, create, revoke and verify on each of the four apps,
get, update, history and rotate on a token of each app at each app's path (a token of the org's other
app at this app's path is another app's token: a 404), and whoami; every app's refresh token is
presented at every app's refresh route.

The expected status of each cell comes from the rules in SPEC.md and docs/decisions.md, in
``expected`` below, never from the service's output: authentication first (one 401), then
the operation's permission (403 naming it; ``resource:*`` and ``*`` are wildcards), then
isolation (another org's app or token is a 404, exactly as if it did not exist). Side effects
are checked too: a 404 revoke revoked nothing, a refused create created nothing, a list shows
only the target app's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken, create_token, revoke_token
from shared.storage.repository import ListQuery, TokenKey
from tests.conftest import FakeClock, Result, call, mint_admin, spec_of

ORGS = ("acme", "globex")
APPS = ("billing", "ledger")  # the same ids in both orgs
TARGETS = [(org, app) for org in ORGS for app in APPS]
PERMISSION_SETS: list[list[str]] = [
    ["*"],
    ["app_tokens:*"],
    ["app_tokens:list"],
    ["app_tokens:create"],
    ["app_tokens:revoke"],
    ["app_tokens:verify"],
    ["app_tokens:list", "app_tokens:revoke"],
    ["app_tokens:update"],
    ["app_tokens:rotate"],
    ["other:*"],
    [],
]
NEEDS = {
    "list": "app_tokens:list",
    "create": "app_tokens:create",
    "revoke": "app_tokens:revoke",
    "verify": "app_tokens:verify",
    "get": "app_tokens:list",
    "update": "app_tokens:update",
    "history": "app_tokens:list",
    "rotate": "app_tokens:rotate",
}
# The operations on one token, tried on a token of the path's app and of the org's other app.
ON_A_TOKEN = ("get", "update", "history", "rotate")
SUCCESS = {
    "list": 200,
    "create": 201,
    "revoke": 204,
    "verify": 200,
    "get": 200,
    "update": 200,
    "history": 200,
    "rotate": 200,
}
FUNCTION = {
    "list": "list_tokens",
    "create": "create_token",
    "revoke": "revoke_token",
    "verify": "verify_token",
    "get": "get_token",
    "update": "update_token",
    "history": "token_history",
    "rotate": "rotate_token",
}
METHOD = {
    "list": "GET",
    "create": "POST",
    "revoke": "DELETE",
    "verify": "POST",
    "get": "GET",
    "update": "PATCH",
    "history": "GET",
    "rotate": "POST",
}


@dataclass(frozen=True)
class Caller:
    org: str
    permissions: tuple[str, ...]
    live: bool
    token: str
    label: str


def holds(permissions: tuple[str, ...], needed: str) -> bool:
    """SPEC: permissions are ``resource:action``; ``resource:*`` and ``*`` are wildcards."""
    resource = needed.split(":", 1)[0]
    return any(held in ("*", needed, f"{resource}:*") for held in permissions)


def expected(caller: Caller, operation: str, target_org: str, same_app: bool = True) -> int:
    """The status SPEC.md's rules give, checked in the documented order 401 -> 403 -> 404.

    ``same_app`` is false for a token of another app than the path's: not this app's token.
    """
    if not caller.live:
        return 401
    if not holds(caller.permissions, NEEDS[operation]):
        return 403
    if caller.org != target_org or not same_app:
        return 404
    return SUCCESS[operation]


def _mint(
    runtime: Runtime, creator: IssuedToken, org: str, app: str, name: str, **fields: Any
) -> IssuedToken:
    return create_token(runtime, creator.token, org, app, spec_of({"name": name, **fields}))


def _tokens_of(runtime: Runtime, org: str, app: str) -> list[Any]:
    page = runtime.repository.list_tokens(org, app, ListQuery(limit=100, now_iso=""))
    return page.tokens


def test_every_operation_by_every_caller_against_every_target(runtime: Runtime, clock: FakeClock) -> None:
    admins = {(org, app): mint_admin(runtime, org, app, ["*"]) for org, app in TARGETS}
    callers: list[Caller] = []
    for org in ORGS:
        home = admins[(org, APPS[0])]
        for permissions in PERMISSION_SETS:
            issued = _mint(runtime, home, org, APPS[0], "caller", permissions=permissions)
            callers.append(
                Caller(org, tuple(permissions), True, issued.plaintext_token, f"{org}{permissions}")
            )
    acme_home = admins[("acme", APPS[0])]
    revoked = _mint(runtime, acme_home, "acme", APPS[0], "revoked", permissions=["*"])
    revoke_token(runtime, acme_home.token, TokenKey("acme", APPS[0], revoked.token.token_id), None)
    expiring = _mint(
        runtime, acme_home, "acme", APPS[0], "expired", permissions=["*"],
        expires_at=clock.now + timedelta(minutes=1),
    )  # fmt: skip
    subjects: dict[tuple[str, ...], IssuedToken] = {
        target: _mint(runtime, admins[target], *target, "subject") for target in TARGETS
    }
    # Rotated by the matrix: their secrets change, so they are not the subjects verify presents.
    subjects.update(
        {(*target, "rotate"): _mint(runtime, admins[target], *target, "rotated") for target in TARGETS}
    )
    clock.advance(minutes=2)
    callers += [
        Caller("acme", ("*",), False, revoked.plaintext_token, "acme-revoked"),
        Caller("acme", ("*",), False, expiring.plaintext_token, "acme-expired"),
    ]

    wrong: list[str] = []
    cells = 0
    for caller in callers:
        for org, app in TARGETS:
            url = f"/v1/orgs/{org}/apps/{app}/tokens"
            for operation in NEEDS:
                if operation in ON_A_TOKEN:
                    cells += _token_cells(runtime, caller, operation, (org, app), subjects, wrong)
                    continue
                want = expected(caller, operation, org)
                writes = operation in ("create", "revoke")
                before = {t.token_id for t in _tokens_of(runtime, org, app)} if writes else set()
                path, body = url, None
                if operation == "create":
                    body = {"name": "matrix"}
                elif operation == "verify":
                    path, body = url + "/verify", {"token": subjects[(org, app)].plaintext_token}
                elif operation == "revoke":
                    victim = _mint(runtime, admins[(org, app)], org, app, "victim")
                    before.add(victim.token.token_id)
                    path = f"{url}/{victim.token.token_id}"
                result = call(FUNCTION[operation], METHOD[operation], path, token=caller.token, body=body)
                cells += 1
                problem = _check(result, want, caller, operation, org, app, path)
                if writes:
                    problem = problem or _side_effects(runtime, operation, want, (org, app), before, path)
                if problem:
                    wrong.append(f"{caller.label} {operation} {org}/{app}: want {want}, {problem}")
    cells += _refresh_matrix(runtime, admins, wrong)
    cells += _whoami_cells(callers, wrong)
    assert not wrong, "\n".join(wrong)
    per_target = len(NEEDS) + len(ON_A_TOKEN)  # each token operation twice: this app's, the other's
    assert len(callers) == 24
    assert cells == len(callers) * (len(TARGETS) * per_target + 1) + len(TARGETS) ** 2 == 1192


def _token_cells(
    runtime: Runtime,
    caller: Caller,
    operation: str,
    target: tuple[str, str],
    subjects: dict[tuple[str, ...], IssuedToken],
    wrong: list[str],
) -> int:
    """Get, update, history or rotate at ``target``'s path, of its own token and of the org's other app's."""
    org, app = target
    other_app = next(a for a in APPS if a != app)
    for home_app in (app, other_app):
        rotating = operation == "rotate"
        subject = subjects[(org, home_app, "rotate") if rotating else (org, home_app)].token
        path = f"/v1/orgs/{org}/apps/{app}/tokens/{subject.token_id}"
        name_before = _name_of(runtime, org, home_app, subject.token_id)
        hash_before = _access_hash(runtime, subject.token_id)
        body = {"name": f"renamed by {caller.label}"} if operation == "update" else None
        if operation in ("history", "rotate"):
            path += f"/{operation}"
        want = expected(caller, operation, org, same_app=home_app == app)
        result = call(FUNCTION[operation], METHOD[operation], path, token=caller.token, body=body)
        problem = _check(result, want, caller, operation, org, app, path)
        if not problem and want == 200 and operation != "history" and result.json()["token"]["org_id"] != org:
            problem = f"answered a token of {result.json()['token']['org_id']}"
        renamed = _name_of(runtime, org, home_app, subject.token_id) != name_before
        if operation == "update" and renamed != (want == 200):
            problem = problem or f"the name changed: {renamed}"
        rotated = _access_hash(runtime, subject.token_id) != hash_before
        if rotated != (rotating and want == 200):
            problem = problem or f"the secrets changed: {rotated}"
        if problem:
            wrong.append(f"{caller.label} {operation} of {org}/{home_app}'s token at {org}/{app}: {problem}")
    return 2


def _access_hash(runtime: Runtime, token_id: str) -> str | None:
    credential = runtime.repository.get_credential(token_id)
    return None if credential is None else credential.access_hash


def _name_of(runtime: Runtime, org: str, app: str, token_id: str) -> str | None:
    token = runtime.repository.get_token(org, app, token_id)
    return None if token is None else token.name


def _whoami_cells(callers: list[Caller], wrong: list[str]) -> int:
    """Every live token may ask who it is, whatever it may do, and is told its own org; no other is."""
    for caller in callers:
        result = call("whoami", "GET", "/v1/whoami", token=caller.token)
        want = 200 if caller.live else 401
        if result.status != want or (want == 200 and result.json()["org_id"] != caller.org):
            wrong.append(f"{caller.label} whoami: want {want}, got {result.status} {result.body}")
    return len(callers)


def _side_effects(
    runtime: Runtime, operation: str, want: int, target: tuple[str, str], before: set[str], path: str
) -> str:
    """A create made exactly one token when allowed and none otherwise; a revoke only when allowed."""
    after = _tokens_of(runtime, *target)
    created = {t.token_id for t in after} - before
    if len(created) != (1 if operation == "create" and want == 201 else 0):
        return f"tokens appeared: {created}"
    if operation == "revoke":
        victim = next(t for t in after if t.token_id == path.rsplit("/", 1)[1])
        if (victim.revoked_at is not None) != (want == 204):
            return f"revoked_at={victim.revoked_at}"
    return ""


def _check(result: Result, want: int, caller: Caller, operation: str, org: str, app: str, path: str) -> str:
    """What is wrong with one cell's response, or an empty string."""
    if result.status != want:
        return f"got {result.status} {result.body}"
    if want == 403 and result.json()["details"] != {"required_permission": NEEDS[operation]}:
        return f"403 details {result.json()['details']}"
    if want == 404:
        token_id = path.removesuffix("/history").removesuffix("/rotate").rsplit("/", 1)[1]
        resource = ("token", token_id) if operation in ("revoke", *ON_A_TOKEN) else ("app", app)
        if result.json()["details"] != {"resource_type": resource[0], "resource_id": resource[1]}:
            return f"404 details {result.json()['details']}"
    if want == 200 and operation == "list":
        owners = {(t["org_id"]) for t in result.json()["tokens"]}
        if owners != {org}:
            return f"listed tokens of {owners}"
    if want == 200 and operation == "verify" and result.json()["code"] != "VALID":
        return f"verdict {result.json()['code']}"
    return ""


def _refresh_matrix(runtime: Runtime, admins: dict[tuple[str, str], IssuedToken], wrong: list[str]) -> int:
    """An app's refresh token works at its own refresh route only (else the one 401)."""
    cells = 0
    for home in TARGETS:
        for org, app in TARGETS:
            token = _mint(runtime, admins[home], *home, "refreshable")
            path = f"/v1/orgs/{org}/apps/{app}/tokens/{token.token.token_id}/refresh"
            result = call(
                "refresh_token", "POST", path, body={"refresh_token": token.refresh_token_plaintext}
            )
            want = 200 if home == (org, app) else 401
            cells += 1
            if result.status != want:
                wrong.append(f"refresh of {home} at {org}/{app}: want {want}, got {result.status}")
    return cells


def test_a_cascade_reaches_only_its_own_orgs_tokens(runtime: Runtime) -> None:
    """Revoke with ``?cascade=true`` from every org at a token tree (spanning both apps) of every org."""
    admins = {(org, app): mint_admin(runtime, org, app, ["*"]) for org, app in TARGETS}
    wrong: list[str] = []
    for caller_org in ORGS:
        caller = admins[(caller_org, APPS[0])]
        for org, app in TARGETS:
            victim = _mint(runtime, admins[(org, app)], org, app, "victim", permissions=["app_tokens:*"])
            other_app = APPS[1] if app == APPS[0] else APPS[0]
            child = _mint(runtime, victim, org, other_app, "child")
            path = f"/v1/orgs/{org}/apps/{app}/tokens/{victim.token.token_id}"
            result = call(
                "revoke_token", "DELETE", path, token=caller.plaintext_token, query={"cascade": "true"}
            )
            want = 204 if caller_org == org else 404
            problem = _check(result, want, Caller(caller_org, ("*",), True, "", ""), "revoke", org, app, path)
            for token in (victim, child):
                stored = runtime.repository.get_token(org, token.token.app_id, token.token.token_id)
                assert stored is not None
                if (stored.revoked_at is not None) != (want == 204):
                    problem = problem or f"{token.token.name} revoked_at={stored.revoked_at}"
            if problem:
                wrong.append(f"{caller_org} cascade {org}/{app}: want {want}, {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_leak_report_revokes_only_the_tokens_whose_secrets_it_holds(runtime: Runtime) -> None:
    """Issue 16: the report has no org, app or caller; a secret of any app ends exactly its own token,
    of whichever org, and every other token of every app stays live. Each answer is the same."""
    admins = {(org, app): mint_admin(runtime, org, app, ["*"]) for org, app in TARGETS}
    bystanders = {target: _mint(runtime, admins[target], *target, "bystander") for target in TARGETS}
    answers = set()
    for target in TARGETS:
        victim = _mint(runtime, admins[target], *target, "victim")
        secret = victim.plaintext_token if target[1] == APPS[0] else victim.refresh_token_plaintext
        result = call("report_leaked", "POST", "/v1/credentials/revoke", body={"credentials": [secret]})
        answers.add((result.status, result.body))
        org, app = target
        for token in _tokens_of(runtime, org, app):
            ended = token.token_id == victim.token.token_id
            assert (token.revoked_reason == "reported_leaked") == ended, (target, token.name)
            assert (token.revoked_at is not None) == ended, (target, token.name)
    assert answers == {(202, '{"received":1}')}
    for target, bystander in bystanders.items():
        assert call("whoami", "GET", "/v1/whoami", token=bystander.plaintext_token).status == 200, target
