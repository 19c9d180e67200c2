"""Lambda entry point of the rotate token operation (shared/http/operations/rotate_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.rotate_token import ROTATE_TOKEN

lambda_handler = http_function(ROTATE_TOKEN)
