"""Participation statistics (参加状況), docs/operator.md: counts per fiscal year, per level and per program,
systems modified per year (new vs adding programs), and each prefecture's share of participating
municipalities in four bands — from the registry or from a participation list."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year
from pmh.codes.prefectures import UnknownPrefectureError, prefecture_code
from pmh.codes.text import normalize_text
from pmh.csvfiles import text_stream, unreadable
from pmh.errors import FieldError, InvalidInput
from pmh.onboarding import service as onboarding
from pmh.operator.stats.matching import Candidate, match_name
from pmh.reference import catalogue
from pmh.registry import participation

# (band id, lower bound inclusive, Japanese label) — the seed's legend, highest first.
BANDS: tuple[tuple[str, Fraction, str], ...] = (
    ("75+", Fraction(3, 4), "管内市区町村参加率75%以上"),
    ("50-75", Fraction(1, 2), "50%以上〜75%未満"),
    ("25-50", Fraction(1, 4), "25%以上〜50%未満"),
    ("0-25", Fraction(0), "0%以上〜25%未満"),
)
BAND_LABELS = {band: label for band, _, label in BANDS}
LIST_COLUMNS = ("prefecture", "name", "programs", "fiscal_year")
_HEADER_NAMES = {"prefecture", "都道府県", "都道府県名"}


def band_of(rate: Fraction) -> str:
    """Return the band of a participation rate: 75+, 50-75, 25-50 or 0-25 (lower bounds inclusive)."""
    for band, lower, _ in BANDS:
        if rate >= lower:
            return band
    return BANDS[-1][0]


@dataclass(frozen=True)
class Participant:
    """One participating body, the programs it runs, and the fiscal years it modified its systems in."""

    code: str
    name: str
    prefecture_code: str
    is_prefecture: bool
    programs: dict[str, int] = field(default_factory=dict)  # program code -> fiscal year it joined
    years: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Unmatched:
    """A listed name that matched no body, with the nearest candidates (never a guess)."""

    row: int
    prefecture: str
    name: str
    candidates: tuple[Candidate, ...]

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of an unmatched row."""
        return {
            "row": self.row,
            "prefecture": self.prefecture,
            "name": self.name,
            "candidates": [c.as_json() for c in self.candidates],
        }


@dataclass(frozen=True)
class PrefectureShare:
    """A prefecture's share of participating 市区町村 and whether it participates itself."""

    code: str
    name: str
    participating: int
    total: int
    prefecture_participates: bool

    @property
    def rate(self) -> Fraction:
        """Participating 市区町村 over all 市区町村 of the prefecture."""
        return Fraction(self.participating, self.total) if self.total else Fraction(0)

    @property
    def band(self) -> str:
        """The band the rate falls in."""
        return band_of(self.rate)

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of one prefecture."""
        return {
            "code": self.code,
            "name": self.name,
            "participating": self.participating,
            "total": self.total,
            "rate": round(float(self.rate), 4),
            "band": self.band,
            "prefecture_participates": self.prefecture_participates,
        }


@dataclass
class ParticipationStats:
    """Everything the statistics page, the API and ``pmh stats participation`` show."""

    participants: list[Participant]
    rows: int = 0
    matched_rows: int = 0
    unmatched: list[Unmatched] = field(default_factory=list)
    as_of_year: int | None = None

    @property
    def prefectures(self) -> list[Participant]:
        """The participating prefectures."""
        return [p for p in self.participants if p.is_prefecture]

    @property
    def municipalities(self) -> list[Participant]:
        """The participating 市区町村."""
        return [p for p in self.participants if not p.is_prefecture]

    def by_prefecture(self) -> list[PrefectureShare]:
        """Return each of the 47 prefectures' share of participating 市区町村."""
        joined = {p.code for p in self.participants}
        return [
            PrefectureShare(
                code=prefecture.prefecture_code,
                name=prefecture.name,
                participating=sum(
                    1 for m in catalogue.municipalities_in(prefecture.prefecture_code) if m.code in joined
                ),
                total=len(catalogue.municipalities_in(prefecture.prefecture_code)),
                prefecture_participates=prefecture.code in joined,
            )
            for prefecture in catalogue.prefectures()
        ]

    def years(self) -> list[int]:
        """The fiscal years the data speaks of, oldest first."""
        return sorted({y for p in self.participants for y in p.years})

    def cumulative(self) -> list[dict[str, int]]:
        """Return participating bodies per fiscal year, cumulative (the seed's 参加自治体（累計）)."""
        table = []
        for year in self.years():
            joined = [p for p in self.participants if p.years and min(p.years) <= year]
            prefectures = sum(1 for p in joined if p.is_prefecture)
            table.append(
                {
                    "fiscal_year": year,
                    "total": len(joined),
                    "prefectures": prefectures,
                    "municipalities": len(joined) - prefectures,
                }
            )
        return table

    def modified(self) -> list[dict[str, int]]:
        """Return bodies that modified their systems per fiscal year, split new vs adding programs."""
        table = []
        for year in self.years():
            active = [p for p in self.participants if year in p.years]
            new = [p for p in active if min(p.years) == year]
            prefectures = sum(1 for p in active if p.is_prefecture)
            table.append(
                {
                    "fiscal_year": year,
                    "total": len(active),
                    "prefectures": prefectures,
                    "municipalities": len(active) - prefectures,
                    "new": len(new),
                    "adding": len(active) - len(new),
                }
            )
        return table

    def per_program(self) -> list[dict[str, object]]:
        """Return how many prefectures and 市区町村 run each program (cumulative)."""
        table: list[dict[str, object]] = []
        for program in catalogue.programs():
            running = [p for p in self.participants if program.code in p.programs]
            if not running:
                continue
            prefectures = sum(1 for p in running if p.is_prefecture)
            table.append(
                {
                    "program_code": program.code,
                    "program_name": program.name,
                    "prefectures": prefectures,
                    "municipalities": len(running) - prefectures,
                }
            )
        return table

    def as_json(self) -> dict[str, object]:
        """Return the ``stats participation --json`` / ``GET /stats/participation`` shape."""
        return {
            "fiscal_year": self.as_of_year,
            "rows": self.rows,
            "matched": self.matched_rows,
            "unmatched": [u.as_json() for u in self.unmatched],
            "prefectures_participating": len(self.prefectures),
            "municipalities_participating": len(self.municipalities),
            "by_prefecture": [s.as_json() for s in self.by_prefecture()],
            "by_year": self.cumulative(),
            "modified_by_year": self.modified(),
            "by_program": self.per_program(),
        }


@dataclass(frozen=True)
class _ListRow:
    row: int
    prefecture: str
    prefecture_code: str
    name: str
    programs: tuple[str, ...]
    fiscal_year: int | None


def _parse_list(text: str, default_year: int | None) -> list[_ListRow]:
    """Read a participation list's rows; refuse (with row, column and reason) what cannot be read."""
    try:
        records = list(csv.reader(text_stream(text.lstrip("\ufeff"))))
    except csv.Error as exc:
        raise unreadable(0, exc) from None
    if records and normalize_text(records[0][0] if records[0] else "") in _HEADER_NAMES:
        records = records[1:]
    known_programs = {p.code for p in catalogue.programs()}
    rows: list[_ListRow] = []
    errors: list[FieldError] = []
    for number, record in enumerate(records, start=1):
        cells = [normalize_text(c) for c in record] + [""] * (len(LIST_COLUMNS) - len(record))
        if not any(cells):
            continue
        prefecture, name, programs_text, year_text = cells[:4]
        try:
            code = prefecture_code(prefecture)
        except UnknownPrefectureError as exc:
            errors.append(FieldError("prefecture", "unknown_prefecture", str(exc), row=number))
            continue
        if not name:
            errors.append(FieldError("name", "required", "市区町村名（または都道府県名）がありません。", row=number))
            continue
        programs = tuple(p for p in programs_text.replace(" ", "").split(";") if p)
        unknown = [p for p in programs if p not in known_programs]
        if unknown:
            message = f"制度コード「{'、'.join(unknown)}」はカタログにありません。"
            errors.append(FieldError("programs", "unknown_program", message, row=number))
            continue
        year: int | None = default_year
        if year_text:
            if not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
                message = f"年度「{year_text}」は西暦4桁（例: 2025）で書いてください。"
                errors.append(FieldError("fiscal_year", "invalid_fiscal_year", message, row=number))
                continue
            year = int(year_text)
        rows.append(_ListRow(number, prefecture, code, name, programs, year))
    if errors:
        raise InvalidInput("参加自治体一覧を読めない行があります。", errors)
    if not rows:
        raise InvalidInput("参加自治体一覧に行がありません。", [FieldError("file", "empty", "行がありません。")])
    return rows


def from_list(text: str, default_year: int | None = None) -> ParticipationStats:
    """Compute the statistics from a participation list (CSV ``prefecture,name[,programs][,fiscal_year]``).

    A row whose name is the prefecture's marks the prefecture itself. Names are matched to codes;
    unmatched ones are reported with their nearest candidates and left out of the counts.
    """
    rows = _parse_list(text, default_year)
    programs: dict[str, dict[str, int]] = {}
    years: dict[str, set[int]] = {}
    bodies: dict[str, catalogue.Municipality] = {}
    unmatched: list[Unmatched] = []
    for row in rows:
        found = match_name(row.name, row.prefecture_code)
        if found.municipality is None:
            unmatched.append(Unmatched(row.row, row.prefecture, row.name, found.candidates))
            continue
        body = found.municipality
        bodies[body.code] = body
        year = row.fiscal_year if row.fiscal_year is not None else 0
        years.setdefault(body.code, set()).add(year)
        for program in row.programs:
            known = programs.setdefault(body.code, {})
            known[program] = min(known.get(program, year), year)
    participants = [
        Participant(
            code=code,
            name=body.name,
            prefecture_code=body.prefecture_code,
            is_prefecture=body.is_prefecture,
            programs=programs.get(code, {}),
            years=frozenset(y for y in years[code] if y) or frozenset(),
        )
        for code, body in sorted(bodies.items())
    ]
    listed_years = sorted({y for p in participants for y in p.years})
    return ParticipationStats(
        participants=participants,
        rows=len(rows),
        matched_rows=len(rows) - len(unmatched),
        unmatched=unmatched,
        as_of_year=listed_years[-1] if listed_years else default_year,
    )


def from_programs(programs: Iterable[participation.RegisteredProgram], as_of_year: int | None) -> ParticipationStats:
    """Compute the statistics from registered programs: a body participates from its first program's year."""
    by_body: dict[str, dict[str, int]] = {}
    for program in programs:
        year = fiscal_year(program.start_date)
        if as_of_year is not None and year > as_of_year:
            continue
        joined = by_body.setdefault(program.municipality_code, {})
        joined[program.program_code] = min(joined.get(program.program_code, year), year)
    participants = []
    for code, joined in sorted(by_body.items()):
        body = catalogue.municipality(code)
        participants.append(
            Participant(
                code=code,
                name=body.name,
                prefecture_code=body.prefecture_code,
                is_prefecture=body.is_prefecture,
                programs=joined,
                years=frozenset(joined.values()),
            )
        )
    return ParticipationStats(participants=participants, as_of_year=as_of_year)


def from_registry(session: Session, as_of_year: int | None = None) -> ParticipationStats:
    """Compute the statistics from the programs registered in the hub, up to a fiscal year."""
    return from_programs(participation.registered_programs(session), as_of_year)


def planned_vs_live(session: Session, caller: Caller, fy: int, today: dt.date) -> dict[str, object]:
    """Return the bodies that intend to join in fiscal year ``fy`` against those already live.

    Planned: the 参加意向 (intent) step is done; live: a program's go-live step is done (it has
    started and an institution has read one of its certificates). Both from the onboarding readiness.
    """
    return onboarding.planned_vs_live(session, caller, fy, today)
