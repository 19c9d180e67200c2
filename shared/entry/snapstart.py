"""Lambda SnapStart's runtime hooks: what a snapshot may hold, and what each restore must rebuild.

With SnapStart (the template's ``EnableSnapStart``) Lambda runs a function's init once, when a
version is published, snapshots the microVM, and resumes every new execution environment from that
one snapshot. Whatever init left in memory is then shared by every restored environment, so
nothing unique may be made before the snapshot (AWS's "Handling uniqueness with Lambda SnapStart").

What this code can hold at init, and why each is dropped (by both hooks: the snapshot holds none
of it, and a restore rebuilds whatever a hook registered after ours, or a pre-warm, left behind):

- the runtime (``shared.entry.runtime``): its DynamoDB client (resolved credentials, an open
  connection pool), the EventBridge client, the hashing key and its ``SecretHasher`` (derived key
  material), and the settings cache (locally, ``TOKEN_HASH_KEY`` itself);
- boto3's default session, which caches the credentials it resolved (after a restore they may
  belong to a role session that has expired, and they were never meant to be copied);
- Powertools' parameter providers: their SSM client and the key value they cache for 5 minutes;
- the ``random`` module's state: this code draws every secret and id from ``secrets`` (the kernel,
  on every call, so already unique per environment), but botocore's retry jitter and Powertools'
  log sampling use ``random``; reseeded so that two environments do not jitter in lockstep.

Each is rebuilt lazily on the first request that needs it, as on an ordinary cold start: that work
(the client's creation and first TLS connection, the key read from SSM) stays on the first request
after a restore. The hooks come from ``snapshot_restore_py``, which Lambda's Python runtimes provide
and the layer must not ship; without it (locally, in tests) nothing is registered.
"""

from __future__ import annotations

import random
import sys

from shared.entry.runtime import set_runtime

_registered = False


def forget_process_state() -> None:
    """Drop every client, credential, key and seed a snapshot could carry; the next request rebuilds them."""
    set_runtime(None)  # the runtime: clients, hasher and key; and the settings cache
    if "boto3" in sys.modules:  # never imported here: importing boto3 is the floor of a cold start
        import boto3

        boto3.DEFAULT_SESSION = None
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters.base")
    if parameters is not None:
        # Each provider holds its boto3 client and its cache of values (the hashing key).
        parameters.DEFAULT_PROVIDERS.clear()
    random.seed()  # from os.urandom: a fresh state in every environment


def prime_imports() -> None:
    """Import the AWS SDK before the snapshot: code only, no session, no credentials, no connection."""
    import boto3
    import botocore.client
    import botocore.config

    del boto3, botocore  # imported for the snapshot to hold the modules, not to be used here


def before_snapshot() -> None:
    """At version publication: load what is the same everywhere, then drop what must be unique."""
    prime_imports()
    forget_process_state()


def after_restore() -> None:
    """In each restored environment, before its first request: nothing from the snapshot is reused."""
    forget_process_state()


def register_snapshot_hooks() -> bool:
    """Register both hooks with Lambda's runtime, once; ``False`` where the runtime has no SnapStart hooks."""
    global _registered  # noqa: PLW0603 - once per process, however many handlers are built
    if _registered:
        return True
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # not in Lambda's runtime: locally, and in the tests
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True
    return True
