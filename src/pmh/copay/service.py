"""The self-pay ledger: quote, record and cancel what a patient paid, and the month's sheet.

Every call names a reception of the caller's institution that consented to the certificate: that
is the institution's proof it may see and write this patient's sheet. Writers lock the month's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already puts writers in line),
so entries posted at once by several institutions are checked against the cap one after another.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.copay.ledger import ledger_name, month_of, suggested_copay
from pmh.copay.models import CopayEntry, CopayMonth
from pmh.copay.schemas import (
    CopayEntryCreate,
    CopayEntryRead,
    CopayQuote,
    CopayQuoteCreate,
    CopaySheet,
    CopaySheetLine,
)
from pmh.db import utcnow
from pmh.eligibility import result
from pmh.errors import Conflict, FieldError, InvalidInput, NotFound, NotPermitted
from pmh.reference import catalogue
from pmh.registry.asof import CertificateOn


class CapExceeded(Conflict):
    """The entry would take the month past the certificate's cap; ``remaining`` says what is left."""

    code = "cap_exceeded"
    title = "自己負担上限額を超えます"


def _cap(state: CertificateOn, ledger: str) -> int:
    version = state.version
    cap = version.inpatient_cap if ledger == "inpatient" else version.monthly_cap
    if cap is None:
        raise Conflict("この受給者証には自己負担上限額がないため、上限額管理の対象ではありません。")
    return cap


def _checked(session: Session, caller: Caller, data: CopayQuoteCreate) -> tuple[int, CertificateOn, str, int]:
    """Return the reception id, the certificate as of the service date, its ledger and cap."""
    reception, state = result.consented_certificate(
        session, caller, data.reception_id, data.payer_number, data.recipient_number, data.service_date
    )
    if state.status != "valid":
        label = "有効期間が終了しています" if state.status == "expired" else "有効期間がまだ始まっていません"
        message = f"診療日 {data.service_date.isoformat()} には、この受給者証の{label}。"
        raise InvalidInput(message, [FieldError("service_date", "certificate_not_valid", message)])
    ledger = ledger_name(state.version.inpatient_cap is not None, data.inpatient)
    return reception.id, state, ledger, _cap(state, ledger)


def _month_row(session: Session, certificate_id: int, month: str, ledger: str, lock: bool) -> CopayMonth:
    """Return the month's row, creating it first when missing; with ``lock``, hold it until commit."""
    values = {"certificate_id": certificate_id, "month": month, "ledger": ledger, "total": 0}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(CopayMonth).values(**values).on_conflict_do_nothing())
    query = select(CopayMonth).where(
        CopayMonth.certificate_id == certificate_id, CopayMonth.month == month, CopayMonth.ledger == ledger
    )
    if lock:
        query = query.with_for_update()
    row = session.scalars(query.execution_options(populate_existing=True)).one()
    return row


def _rate(session: Session, state: CertificateOn) -> int | None:
    if state.version.copay_rate is not None:
        return state.version.copay_rate
    return result.insurance_rate(session, state.certificate.person_digest)


def quote(session: Session, caller: Caller, data: CopayQuoteCreate) -> CopayQuote:
    """Return the month's figures and what to charge for this visit: rate × cost, at most what remains."""
    _, state, ledger, cap = _checked(session, caller, data)
    month = month_of(data.service_date)
    total = session.scalar(
        select(CopayMonth.total).where(
            CopayMonth.certificate_id == state.certificate.id, CopayMonth.month == month, CopayMonth.ledger == ledger
        )
    )
    used = total or 0
    remaining = max(cap - used, 0)
    rate = _rate(session, state)
    audit.record(session, caller, "copay.quote", "certificate", str(state.certificate.id), {"month": month})
    return CopayQuote(
        month=month,
        ledger=ledger,
        month_total=used,
        cap=cap,
        remaining=remaining,
        rate=rate,
        suggested_copay=suggested_copay(data.total_cost, rate, remaining),
    )


def record_entry(session: Session, caller: Caller, data: CopayEntryCreate) -> CopayEntryRead:
    """Record what the patient paid; refuse (409, with ``remaining``) an amount that passes the cap."""
    if data.copay_amount > data.total_cost:
        message = "自己負担額が医療費の総額を超えています。"
        raise InvalidInput(message, [FieldError("copay_amount", "over_total_cost", message)])
    reception_id, state, ledger, cap = _checked(session, caller, data)
    month = month_of(data.service_date)
    row = _month_row(session, state.certificate.id, month, ledger, lock=True)
    remaining = max(cap - row.total, 0)
    if data.copay_amount > remaining:
        message = (
            f"{month} の自己負担額の累計が上限額 {cap:,} 円を超えます"
            f"（記録済み {row.total:,} 円、残り {remaining:,} 円）。受け取る額を確認してください。"
        )
        error = FieldError("copay_amount", "cap_exceeded", message)
        raise CapExceeded(message, [error], extensions={"remaining": remaining, "month_total": row.total, "cap": cap})
    entry = CopayEntry(
        copay_month_id=row.id,
        certificate_id=state.certificate.id,
        institution_id=caller.organisation_id,
        reception_id=reception_id,
        service_date=data.service_date,
        inpatient=data.inpatient,
        total_cost=data.total_cost,
        copay_amount=data.copay_amount,
        recorded_by=caller.actor,
    )
    session.add(entry)
    row.total += data.copay_amount
    session.flush()
    audit.record(
        session, caller, "copay.record", "certificate", str(state.certificate.id), {"entry": entry.id, "month": month}
    )
    return CopayEntryRead(
        id=entry.id,
        month=month,
        ledger=ledger,
        month_total=row.total,
        cap=cap,
        remaining=cap - row.total,
    )


def cancel_entry(session: Session, caller: Caller, entry_id: int) -> CopayEntryRead:
    """Cancel an entry (a correction); only the institution that recorded it may, and only once."""
    entry = session.get(CopayEntry, entry_id)
    if entry is None or not result.consenting(session, caller, entry.certificate_id):
        raise NotFound("この記録は見つかりません。")
    if entry.institution_id != caller.organisation_id:
        raise NotPermitted("他の医療機関が記録した自己負担額は取り消せません。記録した医療機関に連絡してください。")
    if entry.cancelled_at is not None:
        raise Conflict("この記録はすでに取り消されています。")
    month_row = session.scalars(
        select(CopayMonth)
        .where(CopayMonth.id == entry.copay_month_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    entry.cancelled_at = utcnow()
    entry.cancelled_by = caller.actor
    month_row.total -= entry.copay_amount
    state = result.certificate_state(session, entry.certificate_id, entry.service_date)
    cap = _cap(state, month_row.ledger)
    audit.record(session, caller, "copay.cancel", "certificate", str(entry.certificate_id), {"entry": entry.id})
    return CopayEntryRead(
        id=entry.id,
        month=month_row.month,
        ledger=month_row.ledger,
        month_total=month_row.total,
        cap=cap,
        remaining=max(cap - month_row.total, 0),
        cancelled=True,
    )


def sheet(
    session: Session,
    caller: Caller,
    reception_id: int,
    payer_number: str,
    recipient_number: str,
    month: str,
    inpatient: bool = False,
) -> CopaySheet:
    """Return the month's 上限額管理票 of a certificate the reception consented to share (audited).

    Every institution's lines are shown, as on the paper sheet the patient carries; cancelled lines
    stay, struck out, without a running total.
    """
    first = _first_day(month)
    _, state = result.consented_certificate(session, caller, reception_id, payer_number, recipient_number, first)
    ledger = ledger_name(state.version.inpatient_cap is not None, inpatient)
    cap = _cap(state, ledger)
    entries = list(
        session.scalars(
            select(CopayEntry)
            .join(CopayMonth, CopayMonth.id == CopayEntry.copay_month_id)
            .where(
                CopayMonth.certificate_id == state.certificate.id,
                CopayMonth.month == month,
                CopayMonth.ledger == ledger,
            )
            .order_by(CopayEntry.service_date, CopayEntry.id)
        )
    )
    names = {
        o.id: (o.code, o.name)
        for o in session.scalars(select(Organisation).where(Organisation.id.in_({e.institution_id for e in entries})))
    }
    running = 0
    lines = []
    for entry in entries:
        if entry.cancelled_at is None:
            running += entry.copay_amount
        code, name = names[entry.institution_id]
        lines.append(
            CopaySheetLine(
                id=entry.id,
                service_date=entry.service_date,
                institution_code=code,
                institution_name=name,
                inpatient=entry.inpatient,
                total_cost=entry.total_cost,
                copay_amount=entry.copay_amount,
                running_total=running if entry.cancelled_at is None else None,
                cancelled=entry.cancelled_at is not None,
                mine=entry.institution_id == caller.organisation_id,
            )
        )
    audit.record(session, caller, "copay.sheet", "certificate", str(state.certificate.id), {"month": month})
    return CopaySheet(
        month=month,
        program_name=catalogue.program(state.program_code).name,
        payer_number=payer_number,
        recipient_number=recipient_number,
        ledger=ledger,
        cap=cap,
        month_total=running,
        remaining=max(cap - running, 0),
        lines=lines,
    )


def _first_day(month: str) -> dt.date:
    year, number = (int(part) for part in month.split("-"))
    return dt.date(year, number, 1)
