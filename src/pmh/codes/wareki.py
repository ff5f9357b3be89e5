"""Dates in 西暦 and 和暦 (Japanese era) forms as municipal files write them.

Era boundaries (first day of each era, Gregorian):

- 明治 1868-01-25 — the Gregorian date of 慶応4年1月1日. The 1868 改元の詔 renamed the whole of
  慶応4年 to 明治元年, so the era is conventionally counted from that New Year's Day rather than from
  the edict itself (1868-10-23). Japan kept the lunisolar calendar until 明治5年12月2日; as is
  conventional in software, 明治 dates are read as Gregorian dates with year = 1867 + era year,
  without a lunisolar conversion. (Nobody alive was born before 1873, so the choice only matters
  for round-trips and old records.)
- 大正 1912-07-30, 昭和 1926-12-25, 平成 1989-01-08, 令和 2019-05-01.

An era year that falls outside its era (平成32年, 昭和65年, 令和元年4月1日) is an error, never
silently moved into the next era.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pmh.codes.text import normalize_text


class DateFormatError(ValueError):
    """Raised when a text cannot be read as a date; the message says, in Japanese, what is wrong."""


@dataclass(frozen=True)
class Era:
    """A Japanese era (元号): its claims-file code, name, one-letter abbreviation and first/last day."""

    code: int
    name: str
    letter: str
    start: date
    end: date | None


MEIJI = Era(1, "明治", "M", date(1868, 1, 25), date(1912, 7, 29))
TAISHO = Era(2, "大正", "T", date(1912, 7, 30), date(1926, 12, 24))
SHOWA = Era(3, "昭和", "S", date(1926, 12, 25), date(1989, 1, 7))
HEISEI = Era(4, "平成", "H", date(1989, 1, 8), date(2019, 4, 30))
REIWA = Era(5, "令和", "R", date(2019, 5, 1), None)

ERAS: tuple[Era, ...] = (MEIJI, TAISHO, SHOWA, HEISEI, REIWA)
"""The eras in order; :data:`ERAS` ``[code - 1]`` is the era with that 元号コード."""


def _era_tokens() -> dict[str, Era]:
    """Map each way an era is written (令和, 令, R) to the era."""
    return {token: era for era in ERAS for token in (era.name, era.name[0], era.letter)}


_ERA_BY_TOKEN = _era_tokens()

ERA_TOKEN_PATTERN = r"明治|大正|昭和|平成|令和|明|大|昭|平|令|[MTSHR]"
"""Regular-expression alternation matching every way :func:`era_by_name` accepts an era."""

# The single-character era ligatures (㍾㍽㍼㍻㋿) are what CP932 files sometimes carry.
_ERA_LIGATURES = {"㍾": "明治", "㍽": "大正", "㍼": "昭和", "㍻": "平成", "㋿": "令和"}


def era_by_name(token: str) -> Era:
    """Return the era written as its name (令和), first kanji (令) or letter (R, r)."""
    try:
        return _ERA_BY_TOKEN[token.upper()]
    except KeyError:
        raise DateFormatError(f"元号「{token}」は明治・大正・昭和・平成・令和のいずれでもありません") from None


def expand_era_ligatures(text: str) -> str:
    """Spell out the one-character era ligatures: ㍻ → 平成, ㋿ → 令和."""
    for ligature, name in _ERA_LIGATURES.items():
        text = text.replace(ligature, name)
    return text


_ERA = f"(?P<era>{ERA_TOKEN_PATTERN})"
_ERA_YEAR = r"(?P<y>\d{1,3}|元)"
_MONTH_DAY_SEPARATED = r"(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
_MONTH_DAY_KANJI = r"年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"
_MONTH_DAY_COMPACT = r"(?P<m>\d{2})(?P<d>\d{2})"
_WESTERN_PATTERNS = tuple(
    re.compile(r"(?P<y>\d{4})" + month_day, re.ASCII)
    for month_day in (_MONTH_DAY_SEPARATED, _MONTH_DAY_COMPACT, _MONTH_DAY_KANJI)
)
_ERA_CODE_PATTERN = re.compile(r"(?P<code>\d)(?P<y>\d{2})" + _MONTH_DAY_COMPACT, re.ASCII)
_ERA_PATTERNS = (
    re.compile(_ERA + _ERA_YEAR + _MONTH_DAY_KANJI, re.ASCII),
    re.compile(_ERA + _ERA_YEAR + _MONTH_DAY_SEPARATED, re.ASCII),
    re.compile(_ERA + r"(?P<y>\d{2})" + _MONTH_DAY_COMPACT, re.ASCII),
)

_EXAMPLES = "2026-05-15、20260515、2026年5月15日、令和8年5月15日、R8.5.15、5080515"


def era_of(d: date) -> Era:
    """Return the era (元号) in force on ``d``."""
    for era in reversed(ERAS):
        if d >= era.start:
            return era
    raise ValueError(f"{_western(d)}は明治より前のため和暦にできません")


def era_year(d: date) -> tuple[Era, int]:
    """Return the era in force on ``d`` and the year within it (元年 = 1)."""
    era = era_of(d)
    return era, d.year - era.start.year + 1


def parse_date(text: str) -> date:
    """Read a date written in any form municipal files use (西暦, 和暦, 元号コード+YYMMDD).

    Accepted: 2026-05-15, 2026/5/15, 2026.5.15, 20260515, 2026年5月15日, 令和8年5月15日, 令和元年5月1日,
    令8年5月15日, R8.5.15, R08.05.15, R8/5/15, R080515, ㍻31年4月30日, 5080515; full-width digits and
    letters and spaces around the parts are tolerated. Raises :class:`DateFormatError` with a
    Japanese message saying what is wrong.
    """
    cleaned = _clean(text)
    if not cleaned:
        raise DateFormatError("日付が入力されていません")
    for pattern in _WESTERN_PATTERNS:
        if match := pattern.fullmatch(cleaned):
            return _western_date(int(match["y"]), int(match["m"]), int(match["d"]))
    if match := _ERA_CODE_PATTERN.fullmatch(cleaned):
        return _era_code_date(int(match["code"]), int(match["y"]), int(match["m"]), int(match["d"]))
    for pattern in _ERA_PATTERNS:
        if match := pattern.fullmatch(cleaned):
            year = 1 if match["y"] == "元" else int(match["y"])
            return _era_date(era_by_name(match["era"]), year, int(match["m"]), int(match["d"]))
    raise DateFormatError(f"日付として読めません: 「{text}」（例: {_EXAMPLES}）")


def _clean(text: str) -> str:
    """Fold widths, expand era ligatures, upper-case era letters and drop spaces beside non-digits.

    A space between two digits is kept so that "2026 5 15" is refused rather than read as 2026515.
    """
    folded = expand_era_ligatures(normalize_text(text))
    return re.sub(r" ?([^\d ]) ?", r"\1", folded).upper()


def _western(d: date) -> str:
    """Format ``d`` as 2026年5月15日 for messages."""
    return f"{d.year}年{d.month}月{d.day}日"


def _calendar_date(year: int, month: int, day: int, label: str) -> date:
    """Build a date, or raise :class:`DateFormatError` naming the impossible month or day."""
    if not 1 <= month <= 12:
        raise DateFormatError(f"{label}{month}月は存在しない月です")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateFormatError(f"{label}{month}月{day}日は存在しない日付です") from None


def _western_date(year: int, month: int, day: int) -> date:
    """Build a date from 西暦 parts."""
    if year < 1:
        raise DateFormatError(f"西暦{year}年は扱えません")
    return _calendar_date(year, month, day, f"{year}年")


def _era_code_date(code: int, year: int, month: int, day: int) -> date:
    """Build a date from the claims-file form 元号コード + YYMMDD (5080515)."""
    if not 1 <= code <= len(ERAS):
        raise DateFormatError(
            f"元号コード「{code}」は1（明治）・2（大正）・3（昭和）・4（平成）・5（令和）のいずれかです"
        )
    return _era_date(ERAS[code - 1], year, month, day)


def _era_date(era: Era, year: int, month: int, day: int) -> date:
    """Build a date from 和暦 parts, refusing a date outside the era it names."""
    year_label = f"{era.name}{_year_text(year)}年"
    if year < 1:
        raise DateFormatError(f"{year_label}は存在しません（元年は1年です）")
    d = _calendar_date(era.start.year + year - 1, month, day, year_label)
    label = f"{year_label}{month}月{day}日"
    if d < era.start:
        raise DateFormatError(f"{label}は{era.name}の始まり（{_western(era.start)}）より前です")
    if era.end is not None and d > era.end:
        raise DateFormatError(f"{label}は{era.name}の終わり（{format_wareki(era.end)}）より後です")
    return d


def _year_text(year: int) -> str:
    """Write an era year as people do: 1 is 元."""
    return "元" if year == 1 else str(year)


def format_wareki(d: date) -> str:
    """Format ``d`` as 和暦: 2026-05-15 → 令和8年5月15日, 2019-05-01 → 令和元年5月1日."""
    era, year = era_year(d)
    return f"{era.name}{_year_text(year)}年{d.month}月{d.day}日"


def format_wareki_short(d: date) -> str:
    """Format ``d`` in the short lettered form: 2026-05-15 → R8.5.15 (year 1 is written 1)."""
    era, year = era_year(d)
    return f"{era.letter}{year}.{d.month}.{d.day}"


def format_era_code(d: date) -> str:
    """Format ``d`` as the claims-file 元号コード + YYMMDD: 2026-05-15 → 5080515."""
    era, year = era_year(d)
    if year > 99:
        raise ValueError(f"{format_wareki(d)}は元号コード形式（年は2桁）で表せません")
    return f"{era.code}{year:02d}{d.month:02d}{d.day:02d}"
