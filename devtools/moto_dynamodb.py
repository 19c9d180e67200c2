"""The embedded moto server, made to hold up under load.

Lean transactions, no instance log, one request at a time. Dev tooling only
(``app-tokens serve`` and ``invoke``); the Lambda functions never import it.

Why the stock moto server degrades (issue 12, measured with moto 5.2.5):

- ``transact_write_items`` deep-copies every table a transaction touches, once per
  transaction item, to roll back: a create (a transaction of several items) copies the
  whole table several times, so each create costs more than the last;
- every moto model (``BaseModel``: each ``Item``, each ``Table``) appends itself on
  construction to its class's ``instances_tracked`` list, for the moto dashboard, and
  ``copy.deepcopy`` constructs them too: every copy of every item is kept for the life of
  the process, so memory grows with the square of the number of creates;
- its werkzeug server runs requests on threads without a lock, so a botocore retry
  beside a still running attempt mutates moto's dicts while the first one iterates them
  (``dictionary changed size during iteration``).

The fixes live here rather than in a patched moto, so that any moto release the
project's pins allow gets them: :func:`installed` puts :func:`transact_write_items` (which
snapshots only the items a transaction touches) on moto's DynamoDB backend and stops the
instance log of moto's DynamoDB models; :class:`EmbeddedMotoServer` serves moto's own WSGI
application behind :class:`SerialisedApp`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.core.model_instances import model_data
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit, as moto checks it
TRANSACTION_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Untracked(list[Any]):
    """A stand-in for a model class's ``instances_tracked`` that keeps nothing."""

    def append(self, instance: Any) -> None:
        """Forget the instance: only moto's dashboard reads the list, and the embedded server has none."""


def untrack_instances(service: str = "dynamodb") -> dict[Any, list[Any]]:
    """Stop moto from keeping every model instance of ``service`` it ever built (its dashboard's log).

    Returns each model class's list as it was, for :func:`retrack_instances`.
    """
    model: Any
    previous = {}
    for model in model_data[service].values():
        previous[model] = model.instances_tracked
        model.instances_tracked = _Untracked()
    return previous


def retrack_instances(previous: dict[Any, list[Any]]) -> None:
    """Give moto's model classes back the lists :func:`untrack_instances` took away."""
    for model, tracked in previous.items():
        model.instances_tracked = tracked


@dataclass
class _Before:
    """One item as it was before the transaction wrote it (``None``: absent)."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any
    hash_existed: bool


@dataclass
class TransactionSnapshot:
    """What a transaction's writes replaced: the touched items and the stream's length, nothing more."""

    items: list[_Before] = field(default_factory=list)
    stream_lengths: dict[str, tuple[Any, int]] = field(default_factory=dict)

    def remember(self, table: Any, hash_key: Any, range_key: Any) -> None:
        """Keep a copy of one item before a write: moto's updates change the stored item in place."""
        hash_existed = hash_key in table.items  # first: a read creates the partition (a defaultdict)
        current = table.get_item(hash_key, range_key) if hash_existed else None
        self.items.append(_Before(table, hash_key, range_key, copy.deepcopy(current), hash_existed))
        if table.stream_shard is not None and table.name not in self.stream_lengths:
            self.stream_lengths[table.name] = (table.stream_shard, len(table.stream_shard.items))

    def restore(self) -> None:
        """Put every touched item back as it was, newest write first, and drop the stream records written."""
        for before in reversed(self.items):
            table = before.table
            if before.range_key is None:
                if before.item is None:
                    table.items.pop(before.hash_key, None)
                else:
                    table.items[before.hash_key] = before.item
                continue
            partition = table.items[before.hash_key]
            if before.item is None:
                partition.pop(before.range_key, None)
            else:
                partition[before.range_key] = before.item
            if not partition and not before.hash_existed:
                del table.items[before.hash_key]
        for shard, length in self.stream_lengths.values():
            del shard.items[length:]


class _Refused(ConditionalCheckFailed):
    """The transaction's own condition check failed; ``item`` is what ``ALL_OLD`` asked to see."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__(item=item)
        self.item = item


def _target(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The table and key one transaction item writes or checks."""
    if op_type not in TRANSACTION_OPERATIONS:
        raise ValueError("Unsupported transaction operation")
    table_name: str = op["TableName"]
    if op_type != "Put":
        return table_name, op["Key"]
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return table_name, key


def _check_condition(backend: Any, table_name: str, key: dict[str, Any], op: dict[str, Any]) -> None:
    """Raise :class:`_Refused` (with the item, if asked) when the item fails the condition."""
    expression = op.get("ConditionExpression")
    if expression is None:
        return
    current = backend.get_item(table_name, key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if not condition.expr(current):
        wanted = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current
        raise _Refused(current.to_json()["Attributes"] if wanted else None)


def _write(backend: Any, op_type: str, op: dict[str, Any], table_name: str, key: dict[str, Any]) -> None:
    conditions = {
        "condition_expression": op.get("ConditionExpression"),
        "expression_attribute_names": op.get("ExpressionAttributeNames"),
        "expression_attribute_values": op.get("ExpressionAttributeValues"),
    }
    if op_type == "Put":
        backend.put_item(table_name, op["Item"], **conditions)
    elif op_type == "Delete":
        backend.delete_item(table_name, key, **conditions)
    elif op_type == "Update":
        backend.update_item(table_name, key, update_expression=op["UpdateExpression"], **conditions)


def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items``, rolling back from a snapshot of the touched items only.

    The same semantics as moto's own: at most 100 items, one operation each, one operation
    per item (else a ``ValidationException`` and nothing written); each condition checked
    against the item as the transaction has left it so far; any failure cancels the whole
    transaction with one reason per item (``None`` for those that did not fail), and every
    write is undone. A request refused as invalid is undone as well, even one whose second
    operation is malformed (moto itself left the first one applied).
    """
    if len(transact_items) > MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    if any(len(item) > 1 for item in transact_items):
        raise TransactWriteSingleOpException()

    snapshot = TransactionSnapshot()
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        try:
            op_type, op = next(iter(item.items()))
            table_name, key = _target(backend, op_type, op)
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            table = backend.get_table(table_name)
            # Before any read: moto's read of a missing item leaves an empty partition behind.
            snapshot.remember(table, *backend.get_keys_value(table, key))
            _check_condition(backend, table_name, key, op)
            _write(backend, op_type, op, table_name, key)
            errors.append((None, None, None))
        except MockValidationException:
            snapshot.restore()
            raise
        except _Refused as refused:
            errors.append(("ConditionalCheckFailed", str(refused.message), refused.item))
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), None))
        except Exception as error:
            # As moto does: any other failure of one item is that item's cancellation reason.
            errors.append((type(error).__name__, str(error), None))

    if any(code is not None for code, _, _ in errors):
        snapshot.restore()
        raise TransactionCanceledException(errors)


@contextmanager
def installed() -> Iterator[None]:
    """moto's DynamoDB backend with :func:`transact_write_items` and no instance log, while the block runs."""
    stock = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]
    tracked = untrack_instances()
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = stock  # type: ignore[method-assign]
        retrack_instances(tracked)


class SerialisedApp:
    """A WSGI application that lets one request in at a time, body included.

    moto's models are plain dicts and lists with no locking of their own; its server runs
    each request on a thread of its own.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Run the wrapped application and read its whole answer under the lock."""
        with self._lock:
            answer = self._app(environ, start_response)
            try:
                return list(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()


class EmbeddedMotoServer:
    """moto's server application on a loopback port, behind :class:`SerialisedApp`, on a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = SerialisedApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        port: int = self._server.server_address[1]
        return port

    def start(self) -> None:
        """Serve on a thread of its own until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
