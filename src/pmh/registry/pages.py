"""Pages for municipal staff: upload a certificate file, read the result, work the review queue,
look a certificate up as of a date."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh import clock
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.deps import DbId, SessionDep
from pmh.errors import PmhError
from pmh.registry import importer, service
from pmh.registry.reports import error_report_response
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/registry")

add_menu_item(
    "municipality", "受給者証データの登録", "/registry/upload", "CSVファイルで受給者証データを登録します（手動連携）。"
)
add_menu_item(
    "municipality",
    "紐づけ確認",
    "/registry/link-reviews",
    "氏名・生年月日が保険資格と一致しなかったデータを確認します。",
)
add_menu_item(
    "municipality", "受給者証の照会", "/registry/certificates", "受給者証を時点指定で照会し、履歴を確認します。"
)


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request, staff: StaffDep) -> Response:
    """Show the upload form."""
    return templates.TemplateResponse(request, "registry/upload.html", {"staff": staff_in_role(staff, "municipality")})


@router.post("/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
    allow_partial: Annotated[bool, Form()] = False,
) -> Response:
    """Import the chosen file and show the result with its problems."""
    check_csrf(staff_in_role(staff, "municipality"), csrf_token)
    result = importer.import_http_file(
        session,
        staff.caller,
        file.file,
        size=file.size,
        filename=file.filename,
        source="web",
        allow_partial=allow_partial,
    )
    context = {"staff": staff, "result": result, "filename": file.filename}
    return templates.TemplateResponse(request, "registry/upload_result.html", context)


@router.get("/uploads/{upload_id}/errors.csv")
def error_report(upload_id: DbId, session: SessionDep, staff: StaffDep) -> Response:
    """Download every problem of an upload as CSV."""
    problems = list(importer.upload_problems(session, staff_in_role(staff, "municipality").caller, upload_id))
    return error_report_response(upload_id, problems)


REASON_LABELS = {
    "no_insurance_record": "保険資格が見つからない",
    "birth_date_mismatch": "生年月日が違う",
    "name_mismatch": "氏名が違う",
    "kanji_mismatch": "漢字氏名が違う",
    "kana_mismatch": "カナ氏名が違う",
    "name_missing": "氏名がない",
}
"""Short Japanese names of the mismatch codes, for the review queue's filter."""

STATUS_LABELS = {"open": "確認待ち", "linked": "紐づけ済み", "rejected": "紐づけない"}


@router.get("/link-reviews", response_class=HTMLResponse)
def link_reviews(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    status: str = "open",
    program: str = "",
    reason: str = "",
    done: int | None = None,
    decision: str = "",
) -> Response:
    """List held certificates beside their insurance records, with counts per tab, a filter by program
    or reason, confirm-first link / don't-link buttons and a bulk decision on the checked rows."""
    caller = staff_in_role(staff, "municipality").caller
    status = status if status in STATUS_LABELS else "open"
    reason = reason if reason in REASON_LABELS else ""
    programs = service.municipality_program_codes(session, caller)
    program = program if program in programs else ""
    reviews = service.list_link_reviews(
        session, caller, status, program_code=program or None, reason_code=reason or None
    )
    context = {
        "staff": staff,
        "reviews": reviews,
        "status": status,
        "program": program,
        "reason": reason,
        "programs": programs,
        "reason_labels": REASON_LABELS,
        "status_labels": STATUS_LABELS,
        "counts": service.link_review_counts(session, caller),
        "done": done,
        "done_label": STATUS_LABELS.get("linked" if decision == "link" else "rejected"),
    }
    return templates.TemplateResponse(request, "registry/link_reviews.html", context)


@router.post("/link-reviews/bulk")
def resolve_bulk(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    decision: Annotated[str, Form(pattern="^(link|reject)$")],
    ids: Annotated[list[int] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "open",
    program: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Decide every checked review the same way (one audit entry each), then show the list again."""
    check_csrf(staff_in_role(staff, "municipality"), csrf_token)
    count = service.resolve_link_reviews(session, staff.caller, ids or [], decision, None)
    query = urlencode({"status": status, "program": program, "reason": reason, "done": count, "decision": decision})
    target = f"/registry/link-reviews?{query}"
    if request.headers.get("HX-Request"):  # htmx asked (after its confirmation): navigate the whole page
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/link-reviews/{review_id}/resolve", response_class=HTMLResponse)
def resolve(
    request: Request,
    review_id: DbId,
    session: SessionDep,
    staff: StaffDep,
    decision: Annotated[str, Form(pattern="^(link|reject)$")],
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Record the decision and return the updated row (htmx swaps it in place)."""
    check_csrf(staff_in_role(staff, "municipality"), csrf_token)
    service.resolve_link_review(session, staff.caller, review_id, decision, note or None)
    label = "同一人物として紐づけました" if decision == "link" else "紐づけないことにしました"
    if not request.headers.get("HX-Request"):  # without htmx the form posted the whole page
        return RedirectResponse(f"/registry/link-reviews?done=1&decision={decision}", status_code=303)
    context = {"staff": staff, "review_id": review_id, "label": label}
    return templates.TemplateResponse(request, "registry/review_done.html", context)


@router.get("/certificates", response_class=HTMLResponse)
def certificate_lookup(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    payer_number: str = "",
    recipient_number: str = "",
    as_of: str = "",
) -> Response:
    """Look a certificate up as of a date (西暦 or 和暦) and show its history."""
    context: dict[str, object] = {
        "staff": staff_in_role(staff, "municipality"),
        "payer_number": payer_number,
        "recipient_number": recipient_number,
        "as_of": as_of,
    }
    if payer_number and recipient_number:
        try:
            on = parse_date(as_of) if as_of else clock.today()
            context["certificate"] = service.certificate_as_of(
                session, staff.caller, payer_number.strip(), recipient_number.strip(), on
            )
        except (DateFormatError, PmhError) as exc:
            context["error"] = str(exc)
    return templates.TemplateResponse(request, "registry/certificate.html", context)
