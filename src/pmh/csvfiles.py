"""Reading a small CSV whose header row names its columns (insurance records, patient lists)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from pmh.errors import FieldError, InvalidInput


def rows_under_header(
    stream: IO[str], required: Sequence[str], clean: Callable[[str], str] = str.strip
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number from 1, row) under a header whose names are tidied with ``clean``.

    A header that lacks a required column is refused before any row is read, naming every missing
    column (row 0 is the header).
    """
    reader = csv.DictReader(stream)
    header = [clean(h).lstrip("\ufeff") for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            f"見出し行に必須の列がありません: {', '.join(missing)}",
            [FieldError(c, "missing_column", f"見出し行に列 {c} がありません。", 0) for c in missing],
        )
    reader.fieldnames = header
    yield from enumerate(reader, start=1)
