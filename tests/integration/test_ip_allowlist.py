"""IP allowlists (issue 16) through the real handlers and moto: stored, shown, enforced, never widened.

All three entry points decide with the one verification core: the management API (API Gateway's
``sourceIp``: a 403 ``ip_allowlist:<address>``), the verify endpoint (its body's ``source_ip``:
``FORBIDDEN_IP``) and the authorizer (Deny, ``FORBIDDEN_IP``). The CIDR cases of the field and
the matching rule are in tests/unit/test_ip_allowlist.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.events import authorizer_event, proxy_event
from shared.domain.principals import authorizer_context, from_authorizer_context
from shared.entry.runtime import Runtime
from shared.http.authorizer import authorize_request
from shared.services.tokens import IssuedToken
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.items import credential_key
from tests.conftest import APP, ORG, TABLE, TOKENS_URL, CallLog, FakeClock, call, with_authorizer_environment
from tests.integration.test_api import APP_TOKEN_FIELDS, assert_401, assert_403, assert_422, create, revoke
from tests.integration.test_managing_api import assert_token_read, child, get, history, patch, whoami

INSIDE, OUTSIDE = "192.0.2.7", "198.51.100.1"
LISTED = ["192.0.2.0/24", "2001:db8::/32"]


def listed(admin: IssuedToken, **fields: Any) -> dict[str, Any]:
    """A token allowed from 192.0.2.0/24 and 2001:db8::/32, made by the admin: its 201 body."""
    return child(admin, ip_allowlist=LISTED, **fields)


def verify(admin: IssuedToken, token: str, **asked: Any) -> dict[str, Any]:
    result = call(
        "verify_token",
        "POST",
        f"{TOKENS_URL}/verify",
        token=admin.plaintext_token,
        body={"token": token, **asked},
    )
    assert result.status == 200, result.body
    body: dict[str, Any] = result.json()
    return body


def test_create_stores_canonical_networks_shows_them_in_details_only(
    admin: IssuedToken, repository: DynamoDBTokenRepository
) -> None:
    created = child(admin, ip_allowlist=["192.0.2.1", "2001:DB8::/32", "10.0.0.0/8"])
    assert set(created["token"]) == APP_TOKEN_FIELDS  # the seed's shape: no ip_allowlist in it
    token_id = created["token"]["token_id"]
    canonical = ["192.0.2.1/32", "2001:db8::/32", "10.0.0.0/8"]
    assert (
        assert_token_read(get(admin.plaintext_token, token_id), token_id)["details"]["ip_allowlist"]
        == canonical
    )
    me = whoami(created["plaintext_token"], source_ip="192.0.2.1")
    assert me.status == 200 and me.json()["details"]["ip_allowlist"] == canonical
    assert "ip_allowlist" not in me.json()["token"]
    # On the credential item, the one item verification reads.
    item = repository.client.get_item(TableName=TABLE, Key=credential_key(token_id))["Item"]
    assert [entry["S"] for entry in item["ip_allowlist"]["L"]] == canonical
    # A list page shows the seed's shape too.
    page = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).json()
    assert all(set(token) == APP_TOKEN_FIELDS for token in page["tokens"])


def test_create_and_patch_422_for_host_bits_malformed_networks_and_101_of_them(admin: IssuedToken) -> None:
    [host_bits] = assert_422(create(admin.plaintext_token, {"name": "t", "ip_allowlist": ["10.0.0.1/8"]}),
                             ["body", "ip_allowlist", 0])  # fmt: skip
    assert host_bits["type"] == "ip_network_host_bits" and host_bits["ctx"] == {"network": "10.0.0.0/8"}
    for bad in ("10.0.0.0/33", "fe80::1%eth0", " 10.0.0.0/8", "", "010.0.0.0/8"):
        [error] = assert_422(create(admin.plaintext_token, {"name": "t", "ip_allowlist": [bad]}),
                             ["body", "ip_allowlist", 0])  # fmt: skip
        assert error["type"] == "string_pattern_mismatch"
    many = [f"10.0.{i}.0/24" for i in range(101)]
    assert_422(create(admin.plaintext_token, {"name": "t", "ip_allowlist": many}), ["body", "ip_allowlist"])
    twice = ["10.0.0.1", "10.0.0.1/32"]
    [duplicate] = assert_422(create(admin.plaintext_token, {"name": "t", "ip_allowlist": twice}),
                             ["body", "ip_allowlist"])  # fmt: skip
    assert duplicate["type"] == "list_unique"
    token_id = child(admin)["token"]["token_id"]
    assert_422(
        patch(admin.plaintext_token, token_id, {"ip_allowlist": ["2001:db8::1/64"]}),
        ["body", "ip_allowlist", 0],
    )


def test_the_management_api_refuses_a_source_outside_the_list_with_a_403_naming_it(
    admin: IssuedToken,
) -> None:
    token = listed(admin)["plaintext_token"]
    assert whoami(token, source_ip=INSIDE).status == 200
    assert whoami(token, source_ip="2001:db8:ffff::1").status == 200
    assert whoami(token, source_ip="::ffff:192.0.2.7").status == 200  # an IPv4-mapped source is IPv4
    assert_403(whoami(token, source_ip=OUTSIDE), f"ip_allowlist:{OUTSIDE}")
    assert_403(whoami(token, source_ip="2001:DB9::1"), "ip_allowlist:2001:db9::1")  # named canonically
    assert_403(whoami(token, source_ip="::ffff:198.51.100.1"), "ip_allowlist:::ffff:c633:6401")
    # Every route: a creation from outside is refused before the body is looked at.
    assert_403(create(token, {"name": "x"}, source_ip=OUTSIDE), f"ip_allowlist:{OUTSIDE}")


def test_management_precedence_status_first_then_the_source_then_the_paths(admin: IssuedToken) -> None:
    ended = listed(admin)
    revoke(admin.plaintext_token, ended["token"]["token_id"])
    # A revoked token is a 401 wherever it comes from: its status is decided first.
    assert_401(whoami(ended["plaintext_token"], source_ip=OUTSIDE))
    fenced = listed(admin, endpoint_paths=["/v1/orgs/*"])
    # /v1/whoami is outside its endpoint paths, but the source is decided before them.
    assert_403(whoami(fenced["plaintext_token"], source_ip=OUTSIDE), f"ip_allowlist:{OUTSIDE}")
    assert_403(whoami(fenced["plaintext_token"], source_ip=INSIDE), "endpoint_paths:/v1/whoami")


def test_verify_says_forbidden_ip_without_metadata_and_fails_closed_without_a_source(
    admin: IssuedToken, calls: CallLog
) -> None:
    token = listed(admin, scopes=["orders"])["plaintext_token"]
    assert verify(admin, token, source_ip=INSIDE)["code"] == "VALID"
    assert verify(admin, token, source_ip="2001:db8::")["code"] == "VALID"
    assert verify(admin, token, source_ip="::ffff:192.0.2.255")["code"] == "VALID"
    for source in (OUTSIDE, "192.0.3.0", "192.0.1.255", "2001:db9::", "::ffff:192.0.3.0"):
        assert verify(admin, token, source_ip=source) == {
            "valid": False, "code": "FORBIDDEN_IP", "token": None, "rate_limit": None,
            "credits_remaining": None,
        }  # fmt: skip
    # No source known: refused (fail closed); a token without a list does not need one.
    assert verify(admin, token)["code"] == "FORBIDDEN_IP"
    assert verify(admin, child(admin)["plaintext_token"])["code"] == "VALID"
    # The source before the restrictions: outside and wrong scope is FORBIDDEN_IP, inside the scope's.
    assert verify(admin, token, source_ip=OUTSIDE, scopes=["admin"])["code"] == "FORBIDDEN_IP"
    assert verify(admin, token, source_ip=INSIDE, scopes=["admin"])["code"] == "INSUFFICIENT_SCOPE"
    # Still one read of the verified token: the caller's authentication and the verdict's GetItem.
    calls.clear()
    verify(admin, token, source_ip=OUTSIDE)
    assert calls.counts()["GetItem"] == 2 and calls.counts()["UpdateItem"] == 0


def test_verify_refuses_outside_before_spending_the_rate_limit(admin: IssuedToken) -> None:
    token = listed(admin, rate_limit_rps=1, rate_limit_burst=1)["plaintext_token"]
    for _ in range(3):
        assert verify(admin, token, source_ip=OUTSIDE)["code"] == "FORBIDDEN_IP"
    assert verify(admin, token, source_ip=INSIDE)["code"] == "VALID"  # the bucket was untouched
    assert verify(admin, token, source_ip=INSIDE)["code"] == "RATE_LIMITED"


def test_the_authorizer_denies_forbidden_ip(runtime: Runtime, admin: IssuedToken) -> None:
    guarded = {"AUTHORIZER_ORG_ID": ORG, "AUTHORIZER_APP_ID": APP, "AUTHORIZER_ROUTES": '{"*": {}}'}
    settings = with_authorizer_environment(runtime.settings, guarded)
    token = listed(admin)["plaintext_token"]

    def decide(source_ip: str) -> tuple[str, dict[str, Any]]:
        proxy = proxy_event(
            "GET", "/orders", headers={"Authorization": f"Bearer {token}"}, source_ip=source_ip
        )
        decision = authorize_request(runtime, settings, authorizer_event(proxy))
        assert decision.response is not None
        [statement] = decision.response["policyDocument"]["Statement"]
        return statement["Effect"], decision.response["context"]

    effect, context = decide(INSIDE)
    assert effect == "Allow" and context["ip_allowlist"] == " ".join(LISTED)
    effect, context = decide(OUTSIDE)
    assert (effect, context["code"]) == ("Deny", "FORBIDDEN_IP")
    assert token not in json.dumps(context)
    assert decide("::ffff:192.0.2.9")[0] == "Allow"


def test_an_allowlisted_creator_creates_only_inside_its_own_networks(admin: IssuedToken) -> None:
    creator = child(admin, permissions=["app_tokens:create"], ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    token = creator["plaintext_token"]

    def make(**fields: Any) -> Any:
        return create(token, {"name": "grandchild", **fields}, source_ip="10.1.2.3")

    assert_403(make(), "ip_allowlist:*")  # no list would be any address
    assert_403(make(ip_allowlist=[]), "ip_allowlist:*")
    assert_403(make(ip_allowlist=["10.1.0.0/16", "192.0.2.0/24"]), "ip_allowlist:192.0.2.0/24")
    assert_403(make(ip_allowlist=["0.0.0.0/0"]), "ip_allowlist:0.0.0.0/0")
    assert_403(make(ip_allowlist=["::ffff:10.0.0.0/104", "2001:db9::/32"]), "ip_allowlist:2001:db9::/32")
    inside = make(ip_allowlist=["10.1.0.0/16", "10.2.3.4", "2001:db8:1::/48"])
    assert inside.status == 201, inside.body
    grandchild_id = inside.json()["token"]["token_id"]
    shown = get(admin.plaintext_token, grandchild_id).json()["details"]["ip_allowlist"]
    assert shown == ["10.1.0.0/16", "10.2.3.4/32", "2001:db8:1::/48"]


def test_patch_only_narrows_and_the_history_shows_the_change(admin: IssuedToken, clock: FakeClock) -> None:
    token_id = listed(admin)["token"]["token_id"]
    clock.advance(seconds=1)  # the edit's history entry after the creation's
    assert_403(patch(admin.plaintext_token, token_id, {"ip_allowlist": []}), "ip_allowlist:*")
    assert_403(
        patch(admin.plaintext_token, token_id, {"ip_allowlist": ["192.0.0.0/16"]}),
        "ip_allowlist:192.0.0.0/16",
    )
    narrowed = patch(admin.plaintext_token, token_id, {"ip_allowlist": ["192.0.2.0/25", "2001:db8::1"]})
    assert assert_token_read(narrowed, token_id)["details"]["ip_allowlist"] == [
        "192.0.2.0/25",
        "2001:db8::1/128",
    ]
    [entry, *_] = history(admin.plaintext_token, token_id).json()["events"]
    assert (entry["type"], entry["changes"]) == (
        "updated",
        [{"field": "ip_allowlist", "old": LISTED, "new": ["192.0.2.0/25", "2001:db8::1/128"]}],
    )
    # The same list again is no change: no write, no history entry.
    again = patch(admin.plaintext_token, token_id, {"ip_allowlist": ["192.0.2.0/25", "2001:db8::1/128"]})
    assert again.status == 200
    assert len(history(admin.plaintext_token, token_id).json()["events"]) == 2
    # An unrestricted token may become allowlisted.
    open_id = child(admin)["token"]["token_id"]
    assert patch(admin.plaintext_token, open_id, {"ip_allowlist": ["192.0.2.0/24"]}).status == 200


def test_an_allowlisted_editor_cannot_leave_a_token_wider_than_its_own(admin: IssuedToken) -> None:
    editor = child(admin, permissions=["app_tokens:update"], ip_allowlist=["10.0.0.0/8"])["plaintext_token"]
    open_id = child(admin)["token"]["token_id"]
    # Even a rename: nobody edits a token into one they could not have created.
    assert_403(patch(editor, open_id, {"name": "renamed"}, source_ip="10.0.0.1"), "ip_allowlist:*")
    narrowed = patch(editor, open_id, {"ip_allowlist": ["10.9.0.0/16"]}, source_ip="10.0.0.1")
    assert narrowed.status == 200, narrowed.body
    assert_403(patch(editor, open_id, {"name": "x"}, source_ip="11.0.0.1"), "ip_allowlist:11.0.0.1")


def test_our_authorizers_context_carries_the_allowlist_to_the_management_api(
    runtime: Runtime, admin: IssuedToken
) -> None:
    creator = child(admin, permissions=["app_tokens:create"], ip_allowlist=["10.0.0.0/8"])
    record = runtime.repository.get_token(ORG, APP, creator["token"]["token_id"])
    assert record is not None
    vouched = from_authorizer_context(authorizer_context(record))
    assert vouched is not None and vouched.ip_allowlist == ("10.0.0.0/8",)
    open_record = runtime.repository.get_token(ORG, APP, child(admin)["token"]["token_id"])
    assert open_record is not None
    unrestricted = from_authorizer_context(authorizer_context(open_record))
    assert unrestricted is not None and unrestricted.ip_allowlist == ()


@pytest.mark.parametrize("source_ip", ["127.0.0.1", "::1"])
def test_a_token_without_a_list_works_from_anywhere(admin: IssuedToken, source_ip: str) -> None:
    token = child(admin)["plaintext_token"]
    assert whoami(token, source_ip=source_ip).status == 200
