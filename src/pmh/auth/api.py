"""HTTP edge of the auth area: who am I, and the organisation's own keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from pmh.auth import service
from pmh.auth.deps import requires
from pmh.auth.models import ApiKey
from pmh.auth.schemas import Caller
from pmh.deps import SessionDep
from pmh.errors import NotFound

router = APIRouter(tags=["auth"])
AnyRole = Annotated[Caller, requires("municipality", "institution", "card_reader", "operator")]
KeyManager = Annotated[Caller, requires("municipality", "institution", "operator")]


class MeRead(BaseModel):
    """The caller as the hub sees it."""

    organisation_code: str
    organisation_name: str
    organisation_kind: str
    role: str


class ApiKeyRead(BaseModel):
    """An API key of the caller's organisation, without its secret."""

    prefix: str
    role: str
    label: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@router.get("/me", response_model=MeRead, summary="呼び出し元の組織とロール")
def read_me(caller: AnyRole) -> MeRead:
    """Return the organisation and role the presented key stands for."""
    return MeRead(
        organisation_code=caller.organisation_code,
        organisation_name=caller.organisation_name,
        organisation_kind=caller.organisation_kind,
        role=caller.role,
    )


@router.get("/keys", response_model=list[ApiKeyRead], summary="自組織のAPIキー一覧")
def list_keys(caller: KeyManager, session: SessionDep) -> list[ApiKeyRead]:
    """List the caller's own organisation's keys (secrets are never shown again)."""
    keys = session.scalars(select(ApiKey).where(ApiKey.organisation_id == caller.organisation_id).order_by(ApiKey.id))
    return [ApiKeyRead.model_validate(k, from_attributes=True) for k in keys]


@router.delete("/keys/{prefix}", status_code=204, summary="自組織のAPIキーを失効")
def revoke_key(prefix: str, caller: KeyManager, session: SessionDep) -> None:
    """Revoke one of the caller's own organisation's keys; another organisation's key is not found."""
    owned = session.scalar(
        select(ApiKey.id).where(ApiKey.prefix == prefix, ApiKey.organisation_id == caller.organisation_id)
    )
    if owned is None:
        raise NotFound(f"鍵 {prefix} は見つかりません。")
    service.revoke_api_key(session, prefix)
