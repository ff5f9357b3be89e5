"""The subsidy's amount rule (補助額), read from ``data/subsidy_rules.csv`` so each year's table is data.

Amount = min(cost, cost ceiling) × rate, rounded down to the thousand yen (千円未満切捨て). Which
ceiling and rate apply depends on the facility (clinic, hospital, pharmacy), the chosen modification
(① online certificate data, ② ① plus マイナ診察券, ③ マイナ診察券 only), for hospitals whether
reception-machine work (再来受付機等) is included, and for pharmacies whether it is a large chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Literal

from pmh.errors import FieldError, InvalidInput, NotFound

Facility = Literal["clinic", "hospital", "pharmacy"]
FACILITIES: tuple[Facility, ...] = ("clinic", "hospital", "pharmacy")
FACILITY_LABELS = {"clinic": "診療所", "hospital": "病院", "pharmacy": "薬局"}
OPTION_LABELS = {
    1: "① 医療費助成の受給者証情報をオンラインで取得するためのレセコンの改修",
    2: "② ①に加えてマイナ診察券で受付を行うためのレセコン等の改修",
    3: "③ マイナ診察券で受付を行うためのレセコン等の改修",
}
ROUNDING = 1000


@dataclass(frozen=True)
class SubsidyRule:
    """One line of the year's table: for whom it applies, the cost ceiling, the rate and the maximum."""

    fiscal_year: int
    facility: str
    option: int
    reception_machine: bool | None
    large_chain: bool | None
    cost_ceiling: int
    rate: Fraction
    maximum: int
    label: str

    @property
    def rate_text(self) -> str:
        """The rate as a fraction, e.g. ``"3/4"``."""
        return f"{self.rate.numerator}/{self.rate.denominator}"


@dataclass(frozen=True)
class Period:
    """The application period (申請期間) of a fiscal year's subsidy."""

    fiscal_year: int
    opens: dt.date
    closes: dt.date
    name: str


@dataclass(frozen=True)
class Quote:
    """A subsidy amount with the rule that produced it."""

    amount: int
    cost: int
    rule: SubsidyRule

    @property
    def explanation(self) -> str:
        """Say how the amount was computed, in Japanese."""
        exact = min(self.cost, self.rule.cost_ceiling) * self.rule.rate
        shown = f"{int(exact):,}" if exact.denominator == 1 else f"{float(exact):,.2f}"
        return (
            f"{self.rule.label}: min(改修費用 {self.cost:,}円, 上限 {self.rule.cost_ceiling:,}円)"
            f" × {self.rule.rate_text} = {shown}円 → 千円未満切捨て {self.amount:,}円"
            f"（補助上限 {self.rule.maximum:,}円）"
        )

    def as_json(self) -> dict[str, object]:
        """Return the ``subsidy quote --json`` shape."""
        return {
            "amount": self.amount,
            "cost_ceiling": self.rule.cost_ceiling,
            "rate": self.rule.rate_text,
            "maximum": self.rule.maximum,
            "cost": self.cost,
            "facility": self.rule.facility,
            "option": self.rule.option,
            "fiscal_year": self.rule.fiscal_year,
            "rule": self.rule.label,
            "explanation": self.explanation,
        }


def _read(name: str) -> list[dict[str, str]]:
    text = (resources.files("pmh.operator.subsidy") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _flag(value: str) -> bool | None:
    return None if value == "" else value == "1"


@cache
def rules() -> tuple[SubsidyRule, ...]:
    """Return every line of every year's table."""
    return tuple(
        SubsidyRule(
            fiscal_year=int(row["fiscal_year"]),
            facility=row["facility"],
            option=int(row["option"]),
            reception_machine=_flag(row["reception_machine"]),
            large_chain=_flag(row["large_chain"]),
            cost_ceiling=int(row["cost_ceiling"]),
            rate=Fraction(row["rate"]),
            maximum=int(row["maximum"]),
            label=row["rule"],
        )
        for row in _read("subsidy_rules.csv")
    )


@cache
def periods() -> dict[int, Period]:
    """Return the application period of each fiscal year that has a subsidy."""
    return {
        int(row["fiscal_year"]): Period(
            int(row["fiscal_year"]),
            dt.date.fromisoformat(row["opens"]),
            dt.date.fromisoformat(row["closes"]),
            row["name"],
        )
        for row in _read("subsidy_periods.csv")
    }


@dataclass(frozen=True)
class Window:
    """Where ``today`` stands among the application periods: the open one, the last closed, the next."""

    today: dt.date
    current: Period | None
    previous: Period | None
    upcoming: Period | None

    @property
    def is_open(self) -> bool:
        """True while an application period is open."""
        return self.current is not None


def window(today: dt.date) -> Window:
    """Return the open period (if any), the last period that closed before ``today`` and the next one."""
    known = sorted(periods().values(), key=lambda p: p.opens)
    current = next((p for p in known if p.opens <= today <= p.closes), None)
    previous = next((p for p in reversed(known) if p.closes < today), None)
    upcoming = next((p for p in known if p.opens > today), None)
    return Window(today, current, previous, upcoming)


def latest_year() -> int:
    """Return the latest fiscal year that has a subsidy table."""
    return max(r.fiscal_year for r in rules())


def subsidy_amount(cost: int, ceiling: int, rate: Fraction) -> int:
    """Return min(cost, ceiling) × rate rounded down to the thousand yen."""
    exact = min(cost, ceiling) * rate
    return int(exact // ROUNDING) * ROUNDING


class NoSubsidyRule(NotFound):
    """The year's table has no line for this combination of facility, option and flags (not eligible)."""

    code = "no_subsidy_rule"
    title = "補助の対象になりません"


def _refuse(field_name: str, code: str, message: str) -> NoSubsidyRule:
    return NoSubsidyRule(message, [FieldError(field_name, code, message)])


def find_rule(
    facility: str, option: int, reception_machine: bool, large_chain: bool, fiscal_year: int | None = None
) -> SubsidyRule:
    """Return the table line that applies, or say why the combination is not eligible."""
    fy = fiscal_year or latest_year()
    if facility not in FACILITIES:
        raise _refuse(
            "facility", "unknown_facility", f"施設区分「{facility}」は clinic・hospital・pharmacy のいずれかです。"
        )
    if option not in OPTION_LABELS:
        raise _refuse("option", "unknown_option", f"改修内容「{option}」は 1・2・3 のいずれかです。")
    if facility == "pharmacy" and option != 1:
        raise _refuse("option", "pharmacy_option_1_only", "薬局の補助対象は①（受給者証情報のオンライン取得）のみです。")
    if large_chain and facility != "pharmacy":
        raise _refuse("large_chain", "not_a_pharmacy", "大型チェーン薬局の区分は薬局にのみ指定できます。")
    if reception_machine and not (facility == "hospital" and option in (2, 3)):
        raise _refuse(
            "reception_machine",
            "reception_machine_not_applicable",
            "再来受付機等の改修は、病院の②・③を選んだ場合にのみ補助額に関係します。",
        )
    for rule in rules():
        if (
            rule.fiscal_year == fy
            and rule.facility == facility
            and rule.option == option
            and rule.reception_machine in (None, reception_machine)
            and rule.large_chain in (None, large_chain)
        ):
            return rule
    raise _refuse("fiscal_year", "no_subsidy", f"{fy}年度の補助金の定めがありません。")


def quote(
    facility: str,
    option: int,
    cost: int,
    reception_machine: bool = False,
    large_chain: bool = False,
    fiscal_year: int | None = None,
) -> Quote:
    """Return the subsidy amount for a modification, with the rule that produced it."""
    if cost < 0:
        message = "改修費用は0円以上で指定してください。"
        raise InvalidInput(message, [FieldError("cost", "negative_cost", message)])
    rule = find_rule(facility, option, reception_machine, large_chain, fiscal_year)
    return Quote(amount=subsidy_amount(cost, rule.cost_ceiling, rule.rate), cost=cost, rule=rule)
