"""Storage: the repository on DynamoDB (one table, single-table design; layout in ``shared.storage.items``).

Only the composition root (``shared.entry.runtime``) builds it, and dev tooling, tests and
benchmarks; the use cases see only ``shared.storage.repository.TokenRepository``. The
adapter is one class in three modules: ``table`` (the client, the outbox and revocation
writes), ``lifecycle`` (cascade links, expiry indexes, outbox events) and ``adapter``
(the request path).
"""

from shared.storage.dynamodb.adapter import DynamoDBTokenRepository

__all__ = ["DynamoDBTokenRepository"]
