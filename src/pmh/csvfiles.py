"""CSV in and out: reading a small CSV under its header row (insurance records, patient lists), and the one
writer every CSV pmh writes goes through, which keeps a cell from being taken for a formula."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

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
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise unreadable(0, exc) from None
    header = [clean(h.lstrip("\ufeff")) for h in fieldnames or []]
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
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, row
    except csv.Error as exc:
        raise unreadable(number + 1, exc) from None


def unreadable(row: int, error: csv.Error) -> InvalidInput:
    """Return the refusal of a CSV the reader cannot split into rows (a stray quote or line break)."""
    message = (
        f"{row}行目をCSVとして読めません（引用符や改行の位置が正しくありません）。"
        "表計算ソフトで「CSV（コンマ区切り）」として保存し直してください。"
    )
    return InvalidInput(message, [FieldError("file", "unreadable_csv", message, row)])


def text_stream(text: str) -> io.StringIO:
    """Return a CSV text as a stream the csv module reads right: every line break (CR, LF, CRLF) as one.

    ``io.StringIO`` translates nothing by default, and a lone CR then reads as "new-line character
    seen in unquoted field"; ``newline=""`` is what the csv module asks for.
    """
    return io.StringIO(text, newline="")


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these may be run as a formula by a spreadsheet (CSV injection)."""
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """Return a cell as pmh writes it: text a spreadsheet would run as a formula gets a leading apostrophe.

    Numbers stay numbers: an ``int``/``float``, or text that is a plain signed decimal number such as
    ``-500``, is written unchanged (a spreadsheet reads it as a number, never as a formula), so
    negative amounts remain summable. Anything else that starts with ``= + - @``, a tab or a carriage
    return (``=HYPERLINK(…)``, ``=cmd|…``, ``-2+3``, ``@SUM(…)``) is written as ``'`` + the text, which
    spreadsheets show as the text itself.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


class SafeWriter:
    """A ``csv.writer`` whose every cell passes :func:`safe_cell`."""

    def __init__(self, stream: IO[str], **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one row."""
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write every row."""
        for row in rows:
            self.writerow(row)


def writer(stream: IO[str], **options: Any) -> SafeWriter:
    """Return the CSV writer every CSV pmh writes uses (options as for ``csv.writer``)."""
    return SafeWriter(stream, **options)
