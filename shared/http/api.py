"""The HTTP side of every function: one resolver setup, authentication first, one error map.

Powertools validates a request before any middleware runs, so authentication and
the permission check happen here, before ``resolve``: an unauthenticated request
with a bad body is a 401, not a 422.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from annotated_types import MaxLen
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.errors import AuthenticationFailed, InvalidInput, PayloadTooLarge, ServiceError
from shared.domain.observability import count, logger, traced
from shared.domain.principals import Principal, vouched_caller
from shared.entry.runtime import Runtime, get_runtime
from shared.http.error_map import InvalidRequest, error_response, located, to_response, validation_response
from shared.http.models import PATH_ID_PATTERN, RequestBody
from shared.http.request import header
from shared.services.authentication import parse_bearer, require_permission, verify_access

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@dataclass(frozen=True)
class RequestScope:
    """What a route needs beyond its parameters: the collaborators and the authenticated caller."""

    runtime: Runtime
    caller: Principal | None


# Not Powertools' router context: including a router in a second resolver (the OpenAPI
# document does) rebinds that context, so one request's scope lives here instead.
_scope: ContextVar[RequestScope] = ContextVar("request_scope")


def request_scope() -> RequestScope:
    """The scope of the request being routed."""
    return _scope.get()


@dataclass(frozen=True)
class Operation:
    """One API operation: its routes and the permission a bearer token needs for it.

    ``permission`` is ``None`` for an operation whose body carries its own credential
    (the refresh route): no ``Authorization`` header is read.
    """

    name: str
    permission: str | None
    router: Router


def new_resolver(locations: Mapping[str, str] | None = None) -> APIGatewayRestResolver:
    """A REST resolver whose every failure, its own included, comes out in the seed's shapes.

    ``locations`` says where each input of its routes comes from (:func:`input_locations`):
    a use case's ``InvalidInput`` names its field, the 422 says where the request had it.
    """
    resolver = APIGatewayRestResolver(
        enable_validation=True,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        debug=False,
    )

    @resolver.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        return validation_response(error.errors())

    @resolver.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content(error: RequestUnsupportedContentType) -> Response[str]:
        return validation_response(error.errors())

    @resolver.exception_handler(ResponseValidationError)
    def _invalid_response(error: ResponseValidationError) -> Response[str]:
        # Our own model failed: say where, never what (the data may hold a secret).
        logger.error("response failed its model", extra={"locations": [e.get("loc") for e in error.errors()]})
        return error_response(500)

    @resolver.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[str]:
        if isinstance(error, AuthenticationFailed):
            _note_failed_authentication(error)
        if isinstance(error, InvalidInput):
            return to_response(located(error, locations or {}))
        return to_response(error)

    @resolver.not_found
    def _no_route(_: NotFoundError) -> Response[str]:
        # API Gateway routed the request here, so its resource matched; Powertools' own route
        # regex then refuses path ids with characters such as '#' or '\\'. Those ids are malformed
        # (a 422 at the path, as the contract says), not a missing route.
        malformed = _unroutable_path_parameter(resolver.current_event.path_parameters)
        if malformed is not None:
            return validation_response([malformed])
        return error_response(404, {"resource_type": "route", "resource_id": resolver.current_event.path})

    @resolver.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected failure", extra={"error_type": type(error).__name__})
        return to_response(error)  # a persistent DynamoDB throttle or timeout is a 503, else a 500

    return resolver


_PATH_ID = re.compile(PATH_ID_PATTERN)


def _unroutable_path_parameter(parameters: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The 422 item for the first path parameter that no id of ours can be, if any."""
    for name, value in (parameters or {}).items():
        if not _PATH_ID.fullmatch(value):
            return {
                "loc": ["path", name],
                "msg": f"String should match pattern '{_PATH_ID.pattern}'",
                "type": "string_pattern_mismatch",
                "input": value,
                "ctx": {"pattern": _PATH_ID.pattern},
            }
    return None


def _note_failed_authentication(failure: AuthenticationFailed) -> None:
    # The cause is ours to know; the client gets the same 401 whatever it was.
    logger.info("authentication failed", extra={"reason": failure.reason})
    count("AuthenticationFailures")


# A JSON integer with more digits than this cannot be valid anywhere in the API (the largest limit
# has 7): refused while parsing, before Python's int() meets thousands of digits (a ValueError).
MAX_INTEGER_DIGITS = 20


def _refuse_constant(name: str) -> Any:
    raise InvalidRequest(
        ("body",),
        f"JSON does not allow {name} (RFC 8259)",
        "json_invalid",
        name,
        {"error": "non-finite number"},
    )


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidRequest(
            ("body",),
            f"Number should have at most {MAX_INTEGER_DIGITS} digits",
            "json_invalid",
            text,
            {"max_digits": MAX_INTEGER_DIGITS},
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e309: valid JSON, but no float holds it
        raise InvalidRequest(("body",), "Number is out of range", "json_invalid", text, {"error": "overflow"})
    return value


def _parse_json(body: str) -> Any:
    try:
        return json.loads(
            body, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_refuse_constant
        )
    except RecursionError:
        # json.loads recurses once per level: JSON nested deeper than the interpreter's recursion
        # limit (about 1,000) raises inside Powertools' parsing, which would be a 500.
        raise InvalidRequest(("body",), "JSON is nested too deeply", "json_too_deep", None, {}) from None


def _too_long(loc: tuple[str, ...], kind: str, limit: int, actual: int) -> InvalidRequest:
    return InvalidRequest(
        loc,
        f"{kind} should have at most {limit} {'items' if kind == 'List' else 'members'}, not {actual}",
        "too_long",
        None,
        {"field_type": kind, "max_length": limit, "actual_length": actual},
    )


def _check_shape(parsed: Any, model: type[RequestBody]) -> None:
    """Refuse objects and lists larger than the model allows before pydantic walks them.

    pydantic reports every unknown key and every bad list item: 400,000 keys make 400,000
    errors. No valid body has more members than the model has fields, nor a list longer than
    its field allows, so one error says it.
    """
    if not isinstance(parsed, dict):
        # Every body of this API is an object; revoke's is optional, so it may be absent, but a JSON
        # `null` is no more an object than an array (Powertools took `[null, null]` for no body,
        # and the document says an optional body is `required: false`, not nullable).
        raise InvalidRequest(
            ("body",),
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
            parsed,
            {},
        )
    fields = model.model_fields
    if len(parsed) > len(fields):
        raise _too_long(("body",), "Object", len(fields), len(parsed))
    for name, value in parsed.items():
        field = fields.get(name)
        if field is None or not isinstance(value, list):
            continue
        for limit in field.metadata:
            if isinstance(limit, MaxLen) and len(value) > limit.max_length:
                raise _too_long(("body", name), "List", limit.max_length, len(value))


def _check_body(event: Mapping[str, Any], model: type[RequestBody] | None) -> None:
    """Refuse, in our shapes, what the resolver would spend on or turn into a 500.

    In this order: a body larger than the largest valid one (413, unread), bytes that are not
    UTF-8, a media type other than JSON, JSON that Python cannot hold (too deep, huge integers,
    NaN and Infinity), and objects or lists larger than the model allows.
    """
    body = event.get("body")
    if not body:
        return
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                ("body",), "Body must be UTF-8 encoded JSON", "utf8_invalid", None, {}
            ) from None
    else:
        raw = str(body).encode("utf-8", "surrogatepass")
    limit = model.MAX_BODY_BYTES if model is not None else 0
    if len(raw) > limit:
        raise PayloadTooLarge(limit, len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(("body",), "Body must be UTF-8 encoded JSON", "utf8_invalid", None, {}) from None
    _check_media_type(event)
    try:
        parsed = _parse_json(text)
    except ValueError:
        return  # malformed JSON: Powertools reports it, with the position
    assert model is not None  # a route without a body model has refused every body above
    _check_shape(parsed, model)


# The one media type a body may have; RFC 8259 JSON is UTF-8, so charset may only say that.
_JSON_MEDIA_TYPE = re.compile(r'application/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?', re.IGNORECASE)


def _check_media_type(event: Mapping[str, Any]) -> None:
    content_type = (header(event, "content-type") or "application/json").strip()
    if not _JSON_MEDIA_TYPE.fullmatch(content_type):
        raise InvalidRequest(
            ("header", "content-type"),
            "Content-Type must be application/json (charset, if given, utf-8)",
            "content_type_unsupported",
            content_type,
            {"expected": "application/json"},
        )
    _lower_content_type(event)


def _lower_content_type(event: Mapping[str, Any]) -> None:
    """Media types are case-insensitive (RFC 9110), but Powertools compares ``application/json`` as is."""
    for field in ("headers", "multiValueHeaders"):
        headers = event.get(field)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if name.lower() == "content-type":
                headers[name] = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()


def _proxy_result(response: Response[str]) -> dict[str, Any]:
    """An API Gateway proxy result for a response made before the resolver runs."""
    headers: dict[str, list[str]] = {
        key: [value] for key, value in response.headers.items() if isinstance(value, str)
    }
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": headers,
        "body": response.body,
        "isBase64Encoded": False,
    }


def _authenticate(runtime: Runtime, event: Mapping[str, Any]) -> Principal:
    settings = runtime.settings
    vouched = vouched_caller(settings.trusted_authorizer, settings.claim_names, event.get("requestContext"))
    if vouched is not None:
        return vouched
    presented = parse_bearer(header(event, "authorization"))
    with traced("authenticate"):
        # The management API is an API too: a token's endpoint_paths decide whether it may call it.
        return verify_access(runtime, presented, event.get("path"))


def _authorize(runtime: Runtime, event: Mapping[str, Any], permission: str) -> Principal:
    caller = _authenticate(runtime, event)
    logger.append_keys(caller_token_id=caller.token_id, caller_user_id=caller.owner_id, org_id=caller.org_id)
    require_permission(caller, permission)
    return caller


def body_model(router: Router) -> type[RequestBody] | None:
    """The request body model of a router's routes, read from the ``body`` parameter's annotation."""
    for route in router._routes.values():  # Powertools keeps a router's routes only here
        annotation = get_type_hints(route, include_extras=True).get("body")
        if annotation is None:
            continue
        # Annotated[TokenCreate, Body()] or Annotated[TokenRevoke | None, Body()]
        declared = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
        for candidate in get_args(declared) or (declared,):
            if isinstance(candidate, type) and issubclass(candidate, RequestBody):
                return candidate
    return None


def input_locations(router: Router) -> dict[str, str]:
    """Where each input of a router's routes comes from: a route parameter's ``query`` or ``path``,
    or ``body`` for a field of its body model (a parameter wins over a body field of its name)."""
    locations: dict[str, str] = {}
    model = body_model(router)
    if model is not None:
        locations.update(dict.fromkeys(model.model_fields, "body"))
    for route in router._routes.values():  # Powertools keeps a router's routes only here
        for name, annotation in get_type_hints(route, include_extras=True).items():
            for marker in getattr(annotation, "__metadata__", ()):
                if isinstance(marker, Query | Path):
                    locations[name] = "query" if isinstance(marker, Query) else "path"
    return locations


def build_handler(operation: Operation) -> LambdaHandler:
    """The ``lambda_handler`` body of one function: authenticate, authorize, then route."""
    resolver = new_resolver(input_locations(operation.router))
    resolver.include_router(operation.router)
    model = body_model(operation.router)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            runtime = get_runtime()
            caller = (
                None if operation.permission is None else _authorize(runtime, event, operation.permission)
            )
            # Checked here, whole: Powertools matches routes with a regex ending in `$`, which also
            # matches before a trailing newline, so `<id>%0A` would have acted on `<id>`.
            malformed = _unroutable_path_parameter(event.get("pathParameters"))
            if malformed is not None:
                return _proxy_result(validation_response([malformed]))
            _check_body(event, model)
        except ServiceError as error:
            if isinstance(error, AuthenticationFailed):
                _note_failed_authentication(error)
            return _proxy_result(to_response(error))
        except Exception as error:
            logger.exception("unexpected failure before routing", extra={"error_type": type(error).__name__})
            return _proxy_result(to_response(error))
        token = _scope.set(RequestScope(runtime=runtime, caller=caller))
        try:
            return resolver.resolve(event, context)
        finally:
            _scope.reset(token)

    return handle
