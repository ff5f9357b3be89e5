"""Shapes of the auth area: roles, the request's caller, issued keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["municipality", "institution", "card_reader", "operator"]
ROLES: tuple[Role, ...] = ("municipality", "institution", "card_reader", "operator")
OrganisationKind = Literal["municipality", "institution", "operator"]
InstitutionKind = Literal["clinic", "hospital", "pharmacy"]

# A card reader stands in an institution, so its keys belong to the institution.
ORGANISATION_KIND_FOR_ROLE: dict[Role, OrganisationKind] = {
    "municipality": "municipality",
    "institution": "institution",
    "card_reader": "institution",
    "operator": "operator",
}

ROLE_LABELS: dict[str, str] = {
    "municipality": "自治体",
    "institution": "医療機関・薬局",
    "card_reader": "顔認証付きカードリーダー",
    "operator": "運営主体",
}


@dataclass(frozen=True)
class Caller:
    """Who is making this request: one organisation acting in one role."""

    organisation_id: int
    organisation_code: str
    organisation_name: str
    organisation_kind: str
    role: str
    actor: str
    reader_name: str | None = None
    """The registered card reader whose own key made the request (``pmh institutions readers add``)."""
    face_device: bool = False
    """True when that reader is registered as a face-recognition device: only then is face authentication taken."""


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued API key; ``key`` is shown once and never stored."""

    key: str
    prefix: str
    role: str
    organisation_code: str
    organisation_name: str
