"""HTTP edge of the registry: programs, uploads, the JSON batch, certificates, reviews, 外字."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pmh import clock
from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.deps import DbId, SessionDep, large_body
from pmh.idempotency.edge import idempotent
from pmh.registry import importer, registration, service
from pmh.registry.batch import CertificateBatch, batch_rows
from pmh.registry.reports import error_report_response
from pmh.registry.schemas import (
    CertificateRead,
    GaijiTable,
    LinkReviewBulk,
    LinkReviewRead,
    LinkReviewResolve,
    ProgramCreate,
    ProgramRead,
    UploadProblemRead,
    UploadResult,
)

router = APIRouter(tags=["registry"])
Municipality = Annotated[Caller, requires("municipality")]
PayerQuery = Annotated[str, Query(min_length=1, max_length=16, description="公費負担者番号")]
RecipientQuery = Annotated[str, Query(min_length=1, max_length=30, description="公費受給者番号")]


@router.post("/programs", response_model=ProgramRead, status_code=201, summary="制度の登録")
@idempotent
def add_program(body: ProgramCreate, caller: Municipality, session: SessionDep) -> ProgramRead:
    """Register a program (or more payer numbers of it) for the caller's municipality."""
    return service.add_program(session, caller, body)


@router.get("/programs", response_model=list[ProgramRead], summary="自自治体の制度一覧")
def list_programs(caller: Municipality, session: SessionDep) -> list[ProgramRead]:
    """List the caller's municipality's programs and payer numbers."""
    return service.list_programs(session, caller)


@router.post(
    "/uploads", response_model=UploadResult, status_code=201, summary="受給者証データのアップロード（手動連携）"
)
@idempotent
def upload_file(
    caller: Municipality,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="受給者証データ（CSV、UTF-8 または Shift_JIS）")],
    allow_partial: Annotated[bool, Form(description="正しい行だけを反映する")] = False,
) -> UploadResult:
    """Upload a certificate file; all or nothing unless ``allow_partial``. Rejected uploads are recorded too."""
    return importer.import_http_file(
        session, caller, file.file, size=file.size, filename=file.filename, source="file", allow_partial=allow_partial
    )


@router.get("/uploads/{upload_id}", response_model=UploadResult, summary="アップロード結果")
def read_upload(upload_id: DbId, caller: Municipality, session: SessionDep) -> UploadResult:
    """Return an upload's result and its first problems."""
    return importer.upload_result(session, caller, upload_id, audit_read=True)


@router.get(
    "/uploads/{upload_id}/errors",
    response_model=list[UploadProblemRead],
    summary="アップロードのエラー一覧（CSV/JSON）",
    responses={200: {"content": {"text/csv": {}}}},
)
def upload_errors(
    upload_id: DbId,
    caller: Municipality,
    session: SessionDep,
    format: Literal["json", "csv"] = "json",
) -> object:
    """Return every problem of an upload, as JSON or as a CSV report (UTF-8 with BOM, opens in Excel)."""
    problems = list(importer.upload_problems(session, caller, upload_id))
    if format == "json":
        return [importer.problem_read(p) for p in problems]
    return error_report_response(upload_id, problems)


@router.post(
    "/certificates/batch",
    response_model=UploadResult,
    status_code=201,
    summary="受給者証データの登録（自動連携・医療費助成対象者情報登録API 0.1.1 形式）",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": registration.SCHEMA}}}},
)
@large_body
@idempotent
def certificates_batch(
    caller: Municipality,
    session: SessionDep,
    body: Annotated[Any, Body(description="受給者証の記録の配列（登録API 0.1.1 の形式）")],
    allow_partial: Annotated[bool, Query(description="正しい記録だけを反映する")] = False,
) -> UploadResult:
    """Register certificate records sent as the Digital Agency's registration API (自治体) 0.1.1 body:
    a top-level array of records. Same semantics as uploads; each problem carries the record's
    ``index`` and a JSON ``pointer`` (``/3/basicFiveInfo/dateOfBirth``).

    The earlier ``{"records": [...], "allowPartial": …}`` body is still accepted as an alias.
    """
    registration.refuse_nul(body)
    if isinstance(body, dict):
        return _legacy_batch(body, caller, session, allow_partial)
    records = registration.records_of(body)
    types = service.certificate_types(session, caller.organisation_id)
    # Each problem is stored with its pointer, so GET /uploads/{id} shows the same errors later.
    return importer.run_import(
        session,
        caller,
        lambda rules, gaiji: registration.registration_rows(records, rules, types, gaiji),
        digest=importer.json_digest(records),
        source="api",
        allow_partial=allow_partial,
        pointer_of=registration.pointer,
    )


def _legacy_batch(body: dict[str, Any], caller: Caller, session: Session, allow_partial: bool) -> UploadResult:
    """The earlier body ``{records: [...], allowPartial}`` (pmh's own field shapes), kept as an alias."""
    try:
        batch = CertificateBatch.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc
    digest = importer.json_digest(batch.model_dump(mode="json", exclude={"allowPartial"}))
    return importer.run_import(
        session,
        caller,
        lambda rules, gaiji: batch_rows(batch, rules, gaiji),
        digest=digest,
        source="api",
        allow_partial=batch.allowPartial or allow_partial,
    )


@router.get("/certificates", response_model=CertificateRead, summary="受給者証の照会（時点指定・履歴付き）")
def read_certificate(
    caller: Municipality,
    session: SessionDep,
    payer_number: PayerQuery,
    recipient_number: RecipientQuery,
    as_of: dt.date | None = None,
) -> CertificateRead:
    """Return one of the municipality's certificates as of a date (default today), with its history."""
    return service.certificate_as_of(session, caller, payer_number, recipient_number, as_of or clock.today())


@router.get("/link-reviews", response_model=list[LinkReviewRead], summary="紐づけ確認待ち一覧")
def list_link_reviews(
    caller: Municipality,
    session: SessionDep,
    status: Literal["open", "linked", "rejected", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[LinkReviewRead]:
    """Return held certificates with their facts beside the insurance record's."""
    return service.list_link_reviews(session, caller, None if status == "all" else status, limit)


@router.post("/link-reviews/{review_id}/resolve", status_code=204, summary="紐づけ確認の処理")
def resolve_link_review(review_id: DbId, body: LinkReviewResolve, caller: Municipality, session: SessionDep) -> None:
    """Link (same person, notation differs) or reject a held certificate."""
    service.resolve_link_review(session, caller, review_id, body.decision, body.note)


@router.post("/link-reviews/bulk", summary="紐づけ確認の一括処理")
def resolve_link_reviews(body: LinkReviewBulk, caller: Municipality, session: SessionDep) -> dict[str, int]:
    """Apply one decision to several held certificates (one audit entry each; all or none)."""
    return {"resolved": service.resolve_link_reviews(session, caller, body.ids, body.decision, body.note)}


@router.put("/gaiji-mappings", summary="外字対応表の登録（全件置換）")
def put_gaiji_table(body: GaijiTable, caller: Municipality, session: SessionDep) -> dict[str, int]:
    """Replace the municipality's 外字対応表 (private-use or non-JIS characters → standard text)."""
    return {"entries": service.replace_gaiji_table(session, caller, body.mappings)}


@router.get("/gaiji-mappings", response_model=GaijiTable, summary="外字対応表")
def get_gaiji_table(caller: Municipality, session: SessionDep) -> GaijiTable:
    """Return the municipality's 外字対応表."""
    table = service.gaiji_table(session, caller.organisation_id)
    return GaijiTable.model_validate(
        {"mappings": [{"character": f"U+{ord(c):04X}", "replacement": r} for c, r in sorted(table.items())]}
    )
