"""How the remote commands of ``app-tokens`` show an answer to a person: tables and ``key  value`` lines.

Times are shown relative and absolute (``in 29 days (2027-01-01 00:00 UTC)``), as the console
shows them. Nothing here ever receives a secret: the plaintexts are printed by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from shared.http.models import AppTokenPublic
from shared.http.token_models import HistoryEventPublic, TokenDetailsPublic, TokenRead, WhoAmI

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def relative(moment: str | None, now: datetime | None = None) -> str:
    """``in 3 days``, ``5 minutes ago``, ``now``; ``never`` for ``None``. The largest whole unit."""
    if moment is None:
        return "never"
    then = datetime.fromisoformat(moment)
    seconds = int((then - (now or datetime.now(UTC))).total_seconds())
    for unit, size in _UNITS:
        count = abs(seconds) // size
        if count:
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "now"


def when(moment: str | None, now: datetime | None = None) -> str:
    """Relative and absolute: ``in 29 days (2027-01-01 00:00 UTC)``; ``never`` for ``None``."""
    if moment is None:
        return "never"
    absolute = datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{relative(moment, now)} ({absolute})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


def status_of(token: AppTokenPublic, now: datetime | None = None) -> str:
    """A listed token's status as its fields tell it (a list has no details; disabled is not shown there)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and datetime.fromisoformat(token.expires_at) <= (
        now or datetime.now(UTC)
    ):
        return "expired"
    return "active"


def token_table(tokens: Sequence[AppTokenPublic], now: datetime | None = None) -> str:
    """The list: id, name, status, expiry and last use (relative and absolute)."""
    rows = [
        [t.token_id, t.name, status_of(t, now), when(t.expires_at, now), when(t.last_used_at, now)]
        for t in tokens
    ]
    return table(["ID", "NAME", "STATUS", "EXPIRES", "LAST USED"], rows) if rows else "no tokens"


def _lines(pairs: Sequence[tuple[str, str]]) -> str:
    return table(["FIELD", "VALUE"], [[k, v] for k, v in pairs]).split("\n", 1)[1]


def _listed(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


def _token_pairs(token: AppTokenPublic, details: TokenDetailsPublic) -> list[tuple[str, str]]:
    pairs = [
        ("id", token.token_id),
        ("name", token.name),
        ("description", token.description or "-"),
        ("status", details.status),
        ("permissions", _listed(token.permissions)),
        ("scopes", _listed(token.scopes)),
        ("workspaces", _listed(token.workspace_ids)),
        ("namespaces", _listed(token.namespace_ids)),
        ("environments", _listed(token.environment_ids)),
        ("endpoint paths", _listed(token.endpoint_paths)),
        (
            "rate limit",
            "-"
            if token.rate_limit_rps is None
            else f"{token.rate_limit_rps}/s burst {token.rate_limit_burst}",
        ),
        ("issued", when(token.issued_at)),
        ("expires", when(token.expires_at)),
        ("last used", when(token.last_used_at)),
    ]
    if token.revoked_at is not None:
        pairs.append(("revoked", f"{when(token.revoked_at)}: {token.revoked_reason or '-'}"))
    if details.previous_secret_expires_at is not None:
        pairs.append(("old secret ends", when(details.previous_secret_expires_at)))
    return pairs


def details_lines(read: TokenRead) -> str:
    """A token and its details, one ``field  value`` line each."""
    return _lines(_token_pairs(read.token, read.details))


def whoami_lines(me: WhoAmI) -> str:
    """The caller's org and app, then its token."""
    return _lines([("org", me.org_id), ("app", me.app_id), *_token_pairs(me.token, me.details)])


def _actor(event: HistoryEventPublic) -> str:
    if event.actor is None:
        return "the service"
    return f"{event.actor.user_id or '-'} ({event.actor.token_id or '-'})"


def history_table(events: Sequence[HistoryEventPublic], now: datetime | None = None) -> str:
    """A token's history: when, what, who, which fields changed."""
    rows = [
        [when(e.occurred_at, now), str(e.type), _actor(e), _listed([c.field for c in e.changes])]
        for e in events
    ]
    return table(["WHEN", "EVENT", "BY", "CHANGED"], rows) if rows else "no events"
