"""Fiscal years (年度), April to March."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmh.codes import (
    DateFormatError,
    FiscalYearFormatError,
    fiscal_year,
    fiscal_year_bounds,
    format_fiscal_year,
    parse_fiscal_year,
)


@pytest.mark.parametrize(
    ("d", "fy"),
    [
        (date(2027, 3, 31), 2026),
        (date(2026, 4, 1), 2026),
        (date(2026, 3, 31), 2025),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),
        (date(2027, 4, 1), 2027),
    ],
)
def test_fiscal_year_runs_april_to_march(d: date, fy: int) -> None:
    assert fiscal_year(d) == fy


def test_fiscal_year_bounds() -> None:
    assert fiscal_year_bounds(2026) == (date(2026, 4, 1), date(2027, 3, 31))
    assert fiscal_year_bounds(2027) == (date(2027, 4, 1), date(2028, 3, 31))


@pytest.mark.parametrize(
    ("text", "fy"),
    [
        ("令和8年度", 2026),
        ("令和８年度", 2026),
        ("令和 8 年度", 2026),
        ("令和8", 2026),
        ("令8年度", 2026),
        ("R8", 2026),
        ("r8", 2026),
        ("R08", 2026),
        ("R8年度", 2026),
        ("2026", 2026),
        ("２０２６", 2026),
        ("2026年度", 2026),
        ("FY2026", 2026),
        ("fy2026", 2026),
        ("FY 2026", 2026),
        ("令和9年度", 2027),
        ("令和元年度", 2019),
        ("平成31年度", 2019),
        ("H30", 2018),
        ("㍻30年度", 2018),
        ("昭和64年度", 1989),
        ("平成元年度", 1989),
    ],
)
def test_parse_fiscal_year(text: str, fy: int) -> None:
    assert parse_fiscal_year(text) == fy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成32年度", "平成32年度は存在しません（平成は31年まで）"),
        ("昭和65年度", "昭和65年度は存在しません（昭和は64年まで）"),
        ("令和0年度", "令和0年度は存在しません（元年は1年です）"),
        ("", "年度が入力されていません"),
        ("1700", "1700年度は扱える範囲（1868〜9998）の外です"),
    ],
)
def test_impossible_fiscal_years_are_refused(text: str, message: str) -> None:
    with pytest.raises(FiscalYearFormatError) as raised:
        parse_fiscal_year(text)
    assert str(raised.value) == message


@pytest.mark.parametrize("text", ["26", "R8年", "2026-04-01", "令和", "FY", "next year"])
def test_unreadable_fiscal_years_are_refused(text: str) -> None:
    with pytest.raises(FiscalYearFormatError) as raised:
        parse_fiscal_year(text)
    assert str(raised.value).startswith(f"年度として読めません: 「{text}」")


def test_fiscal_year_format_error_is_a_date_format_error() -> None:
    assert issubclass(FiscalYearFormatError, DateFormatError)


@pytest.mark.parametrize(
    ("fy", "text"),
    [
        (2026, "令和8年度"),
        (2027, "令和9年度"),
        (2019, "令和元年度"),
        (2018, "平成30年度"),
        (1989, "平成元年度"),
        (1988, "昭和63年度"),
        (1868, "明治元年度"),
    ],
)
def test_format_fiscal_year(fy: int, text: str) -> None:
    assert format_fiscal_year(fy) == text


def test_fiscal_years_before_meiji_cannot_be_named_in_wareki() -> None:
    with pytest.raises(ValueError):
        format_fiscal_year(1867)


@settings(max_examples=300)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_the_bounds_of_a_dates_fiscal_year_contain_it(d: date) -> None:
    first, last = fiscal_year_bounds(fiscal_year(d))
    assert first <= d <= last
    assert (first.month, first.day, last.month, last.day) == (4, 1, 3, 31)


@settings(max_examples=200)
@given(st.integers(min_value=1868, max_value=2200))
def test_format_and_parse_fiscal_year_round_trip(fy: int) -> None:
    assert parse_fiscal_year(format_fiscal_year(fy)) == fy
    assert parse_fiscal_year(f"FY{fy}") == fy
