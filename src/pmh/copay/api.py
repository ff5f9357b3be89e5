"""HTTP edge of the self-pay ledger (自己負担上限額管理)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import MONTH_PATTERN
from pmh.copay import service
from pmh.copay.schemas import CopayEntryCreate, CopayEntryRead, CopayQuote, CopayQuoteCreate, CopaySheet
from pmh.deps import DbId, SessionDep
from pmh.idempotency.edge import idempotent

router = APIRouter(tags=["copay"])
Institution = Annotated[Caller, requires("institution")]


@router.post("/copay-entries", response_model=CopayEntryRead, status_code=201, summary="自己負担額の記録")
@idempotent
def record_entry(body: CopayEntryCreate, caller: Institution, session: SessionDep) -> CopayEntryRead:
    """Record what the patient paid; an amount past the month's cap is refused (409) with what remains."""
    return service.record_entry(session, caller, body)


@router.delete("/copay-entries/{entry_id}", response_model=CopayEntryRead, summary="自己負担額の取消（訂正）")
def cancel_entry(entry_id: DbId, caller: Institution, session: SessionDep) -> CopayEntryRead:
    """Cancel an entry this institution recorded (the sheet keeps it, struck out)."""
    return service.cancel_entry(session, caller, entry_id)


@router.post("/copay-quotes", response_model=CopayQuote, summary="窓口負担額の目安")
def quote(body: CopayQuoteCreate, caller: Institution, session: SessionDep) -> CopayQuote:
    """Return the month's total, the cap, what remains and what to charge for this visit."""
    return service.quote(session, caller, body)


@router.get("/copay-entries", response_model=CopaySheet, summary="上限額管理票（月ごと）")
def sheet(
    caller: Institution,
    session: SessionDep,
    reception_id: DbId,
    payer_number: Annotated[str, Query(min_length=1, max_length=16)],
    recipient_number: Annotated[str, Query(min_length=1, max_length=30)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN, examples=["2026-11"])],
    inpatient: bool = False,
) -> CopaySheet:
    """Return the month's sheet of a certificate this institution's reception was given consent for."""
    return service.sheet(session, caller, reception_id, payer_number, recipient_number, month, inpatient)
