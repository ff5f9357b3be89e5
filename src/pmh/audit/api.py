"""HTTP edge of the audit log: an organisation reads its own entries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from pmh.audit import service
from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.deps import SessionDep

router = APIRouter(tags=["audit"])
Reader = Annotated[Caller, requires("municipality", "institution", "operator")]


class AuditEntryRead(BaseModel):
    """One audit entry as its organisation sees it."""

    id: int
    chain: int
    seq: int | None = Field(description="鎖の中の連番（封印前は null。封印は PMH_AUDIT_SEAL_MS 以内）")
    occurred_at: dt.datetime
    actor: str
    role: str
    action: str
    subject_type: str
    subject_id: str
    detail: str


@router.get("/audit-entries", response_model=list[AuditEntryRead], summary="自組織の監査ログ")
def list_audit_entries(
    caller: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="この id より前の記録（次のページ）")] = None,
) -> list[AuditEntryRead]:
    """Return the newest entries recorded for the caller's own organisation (newest first)."""
    entries = service.entries_for(session, caller, limit=limit, before_id=before_id)
    return [AuditEntryRead.model_validate(e, from_attributes=True) for e in entries]
