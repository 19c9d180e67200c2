"""Lambda entry point of the list tokens operation (shared/http/operations/list_tokens.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.list_tokens import LIST_TOKENS

lambda_handler = http_function(LIST_TOKENS)
