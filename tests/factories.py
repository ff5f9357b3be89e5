"""Factories that build valid objects in one line, so a test shows only what matters to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pmh.auth import service
from pmh.auth.models import Organisation
from pmh.auth.schemas import Role

CLINIC_CODE = "1310112345"
OTHER_CLINIC_CODE = "1310112378"
PHARMACY_CODE = "1340112349"


def municipality(session: Session, code: str = "132012") -> Organisation:
    """Register a municipality from the reference master (default 八王子市)."""
    return service.ensure_organisation(session, code)


def institution(
    session: Session, code: str = CLINIC_CODE, name: str = "テスト内科", kind: str = "clinic"
) -> Organisation:
    """Register an institution (default a clinic in Tokyo)."""
    return service.add_institution(session, code, name, kind)  # type: ignore[arg-type]


def operator(session: Session) -> Organisation:
    """Return the operator organisation."""
    return service.ensure_organisation(session, service.OPERATOR_CODE)


def api_key(session: Session, organisation: Organisation, role: Role) -> str:
    """Issue an API key and return its plain value."""
    return service.create_api_key(session, organisation, role).key


def bearer(key: str) -> dict[str, str]:
    """Return the Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}
