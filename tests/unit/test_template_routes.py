"""How the local tools read a SAM template, and how the local server routes by it.

``tests/unit/test_template.py`` checks that the real template.yaml agrees with the
routers and the repository; these tests pin down the reading itself on a small
template, and the local server's routing on the real one.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from devtools.embedded import use_local_aws_defaults
from devtools.local_api import LocalApi, proxy_reply
from devtools.template import Route, TemplateError, functions, load_template
from shared.entry.runtime import Runtime
from shared.http.catalog import OPERATIONS
from shared.services.tokens import create_token
from tests.conftest import TOKENS_URL

SMALL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level: {Type: String, Default: DEBUG}
  Days: {Type: Number, Default: 30}
  Secret: {Type: String}
  Tracing: {Type: String, Default: "false"}
  Every: {Type: String, Default: rate(1 hour)}
Conditions:
  TracingOn: !Equals [!Ref Tracing, "true"]
  TracingOff: !Not [!Condition TracingOn]
Globals:
  Function:
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        LEVEL: !Ref Level
        TOKEN_HASH_KEY_PARAMETER: /app-tokens/key
        SHARED: from-globals
        TRACE_DISABLED: !If [TracingOn, "false", "true"]
        TRACE_OFF: !If [TracingOff, "yes", "no"]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Queue:
    Type: AWS::SQS::Queue
  ThingsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/things/
      Handler: app.lambda_handler
      Environment:
        Variables:
          SHARED: own
          DAYS: !Ref Days
          COUNT: 3
          ENABLED: true
          ARN: !GetAtt Table.Arn
          QUEUE: !Ref Queue
          SECRET: !Ref Secret
          REGION: !Sub "${AWS::Region}"
      Events:
        Get:
          Type: Api
          Properties: {Path: "/v1/things/{thing_id}", Method: get}
        Files:
          Type: Api
          Properties: {Path: "/files/{proxy+}", Method: ANY}
  NightlyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./
      Handler: nightly.run
      Events:
        V2: {Type: ScheduleV2, Properties: {ScheduleExpression: !Ref Every}}
        V1: {Type: Schedule, Properties: {Schedule: "cron(0 3 * * ? *)"}}
  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/stream
      Handler: app.handle
      Events:
        Changes: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn}}
"""


@pytest.fixture
def small(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL_TEMPLATE)
    return load_template(path)


def test_short_tags_become_plain_intrinsics(small: dict[str, Any]) -> None:
    variables = small["Resources"]["ThingsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ARN"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert variables["DAYS"] == {"Ref": "Days"}
    assert variables["REGION"] == {"Fn::Sub": "${AWS::Region}"}
    assert small["Conditions"]["TracingOff"] == {"Fn::Not": [{"Condition": "TracingOn"}]}


def test_handlers_come_from_code_uri_and_handler(small: dict[str, Any]) -> None:
    specs = functions(small)
    assert set(specs) == {"ThingsFunction", "NightlyFunction", "StreamFunction"}
    assert (specs["ThingsFunction"].module, specs["ThingsFunction"].attribute) == (
        "functions.things.app",
        "lambda_handler",
    )
    assert (specs["NightlyFunction"].module, specs["NightlyFunction"].attribute) == ("nightly", "run")
    assert specs["StreamFunction"].module == "functions.stream.app"


def test_the_environment_is_resolved_for_a_local_run(
    small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLE_NAME")
    assert functions(small)["ThingsFunction"].environment == {
        "TABLE_NAME": "app-tokens",  # the table's local name, not CloudFormation's
        "LEVEL": "DEBUG",  # a parameter's default
        "SHARED": "own",  # the function's own value wins over Globals
        "TRACE_DISABLED": "true",  # !If on the defaults
        "TRACE_OFF": "yes",
        "DAYS": "30",
        "COUNT": "3",
        "ENABLED": "true",
    }  # left out: the key's SSM parameter, !GetAtt, a Ref to a queue or to a parameter without default, !Sub


def test_the_table_is_the_one_the_user_named(small: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "mine")
    assert functions(small)["NightlyFunction"].environment["TABLE_NAME"] == "mine"


def test_api_and_schedule_events(small: dict[str, Any]) -> None:
    specs = functions(small)
    assert [(r.method, r.path) for r in specs["ThingsFunction"].routes] == [
        ("GET", "/v1/things/{thing_id}"),
        ("ANY", "/files/{proxy+}"),
    ]
    assert [(s.name, s.expression) for s in specs["NightlyFunction"].schedules] == [
        ("V2", "rate(1 hour)"),
        ("V1", "cron(0 3 * * ? *)"),
    ]
    assert specs["StreamFunction"].routes == () and specs["StreamFunction"].event_types == ("DynamoDB",)


def test_route_matching() -> None:
    one = Route(method="GET", path="/v1/things/{thing_id}", function="F")
    assert one.matches("GET", "/v1/things/t-1") == {"thing_id": "t-1"}
    assert one.matches("get", "/v1/things/t-1") == {"thing_id": "t-1"}
    assert one.matches("POST", "/v1/things/t-1") is None
    assert one.matches("GET", "/v1/things/a/b") is None  # one segment only
    assert one.matches("GET", "/v1/things/") is None
    greedy = Route(method="ANY", path="/files/{proxy+}", function="F")
    assert greedy.matches("DELETE", "/files/a/b.txt") == {"proxy": "a/b.txt"}
    assert greedy.matches("GET", "/files/") is None


def test_a_missing_or_broken_template_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("Resources: [unclosed")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_template(tmp_path / "bad.yaml")


def test_the_real_template_routes_every_operation_once() -> None:
    template_routes = [route for spec in functions(load_template()).values() for route in spec.routes]
    found = [(route.method, route.path) for route in template_routes if route.authorizer is None]
    assert len(found) == len(set(found)) == sum(len(op.router._routes) for op in OPERATIONS)
    guarded = {
        (route.path, route.function, route.authorizer) for route in template_routes if route.authorizer
    }
    assert guarded == {
        ("/v1/hello", "ExampleProtectedFunction", "AuthorizeFunction"),
        ("/v1/workspaces/{workspace_id}/hello", "ExampleProtectedFunction", "AuthorizeFunction"),
    }


# The local server, in process, on the real template.


@pytest.fixture(scope="module")
def local_api() -> LocalApi:
    return LocalApi(list(functions(load_template()).values()))


def _json(reply: tuple[int, list[tuple[str, str]], bytes]) -> tuple[int, Any]:
    status, _, body = reply
    return status, json.loads(body) if body else None


def test_the_local_server_routes_to_the_handlers(local_api: LocalApi, runtime: Runtime) -> None:
    from tests.conftest import mint_admin

    admin = mint_admin(runtime, "acme", "billing", ["*"])
    bearer = [("Authorization", f"Bearer {admin.plaintext_token}"), ("Content-Type", "application/json")]
    status, page = _json(local_api.respond("GET", f"{TOKENS_URL}?limit=5", bearer, b""))
    assert status == 200 and [t["token_id"] for t in page["tokens"]] == [admin.token.token_id]
    status, created = _json(local_api.respond("POST", TOKENS_URL, bearer, b'{"name": "x"}'))
    assert status == 201
    status, body = _json(
        local_api.respond("DELETE", f"{TOKENS_URL}/{created['token']['token_id']}", bearer, b"")
    )
    assert (status, body) == (204, None)
    status, problem = _json(local_api.respond("GET", f"{TOKENS_URL}?limit=0", bearer, b""))
    assert status == 422 and problem["detail"][0]["loc"] == ["query", "limit"]


def test_the_local_server_puts_the_authorizer_in_front_of_the_example_api(
    local_api: LocalApi, runtime: Runtime
) -> None:
    from tests.conftest import issue, mint_admin, spec_of, with_authorizer_environment

    # The template's authorizer environment as the local server applies it: org demo, app demo-app.
    environment = functions(load_template())["AuthorizeFunction"].environment
    runtime.settings = with_authorizer_environment(runtime.settings, environment)
    admin = mint_admin(runtime, "demo", "demo-app", ["*"])
    hello_only = create_token(
        runtime,
        admin.token,
        "demo",
        "demo-app",
        spec_of({"name": "hello-only", "endpoint_paths": ["/v1/hello"]}),
    )
    assert _json(local_api.respond("GET", "/v1/hello", [], b"")) == (401, {"message": "Unauthorized"})
    bearer = [("Authorization", f"Bearer {hello_only.plaintext_token}")]
    status, body = _json(local_api.respond("GET", "/v1/hello", bearer, b""))
    assert (status, body["caller"]["token_id"]) == (200, hello_only.token.token_id)
    refused = _json(local_api.respond("GET", "/v1/workspaces/ws1/hello", bearer, b""))
    assert refused == (403, {"message": "Forbidden", "code": "FORBIDDEN_PATH"})
    # Closed by default: another org's live admin token is no credential for the demo org's API.
    other_org = issue(runtime, mint_admin(runtime, "acme", "billing", ["*"]))
    stranger = [("Authorization", f"Bearer {other_org.plaintext_token}")]
    assert _json(local_api.respond("GET", "/v1/hello", stranger, b"")) == (401, {"message": "Unauthorized"})


def test_the_local_403_is_the_templates_gateway_response() -> None:
    api = load_template()["Resources"]["ExampleApi"]["Properties"]
    denied = api["GatewayResponses"]["ACCESS_DENIED"]
    rendered = denied["ResponseTemplates"]["application/json"].replace(
        "$context.authorizer.code", "RATE_LIMITED"
    )
    assert (denied["StatusCode"], json.loads(rendered)) == (
        403,
        {"message": "Forbidden", "code": "RATE_LIMITED"},
    )


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nothing"), ("PUT", "/v1/nothing"), ("GET", "/")])
def test_unrouted_requests_are_our_404(local_api: LocalApi, method: str, path: str) -> None:
    status, body = _json(local_api.respond(method, path, [], b""))
    assert status == 404
    assert body["error"] == "RESOURCE_NOT_FOUND"
    assert body["details"] == {"resource_type": "route", "resource_id": path}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", TOKENS_URL, ["GET", "POST"]),
        ("BREW", TOKENS_URL, ["GET", "POST"]),
        # A literal segment wins, as in API Gateway: not the token "verify" of /tokens/{token_id}.
        ("DELETE", TOKENS_URL + "/verify", ["POST"]),
        ("POST", TOKENS_URL + "/some-id", ["DELETE", "GET", "PATCH"]),
        ("DELETE", TOKENS_URL + "/some-id/history", ["GET"]),
        ("POST", "/v1/whoami", ["GET"]),
    ],
)
def test_another_method_on_a_known_path_is_our_405(
    local_api: LocalApi, method: str, path: str, allowed: list[str]
) -> None:
    status, headers, raw = local_api.respond(method, path, [], b"")
    body = json.loads(raw)
    assert (status, body["error"], body["details"]) == (
        405,
        "METHOD_NOT_ALLOWED",
        {"allowed_methods": allowed},
    )
    assert ("Allow", ", ".join(allowed)) in headers


def test_the_docs_are_served(local_api: LocalApi) -> None:
    status, headers, body = local_api.respond("GET", "/docs", [], b"")
    assert status == 200 and ("Content-Type", "text/html; charset=utf-8") in headers
    assert b"SwaggerUIBundle" in body
    assert b"<script src=" not in body and b"<link " not in body  # the assets are inline: no CDN
    for target in ("/openapi.json", "/docs?format=json"):  # the second is where Swagger UI's URL bar points
        status, document = _json(local_api.respond("GET", target, [], b""))
        assert status == 200 and document["info"]["title"] == "App Tokens"


def test_proxy_results_become_http_replies() -> None:
    status, headers, body = proxy_reply(
        {
            "statusCode": 200,
            "headers": {"Content-Type": "text/plain", "X-One": "single"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-one": ["multi"]},
            "body": base64.b64encode(b"\xff\x00").decode(),
            "isBase64Encoded": True,
        }
    )
    assert status == 200 and body == b"\xff\x00"
    assert headers == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("x-one", "multi"),
        ("Content-Type", "text/plain"),
    ]
    assert proxy_reply({"statusCode": 204, "body": None}) == (204, [], b"")


AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


@pytest.fixture
def bare_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS variable and an empty home: a developer machine that never saw AWS."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def test_a_machine_without_aws_gets_local_credentials(bare_aws: pytest.MonkeyPatch) -> None:
    use_local_aws_defaults()
    assert os.environ["AWS_ACCESS_KEY_ID"] == os.environ["AWS_SECRET_ACCESS_KEY"] == "local"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"


def test_the_users_own_aws_setup_is_left_alone(bare_aws: pytest.MonkeyPatch) -> None:
    bare_aws.setenv("AWS_PROFILE", "dev")
    bare_aws.setenv("AWS_REGION", "eu-west-1")
    use_local_aws_defaults()
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_DEFAULT_REGION" not in os.environ
