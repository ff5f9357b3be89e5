"""The reception desk (受付): the day's CR user list, patient-number links, the eligibility result,
and the patient-registry import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from pmh.deps import INT64_MAX, DbId, SessionDep
from pmh.eligibility import common, formats, receptions
from pmh.eligibility import result as eligibility_result
from pmh.eligibility.schemas import EligibilityFormat, PatientLink
from pmh.errors import PmhError
from pmh.reception import service
from pmh.reception.schemas import PATIENT_COLUMN_LABELS
from pmh.registry.importer import check_upload_size
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/reception")
POLL_SECONDS = 5
"""How often the open desk asks for new kiosk arrivals."""

add_menu_item(
    "institution",
    "受付一覧（マイナ診察券）",
    "/reception",
    "顔認証付きカードリーダーの利用者を患者番号と紐づけ、資格確認結果を確認します。",
)
add_menu_item(
    "institution", "患者一覧の取り込み", "/reception/patients", "既存の患者受付登録一覧（CSV）を取り込みます。"
)


@router.get("", response_class=HTMLResponse)
def desk(request: Request, session: SessionDep, staff: StaffDep, date: dt.date | None = None) -> Response:
    """Show the day's 顔認証付きCR利用者リスト with each row's patient-number link; today's list grows by itself."""
    day = date or common.today_in_japan()
    rows = receptions.list_receptions(session, staff_in_role(staff, "institution").caller, day)
    live = day == common.today_in_japan()
    after = max((row.id for row in rows), default=0)
    context = {"staff": staff, "rows": rows, "day": day, "live": live, "after": after, "poll_seconds": POLL_SECONDS}
    return templates.TemplateResponse(request, "reception/desk.html", context)


@router.get("/arrivals", response_class=HTMLResponse)
def arrivals(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    date: dt.date,
    after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    """Return the rows that arrived after reception ``after`` (htmx appends them), then the poller again.

    Only new rows are sent, so a row the clerk is working on (a typed number, a preview) is never
    replaced under their hands.
    """
    caller = staff_in_role(staff, "institution").caller
    rows = receptions.list_receptions(session, caller, date, after=after)
    after = max((row.id for row in rows), default=after)
    context = {"staff": staff, "rows": rows, "day": date, "after": after, "poll_seconds": POLL_SECONDS}
    return templates.TemplateResponse(request, "reception/arrivals.html", context)


@router.post("/{reception_id}/patient", response_class=HTMLResponse)
def link(
    request: Request,
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    patient_number: Annotated[str, Form(max_length=20)] = "",
    register_new: Annotated[bool, Form()] = False,
    confirm: Annotated[bool, Form()] = False,
    step: Annotated[Literal["preview", "link"], Form()] = "link",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Preview or make one link and return its row (htmx swaps it in place); a refusal is shown in the row.

    A typed patient number is shown first (``step=preview``): the registry's name, kana, birth date
    and sex beside the person who came, with a warning and a confirmation box when they differ.
    """
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    context: dict[str, object] = {"staff": staff}
    try:
        with session.begin_nested():  # a refused link leaves nothing behind, the row is shown again
            if step == "preview" and not register_new:
                context["preview"] = receptions.preview_link(session, staff.caller, reception_id, patient_number)
                row = receptions.reception_row(session, staff.caller, reception_id)
            else:
                data = PatientLink(patient_number=patient_number or "-", register_new=register_new, confirm=confirm)
                row = receptions.link_patient(session, staff.caller, reception_id, data)
    except PmhError as exc:
        context["error"] = exc.message
        row = receptions.reception_row(session, staff.caller, reception_id)
    context["row"] = row
    return templates.TemplateResponse(request, "reception/row.html", context)


@router.post("/{reception_id}/patient/unlink", response_class=HTMLResponse)
def unlink(
    request: Request,
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Undo the reception's patient-number link and return its row."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    context: dict[str, object] = {"staff": staff}
    try:
        with session.begin_nested():
            row = receptions.unlink_patient(session, staff.caller, reception_id)
    except PmhError as exc:
        context["error"] = exc.message
        row = receptions.reception_row(session, staff.caller, reception_id)
    context["row"] = row
    return templates.TemplateResponse(request, "reception/row.html", context)


@router.get("/{reception_id}/row", response_class=HTMLResponse)
def row_fragment(request: Request, reception_id: DbId, session: SessionDep, staff: StaffDep) -> Response:
    """Return one row as it stands (the 「やめる」 of a preview)."""
    row = receptions.reception_row(session, staff_in_role(staff, "institution").caller, reception_id)
    return templates.TemplateResponse(request, "reception/row.html", {"staff": staff, "row": row})


@router.get("/{reception_id}/eligibility", response_class=HTMLResponse)
def result(
    request: Request, reception_id: DbId, session: SessionDep, staff: StaffDep, service_date: dt.date | None = None
) -> Response:
    """Show the eligibility result as staff read it, with the downloads a レセコン imports."""
    found = eligibility_result.eligibility(
        session, staff_in_role(staff, "institution").caller, reception_id, service_date, "html"
    )
    context = {"staff": staff, "result": found, "formats": ("json", "xml", "fhir", "orca")}
    return templates.TemplateResponse(request, "reception/eligibility.html", context)


@router.get("/{reception_id}/eligibility.{fmt}")
def download(
    reception_id: DbId,
    fmt: EligibilityFormat,
    session: SessionDep,
    staff: StaffDep,
    service_date: dt.date | None = None,
) -> Response:
    """Download the eligibility result in one format (the file a レセコン imports)."""
    caller = staff_in_role(staff, "institution").caller
    found = eligibility_result.eligibility(session, caller, reception_id, service_date, fmt)
    number = service.patient_number_of_reception(session, caller.organisation_id, reception_id)
    body, media_type = formats.render(found, fmt, number if fmt == "orca" else None)
    extension = "xml" if fmt == "xml" else "json"
    headers = {"Content-Disposition": f'attachment; filename="eligibility-{reception_id}-{fmt}.{extension}"'}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/patients", response_class=HTMLResponse)
def patients_form(request: Request, staff: StaffDep) -> Response:
    """Show the patient-registry import form."""
    return templates.TemplateResponse(
        request,
        "reception/patients.html",
        {"staff": staff_in_role(staff, "institution"), "column_labels": PATIENT_COLUMN_LABELS},
    )


@router.post("/patients", response_class=HTMLResponse)
def import_patients(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Import the chosen CSV, all or nothing, and show the result or every problem."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    check_upload_size(file.size)
    context: dict[str, object] = {"staff": staff, "filename": file.filename, "column_labels": PATIENT_COLUMN_LABELS}
    try:
        with session.begin_nested():
            context["result"] = service.import_patients(session, staff.caller, file.file.read())
    except PmhError as exc:
        context["error"] = exc
        return templates.TemplateResponse(request, "reception/patients.html", context, status_code=exc.status_code)
    return templates.TemplateResponse(request, "reception/patients.html", context)
