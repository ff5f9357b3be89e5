"""Contact windows, delegations and one contract per prefecture per fiscal year (委託契約), docs/operator.md."""
