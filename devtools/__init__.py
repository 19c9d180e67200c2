"""Local, Docker-free running: events from HTTP requests, the embedded server, the CLI's helpers."""
