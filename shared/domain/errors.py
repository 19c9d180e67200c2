"""The service's failures, as plain exceptions; ``shared.http.error_map`` turns them into responses."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every failure the API reports on purpose."""


class AuthenticationFailed(ServiceError):
    """No usable credential. One message for every cause, so it tells an attacker nothing."""

    def __init__(self, reason: str) -> None:
        # The reason is for our logs only; the response never carries it.
        super().__init__(reason)
        self.reason = reason


class Forbidden(ServiceError):
    """The caller is known but lacks ``required_permission`` (``resource:action``)."""

    def __init__(self, required_permission: str) -> None:
        super().__init__(required_permission)
        self.required_permission = required_permission


class ResourceError(ServiceError):
    """A failure about one resource, named by its type and id (the error's ``details``)."""

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(f"{resource_type} {resource_id}")
        self.resource_type = resource_type
        self.resource_id = resource_id


class NotFound(ResourceError):
    """The resource does not exist, or belongs to another organisation (indistinguishably)."""


class PayloadTooLarge(ServiceError):
    """A request body longer than the largest valid body of its route (413, refused unread)."""

    def __init__(self, max_bytes: int, content_length: int) -> None:
        super().__init__(f"{content_length} > {max_bytes} bytes")
        self.max_bytes = max_bytes
        self.content_length = content_length


class InvalidInput(ServiceError):
    """Input that passed the models but breaks a rule only the service can check (422).

    It names the input (``field``, e.g. ``expires_at``), not where a request carried it:
    the HTTP layer knows that (``shared.http.error_map.problem_of``).
    """

    def __init__(self, *, field: str, msg: str, error_type: str, value: Any, ctx: dict[str, Any]) -> None:
        super().__init__(msg)
        self.field = field
        self.msg = msg
        self.error_type = error_type
        self.value = value
        self.ctx = ctx


class Conflict(ResourceError):
    """Another request changed the resource between this one's read and its write (409)."""
