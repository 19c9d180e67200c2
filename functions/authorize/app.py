"""Lambda entry point of the REQUEST authorizer that other APIs attach (shared/http/authorizer.py)."""

from shared.entry.handlers import authorizer_function

lambda_handler = authorizer_function()
