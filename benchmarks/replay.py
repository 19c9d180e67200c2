"""Earlier answers to the calls a repeated request makes, so that thousands of requests stay cheap.

moto copies a whole table for every item of a transaction and takes about 0.3 s to build the
answer to a Query for a page of 100 tokens: a thousand such requests would be minutes of the
benchmark spent inside moto, in time the benchmark then subtracts (it is inside botocore's call),
and restoring the table between writes costs as much again. So the same request is served
again and again against the answers its first serving got:

- a read (GetItem, Query, ...) is answered with the first answer to the same body (the same key);
- any other call (a write, whose body holds new ids and timestamps) with the first answer to the
  same operation: the table never changes, so every request sees the state the first one saw.

Everything our code does with an answer, and botocore's serialising and parsing, stays as it is.
This module imports nothing of moto: the memory child (``cold_child.py``) replays answers that
came over HTTP from moto's server, the warm benchmark answers that moto gave in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "GetParameter"})
Forward = Callable[..., Any]


class _Body:
    """The raw-stream side of a recorded answer, which botocore reads through ``stream()``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class AnswerReplay:
    """A ``before-send`` handler: forwards a call the first time, replays its answer afterwards."""

    def __init__(self, forward: Forward) -> None:
        self._forward = forward
        self._answers: dict[tuple[str, bytes], tuple[int, Any, bytes]] = {}
        self.forwarded = 0
        self.replayed = 0
        # Cleared after the first request: a read that differs every time (the sweep's, which
        # names the time) then gets the last answer to the same operation, and nothing new is
        # kept, so the replay never grows nor goes back to the network (80,000 Queries over HTTP
        # for 10,000 sweeps would take longer than the whole suite may).
        self.recording = True
        self._last: dict[str, tuple[int, Any, bytes]] = {}

    def attach(self, client: Any, replacing: Any = None) -> AnswerReplay:
        """Answer ``client``'s calls, in place of ``replacing`` (moto's stub) when it is given."""
        if replacing is not None:
            client.meta.events.unregister("before-send", replacing)
        client.meta.events.register("before-send", self)
        return self

    def detach(self, client: Any, restoring: Any = None) -> None:
        """Give ``client`` back to the network (or to ``restoring``)."""
        client.meta.events.unregister("before-send", self)
        if restoring is not None:
            client.meta.events.register("before-send", restoring)

    def __call__(self, request: Any, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        key = (operation, raw if operation in READS else b"")
        known = self._answers.get(key) or (None if self.recording else self._last.get(operation))
        if known is not None:
            status, headers, content = known
            self.replayed += 1
            return AWSResponse(request.url, status, headers, _Body(content))
        response = self._forward(request=request, **kwargs)
        self.forwarded += 1
        if self.recording and response is not None and response.status_code == 200:
            self._answers[key] = self._last[operation] = (200, response.headers, response.content)
            # The forwarded response's body has been read: hand botocore a fresh one.
            return AWSResponse(request.url, 200, response.headers, _Body(response.content))
        return response


def over_http(client: Any) -> Forward:
    """What botocore would do with a request of ``client``: send it on the client's own HTTP session."""
    session = client._endpoint.http_session

    def forward(request: Any, **_: Any) -> Any:
        return session.send(request)

    return forward
