"""Lambda entry point of the scheduled expiry sweep (shared/services/sweep.py)."""

from shared.entry.handlers import sweep_function

lambda_handler = sweep_function()
