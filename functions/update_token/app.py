"""Lambda entry point of the update token operation (shared/http/operations/update_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.update_token import UPDATE_TOKEN

lambda_handler = http_function(UPDATE_TOKEN)
