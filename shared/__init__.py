"""App Tokens: the code shared by every Lambda function of the service."""
