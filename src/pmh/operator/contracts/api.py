"""HTTP edge of the contracts: municipalities name their window and delegate; the operator builds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.deps import SessionDep
from pmh.idempotency.edge import idempotent
from pmh.operator.contracts import service
from pmh.operator.contracts.schemas import (
    ContactWindowRead,
    ContactWindowSet,
    ContractBuild,
    DelegationCreate,
    DelegationRead,
)
from pmh.operator.edges import FiscalYearQuery

router = APIRouter(tags=["operator"])
Operator = Annotated[Caller, requires("operator")]
Municipality = Annotated[Caller, requires("municipality")]


def _contracts(fiscal_year: int, contracts: list[service.PrefectureContract]) -> dict[str, Any]:
    return {"fiscal_year": fiscal_year, "contracts": [c.as_json() for c in contracts]}


@router.get("/contracts", response_model=dict[str, Any], summary="都道府県ごとの委託契約（別紙付き）")
def list_contracts(caller: Operator, session: SessionDep, fiscal_year: FiscalYearQuery) -> dict[str, Any]:
    """Return every prefecture's contract for the year: built ones as built, the others as drafts."""
    return _contracts(fiscal_year, service.contracts_for(session, fiscal_year))


@router.post("/contracts/build", response_model=dict[str, Any], summary="委託契約の作成（年1回）")
@idempotent
def build_contracts(body: ContractBuild, caller: Operator, session: SessionDep) -> dict[str, Any]:
    """Build the year's contracts; one already built is kept, later additions are deferred to next year."""
    return _contracts(body.fiscal_year, service.build(session, caller, body.fiscal_year))


@router.put("/contact-window", response_model=ContactWindowRead, summary="とりまとめ窓口・支払方法の届出")
def set_contact_window(body: ContactWindowSet, caller: Municipality, session: SessionDep) -> ContactWindowRead:
    """Name the caller municipality's contact window and choose monthly or annual payment."""
    window = service.set_contact_window(
        session, caller.organisation_code, body.department, body.contact_name, body.phone, body.email, body.payment
    )
    return ContactWindowRead.model_validate(window, from_attributes=True)


@router.post("/delegations", response_model=DelegationRead, status_code=201, summary="委任状（別紙付き）の提出")
@idempotent
def delegate(body: DelegationCreate, caller: Municipality, session: SessionDep) -> DelegationRead:
    """Delegate the caller municipality's contract for a fiscal year to its prefecture."""
    delegation = service.delegate(session, caller.organisation_code, body.fiscal_year, body.programs or None)
    return DelegationRead(
        municipality_code=delegation.municipality_code,
        prefecture_code=delegation.prefecture_code,
        fiscal_year=delegation.fiscal_year,
        programs=[p for p in delegation.programs.split(";") if p],
    )
