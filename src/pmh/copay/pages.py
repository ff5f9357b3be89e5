"""The 上限額管理票 page of a certificate and month, and its CSV export, for institution staff."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from pmh import clock, csvfiles
from pmh.codes.fiscal import MONTH_PATTERN
from pmh.copay import service
from pmh.copay.schemas import CopayEntryCreate, CopayQuoteCreate, CopaySheet
from pmh.deps import DbId, SessionDep
from pmh.errors import FieldError, InvalidInput, PmhError
from pmh.web.session import StaffContext, StaffDep, check_csrf, staff_in_role
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
    """Show the month's sheet as the paper one looks, with the entry form for this institution's visit."""
    found = _sheet(session, staff, reception_id, payer_number, recipient_number, month, inpatient)
    form = {"service_date": _default_day(month).isoformat(), "total_cost": "", "copay_amount": ""}
    context = {"staff": staff, "sheet": found, "reception_id": reception_id, "inpatient": inpatient, "form": form}
    return templates.TemplateResponse(request, "copay/sheet.html", context)


def _default_day(month: str) -> dt.date:
    """Today (in Japan) when the sheet is this month's, else the month's first day."""
    today = clock.today()
    return today if today.strftime("%Y-%m") == month else dt.date.fromisoformat(f"{month}-01")


def _number(value: str) -> int | None:
    text = value.replace(",", "").replace("円", "").strip()
    return int(text) if text.isdigit() else None


@router.post("/{reception_id}/copay", response_class=HTMLResponse)
def sheet_entry(
    request: Request,
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    payer_number: Annotated[str, Form(max_length=16)],
    recipient_number: Annotated[str, Form(max_length=30)],
    month: Annotated[str, Form(pattern=MONTH_PATTERN)],
    action: Annotated[Literal["quote", "record"], Form()],
    service_date: Annotated[str, Form(max_length=10)] = "",
    total_cost: Annotated[str, Form(max_length=12)] = "",
    copay_amount: Annotated[str, Form(max_length=12)] = "",
    inpatient: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Price a visit (pre-filling the suggested amount) or record what was paid; refusals show on the sheet.

    The entered values are kept on every refusal (cap exceeded, amount over the total, a date in
    another month), so the clerk corrects one field instead of typing the visit again.
    """
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    form: dict[str, Any] = {"service_date": service_date, "total_cost": total_cost, "copay_amount": copay_amount}
    context: dict[str, Any] = {"staff": staff, "reception_id": reception_id, "inpatient": inpatient, "form": form}
    status = 200
    try:
        with session.begin_nested():  # a refused entry leaves nothing behind
            visit = _visit(reception_id, payer_number, recipient_number, month, service_date, total_cost, inpatient)
            if action == "quote":
                quoted = service.quote(session, staff.caller, visit)
                context["quote"] = quoted
                if quoted.suggested_copay is not None:
                    form["copay_amount"] = str(quoted.suggested_copay)
            else:
                amount = _number(copay_amount)
                if amount is None:
                    raise _form_error("copay_amount", "自己負担額を円単位の数字で入力してください。")
                entry = CopayEntryCreate(**visit.model_dump(), copay_amount=amount)
                context["recorded"] = service.record_entry(session, staff.caller, entry)
                form.update(total_cost="", copay_amount="")
    except PmhError as exc:
        context["entry_error"] = exc
        status = exc.status_code
    context["sheet"] = _sheet(session, staff, reception_id, payer_number, recipient_number, month, inpatient)
    return templates.TemplateResponse(request, "copay/sheet.html", context, status_code=status)


def _visit(
    reception_id: int,
    payer_number: str,
    recipient_number: str,
    month: str,
    service_date: str,
    total_cost: str,
    inpatient: bool,
) -> CopayQuoteCreate:
    try:
        day = dt.date.fromisoformat(service_date)
    except ValueError:
        raise _form_error("service_date", "診療日を正しい日付で入力してください。") from None
    if day.strftime("%Y-%m") != month:
        raise _form_error("service_date", f"この管理票は {month} の分です。診療日はその月の日付にしてください。")
    cost = _number(total_cost)
    if cost is None:
        raise _form_error("total_cost", "医療費の総額を円単位の数字で入力してください。")
    try:
        return CopayQuoteCreate(
            reception_id=reception_id,
            payer_number=payer_number,
            recipient_number=recipient_number,
            service_date=day,
            total_cost=cost,
            inpatient=inpatient,
        )
    except ValidationError:
        raise _form_error("total_cost", "医療費の総額が受け付けられる範囲を超えています。") from None


def _form_error(field: str, message: str) -> PmhError:
    return InvalidInput(message, [FieldError(field, "invalid", message)])


@router.post("/{reception_id}/copay/entries/{entry_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    reception_id: DbId,
    entry_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    payer_number: Annotated[str, Form(max_length=16)],
    recipient_number: Annotated[str, Form(max_length=30)],
    month: Annotated[str, Form(pattern=MONTH_PATTERN)],
    inpatient: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Cancel (取消) one of this institution's own lines and show the sheet again.

    A refusal is shown on the sheet with status 200: htmx swaps only successful responses in, and
    the clerk must see why the line stayed.
    """
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    form = {"service_date": _default_day(month).isoformat(), "total_cost": "", "copay_amount": ""}
    context: dict[str, Any] = {"staff": staff, "reception_id": reception_id, "inpatient": inpatient, "form": form}
    try:
        with session.begin_nested():
            context["cancelled"] = service.cancel_entry(session, staff.caller, entry_id)
    except PmhError as exc:
        context["entry_error"] = exc
    context["sheet"] = _sheet(session, staff, reception_id, payer_number, recipient_number, month, inpatient)
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
    writer = csvfiles.writer(buffer)
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
