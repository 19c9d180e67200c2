"""Lambda entry point of the lifecycle-event publisher (DynamoDB stream; shared/services/publisher.py)."""

from shared.entry.handlers import publisher_function

lambda_handler = publisher_function()
