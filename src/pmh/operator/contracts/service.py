"""Contact windows, delegations and prefecture contracts (委託契約), docs/operator.md.

- Each municipality names one contact window (とりまとめ窓口) for all its programs and chooses how it
  pays the operating fee (monthly or annual).
- From FY2027 each 市区町村 (designated and core cities included) delegates its contract to its
  prefecture with a 委任状 whose annex (委任状別紙) lists the programs it entrusts.
- The prefecture signs one contract per fiscal year; its annex (契約書別紙) lists the prefecture's own
  programs and every delegating municipality's.
- A contract is built at most once per fiscal year. Programs registered or delegated after it was
  built are reported as deferred: they go into the next year's contract.
- Up to FY2026 each municipality contracts with the Digital Agency itself; no prefecture contract.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year_bounds, format_fiscal_year
from pmh.codes.prefectures import prefecture_name
from pmh.errors import FieldError, InvalidInput
from pmh.operator.models import ContactWindow, Contract, Delegation
from pmh.reference import catalogue
from pmh.registry import participation

FIRST_CONTRACT_YEAR = 2027
PAYMENTS = ("monthly", "annual")


def _municipality(code: str, field_name: str = "municipality") -> catalogue.Municipality:
    try:
        return catalogue.municipality(code)
    except KeyError as exc:
        message = str(exc)
        raise InvalidInput(message, [FieldError(field_name, "unknown_municipality", message)]) from None


def set_contact_window(
    session: Session,
    municipality_code: str,
    department: str,
    contact_name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    payment: str = "annual",
) -> ContactWindow:
    """Name (or change) a body's one contact window (とりまとめ窓口) and its choice of payment."""
    body = _municipality(municipality_code)
    if payment not in PAYMENTS:
        message = f"支払方法「{payment}」は monthly（月払い）か annual（年払い）です。"
        raise InvalidInput(message, [FieldError("payment", "invalid_payment", message)])
    if not department.strip():
        message = "とりまとめ窓口の課名を入力してください。"
        raise InvalidInput(message, [FieldError("department", "required", message)])
    window = session.scalar(select(ContactWindow).where(ContactWindow.municipality_code == body.code))
    if window is None:
        window = ContactWindow(municipality_code=body.code, department=department.strip())
        session.add(window)
    window.department = department.strip()
    window.contact_name = contact_name
    window.phone = phone
    window.email = email
    window.payment = payment
    session.flush()
    return window


def contact_windows(session: Session) -> dict[str, ContactWindow]:
    """Return every contact window by municipality code."""
    return {w.municipality_code: w for w in session.scalars(select(ContactWindow))}


def payment_choices(session: Session) -> dict[str, str]:
    """Return each municipality's choice of payment (monthly or annual) by its code."""
    return {code: window.payment for code, window in contact_windows(session).items()}


def _check_contract_year(fy: int) -> None:
    if fy < FIRST_CONTRACT_YEAR:
        message = (
            f"{format_fiscal_year(fy)}（{fy}年度）までは各自治体がデジタル庁と契約します。"
            f"都道府県がとりまとめる契約は{format_fiscal_year(FIRST_CONTRACT_YEAR)}からです。"
        )
        raise InvalidInput(message, [FieldError("fiscal_year", "digital_agency_contract", message)])


def _programs_in_force(session: Session, fy: int) -> dict[str, list[str]]:
    """Return, per body, the programs it registered that have started by the end of fiscal year ``fy``."""
    _, last_day = fiscal_year_bounds(fy)
    found: dict[str, list[str]] = {}
    for program in participation.registered_programs(session):
        if program.start_date <= last_day:
            found.setdefault(program.municipality_code, []).append(program.program_code)
    return found


def delegate(session: Session, municipality_code: str, fy: int, programs: list[str] | None = None) -> Delegation:
    """Record a municipality's 委任状 for a fiscal year with its annex of programs (default: those it runs).

    Every program must be in the catalogue and one the municipality may run (実施主体). A prefecture
    does not delegate: it is the one that signs.
    """
    _check_contract_year(fy)
    body = _municipality(municipality_code)
    if body.is_prefecture:
        message = f"{body.name}は都道府県のため委任しません（都道府県が契約を締結します）。"
        raise InvalidInput(message, [FieldError("municipality", "prefecture_signs", message)])
    wanted = programs if programs else _programs_in_force(session, fy).get(body.code, [])
    errors: list[FieldError] = []
    for code in wanted:
        try:
            entry = catalogue.program(code)
        except KeyError as exc:
            errors.append(FieldError("programs", "unknown_program", str(exc)))
            continue
        refusal = catalogue.implementing_body_refusal(entry, body)
        if refusal:
            errors.append(FieldError("programs", "implementing_body", f"{code}: {refusal}"))
    if not wanted:
        errors.append(FieldError("programs", "no_programs", f"{body.name}が委託する制度がありません。"))
    if errors:
        raise InvalidInput("委任状別紙の制度一覧に誤りがあります。", errors)
    annex = ";".join(sorted(set(wanted)))
    delegation = session.scalar(
        select(Delegation).where(Delegation.municipality_code == body.code, Delegation.fiscal_year == fy)
    )
    if delegation is None:
        delegation = Delegation(
            municipality_code=body.code, prefecture_code=body.prefecture_code, fiscal_year=fy, programs=annex
        )
        session.add(delegation)
    delegation.programs = annex
    session.flush()
    return delegation


@dataclass
class PrefectureContract:
    """One prefecture's contract for a fiscal year: its annex, delegations and what waits for next year."""

    prefecture_code: str
    fiscal_year: int
    programs: list[tuple[str, str]]
    delegations: list[str]
    status: str
    built_at: dt.datetime | None = None
    deferred: list[tuple[str, str]] = field(default_factory=list)
    missing_delegations: list[str] = field(default_factory=list)

    @property
    def prefecture_name(self) -> str:
        """The prefecture's name."""
        return prefecture_name(self.prefecture_code)

    def as_json(self) -> dict[str, object]:
        """Return the ``contracts build --json`` shape of one contract."""
        return {
            "prefecture_code": self.prefecture_code,
            "prefecture_name": self.prefecture_name,
            "status": self.status,
            "built_at": self.built_at.isoformat() if self.built_at else None,
            "programs": [{"municipality_code": m, "program_code": p} for m, p in self.programs],
            "delegations": self.delegations,
            "deferred": [{"municipality_code": m, "program_code": p} for m, p in self.deferred],
            "missing_delegations": self.missing_delegations,
        }


def _current_annexes(session: Session, fy: int) -> dict[str, tuple[list[tuple[str, str]], list[str], list[str]]]:
    """Return, per prefecture code, the annex lines, delegating municipalities and missing delegations now."""
    running = _programs_in_force(session, fy)
    delegations = {
        d.municipality_code: d for d in session.scalars(select(Delegation).where(Delegation.fiscal_year == fy))
    }
    result: dict[str, tuple[list[tuple[str, str]], list[str], list[str]]] = {}
    for prefecture in catalogue.prefectures():
        lines = [(prefecture.code, p) for p in sorted(running.get(prefecture.code, []))]
        delegating: list[str] = []
        missing: list[str] = []
        for body in catalogue.municipalities_in(prefecture.prefecture_code):
            delegation = delegations.get(body.code)
            if delegation is not None:
                delegating.append(body.code)
                lines += [(body.code, p) for p in delegation.programs.split(";") if p]
            elif running.get(body.code):
                missing.append(body.code)
        if lines or missing:
            result[prefecture.prefecture_code] = (lines, delegating, missing)
    return result


def _stored(session: Session, fy: int) -> dict[str, Contract]:
    return {c.prefecture_code: c for c in session.scalars(select(Contract).where(Contract.fiscal_year == fy))}


def _contract_view(
    prefecture_code: str,
    fy: int,
    now: tuple[list[tuple[str, str]], list[str], list[str]],
    stored: Contract | None,
) -> PrefectureContract:
    lines, delegating, missing = now
    if stored is None:
        return PrefectureContract(prefecture_code, fy, lines, delegating, "draft", missing_delegations=missing)
    signed = [(line["municipality_code"], line["program_code"]) for line in json.loads(stored.annex)]
    deferred = [line for line in lines if line not in signed]
    return PrefectureContract(
        prefecture_code,
        fy,
        signed,
        list(json.loads(stored.delegations)),
        "built",
        built_at=stored.created_at,
        deferred=deferred,
        missing_delegations=missing,
    )


def contracts_for(session: Session, fy: int) -> list[PrefectureContract]:
    """Return every prefecture's contract for a fiscal year: built ones as built, the rest as drafts."""
    _check_contract_year(fy)
    now = _current_annexes(session, fy)
    stored = _stored(session, fy)
    empty: tuple[list[tuple[str, str]], list[str], list[str]] = ([], [], [])
    codes = sorted(set(now) | set(stored))
    return [_contract_view(code, fy, now.get(code, empty), stored.get(code)) for code in codes]


def build(session: Session, caller: Caller, fy: int) -> list[PrefectureContract]:
    """Build the contract of every prefecture that has something to sign for fiscal year ``fy``.

    A contract already built for the year is kept as it was (updated at most once a year); what was
    added since is reported as deferred to the next year's contract.
    """
    _check_contract_year(fy)
    now = _current_annexes(session, fy)
    stored = _stored(session, fy)
    for code, (lines, delegating, _) in now.items():
        if code in stored or not lines:
            continue
        annex = [{"municipality_code": m, "program_code": p} for m, p in lines]
        contract = Contract(
            prefecture_code=code,
            fiscal_year=fy,
            annex=json.dumps(annex, ensure_ascii=False),
            delegations=json.dumps(delegating),
            built_by=caller.actor,
        )
        session.add(contract)
    session.flush()
    return contracts_for(session, fy)


def contract_of(session: Session, fy: int, prefecture_code: str) -> PrefectureContract:
    """Return one prefecture's contract (built or draft) for a fiscal year."""
    for contract in contracts_for(session, fy):
        if contract.prefecture_code == prefecture_code:
            return contract
    return PrefectureContract(prefecture_code, fy, [], [], "draft")
