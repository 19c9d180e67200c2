"""Revoke Leaked Credentials: anyone who found a secret of ours (a scanner's webhook) can end it.

No authentication: the body's secrets are what is reported, so no ``Authorization`` header is
read. The answer is always the same 202 with the number of credentials received, whatever they
were, so that it tells nothing about which tokens exist (shared/services/reporting.py).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from shared.domain.observability import count, logger, traced
from shared.http.api import Operation, request_scope
from shared.http.operations.common import responses
from shared.http.report_models import CredentialsReport, ReportReceived
from shared.services.reporting import revoke_reported

REPORT_PATH = "/v1/credentials/revoke"
report_router = Router()
# No permission: whoever found a secret may report it; no Authorization header is read.
REPORT_LEAKED = Operation(name="report_leaked", permission=None, router=report_router)

# No 401 or 403: nothing is authenticated. No 404: unknown credentials are answered as any other.
_REPORT_ERRORS = (413, 422, 500, 503)


@report_router.post(
    REPORT_PATH,
    summary="Revoke Leaked Credentials",
    operation_id="revokeLeakedCredentials",
    description="Report secrets found where they should not be (a public repository, a paste, a log): "
    "1 to 100 strings, access (`atok_`) or refresh (`aref_`) tokens. No authentication. Each one that is "
    "the current secret of a live token (disabled included) revokes that token at once, with "
    "`revoked_reason` `reported_leaked` and an `App Token Reported Leaked` event; a canary's is not "
    "revoked but trips it (`App Token Canary Tripped`). The answer is always "
    "202 with the number of credentials received, whatever they were (ours, unknown, malformed, "
    "already revoked), so it tells nothing about which tokens exist. A malformed string costs no "
    "database read; this route is throttled on its own (docs/secret-scanning.md).",
    responses=responses(
        {202: {"description": "Received; every live credential among them is revoked."}}, _REPORT_ERRORS
    ),
    tags=["App Tokens"],
)
def revoke_leaked_credentials(body: Annotated[CredentialsReport, Body()]) -> Response[ReportReceived]:
    """Revoke Leaked Credentials."""
    scope = request_scope()
    with traced("report_leaked"):
        report = revoke_reported(scope.runtime, body.credentials, scope.use)
    # Counts and token ids only: the presented strings may be anyone's secrets.
    logger.info(
        "leaked credentials reported",
        extra={
            "received": len(body.credentials),
            "well_formed": report.well_formed,
            "revoked_token_ids": list(report.revoked),
        },
    )
    count("LeakReports")
    if report.revoked:
        count("TokensReportedLeaked")  # per report that revoked any; the log line holds how many
    received = ReportReceived(received=len(body.credentials))
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=received)
