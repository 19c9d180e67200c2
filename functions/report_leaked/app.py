"""Lambda entry point of the leaked-credential report (shared/http/operations/report_leaked.py)."""

from shared.entry.handlers import http_function
from shared.http.operations.report_leaked import REPORT_LEAKED

lambda_handler = http_function(REPORT_LEAKED)
