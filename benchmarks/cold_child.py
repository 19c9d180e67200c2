"""One cold start, in a fresh interpreter: run as a script by ``benchmarks.cold``.

It imports nothing of the project before its clock starts (the warm benchmark, the memory child
and the design floor borrow its context class and floor handler). Modes (the event, or the
floor's calls, on stdin as JSON):

``cold_child.py boto3-floor RESULT``: import boto3, create the clients and make the calls the
function makes (``{"calls": [[service, operation], ...]}``): the boto3 floor.
``cold_child.py design-floor RESULT``: the same behind a Powertools ``APIGatewayRestResolver``
with validation on, one route with a pydantic body and response model, Logger and Metrics,
serving ``{"event": ...}``: the design floor of an HTTP function.
``cold_child.py MODULE RESULT``: import the handler module, serve the event. With
``BENCH_RECORD_CALLS`` set (the untimed first run only) the result also lists its AWS calls.
``cold_child.py memory:MODULE RESULT``: serve ``{"cold": event}``, then ``{"warm": event}``
``requests`` times with every AWS answer replayed (``benchmarks.replay``); resident memory after each.

The clock starts before the first import; the result file gets the import and first-request
times and the response's status code (never its body, which may hold a new secret).
"""

import json
import os
import sys
import time
from typing import Any


class LambdaContextStandIn:
    """The attributes of Lambda's context object that the handlers read."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


FLOOR_KEY = {"PK": {"S": "FLOOR"}, "SK": {"S": "FLOOR"}}


def _floor_call(client: Any, operation: str) -> None:
    """One call of ``operation`` with harmless parameters: the floor's stand-in for the function's."""
    table = os.environ["TABLE_NAME"]
    update = {
        "TableName": table,
        "Key": FLOOR_KEY,
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if operation == "GetItem":
        client.get_item(TableName=table, Key=FLOOR_KEY, ConsistentRead=True)
    elif operation == "Query":
        client.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "FLOOR"}},
        )
    elif operation == "TransactWriteItems":
        client.transact_write_items(TransactItems=[{"Update": update}])
    elif operation == "PutEvents":
        entry = {"Source": "bench.floor", "DetailType": "floor", "Detail": "{}", "EventBusName": "default"}
        client.put_events(Entries=[entry])
    elif operation == "GetParameter":
        client.get_parameter(Name=os.environ["BENCH_FLOOR_PARAMETER"], WithDecryption=True)
    else:  # UpdateItem, and any other write
        client.update_item(**update)


def _floor_calls(calls: list[list[str]]) -> None:
    """The calls, each service's client created once (DynamoDB's always, as every function's runtime does)."""
    import boto3

    clients: dict[str, Any] = {"dynamodb": boto3.client("dynamodb")}
    for service, operation in calls:
        if service not in clients:
            clients[service] = boto3.client(service)  # type: ignore[call-overload]
        _floor_call(clients[service], operation)


def design_floor_handler(calls: list[list[str]]) -> Any:
    """The design's fixed cost as a handler: resolver with validation, one pydantic route, Logger,
    Metrics; its route makes ``calls``. The warm benchmark serves it too (``benchmarks.design_floor``)."""
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.metrics import MetricUnit
    from pydantic import BaseModel

    app = APIGatewayRestResolver(enable_validation=True)
    logger = Logger()
    metrics = Metrics()

    class FloorBody(BaseModel):
        name: str

    class FloorAnswer(BaseModel):
        name: str
        calls: int

    @app.post("/floor")
    def floor(body: FloorBody) -> FloorAnswer:
        if calls:  # the warm floor makes none: then it creates no client either
            _floor_calls(calls)
        metrics.add_metric(name="Floor", unit=MetricUnit.Count, value=1)
        return FloorAnswer(name=body.name, calls=len(calls))

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler


def _design_floor(calls: list[list[str]], event: dict[str, Any]) -> Any:
    return design_floor_handler(calls)(event, LambdaContextStandIn())


def _record_calls() -> list[list[str]]:
    """Every AWS call made from now on, as ``[service, operation]`` (the untimed run only)."""
    from botocore.client import BaseClient

    recorded: list[list[str]] = []
    # A private method of botocore, patched in the untimed run only: every client's calls pass here.
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        recorded.append([self.meta.service_model.service_name, operation_name])
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[attr-defined]
    return recorded


def _status(response: Any) -> Any:
    if not isinstance(response, dict):
        return None
    if "policyDocument" in response:
        return response["policyDocument"]["Statement"][0]["Effect"]
    return response.get("statusCode")


def _resident_kb() -> int:
    """VmRSS of this process, in kB (Linux's /proc), as Lambda's "Max Memory Used" counts pages."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def _memory(module: str, request: dict[str, Any]) -> dict[str, Any]:
    """RSS after the cold request and after ``requests`` warm ones on replayed answers."""
    from importlib import import_module

    handler = import_module(module).lambda_handler
    handler(request["cold"], LambdaContextStandIn())
    cold_kb = _resident_kb()
    # The package of the benchmarks is not installed: the child runs in the repository's root.
    sys.path.insert(0, os.getcwd())
    from benchmarks.replay import AnswerReplay, over_http
    from shared.entry.runtime import get_runtime

    runtime = get_runtime()
    clients = [runtime.repository.client, *([runtime._events] if runtime._events is not None else [])]  # type: ignore[attr-defined]
    replays = [AnswerReplay(over_http(client)).attach(client) for client in clients]
    for index in range(request["requests"]):
        handler(request["warm"], LambdaContextStandIn())
        for replay in replays if index == 0 else ():
            replay.recording = False
    return {"cold_rss_kb": cold_kb, "warm_rss_kb": _resident_kb(), "requests": request["requests"]}


def main() -> None:
    """Time the import and the first request, then write them to the result file."""
    target, result_path = sys.argv[1], sys.argv[2]
    request = json.loads(sys.stdin.read() or "null")
    if target.startswith("memory:"):
        with open(result_path, "w") as stream:
            json.dump(_memory(target.removeprefix("memory:"), request), stream)
        return
    recorded = _record_calls() if os.environ.get("BENCH_RECORD_CALLS") else None
    started = time.perf_counter()
    status = None
    if target == "boto3-floor":
        import boto3

        imported = time.perf_counter()
        _floor_calls(request["calls"])
    elif target == "design-floor":
        import boto3  # noqa: F401
        from aws_lambda_powertools import Logger, Metrics  # noqa: F401
        from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: F401
        from pydantic import BaseModel  # noqa: F401

        imported = time.perf_counter()
        status = _status(_design_floor(request["calls"], request["event"]))
    else:
        from importlib import import_module

        handler = import_module(target).lambda_handler
        imported = time.perf_counter()
        status = _status(handler(request, LambdaContextStandIn()))
    finished = time.perf_counter()
    with open(result_path, "w") as stream:
        json.dump(
            {
                "import_ms": (imported - started) * 1000,
                "total_ms": (finished - started) * 1000,
                "status": status,
                "modules": sorted(sys.modules),
                "calls": recorded,
                "rss_kb": _resident_kb(),
            },
            stream,
        )


if __name__ == "__main__":
    main()
