"""The benchmarks' answer replay: what it forwards, what it replays, and that it never grows."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders

from benchmarks.cold import _signature
from benchmarks.replay import AnswerReplay


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


class Network:
    """A stand-in for moto: answers each request with a body naming how many it has seen."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.seen += 1
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw(f'{{"n": {self.seen}}}'.encode()))


def _request(operation: str, body: str) -> AWSPreparedRequest:
    headers = HTTPHeaders()
    headers["X-Amz-Target"] = f"DynamoDB_20120810.{operation}"
    return AWSPreparedRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", headers, body, True)


def test_a_read_is_replayed_per_body_and_a_write_per_operation() -> None:
    network = Network()
    replay = AnswerReplay(network)
    answers = [
        replay(request=_request(operation, body)).content
        for operation, body in [
            ("GetItem", '{"Key": 1}'),
            ("GetItem", '{"Key": 2}'),
            ("GetItem", '{"Key": 1}'),
            ("TransactWriteItems", '{"id": "a"}'),
            ("TransactWriteItems", '{"id": "b"}'),
        ]
    ]
    assert answers == [b'{"n": 1}', b'{"n": 2}', b'{"n": 1}', b'{"n": 3}', b'{"n": 3}']
    assert (network.seen, replay.forwarded, replay.replayed) == (3, 3, 2)


def test_once_recording_stops_a_new_read_gets_the_operations_last_answer_and_nothing_is_kept() -> None:
    network = Network()
    replay = AnswerReplay(network)
    replay(request=_request("Query", '{"at": 0}'))
    replay.recording = False
    answers = [replay(request=_request("Query", f'{{"at": {at}}}')).content for at in (1, 1, 2)]
    assert answers == [b'{"n": 1}'] * 3
    assert network.seen == 1


def test_a_floor_is_named_by_the_calls_it_makes() -> None:
    calls = [["dynamodb", "GetItem"], ["dynamodb", "GetItem"], ["events", "PutEvents"]]
    assert _signature(calls) == "2 GetItem, 1 PutEvents"
    assert _signature([]) == "no call"
