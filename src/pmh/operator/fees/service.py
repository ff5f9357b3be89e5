"""Operating fee (運営負担金) and new-introduction fee (新規導入費用), docs/operator.md.

The rules, as implemented:

- Fees exist from FY2027 (令和9年度, after the move to the DX organisation).
- A program's introduction year is the fiscal year of its start date. A program introduced during FY N
  starts operating — and paying — in FY N+1.
- The count for FY N (算定対象者数) is the registered count on the reference date (default April 1 of
  N−1) of the programs already operating, plus the planned recipients (対象予定者数) of the programs that
  join in FY N (introduced during N−1). A joining program is counted by its planned recipients only, so
  a certificate it registered early is not counted twice.
- Monthly fee = count × unit price; annual fee = monthly × 12; rounded down to the yen (a unit price
  may carry 銭, e.g. ¥4.41). The municipality pays one total, monthly or annually, as it chose.
- The introduction fee is charged once per municipality per fiscal year in which it introduces at least
  one program (however many), again in a later year when it adds another; it is the year's total
  introduction cost divided among the year's introducing municipalities, rounded down to the yen.
- Each fiscal year has an estimate (概算) and a final (確定) price; a report says which one it used.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh import clock, csvfiles
from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year, format_fiscal_year
from pmh.errors import FieldError, InvalidInput, NotFound
from pmh.operator.contracts import service as contracts
from pmh.operator.models import FeePrice
from pmh.registry import counts as kept_counts
from pmh.registry import participation

PriceVersion = Literal["estimate", "final"]
PRICE_VERSIONS: tuple[PriceVersion, ...] = ("estimate", "final")
VERSION_LABELS: dict[str, str] = {"estimate": "概算", "final": "確定"}
FIRST_FEE_YEAR = 2027
SEN_PER_YEN = 100
MAX_UNIT_PRICE_YEN = 100_000


def parse_unit_price(text: str) -> int:
    """Read a unit price in yen (``7``, ``4.41``) and return it in 銭; at most two decimals, not negative."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(
            f"単価「{text}」は数値ではありません。",
            [FieldError("unit", "not_a_number", "円単位の数値を指定してください。")],
        ) from None
    sen = value * SEN_PER_YEN if value.is_finite() else value
    if not value.is_finite() or sen != sen.to_integral_value() or not 0 <= value <= MAX_UNIT_PRICE_YEN:
        message = f"単価「{text}」は0〜{MAX_UNIT_PRICE_YEN:,}円、小数点以下2桁（銭）までの金額で指定してください。"
        raise InvalidInput(message, [FieldError("unit", "invalid_unit_price", message)])
    return int(sen)


def yen_text(sen: int) -> str:
    """Format an amount in 銭 as yen: 700 → ``7``, 441 → ``4.41``."""
    whole, rest = divmod(sen, SEN_PER_YEN)
    return str(whole) if rest == 0 else f"{whole}.{rest:02d}"


def _yen_number(sen: int) -> int | float:
    return sen // SEN_PER_YEN if sen % SEN_PER_YEN == 0 else sen / SEN_PER_YEN


def monthly_fee(count: int, unit_price_sen: int) -> int:
    """Return the monthly operating fee: count × unit price, rounded down to the yen."""
    return count * unit_price_sen // SEN_PER_YEN


def annual_fee(count: int, unit_price_sen: int) -> int:
    """Return the annual operating fee: count × unit price × 12, rounded down to the yen."""
    return count * unit_price_sen * 12 // SEN_PER_YEN


def introduction_fee(total: int, introducing_municipalities: int) -> int:
    """Return one municipality's share of the year's introduction cost, rounded down to the yen."""
    if introducing_municipalities <= 0:
        return 0
    return total // introducing_municipalities


def reference_date_for(fy: int) -> dt.date:
    """Return the default reference date of fiscal year ``fy``: April 1 of the year before."""
    return dt.date(fy - 1, 4, 1)


def _check_fee_year(fy: int, field_name: str = "fiscal_year") -> None:
    if fy < FIRST_FEE_YEAR:
        message = (
            f"{format_fiscal_year(fy)}（{fy}年度）には運営負担金・新規導入費用はありません"
            f"（{format_fiscal_year(FIRST_FEE_YEAR)}から）。"
        )
        raise InvalidInput(message, [FieldError(field_name, "before_fees", message)])


def set_price(
    session: Session,
    caller: Caller,
    fy: int,
    version: PriceVersion,
    unit_price_sen: int,
    introduction_total: int | None = None,
    introducing_municipalities: int | None = None,
) -> FeePrice:
    """Set (or revise) one version of a fiscal year's price; the other version is kept as it is."""
    _check_fee_year(fy)
    if version not in PRICE_VERSIONS:
        raise InvalidInput(f"単価の区分「{version}」は estimate（概算）か final（確定）です。")
    for name, amount in (("introduction_total", introduction_total), ("introducing", introducing_municipalities)):
        if amount is not None and amount < 0:
            message = f"{name} は0以上で指定してください。"
            raise InvalidInput(message, [FieldError(name, "negative", message)])
    price = session.scalar(select(FeePrice).where(FeePrice.fiscal_year == fy, FeePrice.version == version))
    if price is None:
        price = FeePrice(fiscal_year=fy, version=version, unit_price_sen=unit_price_sen, set_by=caller.actor)
        session.add(price)
    price.unit_price_sen = unit_price_sen
    price.set_by = caller.actor
    if introduction_total is not None:
        price.introduction_total = introduction_total
    if introducing_municipalities is not None:
        price.introducing_municipalities = introducing_municipalities
    session.flush()
    return price


def prices(session: Session, fy: int) -> dict[str, FeePrice]:
    """Return the prices set for a fiscal year, by version."""
    rows = session.scalars(select(FeePrice).where(FeePrice.fiscal_year == fy))
    return {p.version: p for p in rows}


def chosen_price(session: Session, fy: int, version: PriceVersion | None) -> FeePrice:
    """Return the price to compute with: the one asked for, else the final one, else the estimate."""
    known = prices(session, fy)
    if version is not None:
        if version not in known:
            raise NotFound(
                f"{fy}年度の{VERSION_LABELS.get(version, version)}単価は設定されていません。"
                "先に運営主体が単価を設定してください。"
            )
        return known[version]
    for candidate in ("final", "estimate"):
        if candidate in known:
            return known[candidate]
    raise NotFound(f"{fy}年度の単価は設定されていません。先に運営主体が単価（月額・円）を設定してください。")


@dataclass
class MunicipalityFee:
    """One municipality's fees for a fiscal year and what they were computed from."""

    code: str
    name: str
    prefecture_code: str
    registered: int
    planned: int
    monthly_fee: int
    annual_fee: int
    introduction_fee: int
    payment: str
    joining_programs: list[str] = field(default_factory=list)
    introduced_programs: list[str] = field(default_factory=list)

    @property
    def registered_count(self) -> int:
        """The count the fee is computed on: registered on the reference date plus planned recipients."""
        return self.registered + self.planned

    @property
    def total_due(self) -> int:
        """What the municipality pays for the year: the annual operating fee plus the introduction fee."""
        return self.annual_fee + self.introduction_fee

    def as_json(self) -> dict[str, object]:
        """Return the ``fees compute --json`` shape of one municipality."""
        return {
            "code": self.code,
            "name": self.name,
            "prefecture_code": self.prefecture_code,
            "registered_count": self.registered_count,
            "registered_on_reference_date": self.registered,
            "planned_recipients": self.planned,
            "monthly_fee": self.monthly_fee,
            "annual_fee": self.annual_fee,
            "introduction_fee": self.introduction_fee,
            "payment": self.payment,
            "joining_programs": self.joining_programs,
            "introduced_programs": self.introduced_programs,
        }


@dataclass
class FeeReport:
    """The fees of every paying municipality for one fiscal year, with the price that was used."""

    fiscal_year: int
    reference_date: dt.date
    unit_price_sen: int
    price_version: str
    introduction_total: int | None
    introducing_municipalities: int
    introduction_fee_each: int
    municipalities: list[MunicipalityFee]

    @property
    def price_label(self) -> str:
        """Say which price the report used, in Japanese (概算単価 / 確定単価)."""
        return f"{VERSION_LABELS[self.price_version]}単価"

    def as_json(self) -> dict[str, object]:
        """Return the ``fees compute --json`` / ``GET /fees`` shape."""
        return {
            "fiscal_year": self.fiscal_year,
            "reference_date": self.reference_date.isoformat(),
            "unit_price": _yen_number(self.unit_price_sen),
            "price_version": self.price_version,
            "introduction_total": self.introduction_total,
            "introducing_municipalities": self.introducing_municipalities,
            "introduction_fee": self.introduction_fee_each,
            "totals": {
                "registered_count": sum(m.registered_count for m in self.municipalities),
                "monthly_fee": sum(m.monthly_fee for m in self.municipalities),
                "annual_fee": sum(m.annual_fee for m in self.municipalities),
                "introduction_fee": sum(m.introduction_fee for m in self.municipalities),
            },
            "municipalities": [m.as_json() for m in self.municipalities],
        }


def compute(
    session: Session, fy: int, version: PriceVersion | None = None, reference_date: dt.date | None = None
) -> FeeReport:
    """Compute every municipality's operating and introduction fees for fiscal year ``fy``."""
    _check_fee_year(fy)
    price = chosen_price(session, fy, version)
    on = reference_date or reference_date_for(fy)
    programs = participation.registered_programs(session)
    operating: dict[str, list[participation.RegisteredProgram]] = {}
    joining: dict[str, list[participation.RegisteredProgram]] = {}
    introducing: dict[str, list[participation.RegisteredProgram]] = {}
    not_operating: set[int] = set()
    names: dict[str, tuple[str, str]] = {}
    for program in programs:
        introduced = fiscal_year(program.start_date)
        names[program.municipality_code] = (program.municipality_name, program.prefecture_code)
        if introduced <= fy - 2:
            operating.setdefault(program.municipality_code, []).append(program)
        else:
            not_operating.add(program.program_id)
        if introduced == fy - 1:
            joining.setdefault(program.municipality_code, []).append(program)
        if introduced == fy:
            introducing.setdefault(program.municipality_code, []).append(program)
    counts = kept_counts.municipality_counts(session, on, not_operating)
    if counts is None:  # a date whose counts are not kept: count it from the versions
        counts = participation.registered_counts(session, on, exclude_program_ids=not_operating)
    divisor = price.introducing_municipalities if price.introducing_municipalities is not None else len(introducing)
    share = introduction_fee(price.introduction_total or 0, divisor)
    payments = contracts.payment_choices(session)
    result: list[MunicipalityFee] = []
    for code in sorted(set(operating) | set(joining) | set(introducing)):
        registered = counts.get(code, 0)
        planned = sum(p.planned_recipients for p in joining.get(code, []))
        count = registered + planned
        name, prefecture = names[code]
        result.append(
            MunicipalityFee(
                code=code,
                name=name,
                prefecture_code=prefecture,
                registered=registered,
                planned=planned,
                monthly_fee=monthly_fee(count, price.unit_price_sen),
                annual_fee=annual_fee(count, price.unit_price_sen),
                introduction_fee=share if code in introducing else 0,
                payment=payments.get(code, "annual"),
                joining_programs=[p.program_code for p in joining.get(code, [])],
                introduced_programs=[p.program_code for p in introducing.get(code, [])],
            )
        )
    return FeeReport(
        fiscal_year=fy,
        reference_date=on,
        unit_price_sen=price.unit_price_sen,
        price_version=price.version,
        introduction_total=price.introduction_total,
        introducing_municipalities=divisor,
        introduction_fee_each=share,
        municipalities=result,
    )


def default_count_dates(session: Session) -> list[dt.date]:
    """Return the reference dates ``rebuild-counts`` keeps by default.

    Those already kept, and those of every fee year from FY2027 to the year after next (whose
    reference date is next April 1 at the latest).
    """
    last = fiscal_year(clock.today()) + 2
    defaults = {reference_date_for(fy) for fy in range(FIRST_FEE_YEAR, last + 1)}
    return sorted(defaults | set(kept_counts.tracked_dates(session)))


def rebuild_counts(session: Session, caller: Caller, dates: list[dt.date] | None = None) -> dict[dt.date, int]:
    """Recount the kept registered counts from the versions; audited when a count changed or a date was added.

    Returns, per reference date, how many programs' counts changed (0 everywhere: the summary was right).
    """
    wanted = dates or default_count_dates(session)
    known = set(kept_counts.tracked_dates(session))
    changed = kept_counts.rebuild(session, wanted)
    added = sorted(set(wanted) - known)
    if added or any(changed.values()):
        audit.record(
            session,
            caller,
            "fees.rebuild_counts",
            "registered_counts",
            ",".join(on.isoformat() for on in sorted(changed)),
            {
                "added_dates": [on.isoformat() for on in added],
                "changed_programs": {on.isoformat(): n for on, n in sorted(changed.items())},
            },
        )
    return changed


INVOICE_HEADER = (
    "年度",
    "単価区分",
    "月額単価（円）",
    "基準日",
    "自治体コード",
    "自治体名",
    "登録対象者数（基準日）",
    "対象予定者数",
    "算定対象者数",
    "月額",
    "年額",
    "支払方法",
    "新規導入費用",
    "年間請求額",
)
PAYMENT_LABELS = {"monthly": "月払い", "annual": "年払い"}


def invoice_rows(report: FeeReport) -> list[list[str]]:
    """Return the invoice lines of a report (one per municipality) for the CSV download."""
    return [
        [
            str(report.fiscal_year),
            VERSION_LABELS[report.price_version],
            yen_text(report.unit_price_sen),
            report.reference_date.isoformat(),
            m.code,
            m.name,
            str(m.registered),
            str(m.planned),
            str(m.registered_count),
            str(m.monthly_fee),
            str(m.annual_fee),
            PAYMENT_LABELS.get(m.payment, m.payment),
            str(m.introduction_fee),
            str(m.total_due),
        ]
        for m in report.municipalities
    ]


def invoice_csv(report: FeeReport) -> str:
    """Return the invoices as CSV text (written with a BOM by the edges, so that Excel opens it)."""
    out = io.StringIO()
    writer = csvfiles.writer(out, lineterminator="\r\n")
    writer.writerow(INVOICE_HEADER)
    writer.writerows(invoice_rows(report))
    return out.getvalue()


def municipality_fee(report: FeeReport, code: str) -> MunicipalityFee:
    """Return one municipality's line of a report."""
    for line in report.municipalities:
        if line.code == code:
            return line
    raise NotFound(f"{report.fiscal_year}年度に自治体 {code} への請求はありません。")
