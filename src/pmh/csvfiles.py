"""Reading a small CSV whose header row names its columns (insurance records, patient lists)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO

from pmh.errors import FieldError, InvalidInput


def rows_under_header(
    stream: IO[str],
    required: Sequence[str],
    clean: Callable[[str], str] = str.strip,
    labels: Mapping[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number from 1, row) under a header whose names are tidied with ``clean``.

    A header that lacks a required column is refused before any row is read, naming every missing
    column (row 0 is the header) by its Japanese name in ``labels`` when there is one. ``clean`` may
    also turn a Japanese heading into its column name.
    """
    reader = csv.DictReader(stream)
    header = [clean(h.lstrip("\ufeff")) for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        named = [(labels or {}).get(c, c) for c in missing]
        raise InvalidInput(
            f"見出し行に必須の列がありません: {'、'.join(named)}",
            [
                FieldError(c, "missing_column", f"見出し行に列「{n}」がありません。", 0)
                for c, n in zip(missing, named, strict=True)
            ],
        )
    reader.fieldnames = header
    yield from enumerate(reader, start=1)
