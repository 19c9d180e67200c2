"""The HTTP side: the resolver, one module per operation, the request and response models, the error map."""
