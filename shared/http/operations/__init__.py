"""One module per operation: its route, its permission and its OpenAPI metadata side by side."""
