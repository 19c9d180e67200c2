"""The fuzz run's last check: every operation of the document answered 2xx at least once."""

from __future__ import annotations

import json

from devtools.openapi import DOCUMENT
from tests.fuzz.every_operation_answered import unanswered

ANSWERED = """\
GET /v1/orgs/demo/apps/demo-app/tokens -> 200
POST /v1/orgs/demo/apps/demo-app/tokens -> 201
DELETE /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc -> 204
POST /v1/orgs/demo/apps/demo-app/tokens/verify -> 200
GET /v1/whoami -> 200
GET /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc -> 200
PATCH /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc -> 200
GET /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc/history -> 200
POST /v1/credentials/revoke -> 202
POST /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc/refresh -> 401
POST /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc/rotate -> 200
{"level": "INFO", "message": "POST /v1/orgs/demo/apps/demo-app/tokens/x/refresh -> 200"}
"""


def test_an_operation_that_only_failed_is_reported() -> None:
    document = json.loads(DOCUMENT.read_text())
    assert unanswered(document, ANSWERED) == [
        "POST /v1/orgs/{org_id}/apps/{app_id}/tokens/{token_id}/refresh"
    ]
    refreshed = (
        ANSWERED + "POST /v1/orgs/demo/apps/demo-app/tokens/1k1k6j21sd8khk88mxhr38xxmc/refresh -> 200\n"
    )
    assert unanswered(document, refreshed) == []
