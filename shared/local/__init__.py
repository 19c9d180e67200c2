"""Local, Docker-free running: API Gateway events from HTTP requests, the embedded server, the CLI's helpers."""
