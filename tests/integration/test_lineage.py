"""Token lineage and cascading revocation (issue 11, item 3).

Every token records the token that created it, and is linked from it, so that
``DELETE ...?cascade=true`` can revoke a leaked token and everything it minted, in
any app of the org, reading only what it revokes. Past the request's bound the
publisher finishes the walk from the outbox; the tests feed it records built from
the outbox items, as the table's stream would deliver them.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from devtools.openapi import DOCUMENT
from functions.publish_events.app import lambda_handler as publish_handler
from shared.domain.lifecycle import CASCADE_PENDING, PARENT_REVOKED_REASON, REVOKED
from shared.domain.principals import TrustedAuthorizer
from shared.entry.runtime import Runtime
from shared.services import cascade as cascade_module
from shared.services.cascade import CASCADE_BOUND
from shared.services.deps import LifetimePolicy
from shared.services.tokens import IssuedToken, create_token, revoke_token
from shared.storage.items import credential_key, link_key, token_key
from shared.storage.repository import TokenKey
from tests.conftest import (
    APP,
    ORG,
    TABLE,
    TOKENS_URL,
    CallLog,
    FakeClock,
    LambdaContextStub,
    call,
    mint_admin,
    spec_of,
)
from tests.integration.test_api import APP_TOKEN_FIELDS
from tests.integration.test_lifecycle_events import received, stream_records
from tests.invariants import assert_invariants, count_events, table_items

SPEC = json.loads(DOCUMENT.read_text())
OTHER_APP = "ledger"  # a second app of the same org
CREATOR = ["app_tokens:*"]


def tokens_url(app: str = APP, org: str = ORG) -> str:
    return f"/v1/orgs/{org}/apps/{app}/tokens"


def mint(
    runtime: Runtime, creator: IssuedToken, app: str = APP, org: str = ORG, **fields: Any
) -> IssuedToken:
    """A token created by ``creator`` in ``org``/``app``, through the create use case."""
    fields.setdefault("name", "t")
    fields.setdefault("permissions", CREATOR)
    return create_token(runtime, creator.token, org, app, spec_of(fields))


def item(dynamodb: Any, key: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get(
        "Item"
    )
    return found


def state(runtime: Runtime, token: IssuedToken) -> tuple[str | None, str | None]:
    """(revoked_at, revoked_reason) of a token, as stored."""
    stored = runtime.repository.get_token(token.token.org_id, token.token.app_id, token.token.token_id)
    assert stored is not None
    return stored.revoked_at, stored.revoked_reason


def works(token: IssuedToken) -> bool:
    """Whether the token still authenticates (a list of its own app)."""
    url = tokens_url(token.token.app_id, token.token.org_id)
    result = call("list_tokens", "GET", url, token=token.plaintext_token)
    assert result.status in (200, 401), result.body
    return result.status == 200


def cascade(admin: IssuedToken, target: IssuedToken, **query: str) -> int:
    path = f"{tokens_url(target.token.app_id)}/{target.token.token_id}"
    return call(
        "revoke_token", "DELETE", path, token=admin.plaintext_token, query={"cascade": "true", **query}
    ).status


def drain(dynamodb: Any, seen: set[str]) -> int:
    """Deliver every new outbox item to the publisher until none is left; the number of rounds."""
    rounds = 0
    while records := stream_records(dynamodb, seen):
        assert publish_handler({"Records": records}, LambdaContextStub()) == {"batchItemFailures": []}
        rounds += 1
    return rounds


# ---- lineage --------------------------------------------------------------------------------------


def test_a_child_records_the_token_that_created_it(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any, clock: FakeClock, bus_queue: str
) -> None:
    created = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "child"})
    assert created.status == 201
    token = created.json()["token"]
    assert set(token) == APP_TOKEN_FIELDS  # a stored fact, not an AppToken field
    child_id = token["token_id"]
    for key in (token_key(ORG, APP, child_id), credential_key(child_id)):
        stored = item(dynamodb, key)
        assert stored is not None and stored["created_by_token_id"] == {"S": admin.token.token_id}
    link = item(dynamodb, link_key(admin.token.token_id, child_id))
    assert link is not None
    assert (link["org_id"], link["app_id"]) == ({"S": ORG}, {"S": APP})
    # The link goes when the child could last be in the table: its expiry plus the retention.
    expiry = datetime.fromisoformat(token["expires_at"])
    assert int(link["purge_at"]["N"]) == int((expiry + LifetimePolicy().retention).timestamp())
    drain(dynamodb, set())
    events = received(bus_queue)
    assert events and all(set(e["detail"]["token"]) == APP_TOKEN_FIELDS for e in events)
    assert_invariants(table_items(dynamodb))


def test_bootstrap_and_jwt_vouched_tokens_record_no_creator(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any
) -> None:
    stored = item(dynamodb, token_key(ORG, APP, admin.token.token_id))
    assert stored is not None and "created_by_token_id" not in stored
    runtime.settings = dataclasses.replace(runtime.settings, trusted_authorizer=TrustedAuthorizer.CLAIMS)
    claims = {"sub": "alice", "custom:org_id": ORG, "custom:permissions": "app_tokens:*"}
    created = call(
        "create_token", "POST", TOKENS_URL, body={"name": "by a user"}, authorizer={"claims": claims}
    )
    assert created.status == 201, created.body
    user_token = created.json()["token"]["token_id"]
    stored = item(dynamodb, token_key(ORG, APP, user_token))
    assert stored is not None and "created_by_token_id" not in stored
    links = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TOKEN#{user_token}"}},
    )["Items"]
    # its credential and its history's one entry (created); no link: no token created it
    assert [link["SK"]["S"].split("#")[0] for link in links] == ["CREDENTIAL", "HISTORY"]
    assert_invariants(table_items(dynamodb))


# ---- cascade --------------------------------------------------------------------------------------


def test_cascade_revokes_a_chain_across_two_apps_each_with_its_own_event(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any, bus_queue: str
) -> None:
    mint_admin(runtime, ORG, OTHER_APP, ["*"])  # registers the org's second app
    parent = mint(runtime, admin)
    child = mint(runtime, parent, app=OTHER_APP)
    grandchild = mint(runtime, child)
    sibling = mint(runtime, admin)
    assert all(works(token) for token in (parent, child, grandchild))

    assert cascade(admin, parent, reason="leaked") == 204

    assert state(runtime, parent)[1] == "leaked"
    for descendant in (child, grandchild):
        revoked_at, reason = state(runtime, descendant)
        assert revoked_at is not None and reason == PARENT_REVOKED_REASON
        assert not works(descendant)
    assert state(runtime, sibling) == (None, None) and state(runtime, admin) == (None, None)
    items = table_items(dynamodb)
    assert_invariants(items)
    for token in (parent, child, grandchild):
        assert count_events(items, REVOKED, token.token.token_id) == 1
    drain(dynamodb, set())
    revoked = {
        e["detail"]["token_id"]: e["detail"] for e in received(bus_queue) if e["detail-type"] == REVOKED
    }
    assert set(revoked) == {parent.token.token_id, child.token.token_id, grandchild.token.token_id}
    assert all(detail["cascade"] == "true" for detail in revoked.values())
    assert revoked[child.token.token_id]["app_id"] == OTHER_APP
    assert revoked[grandchild.token.token_id]["token"]["revoked_reason"] == PARENT_REVOKED_REASON
    assert revoked[parent.token.token_id]["revoked_reason"] == "leaked"
    assert_invariants(table_items(dynamodb))  # the publisher's pass changed nothing more


def test_cascade_never_touches_another_orgs_token(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any
) -> None:
    globex = mint_admin(runtime, "globex", APP, ["*"])
    theirs = mint(runtime, globex, org="globex")
    parent = mint(runtime, admin)
    # A link no create would write (children are always of the creator's org): the walk refuses it.
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            **link_key(parent.token.token_id, theirs.token.token_id),
            "org_id": {"S": "globex"},
            "app_id": {"S": APP},
            "purge_at": {"N": "1"},
        },
    )
    assert cascade(admin, parent) == 204
    assert state(runtime, parent)[0] is not None
    assert state(runtime, theirs) == (None, None) and works(theirs)
    assert state(runtime, globex) == (None, None)
    # Nor may an acme caller cascade from a globex token: it does not exist for them.
    assert cascade(admin, globex) == 404  # the id in acme's app
    path = f"{tokens_url(org='globex')}/{globex.token.token_id}"
    result = call("revoke_token", "DELETE", path, token=admin.plaintext_token, query={"cascade": "true"})
    assert result.status == 404 and result.json()["details"]["resource_type"] == "token"
    assert state(runtime, globex) == (None, None) and state(runtime, theirs) == (None, None)


def test_without_cascade_children_stay_live(
    runtime: Runtime, admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    parent = mint(runtime, admin)
    child = mint(runtime, parent, app=APP)
    other = mint(runtime, admin)
    works(admin)
    clock.advance(seconds=10)
    for target, query in ((parent, {}), (other, {"cascade": "false"})):
        calls.clear()
        path = f"{TOKENS_URL}/{target.token.token_id}"
        assert call("revoke_token", "DELETE", path, token=admin.plaintext_token, query=query).status == 204
        assert calls.operations == ["GetItem", "TransactWriteItems"]  # exactly as before lineage
    assert state(runtime, child) == (None, None) and works(child)
    # A cascade later still reaches the child of the token revoked plainly before.
    assert cascade(admin, parent) == 204
    assert state(runtime, child)[1] == PARENT_REVOKED_REASON


def test_a_cascade_reads_its_descendants_not_the_app(
    runtime: Runtime, admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    def measured(descendants: int) -> tuple[Counter[str], int]:
        root = mint(runtime, admin)
        creator = root
        for _ in range(descendants):
            creator = mint(runtime, creator)
        works(admin)
        clock.advance(seconds=10)  # no last_used_at write for the caller in what is counted
        calls.clear()
        assert cascade(admin, root) == 204
        return calls.counts(), calls.items_read

    one, one_read = measured(1)
    three, three_read = measured(3)
    # Authentication, then per token (root included) one transaction, and one Query of its children.
    assert one == Counter({"GetItem": 1, "TransactWriteItems": 2, "Query": 2})
    assert three == Counter({"GetItem": 1, "TransactWriteItems": 4, "Query": 4})
    assert (one_read, three_read) == (1 + 1, 1 + 3)  # the caller's credential, and one link per descendant
    for _ in range(50):
        mint(runtime, admin)  # unrelated tokens of the same app
    again, again_read = measured(3)
    assert (again, again_read) == (three, three_read)
    assert "Scan" not in calls.operations


def test_the_bound_is_documented() -> None:
    assert CASCADE_BOUND == 100
    assert f"up to the first {CASCADE_BOUND}" in json.dumps(SPEC)


def test_past_the_bound_the_204_comes_and_the_publisher_finishes(
    runtime: Runtime,
    admin: IssuedToken,
    dynamodb: Any,
    calls: CallLog,
    bus_queue: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small bound keeps the tree small (moto copies the whole table in every transaction).
    bound = 6
    monkeypatch.setattr(cascade_module, "CASCADE_BOUND", bound)
    root = mint(runtime, admin)
    children = []
    for _ in range(bound + 5):
        clock.advance(seconds=1)  # ids sort by time: the children's links are in this order
        children.append(mint(runtime, root))
    # The first child was revoked plainly before, but its own child is live: still followed.
    under_revoked = mint(runtime, children[0])
    revoke_token(runtime, admin.token, TokenKey(ORG, APP, children[0].token.token_id), None)
    under_last = mint(runtime, children[-1])
    seen: set[str] = set()
    stream_records(dynamodb, seen)  # what happened before the cascade is not what is tested
    works(admin)  # the caller's last_used_at is written now, not in what is counted
    calls.clear()

    assert cascade(admin, root) == 204

    assert calls.counts()["TransactWriteItems"] <= bound + 2  # the root, the bound, one pending item
    live = [token for token in [*children, under_revoked, under_last] if state(runtime, token)[0] is None]
    # The request looked at the first `bound` children; the rest is the publisher's.
    assert len(live) == 5 + 2
    assert_invariants(table_items(dynamodb))

    per_record: list[int] = []
    while records := stream_records(dynamodb, seen):
        for record in records:
            calls.clear()
            assert publish_handler({"Records": [record]}, LambdaContextStub()) == {"batchItemFailures": []}
            per_record.append(len(calls.operations))
    assert all(
        state(runtime, token)[1] == PARENT_REVOKED_REASON
        for token in [*children[1:], under_revoked, under_last]
    )
    assert state(runtime, children[0])[1] is None  # the first revocation is kept
    assert max(per_record) <= 2 * bound + 4  # bounded per record, whatever the tree
    items = table_items(dynamodb)
    assert_invariants(items)
    bus = received(bus_queue)
    assert CASCADE_PENDING not in {e["detail-type"] for e in bus}  # bookkeeping never reaches the bus
    revoked_ids = Counter(e["detail"]["token_id"] for e in bus if e["detail-type"] == REVOKED)
    assert set(revoked_ids.values()) == {1}
    assert len(revoked_ids) == 1 + bound + 4 + 2  # root, every child but the first, both grandchildren

    # Every record delivered again (the stream is at least once): nothing more happens.
    outbox = sum(1 for i in items if i["PK"]["S"].startswith("OUTBOX#"))
    calls.clear()
    again = stream_records(dynamodb, set())
    assert publish_handler({"Records": again}, LambdaContextStub()) == {"batchItemFailures": []}
    after = table_items(dynamodb)
    assert sum(1 for i in after if i["PK"]["S"].startswith("OUTBOX#")) == outbox
    assert_invariants(after)


def test_refreshing_a_parent_leaves_its_children_working(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any
) -> None:
    parent = mint(runtime, admin)
    child = mint(runtime, parent)
    refreshed = call(
        "refresh_token",
        "POST",
        f"{TOKENS_URL}/{parent.token.token_id}/refresh",
        body={"refresh_token": parent.refresh_token_plaintext},
    )
    assert refreshed.status == 200
    assert works(child) and state(runtime, child) == (None, None)
    assert item(dynamodb, link_key(parent.token.token_id, child.token.token_id)) is not None
    assert_invariants(table_items(dynamodb))
    # The id survives rotation, so the lineage does: a cascade from the parent still reaches the child.
    assert cascade(admin, parent) == 204
    assert state(runtime, child)[1] == PARENT_REVOKED_REASON


def test_a_failed_cascade_step_is_retried_with_its_record_and_published_once(
    runtime: Runtime,
    admin: IssuedToken,
    dynamodb: Any,
    bus_queue: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cascade_module, "CASCADE_BOUND", 1)  # the request leaves the second child
    root = mint(runtime, admin)
    first = mint(runtime, root)
    clock.advance(seconds=1)
    second = mint(runtime, root)
    seen: set[str] = set()
    stream_records(dynamodb, seen)
    assert cascade(admin, root) == 204
    assert state(runtime, second) == (None, None)
    monkeypatch.setattr(cascade_module, "CASCADE_BOUND", 100)  # the publisher reaches it at once
    records = stream_records(dynamodb, seen)
    [root_record] = [r for r in records if r["dynamodb"]["NewImage"]["token_id"]["S"] == root.token.token_id]

    def throttled(*_: Any, **__: Any) -> Any:
        raise runtime.repository.client.exceptions.ProvisionedThroughputExceededException(  # type: ignore[attr-defined]
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "TransactWriteItems",
        )

    with monkeypatch.context() as patch:
        patch.setattr(runtime.repository, "revoke_descendant", throttled)
        failed = publish_handler({"Records": [root_record]}, LambdaContextStub())
    assert failed == {"batchItemFailures": [{"itemIdentifier": root_record["dynamodb"]["SequenceNumber"]}]}
    assert received(bus_queue) == []  # no event for a step not taken
    assert publish_handler({"Records": records}, LambdaContextStub()) == {"batchItemFailures": []}
    drain(dynamodb, seen)
    assert state(runtime, first)[1] == state(runtime, second)[1] == PARENT_REVOKED_REASON
    revoked = Counter(e["detail"]["token_id"] for e in received(bus_queue) if e["detail-type"] == REVOKED)
    assert revoked == Counter({root.token.token_id: 1, first.token.token_id: 1, second.token.token_id: 1})
    assert_invariants(table_items(dynamodb))
