"""Authentication of the management API: the bearer token read, verified by the one core, and permitted.

Beside ``shared.services.verification``, whose :func:`verify` decides every token; the
HTTP layer (``shared.http.api``) calls these before any route runs.
"""

from __future__ import annotations

from shared.domain.crypto import ParsedSecret, SecretKind, parse_secret
from shared.domain.errors import AuthenticationFailed, Forbidden
from shared.domain.networks import IP_ALLOWLIST_FIELD, shown_source
from shared.domain.permissions import has_permission
from shared.domain.principals import Principal
from shared.domain.records import TokenRecord
from shared.services.deps import VerifyDeps
from shared.services.verification import Origin, RequestContext, VerifyCode, verify


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, unchecked; ``None`` otherwise."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def parse_bearer(authorization: str | None) -> ParsedSecret:
    """The access token in an ``Authorization: Bearer`` header, checked for shape and checksum only.

    Needs neither the database nor the hashing key, so a missing or malformed
    credential is a 401 even when the key store is unreachable.
    """
    if not authorization:
        raise AuthenticationFailed("missing")
    presented = bearer_credential(authorization)
    parsed = parse_secret(presented) if presented is not None else None
    if parsed is None or parsed.kind is not SecretKind.ACCESS:
        raise AuthenticationFailed("malformed")
    return parsed


def verify_access(
    deps: VerifyDeps,
    presented: ParsedSecret,
    path: str | None = None,
    *,
    method: str | None = None,
    origin: Origin | None = None,
) -> TokenRecord:
    """The live token behind a well-formed access secret, decided by the one verification core.

    One strongly consistent GetItem (and ``last_used_at`` at most once a minute). Rate
    limits guard the APIs a token is for, not the management of tokens, so they are not
    spent here: a management request stays within its two DynamoDB calls. A token whose
    ``endpoint_paths`` do not allow ``path`` is known but refused: 403 naming the path; one
    used from outside its ``ip_allowlist`` is a 403 naming the address (``ip_allowlist:<address>``).
    """
    context = RequestContext.of(method=method, path=path, spend_rate_limit=False, origin=origin)
    verdict = verify(deps, presented.plaintext, context)
    if verdict.code is VerifyCode.FORBIDDEN_IP:
        # Known but refused where it comes from (issue 16): 403 naming the address, checked first.
        raise Forbidden(f"{IP_ALLOWLIST_FIELD}:{shown_source(origin.source_ip if origin else None)}")
    if verdict.code is VerifyCode.FORBIDDEN_PATH:
        raise Forbidden(f"endpoint_paths:{path or ''}")
    if not verdict.valid or verdict.token is None:
        raise AuthenticationFailed(verdict.code.value.lower())
    return verdict.token


def require_permission(caller: Principal, permission: str) -> None:
    """403 unless the caller holds ``permission``."""
    if not has_permission(caller.permissions, permission):
        raise Forbidden(permission)
