"""A small typed client of the App Tokens API (issue 17), over httpx, for scripts and other services.

Answers are parsed into the API's own response models (``shared.http.models`` and
``shared.http.token_models``), so a client and the server cannot disagree on a shape. A failed
answer is raised as an ``ApiError`` subclass carrying the contract's error body; a request that
never got an answer is ``Unreachable``.

Retries: only a 503, and only as its ``Retry-After`` says (or, without one, a doubling backoff),
for a bounded number of attempts. Our 503 means the store was not reached or nothing was
half-written (``shared.http.error_map``), so a create is retried on a 503 like every other call;
no other status and no transport failure is ever retried, since a create that timed out may
have landed. A ``Retry-After`` longer than ``RetryPolicy.max_delay`` is not waited out: the 503
is raised for the caller to decide.
Use: ``Client(api, token).tokens(org, app).create({"name": "ci"})``; ``whoami()`` names the org and app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from shared.http.models import (
    ErrorBody,
    TokenCreate,
    TokenCreated,
    TokensPublic,
    TokenVerification,
    ValidationErrorBody,
    ValidationErrorItem,
)
from shared.http.token_models import TokenHistoryPublic, TokenRead, WhoAmI

M = TypeVar("M", bound=BaseModel)
USER_AGENT = "app-tokens-client/0.1"
DEFAULT_TIMEOUT_SECONDS = 30.0


# ---- Errors ------------------------------------------------------------------------------------


class ClientError(Exception):
    """Anything that kept a call from succeeding."""


class Unreachable(ClientError):
    """No HTTP answer: the API could not be reached, or the connection failed or timed out."""


class ApiError(ClientError):
    """An HTTP answer other than the call's success, with the contract's error body when it has one.

    ``body`` is an ``ErrorBody`` (401, 403, 404, 409, 413, 5xx), a ``ValidationErrorBody`` (422),
    or ``None`` for an answer in neither shape (API Gateway's own, say); ``text`` is the raw body.
    """

    def __init__(self, status: int, body: ErrorBody | ValidationErrorBody | None, text: str) -> None:
        self.status = status
        self.body = body
        self.text = text
        super().__init__(f"HTTP {status}: {self.message}")

    @property
    def code(self) -> str | None:
        """The error's code (``FORBIDDEN``, ``RESOURCE_NOT_FOUND``, ...); ``None`` for a 422."""
        return self.body.error if isinstance(self.body, ErrorBody) else None

    @property
    def message(self) -> str:
        """The body's message, or for a 422 its problems, one ``where: what`` each."""
        if isinstance(self.body, ErrorBody):
            return self.body.message
        if isinstance(self.body, ValidationErrorBody):
            return "; ".join(f"{'.'.join(map(str, item.loc))}: {item.msg}" for item in self.body.detail)
        return self.text[:200] or "no body"

    @property
    def required_permission(self) -> str | None:
        """What a 403 says is missing (a permission, ``scopes:<scope>``, ``expires_at:later``...)."""
        if isinstance(self.body, ErrorBody):
            value = self.body.details.get("required_permission")
            return value if isinstance(value, str) else None
        return None

    @property
    def items(self) -> list[ValidationErrorItem]:
        """A 422's problems, each with its ``loc``; empty for any other error."""
        return list(self.body.detail) if isinstance(self.body, ValidationErrorBody) else []


class AuthenticationFailed(ApiError):
    """401: the caller's token is missing, malformed, unknown, expired, revoked or disabled."""


class PermissionDenied(ApiError):
    """403: the token lacks ``required_permission``."""


class NotFound(ApiError):
    """404: no such token in this org and app (or an org or app the token does not belong to)."""


class Conflict(ApiError):
    """409: another request changed the token first; read it again and retry."""


class PayloadTooLarge(ApiError):
    """413: the body is longer than any valid one."""


class InvalidRequest(ApiError):
    """422: the request broke a rule; ``items`` say where and why."""


class ServerError(ApiError):
    """5xx: the service failed or was busy (a 503 left after the retries)."""


_ERRORS: dict[int, type[ApiError]] = {
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
}


def error_for(response: httpx.Response) -> ApiError:
    """The typed error of a failed answer, its body parsed into the contract's model when it fits."""
    kind = _ERRORS.get(response.status_code, ServerError if response.status_code >= 500 else ApiError)
    model: type[ErrorBody | ValidationErrorBody] = (
        ValidationErrorBody if response.status_code == 422 else ErrorBody
    )
    try:
        body: ErrorBody | ValidationErrorBody | None = model.model_validate_json(response.content)
    except ValidationError:
        body = None
    return kind(response.status_code, body, response.text)


# ---- Calls and retries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call(Generic[M]):
    """One request of the API and the model of its success (``None``: a body-less 204)."""

    method: str
    path: str
    model: type[M] | None
    params: Mapping[str, str | int] = field(default_factory=dict)
    body: Any = None
    authenticated: bool = True


@dataclass(frozen=True)
class Reply(Generic[M]):
    """A successful answer: its status, its parsed model, and its JSON as sent (``None`` for a 204)."""

    status: int
    model: M | None
    json: Any


@dataclass(frozen=True)
class RetryPolicy:
    """How a 503 is retried: ``attempts`` in all, waiting ``Retry-After`` (or ``base_delay`` doubling).

    ``sleep`` is injected so that tests need not wait.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` not to retry this answer."""
        if response.status_code != 503 or attempt >= self.attempts:
            return None
        stated = _seconds(response.headers.get("Retry-After"))
        wait = self.base_delay * 2 ** (attempt - 1) if stated is None else stated
        return None if wait > self.max_delay else wait


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds; ``None`` when absent or not a number (an HTTP date is not used)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _segment(value: str) -> str:
    return quote(value, safe="")


def _given(**params: str | int | None) -> dict[str, str | int]:
    """The query parameters that have a value."""
    return {name: value for name, value in params.items() if value is not None}


# ---- The client --------------------------------------------------------------------------------


class Client:
    """The API at ``api`` (its base URL), called with ``token`` (``None``: only refresh and leak reports).

    ``http`` may be a configured ``httpx.Client`` (a transport, proxies, a timeout); the client
    closes only one it made itself.
    """

    def __init__(
        self,
        api: str,
        token: str | None,
        *,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._token = token
        self._retry = retry or RetryPolicy()
        self._owned = http is None
        self._http = http or httpx.Client(timeout=DEFAULT_TIMEOUT_SECONDS)
        self._api = api.rstrip("/")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the token
        return f"Client({self._api!r})"

    def close(self) -> None:
        """Close the HTTP connections, if this client opened them."""
        if self._owned:
            self._http.close()

    def execute(self, call: Call[M]) -> Reply[M]:
        """Send one call, retrying a 503 as the policy says; its reply, or the typed error."""
        attempt = 1
        while True:
            response = self._send(call)
            wait = self._retry.delay(response, attempt)
            if wait is None:
                break
            self._retry.sleep(wait)
            attempt += 1
        if response.is_error:
            raise error_for(response)
        if call.model is None or not response.content:
            return Reply(response.status_code, None, None)
        return Reply(response.status_code, call.model.model_validate_json(response.content), response.json())

    def _send(self, call: Call[Any]) -> httpx.Response:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if call.authenticated and self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            return self._http.request(
                call.method,
                self._api + call.path,
                params=dict(call.params),
                json=call.body,
                headers=headers,
            )
        except httpx.HTTPError as error:
            # The error's text names the URL and the failure, never a header: the token stays out.
            raise Unreachable(
                f"{call.method} {self._api}{call.path}: {type(error).__name__}: {error}"
            ) from None

    def _model(self, call: Call[M]) -> M:
        model = self.execute(call).model
        assert model is not None  # every call given to this has a model and a JSON answer
        return model

    def whoami(self) -> WhoAmI:
        """The caller's token, its org and app, its details (any valid token; no permission)."""
        return self._model(Call("GET", "/v1/whoami", WhoAmI))

    def tokens(self, org_id: str, app_id: str) -> AppTokens:
        """The token operations of one app."""
        return AppTokens(self, f"/v1/orgs/{_segment(org_id)}/apps/{_segment(app_id)}/tokens")


class AppTokens:
    """The operations on the tokens of one app; each has a ``*_call`` twin for ``Client.execute``."""

    def __init__(self, client: Client, path: str) -> None:
        self._client = client
        self.path = path

    def _one(self, token_id: str, suffix: str = "") -> str:
        return f"{self.path}/{_segment(token_id)}{suffix}"

    # The calls, for a caller that wants the answer's JSON as sent as well as its model.

    def list_call(
        self, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Call[TokensPublic]:
        return Call(
            "GET", self.path, TokensPublic, params=_given(status=status, limit=limit, next_token=cursor)
        )

    def get_call(self, token_id: str) -> Call[TokenRead]:
        return Call("GET", self._one(token_id), TokenRead)

    def create_call(self, body: TokenCreate | Mapping[str, Any]) -> Call[TokenCreated]:
        # A mapping goes as given: fields this TokenCreate does not know yet are the server's to judge.
        sent = (
            body.model_dump(mode="json", exclude_unset=True) if isinstance(body, TokenCreate) else dict(body)
        )
        return Call("POST", self.path, TokenCreated, body=sent)

    def update_call(self, token_id: str, changes: Mapping[str, Any]) -> Call[TokenRead]:
        return Call("PATCH", self._one(token_id), TokenRead, body=dict(changes))

    def revoke_call(self, token_id: str, reason: str | None = None, cascade: bool = False) -> Call[Any]:
        body = None if reason is None else {"reason": reason}
        return Call(
            "DELETE", self._one(token_id), None, params=_given(cascade="true" if cascade else None), body=body
        )

    def rotate_call(self, token_id: str, grace_seconds: int | None = None) -> Call[TokenCreated]:
        body = None if grace_seconds is None else {"expire_current_in_seconds": grace_seconds}
        return Call("POST", self._one(token_id, "/rotate"), TokenCreated, body=body)

    def history_call(
        self, token_id: str, limit: int | None = None, cursor: str | None = None
    ) -> Call[TokenHistoryPublic]:
        params = _given(limit=limit, next_token=cursor)
        return Call("GET", self._one(token_id, "/history"), TokenHistoryPublic, params=params)

    def refresh_call(self, token_id: str, refresh_token: str) -> Call[TokenCreated]:
        body = {"refresh_token": refresh_token}
        return Call("POST", self._one(token_id, "/refresh"), TokenCreated, body=body, authenticated=False)

    def verify_call(self, request: Mapping[str, Any]) -> Call[TokenVerification]:
        return Call("POST", f"{self.path}/verify", TokenVerification, body=dict(request))

    # The operations, answering their models.

    def list(
        self, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> TokensPublic:
        """One page of the app's tokens, newest first (``status``: active, disabled, expired, revoked)."""
        return self._client._model(self.list_call(status, limit, cursor))

    def iterate(self, status: str | None = None, limit: int | None = None) -> Iterator[TokensPublic]:
        """Every page, following ``next_token`` until there is none."""
        cursor: str | None = None
        while True:
            page = self.list(status, limit, cursor)
            yield page
            if page.next_token is None:
                return
            cursor = page.next_token

    def get(self, token_id: str) -> TokenRead:
        """One token and its details."""
        return self._client._model(self.get_call(token_id))

    def create(self, body: TokenCreate | Mapping[str, Any]) -> TokenCreated:
        """A new token; the answer holds its plaintext secrets, shown this once."""
        return self._client._model(self.create_call(body))

    def update(self, token_id: str, changes: Mapping[str, Any]) -> TokenRead:
        """Change the given fields (narrowing only); the token as it is now."""
        return self._client._model(self.update_call(token_id, changes))

    def disable(self, token_id: str) -> TokenRead:
        """Pause a token: it fails everywhere until enabled again."""
        return self.update(token_id, {"enabled": False})

    def enable(self, token_id: str) -> TokenRead:
        """Undo ``disable``."""
        return self.update(token_id, {"enabled": True})

    def revoke(self, token_id: str, reason: str | None = None, cascade: bool = False) -> None:
        """End a token at once (with ``cascade``, every token it created too). Idempotent."""
        self._client.execute(self.revoke_call(token_id, reason, cascade))

    def rotate(self, token_id: str, grace_seconds: int | None = None) -> TokenCreated:
        """New secrets; the old access secret works on for ``grace_seconds`` (default 0)."""
        return self._client._model(self.rotate_call(token_id, grace_seconds))

    def history(
        self, token_id: str, limit: int | None = None, cursor: str | None = None
    ) -> TokenHistoryPublic:
        """One page of what happened to the token, newest first."""
        return self._client._model(self.history_call(token_id, limit, cursor))

    def refresh(self, token_id: str, refresh_token: str) -> TokenCreated:
        """Trade a refresh token for a new pair (the refresh token is the credential)."""
        return self._client._model(self.refresh_call(token_id, refresh_token))

    def verify(self, request: Mapping[str, Any]) -> TokenVerification:
        """A decision on a token (``{"token": ..., "method": ..., "path": ...}``); needs app_tokens:verify."""
        return self._client._model(self.verify_call(request))
