"""The 上限額管理票 page of a certificate and month, and its CSV export, for institution staff."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from pmh.codes.fiscal import MONTH_PATTERN
from pmh.copay import service
from pmh.copay.schemas import CopaySheet
from pmh.deps import DbId, SessionDep
from pmh.web.session import StaffContext, StaffDep, staff_in_role
from pmh.web.templating import templates

router = APIRouter(include_in_schema=False, prefix="/reception")
MonthQuery = Annotated[str, Query(pattern=MONTH_PATTERN)]
CSV_HEADER = ("日付", "医療機関コード", "医療機関名", "入院", "医療費総額", "自己負担額", "累計", "取消")


def _sheet(
    session: SessionDep, staff: StaffContext, reception_id: int, payer: str, recipient: str, month: str, inpatient: bool
) -> CopaySheet:
    return service.sheet(
        session, staff_in_role(staff, "institution").caller, reception_id, payer, recipient, month, inpatient
    )


@router.get("/{reception_id}/copay", response_class=HTMLResponse)
def sheet_page(
    request: Request,
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    payer_number: str,
    recipient_number: str,
    month: MonthQuery,
    inpatient: bool = False,
) -> Response:
    """Show the month's sheet as the paper one looks: date, institution, cost, paid, running total."""
    found = _sheet(session, staff, reception_id, payer_number, recipient_number, month, inpatient)
    context = {"staff": staff, "sheet": found, "reception_id": reception_id, "inpatient": inpatient}
    return templates.TemplateResponse(request, "copay/sheet.html", context)


@router.get("/{reception_id}/copay.csv")
def sheet_csv(
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    payer_number: str,
    recipient_number: str,
    month: MonthQuery,
    inpatient: bool = False,
) -> Response:
    """Download the month's sheet as CSV (UTF-8 with BOM, opens in Excel)."""
    found = _sheet(session, staff, reception_id, payer_number, recipient_number, month, inpatient)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for line in found.lines:
        writer.writerow(
            (
                line.service_date.isoformat(),
                line.institution_code,
                line.institution_name,
                "入院" if line.inpatient else "",
                line.total_cost,
                line.copay_amount,
                "" if line.running_total is None else line.running_total,
                "取消" if line.cancelled else "",
            )
        )
    name = f"copay-{found.payer_number}-{found.recipient_number}-{month}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
