"""HTTP edge of the reader flow and of what institutions read (docs/eligibility.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from pmh.auth.deps import request_session, requires, requires_on_loop
from pmh.auth.schemas import Caller
from pmh.deps import DbId, SessionDep, get_session
from pmh.eligibility import fastread, formats, reader, receptions, result
from pmh.eligibility import recheck as monthly
from pmh.eligibility.schemas import (
    CardSessionCreate,
    CardSessionRead,
    ConsentCreate,
    ConsentRead,
    EligibilityFormat,
    EligibilityResult,
    PatientLink,
    ReceptionRow,
    RecheckCreate,
    RecheckReport,
)
from pmh.idempotency.edge import idempotent
from pmh.reception import service as patients

router = APIRouter(tags=["eligibility"])
CardReader = Annotated[Caller, requires("card_reader")]
Institution = Annotated[Caller, requires("institution")]
InstitutionOnLoop = Annotated[Caller, requires_on_loop("institution")]
SessionId = Annotated[str, Path(min_length=1, max_length=64, description="カードセッションID")]


@router.post("/card-sessions", response_model=CardSessionRead, status_code=201, summary="カードによる本人確認")
@idempotent
def open_card_session(body: CardSessionCreate, caller: CardReader, session: SessionDep) -> CardSessionRead:
    """Authenticate the card (face or PIN) and list the holder's certificates to offer: names only, never numbers."""
    return reader.open_card_session(session, caller, body)


@router.post(
    "/card-sessions/{session_id}/consent", response_model=ConsentRead, status_code=201, summary="情報提供の同意"
)
@idempotent
def give_consent(session_id: SessionId, body: ConsentCreate, caller: CardReader, session: SessionDep) -> ConsentRead:
    """Record すべて提供 / 個別に提供 / 提供しない and create the reception."""
    return reader.give_consent(session, caller, session_id, body)


@router.get("/receptions", response_model=list[ReceptionRow], summary="顔認証付きCR利用者リスト")
def list_receptions(
    caller: Institution,
    session: SessionDep,
    date: Annotated[dt.date | None, Query(description="受付日（既定: 本日）")] = None,
) -> list[ReceptionRow]:
    """Return the day's receptions with their insurance and patient-number links (and candidates when unlinked)."""
    return receptions.list_receptions(session, caller, date)


@router.get(
    "/receptions/{reception_id}/eligibility",
    response_model=EligibilityResult,
    summary="資格確認結果（保険＋同意を得た医療費助成）",
    responses={
        200: {
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/fhir+json": {"schema": {"type": "object"}},
            },
            "description": "json（既定）・orca は JSON、xml は docs/eligibility.xsd の XML、fhir は FHIR R4 Bundle",
        }
    },
)
async def eligibility(
    request: Request,
    reception_id: DbId,
    caller: InstitutionOnLoop,
    service_date: Annotated[dt.date | None, Query(description="診療日（既定: 本日）")] = None,
    format: Annotated[EligibilityFormat, Query(description="json | xml | fhir | orca")] = "json",
    total_cost: Annotated[
        int | None, Query(ge=0, le=100_000_000, description="医療費の総額（円）。指定すると suggested_copay を計算")
    ] = None,
) -> Response:
    """Return the insurance result and the consented certificates as of the service date, in the asked format.

    The hot path of the hub: on PostgreSQL it runs on the event loop in two round trips
    (:mod:`pmh.eligibility.fastread`); ``format=orca`` (which also reads the linked patient number),
    SQLite and the tests' one-transaction sessions take the general path in a worker thread.
    """
    pool = getattr(request.app.state, "read_pool", None)
    if pool is not None and format != "orca" and get_session not in request.app.dependency_overrides:
        found = await fastread.eligibility(pool, caller, reception_id, service_date, format, total_cost)
        number = None
    else:
        found, number = await run_in_threadpool(
            _general_eligibility, request, caller, reception_id, service_date, format, total_cost
        )
    body, media_type = formats.render(found, format, number)
    return Response(body, media_type=media_type)


def _general_eligibility(
    request: Request,
    caller: Caller,
    reception_id: int,
    service_date: dt.date | None,
    format: str,
    total_cost: int | None,
) -> tuple[EligibilityResult, str | None]:
    with request_session(request) as session:
        found = result.eligibility(session, caller, reception_id, service_date, format, total_cost=total_cost)
        number = (
            patients.patient_number_of_reception(session, caller.organisation_id, reception_id)
            if format == "orca"
            else None
        )
    return found, number


@router.put("/receptions/{reception_id}/patient", response_model=ReceptionRow, summary="患者番号との紐づけ")
def link_patient(reception_id: DbId, body: PatientLink, caller: Institution, session: SessionDep) -> ReceptionRow:
    """Link a reception to the patient registry by patient number (or register a new patient number)."""
    return receptions.link_patient(session, caller, reception_id, body)


@router.delete("/receptions/{reception_id}/patient", response_model=ReceptionRow, summary="患者番号との紐づけの解除")
def unlink_patient(reception_id: DbId, caller: Institution, session: SessionDep) -> ReceptionRow:
    """Undo a reception's patient-number link; the person's next visits are no longer linked to that patient."""
    return receptions.unlink_patient(session, caller, reception_id)


@router.post("/eligibility/recheck", response_model=RecheckReport, summary="一括照会（月次の再確認）")
def recheck(body: RecheckCreate, caller: Institution, session: SessionDep) -> RecheckReport:
    """Re-check every reception of the month that still has consent and report what changed since first read."""
    return monthly.recheck(session, caller, body.month)
