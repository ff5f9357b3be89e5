"""The public directory: participating municipalities with their programs, and connected institutions.

Public facts only — no certificate, person or count is shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from pmh.auth.institutions import connected_institutions
from pmh.codes.prefectures import UnknownPrefectureError, prefecture_code, prefecture_name
from pmh.errors import FieldError, InvalidInput
from pmh.reference import catalogue
from pmh.registry import participation

INSTITUTION_KIND_LABELS = {"clinic": "診療所", "hospital": "病院", "pharmacy": "薬局"}


@dataclass
class DirectoryMunicipality:
    """A participating body with the programs it runs in the hub."""

    code: str
    name: str
    prefecture_code: str
    kind: str
    programs: list[tuple[str, str, dt.date]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """Return the public JSON shape."""
        return {
            "code": self.code,
            "name": self.name,
            "prefecture_code": self.prefecture_code,
            "prefecture_name": prefecture_name(self.prefecture_code),
            "kind": self.kind,
            "programs": [
                {"program_code": code, "program_name": name, "start_date": start.isoformat()}
                for code, name, start in self.programs
            ],
        }


def parse_prefecture(text: str | None) -> str | None:
    """Return the two-digit code of a prefecture given by code or name (None for none)."""
    if text is None or not text.strip():
        return None
    try:
        return prefecture_code(text)
    except UnknownPrefectureError as exc:
        raise InvalidInput(str(exc), [FieldError("prefecture", "unknown_prefecture", str(exc))]) from None


def municipalities(session: Session, prefecture: str | None = None) -> list[DirectoryMunicipality]:
    """Return the bodies that registered at least one program, with their programs, by code."""
    wanted = parse_prefecture(prefecture)
    found: dict[str, DirectoryMunicipality] = {}
    for program in participation.registered_programs(session):
        if wanted is not None and program.prefecture_code != wanted:
            continue
        entry = found.get(program.municipality_code)
        if entry is None:
            body = catalogue.municipality(program.municipality_code)
            entry = DirectoryMunicipality(body.code, body.name, body.prefecture_code, catalogue.KIND_LABELS[body.kind])
            found[body.code] = entry
        entry.programs.append((program.program_code, catalogue.program(program.program_code).name, program.start_date))
    return [found[code] for code in sorted(found)]


def institutions(session: Session, prefecture: str | None = None) -> list[dict[str, str]]:
    """Return the connected institutions (optionally of one prefecture) as public JSON rows."""
    return [
        {
            "code": i.code,
            "name": i.name,
            "kind": i.kind,
            "kind_label": INSTITUTION_KIND_LABELS.get(i.kind, i.kind),
            "prefecture_code": i.prefecture_code,
            "prefecture_name": prefecture_name(i.prefecture_code) if i.prefecture_code.isdigit() else "",
        }
        for i in connected_institutions(session, parse_prefecture(prefecture))
    ]
