"""HTTP edge of the subsidy: a public quote, the institution's one application, the operator's list."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pmh.auth.deps import public, requires
from pmh.auth.schemas import Caller
from pmh.deps import SessionDep
from pmh.errors import NotFound
from pmh.idempotency.edge import idempotent
from pmh.operator.clock import TodayDep
from pmh.operator.subsidy import rules, service
from pmh.operator.subsidy.schemas import (
    SubsidyApplicationCreate,
    SubsidyApplicationRead,
    SubsidyDocuments,
    SubsidyQuoteRead,
)

router = APIRouter(tags=["subsidy"])
Institution = Annotated[Caller, requires("institution")]
Operator = Annotated[Caller, requires("operator")]


def _read(view: service.ApplicationView) -> SubsidyApplicationRead:
    return SubsidyApplicationRead.model_validate(view.as_json())


@router.get("/subsidy/quote", response_model=SubsidyQuoteRead, summary="補助額の試算", dependencies=[public()])
def quote(
    facility: Literal["clinic", "hospital", "pharmacy"],
    option: Annotated[int, Query(ge=1, le=3)],
    cost: Annotated[int, Query(ge=0, le=1_000_000_000)],
    reception_machine: bool = False,
    large_chain: bool = False,
) -> SubsidyQuoteRead:
    """Return the subsidy amount for a modification with the rule that produced it."""
    return SubsidyQuoteRead.model_validate(
        rules.quote(facility, option, cost, reception_machine=reception_machine, large_chain=large_chain).as_json()
    )


@router.post("/subsidy-applications", response_model=SubsidyApplicationRead, status_code=201, summary="補助金の申請")
@idempotent
def apply(
    body: SubsidyApplicationCreate, caller: Institution, session: SessionDep, today: TodayDep
) -> SubsidyApplicationRead:
    """File the institution's one application; missing documents make it incomplete, not refused."""
    view = service.apply(
        session,
        caller,
        body.option,
        body.cost,
        body.completed_on,
        list(body.documents),
        applied_on=today,
        reception_machine=body.reception_machine,
    )
    return _read(view)


@router.get("/subsidy-applications/mine", response_model=SubsidyApplicationRead, summary="自機関の申請")
def mine(caller: Institution, session: SessionDep) -> SubsidyApplicationRead:
    """Return the caller institution's application."""
    view = service.own_application(session, caller)
    if view is None:
        raise NotFound("補助金の申請がありません。")
    return _read(view)


@router.post("/subsidy-applications/mine/documents", response_model=SubsidyApplicationRead, summary="書類の追加提出")
@idempotent
def add_documents(body: SubsidyDocuments, caller: Institution, session: SessionDep) -> SubsidyApplicationRead:
    """Add documents to the caller's application; it becomes complete when none is missing."""
    return _read(service.add_documents(session, caller, list(body.documents)))


@router.get("/subsidy-applications", response_model=list[SubsidyApplicationRead], summary="補助金申請の一覧")
def list_applications(caller: Operator, session: SessionDep) -> list[SubsidyApplicationRead]:
    """Return every application (operator)."""
    return [_read(v) for v in service.list_applications(session)]
