"""The shared reader of small CSV files with a header row (insurance records, patient lists)."""

from __future__ import annotations

import io

import pytest

from pmh.codes.text import normalize_text
from pmh.csvfiles import rows_under_header
from pmh.errors import InvalidInput


def test_rows_are_numbered_from_one_under_a_tidied_header() -> None:
    stream = io.StringIO("\ufeffa , b \n1,2\n3,4\n")
    assert list(rows_under_header(stream, ("a", "b"))) == [(1, {"a": "1", "b": "2"}), (2, {"a": "3", "b": "4"})]


def test_every_missing_column_is_named_before_any_row_is_read() -> None:
    with pytest.raises(InvalidInput) as refused:
        list(rows_under_header(io.StringIO("a\n1\n"), ("a", "b", "c")))
    assert [(e.field, e.code, e.row) for e in refused.value.errors] == [
        ("b", "missing_column", 0),
        ("c", "missing_column", 0),
    ]
    assert "b、c" in refused.value.message


def test_missing_columns_are_named_in_japanese_when_the_caller_has_names() -> None:
    with pytest.raises(InvalidInput) as refused:
        list(rows_under_header(io.StringIO("a\n1\n"), ("a", "b"), labels={"b": "生年月日"}))
    assert refused.value.message.endswith("生年月日") and "b" not in refused.value.message
    assert refused.value.errors[0].field == "b"  # the column's own name stays for programs


def test_the_caller_chooses_how_header_names_are_tidied() -> None:
    full_width = "ａ,ｂ\n1,2\n"
    with pytest.raises(InvalidInput):
        list(rows_under_header(io.StringIO(full_width), ("a", "b")))
    assert list(rows_under_header(io.StringIO(full_width), ("a", "b"), normalize_text)) == [(1, {"a": "1", "b": "2"})]
