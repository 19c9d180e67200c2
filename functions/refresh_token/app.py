"""Lambda entry point of the refresh token operation (shared/http/operations/refresh_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.refresh_token import REFRESH_TOKEN

lambda_handler = http_function(REFRESH_TOKEN)
