"""Storage: the repository interface the use cases need, and its DynamoDB adapter."""
