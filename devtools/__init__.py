"""Dev tooling, never shipped to Lambda: the local server, the embedded database, invoke, the CLI."""
