"""SnapStart: every secret and id is drawn after a restore, and nothing built before the snapshot is reused.

A snapshot is simulated with ``os.fork``: the parent runs a real HTTP function's init (importing its
handler module registers the hooks with a stand-in ``snapshot_restore_py``), builds what a warm
container holds (the runtime with its DynamoDB client and hasher, boto3's session with resolved
credentials, the ``random`` state) and runs the before-snapshot hook; each forked child is a
"restored" environment, a byte-for-byte copy of that memory, which runs the after-restore hook and
then mints a token id, both secrets and an event id. Two children must mint different values, and
neither may see the client, session, hasher or runtime the parent built.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from shared.domain.crypto import SecretKind, new_secret, new_token_id
from shared.domain.records import LifecycleEvent
from shared.entry import snapstart
from shared.entry.runtime import get_runtime, set_runtime
from tests.conftest import HASH_KEY, TABLE

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the restore is simulated with fork")


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Callable[[], None]]]]:
    """A stand-in for Lambda's ``snapshot_restore_py``, recording what registers with it."""
    registered: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = registered["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = registered["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    monkeypatch.setattr(snapstart, "_registered", False)
    yield registered
    set_runtime(None)


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployed function's variables; fake credentials, since nothing is called."""
    for name, value in {
        "TABLE_NAME": TABLE,
        "TOKEN_HASH_KEY": HASH_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "snapshot-time-key",
        "AWS_SECRET_ACCESS_KEY": "snapshot-time-secret",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    set_runtime(None)


def _warm_state() -> dict[str, Any]:
    """What a container holds after init and a first request: the objects a restore must not reuse."""
    runtime = get_runtime()
    client = runtime.repository.client  # type: ignore[attr-defined]  # the adapter's lazily built client
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    assert session.get_credentials() is not None  # resolved and cached in the session
    return {"runtime": runtime, "client": client, "hasher": runtime.hasher, "session": session}


def _restore(after_restore: Callable[[], None] | None, built: dict[str, Any]) -> dict[str, Any]:
    """Fork one "restored" environment; what it minted and whether it saw the pre-snapshot objects."""
    state = random.getstate()  # the snapshot's
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the restored environment
        code = 0
        try:
            os.close(read_end)
            # CPython reseeds ``random`` in a fork's child (os.register_at_fork); a microVM restore runs
            # no such handler, so the snapshot's state is put back before the hook has its say.
            random.setstate(state)
            if after_restore is not None:
                after_restore()
            now = datetime.now(UTC)
            token_id = new_token_id(now)
            runtime = get_runtime()
            seen = {
                "token_id": token_id,
                "access": new_secret(SecretKind.ACCESS, token_id),
                "refresh": new_secret(SecretKind.REFRESH, token_id),
                "event_id": LifecycleEvent(
                    "App Token Created", "acme", "billing", token_id, now.isoformat()
                ).event_id,
                "random": random.random(),  # noqa: S311 - the state under test, not a secret
                "same_runtime": runtime is built["runtime"],
                "same_client": runtime.repository.client is built["client"],  # type: ignore[attr-defined]
                "same_hasher": runtime.hasher is built["hasher"],
                "session_kept": boto3.DEFAULT_SESSION is built["session"],
            }
            os.write(write_end, json.dumps(seen).encode())
        except BaseException:  # a child must never return into pytest: it reports and exits
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        text = stream.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and text, "the restored environment failed"
    result: dict[str, Any] = json.loads(text)
    return result


def test_an_http_functions_init_registers_both_hooks(
    hooks: dict[str, list[Callable[[], None]]], lambda_env: None
) -> None:
    sys.modules.pop("functions.create_token.app", None)
    importlib.import_module("functions.create_token.app")
    assert hooks["before"] == [snapstart.before_snapshot]
    assert hooks["after"] == [snapstart.after_restore]
    # A second handler in the same process (tests, the local server) registers nothing more.
    sys.modules.pop("functions.get_token.app", None)
    importlib.import_module("functions.get_token.app")
    assert len(hooks["before"]) == len(hooks["after"]) == 1


def test_without_the_runtimes_module_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # None: import raises ImportError
    monkeypatch.setattr(snapstart, "_registered", False)
    assert snapstart.register_snapshot_hooks() is False


def test_the_snapshot_holds_no_client_credential_or_key(hooks: Any, lambda_env: None) -> None:
    built = _warm_state()
    snapstart.before_snapshot()
    assert boto3.DEFAULT_SESSION is None
    rebuilt = get_runtime()
    assert rebuilt is not built["runtime"]
    assert rebuilt._hasher is None and rebuilt._key is None and rebuilt._events is None
    assert rebuilt.repository._client is None  # type: ignore[attr-defined]


def test_two_restores_mint_different_secrets_and_ids_and_rebuild_everything(
    hooks: Any, lambda_env: None
) -> None:
    importlib.import_module("functions.create_token.app")
    built = _warm_state()
    snapstart.before_snapshot()
    # What the snapshot carries: a runtime, client and session built after the hook (a pre-warm, a
    # hook registered after ours); the after-restore hook must not let them through either.
    built = _warm_state()
    first, second = _restore(snapstart.after_restore, built), _restore(snapstart.after_restore, built)
    for field in ("token_id", "access", "refresh", "event_id", "random"):
        assert first[field] != second[field], field
    for restored in (first, second):
        assert not restored["same_runtime"]
        assert not restored["same_client"]
        assert not restored["same_hasher"]
        assert not restored["session_kept"]


def test_without_the_hook_two_restores_share_the_random_state(hooks: Any, lambda_env: None) -> None:
    """The control: what the after-restore hook changes. ``secrets`` differs regardless (the kernel)."""
    built = _warm_state()
    first, second = _restore(None, built), _restore(None, built)
    assert first["random"] == second["random"]  # the snapshot's state, replayed in both
    assert first["same_client"] and second["same_client"]  # and the client with its credentials
    assert first["access"] != second["access"] and first["token_id"] != second["token_id"]
