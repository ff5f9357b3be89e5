"""The shared reader of small CSV files with a header row (insurance records, patient lists)."""

from __future__ import annotations

import io

import pytest

from pmh.codes.text import normalize_text
from pmh.csvfiles import rows_under_header, text_stream
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


def test_a_lone_carriage_return_is_a_line_break() -> None:
    """Old Mac files end lines with CR alone: read as lines, never a crash (found by the API fuzz)."""
    assert list(rows_under_header(text_stream("a,b\r1,2\r3,4\r"), ("a", "b"))) == [
        (1, {"a": "1", "b": "2"}),
        (2, {"a": "3", "b": "4"}),
    ]


def test_a_file_the_csv_reader_cannot_split_is_refused_with_its_row() -> None:
    stream = io.StringIO("a,b\n1,2\n\r0\n")  # a stream that keeps the CR inside a line
    with pytest.raises(InvalidInput) as refused:
        list(rows_under_header(stream, ("a", "b")))
    assert [(e.field, e.code, e.row) for e in refused.value.errors] == [("file", "unreadable_csv", 2)]
    assert "CSV" in refused.value.message
