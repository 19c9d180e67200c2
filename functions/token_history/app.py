"""Lambda entry point of the token history operation (shared/http/operations/token_history.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.token_history import TOKEN_HISTORY

lambda_handler = http_function(TOKEN_HISTORY)
