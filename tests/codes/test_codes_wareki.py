"""西暦 and 和暦 dates: every form municipal files use, era boundaries and their errors."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmh.codes import (
    DateFormatError,
    era_by_name,
    era_of,
    format_era_code,
    format_wareki,
    format_wareki_short,
    parse_date,
)

MAY_15_2026 = date(2026, 5, 15)


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-15",
        "2026/5/15",
        "2026/05/15",
        "2026.5.15",
        "20260515",
        "2026年5月15日",
        "2026年05月15日",
        "令和8年5月15日",
        "令和08年05月15日",
        "令8年5月15日",
        "R8.5.15",
        "R08.05.15",
        "r8.5.15",
        "R8/5/15",
        "R8-5-15",
        "R080515",
        "5080515",
        "令和８年５月１５日",
        "２０２６－０５－１５",
        "Ｒ８．５．１５",
        "５０８０５１５",
        " 令和 8年 5月 15日 ",
        "令和\u30008年\u30005月\u300015日",
        "2026 / 5 / 15",
        "㋿8年5月15日",
    ],
)
def test_every_form_of_2026_05_15_is_read(text: str) -> None:
    assert parse_date(text) == MAY_15_2026


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("R元.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("㍻31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("S64.1.7", date(1989, 1, 7)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("T1.7.30", date(1912, 7, 30)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("M1.1.25", date(1868, 1, 25)),
        ("3640107", date(1989, 1, 7)),
        ("4010108", date(1989, 1, 8)),
        ("4310430", date(2019, 4, 30)),
        ("5010501", date(2019, 5, 1)),
        ("1450729", date(1912, 7, 29)),
        ("2010730", date(1912, 7, 30)),
        ("2024年2月29日", date(2024, 2, 29)),
        ("令和100年1月1日", date(2118, 1, 1)),
    ],
)
def test_era_dates_and_boundaries_are_read(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成32年1月1日", "平成32年1月1日は平成の終わり（平成31年4月30日）より後です"),
        ("H31.5.1", "平成31年5月1日は平成の終わり（平成31年4月30日）より後です"),
        ("令和1年4月1日", "令和元年4月1日は令和の始まり（2019年5月1日）より前です"),
        ("令和元年4月30日", "令和元年4月30日は令和の始まり（2019年5月1日）より前です"),
        ("昭和65年1月1日", "昭和65年1月1日は昭和の終わり（昭和64年1月7日）より後です"),
        ("S64.1.8", "昭和64年1月8日は昭和の終わり（昭和64年1月7日）より後です"),
        ("平成元年1月7日", "平成元年1月7日は平成の始まり（1989年1月8日）より前です"),
        ("3650101", "昭和65年1月1日は昭和の終わり（昭和64年1月7日）より後です"),
        ("明治元年1月1日", "明治元年1月1日は明治の始まり（1868年1月25日）より前です"),
        ("令和0年5月1日", "令和0年は存在しません（元年は1年です）"),
        ("2026年2月30日", "2026年2月30日は存在しない日付です"),
        ("2025-02-29", "2025年2月29日は存在しない日付です"),
        ("令和8年2月30日", "令和8年2月30日は存在しない日付です"),
        ("2026-13-01", "2026年13月は存在しない月です"),
        ("R8.0.1", "令和8年0月は存在しない月です"),
        ("6080515", "元号コード「6」は1（明治）・2（大正）・3（昭和）・4（平成）・5（令和）のいずれかです"),
        ("0080515", "元号コード「0」は1（明治）・2（大正）・3（昭和）・4（平成）・5（令和）のいずれかです"),
        ("", "日付が入力されていません"),
        ("\u3000", "日付が入力されていません"),
    ],
)
def test_impossible_dates_are_refused_with_a_japanese_reason(text: str, message: str) -> None:
    with pytest.raises(DateFormatError) as raised:
        parse_date(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "text",
    ["abc", "2026 5 15", "2026-05/15", "26-05-15", "X8.5.15", "令和8年5月", "2026-05-15T00:00", "R8..5.15"],
)
def test_unreadable_text_is_refused_and_quoted(text: str) -> None:
    with pytest.raises(DateFormatError) as raised:
        parse_date(text)
    assert str(raised.value).startswith(f"日付として読めません: 「{text}」")


def test_date_format_error_is_a_value_error() -> None:
    assert issubclass(DateFormatError, ValueError)


@pytest.mark.parametrize(
    ("d", "wareki", "short", "code"),
    [
        (date(2026, 5, 15), "令和8年5月15日", "R8.5.15", "5080515"),
        (date(2019, 5, 1), "令和元年5月1日", "R1.5.1", "5010501"),
        (date(2019, 4, 30), "平成31年4月30日", "H31.4.30", "4310430"),
        (date(1989, 1, 8), "平成元年1月8日", "H1.1.8", "4010108"),
        (date(1989, 1, 7), "昭和64年1月7日", "S64.1.7", "3640107"),
        (date(1926, 12, 25), "昭和元年12月25日", "S1.12.25", "3011225"),
        (date(1926, 12, 24), "大正15年12月24日", "T15.12.24", "2151224"),
        (date(1912, 7, 30), "大正元年7月30日", "T1.7.30", "2010730"),
        (date(1912, 7, 29), "明治45年7月29日", "M45.7.29", "1450729"),
        (date(1868, 1, 25), "明治元年1月25日", "M1.1.25", "1010125"),
    ],
)
def test_formats_name_the_right_era(d: date, wareki: str, short: str, code: str) -> None:
    assert format_wareki(d) == wareki
    assert format_wareki_short(d) == short
    assert format_era_code(d) == code


def test_dates_before_meiji_cannot_be_written_in_wareki() -> None:
    with pytest.raises(ValueError):
        format_wareki(date(1868, 1, 24))
    with pytest.raises(ValueError):
        era_of(date(1800, 1, 1))


def test_era_code_needs_a_two_digit_era_year() -> None:
    assert format_era_code(date(2117, 12, 31)) == "5991231"
    with pytest.raises(ValueError):
        format_era_code(date(2118, 1, 1))  # 令和100年


def test_era_by_name_accepts_name_kanji_and_letter() -> None:
    assert era_by_name("令和") == era_by_name("令") == era_by_name("R") == era_by_name("r")
    assert era_by_name("平成").code == 4
    with pytest.raises(DateFormatError):
        era_by_name("慶応")


@settings(max_examples=300)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_wareki_round_trips(d: date) -> None:
    assert parse_date(format_wareki(d)) == d
    assert parse_date(format_wareki_short(d)) == d


@settings(max_examples=300)
@given(st.dates(min_value=date(1868, 1, 25), max_value=date(2117, 12, 31)))
def test_era_code_round_trips_from_meiji_to_reiwa_99(d: date) -> None:
    code = format_era_code(d)
    assert len(code) == 7
    assert parse_date(code) == d


@settings(max_examples=200)
@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_western_forms_round_trip(d: date) -> None:
    assert parse_date(d.isoformat()) == d
    assert parse_date(d.strftime("%Y%m%d")) == d
    assert parse_date(f"{d.year}年{d.month}月{d.day}日") == d
