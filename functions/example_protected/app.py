"""The example API behind the authorizer: it only sees requests the authorizer allowed.

It trusts ``requestContext.authorizer`` (API Gateway writes it; a client cannot) and
never reads the token itself.
"""

import json
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say who called, from the authorizer's context."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    caller = {name: authorizer.get(name) for name in ("token_id", "org_id", "app_id", "owner_id")}
    body = {
        "message": "hello from behind the App Tokens authorizer",
        "path": event.get("path"),
        "caller": caller,
        "permissions": str(authorizer.get("permissions") or "").split(),
        "scopes": str(authorizer.get("scopes") or "").split(),
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
