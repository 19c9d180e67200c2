"""One cold start, in a fresh interpreter: run as a script by ``benchmarks.cold``.

It imports nothing of the project before its clock starts (the warm benchmark borrows only
its context class).

``cold_child.py floor RESULT``: import boto3 and create the DynamoDB client (the floor).
``cold_child.py MODULE RESULT`` (event on stdin): import the handler module, serve the event.
The clock starts before the first import; the result file gets the import and first-request
times and the response's status code (never its body, which may hold a new secret).
"""

import json
import sys
import time


class LambdaContextStandIn:
    """The attributes of Lambda's context object that the handlers read."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def main() -> None:
    """Time the import and the first request, then write them to the result file."""
    target, result_path = sys.argv[1], sys.argv[2]
    event = json.loads(sys.stdin.read() or "null")
    started = time.perf_counter()
    status = None
    if target == "floor":
        import boto3

        boto3.client("dynamodb")
        imported = time.perf_counter()
    else:
        from importlib import import_module

        handler = import_module(target).lambda_handler
        imported = time.perf_counter()
        response = handler(event, LambdaContextStandIn())
        status = response.get("statusCode") if isinstance(response, dict) else None
    finished = time.perf_counter()
    with open(result_path, "w") as stream:
        json.dump(
            {
                "import_ms": (imported - started) * 1000,
                "total_ms": (finished - started) * 1000,
                "status": status,
                "modules": sorted(sys.modules),
            },
            stream,
        )


if __name__ == "__main__":
    main()
