"""Participation statistics (参加状況), name matching and the map of Japan, docs/operator.md."""
