"""Safe retries: the ``Idempotency-Key`` header of creating POSTs (docs/integration.md, docs/deployment.md)."""
