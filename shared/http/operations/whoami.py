"""Who Am I: the bearer token itself, where it belongs and its details (how a console places a token)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared.domain.observability import traced
from shared.http.api import ANY_VALID_TOKEN, Operation, request_scope
from shared.http.operations.common import SECURITY, WHOAMI_PATH, caller, responses
from shared.http.token_models import WhoAmI, who_am_i
from shared.services.managing import whoami

whoami_router = Router()
# Any valid token may learn what it is: no permission, but the bearer token is authenticated.
WHOAMI = Operation(name="whoami", permission=ANY_VALID_TOKEN, router=whoami_router)

# No body, no path id, no app to look up: a 401 for a bad token, a 404 for a caller vouched for
# by a JWT authorizer (no token to show), a 413 for a body; the 422 is the resolver's, in our shape.
_WHOAMI_ERRORS = (401, 404, 413, 422, 500, 503)


@whoami_router.get(
    WHOAMI_PATH,
    summary="Who Am I",
    operation_id="whoAmI",
    description="The bearer token itself: its AppToken, its org and app, and its `details` (status, "
    "enabled, the token that created it, rotation, last update). Any valid token may call it; no "
    "permission is needed. Costs no read beyond authentication's.",
    responses=responses({200: {"description": "The bearer token."}}, _WHOAMI_ERRORS),
    security=SECURITY,
    tags=["App Tokens"],
)
def who_am_i_route() -> WhoAmI:
    """Who Am I."""
    with traced("whoami"):
        view = whoami(request_scope().runtime, caller())
    return who_am_i(view)
