"""Fiscal years (年度), which run from April 1 to March 31 and are named by the year they start in.

Naming a fiscal year in 和暦: a fiscal year in which a new era began is named with the new era's
元年度 — FY2019 is 令和元年度 (as the government renamed it after May 2019), FY1989 平成元年度. In
general the era used is the latest one that began in or before the fiscal year's calendar year.
When reading, any era year that existed is accepted, so 平成31年度 and 令和元年度 both mean FY2019,
while 平成32年度 (平成 never reached year 32) is refused.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from pmh.codes.text import normalize_text
from pmh.codes.wareki import ERA_TOKEN_PATTERN, ERAS, DateFormatError, Era, era_by_name, expand_era_ligatures

_WESTERN = re.compile(r"(?:FY)?(?P<y>\d{4})(?:年度)?", re.ASCII)
_ERA_FORM = re.compile(f"(?P<era>{ERA_TOKEN_PATTERN})" + r"(?P<y>\d{1,3}|元)(?:年度)?", re.ASCII)
_FIRST_FISCAL_YEAR = ERAS[0].start.year
_LAST_FISCAL_YEAR = 9998  # FY9998 ends on 9999-03-31, the last one datetime.date can hold.


class FiscalYearFormatError(DateFormatError):
    """Raised when a text cannot be read as a fiscal year (年度); the message says why, in Japanese."""


def fiscal_year(d: date) -> int:
    """Return the fiscal year (年度) containing ``d``: 2027-03-31 → 2026, 2026-04-01 → 2026."""
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_bounds(fy: int) -> tuple[date, date]:
    """Return the first and last day of fiscal year ``fy``: 2026 → (2026-04-01, 2027-03-31)."""
    return date(fy, 4, 1), date(fy + 1, 3, 31)


def parse_fiscal_year(text: str) -> int:
    """Read a fiscal year written as 令和8年度, 令和元年度, R8, R08, 2026, 2026年度 or FY2026.

    Full-width characters and spaces are tolerated. Raises :class:`FiscalYearFormatError`.
    """
    cleaned = expand_era_ligatures(normalize_text(text)).replace(" ", "").upper()
    if not cleaned:
        raise FiscalYearFormatError("年度が入力されていません")
    if match := _WESTERN.fullmatch(cleaned):
        return _checked_western(int(match["y"]))
    if match := _ERA_FORM.fullmatch(cleaned):
        year = 1 if match["y"] == "元" else int(match["y"])
        return _era_fiscal_year(era_by_name(match["era"]), year)
    raise FiscalYearFormatError(f"年度として読めません: 「{text}」（例: 令和8年度、R8、2026、FY2026）")


def _checked_western(fy: int) -> int:
    """Return ``fy`` if it is a fiscal year pmh can represent."""
    if not _FIRST_FISCAL_YEAR <= fy <= _LAST_FISCAL_YEAR:
        raise FiscalYearFormatError(f"{fy}年度は扱える範囲（{_FIRST_FISCAL_YEAR}〜{_LAST_FISCAL_YEAR}）の外です")
    return fy


def _era_fiscal_year(era: Era, year: int) -> int:
    """Return the fiscal year named by an era year, refusing a year the era never had."""
    label = f"{era.name}{'元' if year == 1 else year}年度"
    if year < 1:
        raise FiscalYearFormatError(f"{label}は存在しません（元年は1年です）")
    fy = era.start.year + year - 1
    if era.end is not None and fy > era.end.year:
        last = era.end.year - era.start.year + 1
        raise FiscalYearFormatError(f"{label}は存在しません（{era.name}は{last}年まで）")
    return fy


def format_fiscal_year(fy: int) -> str:
    """Name fiscal year ``fy`` in 和暦: 2026 → 令和8年度, 2019 → 令和元年度, 1988 → 昭和63年度."""
    era = next((e for e in reversed(ERAS) if e.start.year <= fy), None)
    if era is None:
        raise ValueError(f"{fy}年度は明治より前のため和暦にできません")
    year = fy - era.start.year + 1
    return f"{era.name}{'元' if year == 1 else year}年度"


MONTH_PATTERN = r"^(?:1[89]|2\d)\d{2}-(?:0[1-9]|1[0-2])$"
"""A service or claim month as ``YYYY-MM`` (1800-01 … 2999-12); ``0000-01`` or ``9999-12`` are refused
as input rather than failing inside the date arithmetic."""


def month_bounds(month: str) -> tuple[date, date]:
    """Return the first and last day of a ``YYYY-MM`` month (any year ``datetime.date`` can hold)."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    return first, date(year, number, calendar.monthrange(year, number)[1])
