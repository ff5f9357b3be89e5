"""Participation statistics (参加状況), name matching and the map of Japan, rules.md §5."""
