"""What the reader, the result and the CR user list share: the date in Japan, a reception, insurance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from pmh import clock
from pmh.auth.schemas import Caller
from pmh.cards.models import InsuranceRecord
from pmh.eligibility.models import Reception
from pmh.eligibility.schemas import InsuranceRead
from pmh.errors import NotFound

UNKNOWN_RECEPTION = "この受付は見つかりません。"


def today_in_japan(now: dt.datetime | None = None) -> dt.date:
    """Return the date in Japan (receptions, validity and months are kept by it)."""
    return clock.japan_date_of(now) if now is not None else clock.today()


def reception_of(session: Session, caller: Caller, reception_id: int) -> Reception:
    """Return one of the caller's institution's receptions; anything else is not found."""
    reception = session.get(Reception, reception_id)
    if reception is None or reception.institution_id != caller.organisation_id or reception.withdrawn_at is not None:
        # Another institution's reception, or one whose consent the patient withdrew, looks like none at all.
        raise NotFound(UNKNOWN_RECEPTION)
    return reception


def insurance_read(record: InsuranceRecord | None) -> InsuranceRead | None:
    """Return the insurance record as results and the CR user list carry it."""
    if record is None:
        return None
    return InsuranceRead(
        insurer_number=record.insurer_number,
        symbol=record.symbol,
        number=record.number,
        branch=record.branch,
        copay_rate=record.copay_rate,
        valid_from=record.valid_from,
        valid_to=record.valid_to,
        relationship=record.relationship,
    )
