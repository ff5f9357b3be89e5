"""Read-only list of the institutions connected to the hub (public facts only: code, name, kind)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation


@dataclass(frozen=True)
class ConnectedInstitution:
    """An institution registered in the hub: 医療機関コード, name, kind, prefecture."""

    code: str
    name: str
    kind: str
    prefecture_code: str


def connected_institutions(session: Session, prefecture_code: str | None = None) -> list[ConnectedInstitution]:
    """Return the registered institutions, optionally of one prefecture, in code order."""
    stmt = select(Organisation).where(Organisation.kind == "institution").order_by(Organisation.code)
    if prefecture_code is not None:
        stmt = stmt.where(Organisation.prefecture_code == prefecture_code)
    return [
        ConnectedInstitution(o.code, o.name, o.institution_kind or "", o.prefecture_code or o.code[:2])
        for o in session.scalars(stmt)
    ]
