"""Lambda entry point of the revoke token operation (shared/http/operations/revoke_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.revoke_token import REVOKE_TOKEN

lambda_handler = http_function(REVOKE_TOKEN)
