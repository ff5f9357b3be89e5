"""Reading the ledger and the arithmetic of the cap: what was used, what remains, what to charge.

Depends only on the ledger's tables, so that the eligibility result can carry the month's figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.bulk import in_values
from pmh.copay.models import CopayMonth


def month_of(day: dt.date) -> str:
    """Return the ledger month of a service date (YYYY-MM)."""
    return f"{day.year:04d}-{day.month:02d}"


def ledger_name(has_inpatient_cap: bool, inpatient: bool) -> str:
    """Return the ledger an entry goes to: one for everything, or outpatient and inpatient apart."""
    if not has_inpatient_cap:
        return "all"
    return "inpatient" if inpatient else "outpatient"


def used(session: Session, certificate_ids: Sequence[int], month: str, ledgers: tuple[str, ...]) -> dict[int, int]:
    """Return, per certificate, the month's recorded total in the given ledgers (0 when none)."""
    totals = dict.fromkeys(certificate_ids, 0)
    if not certificate_ids:
        return totals
    rows = session.execute(
        select(CopayMonth.certificate_id, CopayMonth.total).where(
            in_values(session, CopayMonth.__table__.c.certificate_id, list(certificate_ids)),
            CopayMonth.month == month,
            CopayMonth.ledger.in_(ledgers),
        )
    )
    for certificate_id, total in rows:
        totals[certificate_id] += total
    return totals


def suggested_copay(total_cost: int, rate: int | None, remaining: int | None) -> int | None:
    """Return what to charge: the rate (%) applied to the total cost, rounded to 10 yen (四捨五入), at most
    what remains under the cap. None without a rate (the caller falls back to the insurance's rate first).
    """
    if rate is None:
        return None
    charge = (total_cost * rate + 500) // 1000 * 10
    return charge if remaining is None else max(0, min(charge, remaining))
