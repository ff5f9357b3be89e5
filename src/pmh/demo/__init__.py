"""Demo data: a small, realistic set of organisations, staff and keys to try the hub with."""
