"""Lambda entry point of the verify token operation (shared/http/operations/verify_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.verify_token import VERIFY_TOKEN

lambda_handler = http_function(VERIFY_TOKEN)
