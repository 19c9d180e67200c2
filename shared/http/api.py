"""The HTTP side of every function: one resolver setup, authentication first, one error map.

Powertools validates a request before any middleware runs, so authentication and
the permission check happen here, before ``resolve``: an unauthenticated request
with a bad body is a 401, not a 422. The body guards that run then are in ``shared.http.body``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Annotated, Any, Protocol, get_args, get_origin, get_type_hints

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

from shared.domain.errors import AuthenticationFailed, InvalidInput, ServiceError
from shared.domain.observability import count, logger, traced
from shared.domain.principals import Principal, vouched_caller
from shared.domain.settings import Settings, get_settings
from shared.http.body import check_body
from shared.http.cors import with_cors
from shared.http.error_map import error_response, located, to_response, validation_response
from shared.http.models import PATH_ID_PATTERN, RequestBody
from shared.http.request import header, request_origin
from shared.services.authentication import parse_bearer, require_permission, verify_access
from shared.services.canary import CanaryUse
from shared.services.deps import Deps

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class HttpDeps(Deps, Protocol):
    """What the HTTP layer and its routes use of the running function (``shared.entry.runtime.Runtime``):
    the use cases' collaborators and the settings.

    Declared here, not imported from the entry layer, which sits above this one and hands it in.
    """

    @property
    def settings(self) -> Settings: ...


@dataclass(frozen=True)
class RequestScope:
    """What a route needs beyond its parameters: the collaborators and the authenticated caller."""

    runtime: HttpDeps
    caller: Principal | None
    # Issue 16: where the request comes from, for the routes whose body is a credential (refresh, the
    # leak report): a canary presented there trips with these facts.
    use: CanaryUse = field(default_factory=CanaryUse)


# Not Powertools' router context: including a router in a second resolver (the OpenAPI
# document does) rebinds that context, so one request's scope lives here instead.
_scope: ContextVar[RequestScope] = ContextVar("request_scope")


def request_scope() -> RequestScope:
    """The scope of the request being routed."""
    return _scope.get()


class Access(Enum):
    """An operation's access rule that is not a permission (see :class:`Operation`)."""

    # Any valid bearer token, whatever it may do (whoami: a token may always learn what it is).
    AUTHENTICATED = "authenticated"


# The Operation.permission of a route any valid token may call.
ANY_VALID_TOKEN = Access.AUTHENTICATED


@dataclass(frozen=True)
class Operation:
    """One API operation: its routes and the permission a bearer token needs for it.

    ``permission`` is one of three kinds: a permission string (the bearer token is
    authenticated and must hold it); ``ANY_VALID_TOKEN`` (authenticated, no permission
    needed: whoami); ``None`` for an operation whose body carries its own credential
    (the refresh route): no ``Authorization`` header is read.
    """

    name: str
    permission: str | Access | None
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


def _authenticate(runtime: HttpDeps, event: Mapping[str, Any]) -> Principal:
    settings = runtime.settings
    vouched = vouched_caller(settings.trusted_authorizer, settings.claim_names, event.get("requestContext"))
    if vouched is not None:
        return vouched
    presented = parse_bearer(header(event, "authorization"))
    with traced("authenticate"):
        # The management API is an API too: a token's endpoint_paths decide whether it may call it.
        return verify_access(
            runtime,
            presented,
            event.get("path"),
            method=str(event.get("httpMethod") or "") or None,
            origin=request_origin(event),
        )


def _request_use(event: Mapping[str, Any]) -> CanaryUse:
    """Where the request comes from, its method and path (a canary trip's facts)."""
    origin = request_origin(event)
    method, path = event.get("httpMethod"), event.get("path")
    return CanaryUse(
        source_ip=origin.source_ip,
        user_agent=origin.user_agent,
        method=method if isinstance(method, str) else None,
        path=path if isinstance(path, str) else None,
    )


def _authorize(
    runtime: HttpDeps, event: Mapping[str, Any], permission: str | Access | None
) -> Principal | None:
    """The caller the operation's access rule admits (``None`` when it reads no header), else a 401/403."""
    if permission is None:
        return None
    caller = _authenticate(runtime, event)
    logger.append_keys(caller_token_id=caller.token_id, caller_user_id=caller.owner_id, org_id=caller.org_id)
    if isinstance(permission, str):
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


def build_handler(operation: Operation, collaborators: Callable[[], HttpDeps]) -> LambdaHandler:
    """The ``lambda_handler`` body of one function: authenticate, authorize, then route.

    ``collaborators`` is asked once per request (the entry layer passes ``get_runtime``), so that a
    runtime replaced between requests (tests, the local server) is the one used.
    """
    resolver = new_resolver(input_locations(operation.router))
    resolver.include_router(operation.router)
    model = body_model(operation.router)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Every answer, the early refusals too, carries the console origin's CORS headers (issue 17).
        return with_cors(answer(event, context), event, get_settings().console_origin)

    def answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            runtime = collaborators()
            caller = _authorize(runtime, event, operation.permission)
            # Checked here, whole: Powertools matches routes with a regex ending in `$`, which also
            # matches before a trailing newline, so `<id>%0A` would have acted on `<id>`.
            malformed = _unroutable_path_parameter(event.get("pathParameters"))
            if malformed is not None:
                return _proxy_result(validation_response([malformed]))
            check_body(event, model)
        except ServiceError as error:
            if isinstance(error, AuthenticationFailed):
                _note_failed_authentication(error)
            return _proxy_result(to_response(error))
        except Exception as error:
            logger.exception("unexpected failure before routing", extra={"error_type": type(error).__name__})
            return _proxy_result(to_response(error))
        token = _scope.set(RequestScope(runtime=runtime, caller=caller, use=_request_use(event)))
        try:
            return resolver.resolve(event, context)
        finally:
            _scope.reset(token)

    return handle
