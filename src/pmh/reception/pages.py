"""The reception desk (受付): the day's CR user list, patient-number links, the eligibility result,
and the patient-registry import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from pmh.deps import DbId, SessionDep
from pmh.eligibility import formats
from pmh.eligibility import service as eligibility
from pmh.eligibility.schemas import EligibilityFormat, PatientLink
from pmh.errors import PmhError
from pmh.reception import service
from pmh.registry.importer import check_upload_size
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/reception")

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
    """Show the day's 顔認証付きCR利用者リスト with each row's patient-number link."""
    day = date or eligibility.today_in_japan()
    rows = eligibility.list_receptions(session, staff_in_role(staff, "institution").caller, day)
    context = {"staff": staff, "rows": rows, "day": day}
    return templates.TemplateResponse(request, "reception/desk.html", context)


@router.post("/{reception_id}/patient", response_class=HTMLResponse)
def link(
    request: Request,
    reception_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    patient_number: Annotated[str, Form(max_length=20)] = "",
    register_new: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Link one reception and return its row (htmx swaps it in place); a refusal is shown in the row."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    error = None
    try:
        with session.begin_nested():  # a refused link leaves nothing behind, the row is shown again
            data = PatientLink(patient_number=patient_number or "-", register_new=register_new)
            row = eligibility.link_patient(session, staff.caller, reception_id, data)
    except PmhError as exc:
        error = exc.message
        row = eligibility.reception_row(session, staff.caller, reception_id)
    context = {"staff": staff, "row": row, "error": error}
    return templates.TemplateResponse(request, "reception/row.html", context)


@router.get("/{reception_id}/eligibility", response_class=HTMLResponse)
def result(
    request: Request, reception_id: DbId, session: SessionDep, staff: StaffDep, service_date: dt.date | None = None
) -> Response:
    """Show the eligibility result as staff read it, with the downloads a レセコン imports."""
    found = eligibility.eligibility(
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
    found = eligibility.eligibility(
        session, staff_in_role(staff, "institution").caller, reception_id, service_date, fmt
    )
    body, media_type = formats.render(found, fmt)
    extension = "xml" if fmt == "xml" else "json"
    headers = {"Content-Disposition": f'attachment; filename="eligibility-{reception_id}-{fmt}.{extension}"'}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/patients", response_class=HTMLResponse)
def patients_form(request: Request, staff: StaffDep) -> Response:
    """Show the patient-registry import form."""
    return templates.TemplateResponse(
        request, "reception/patients.html", {"staff": staff_in_role(staff, "institution")}
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
    context: dict[str, object] = {"staff": staff, "filename": file.filename}
    try:
        with session.begin_nested():
            context["result"] = service.import_patients(session, staff.caller, file.file.read())
    except PmhError as exc:
        context["error"] = exc
        return templates.TemplateResponse(request, "reception/patients.html", context, status_code=exc.status_code)
    return templates.TemplateResponse(request, "reception/patients.html", context)
