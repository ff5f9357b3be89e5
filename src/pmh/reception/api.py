"""HTTP edge of the patient registry (患者受付登録一覧)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.deps import SessionDep
from pmh.idempotency.edge import idempotent
from pmh.reception import service
from pmh.reception.schemas import PatientImportResult, PatientRead
from pmh.registry.importer import check_upload_size

router = APIRouter(tags=["reception"])
Institution = Annotated[Caller, requires("institution")]


@router.post("/patients", response_model=PatientImportResult, status_code=201, summary="患者受付登録一覧の取り込み")
@idempotent
def import_patients(
    caller: Institution,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV: patient_number, name, name_kana, birth_date, sex")],
) -> PatientImportResult:
    """Import the institution's existing patients (all or nothing; existing patient numbers are updated)."""
    check_upload_size(file.size)
    return service.import_patients(session, caller, file.file.read())


@router.get("/patients", response_model=list[PatientRead], summary="患者受付登録一覧")
def list_patients(
    caller: Institution,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100, description="患者番号・氏名・カナで絞り込み")] = "",
) -> list[PatientRead]:
    """List the institution's registered patients (up to 200)."""
    return service.list_patients(session, caller, q)
