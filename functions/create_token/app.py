"""Lambda entry point of the create token operation (shared/http/operations/create_token.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.create_token import CREATE_TOKEN

lambda_handler = http_function(CREATE_TOKEN)
