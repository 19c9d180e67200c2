"""Lambda entry point of the whoami operation (shared/http/operations/whoami.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.whoami import WHOAMI

lambda_handler = http_function(WHOAMI)
