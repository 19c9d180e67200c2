"""Lambda entry point of the get token operation (shared/http/operations/get_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.get_token import GET_TOKEN

lambda_handler = http_function(GET_TOKEN)
