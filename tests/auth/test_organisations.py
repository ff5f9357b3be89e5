"""Organisations: municipalities from the reference master, institutions by their code."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from pmh.auth import service
from pmh.errors import Conflict, InvalidInput, NotFound
from tests import factories as f


def test_municipality_is_registered_from_the_reference_master(db_session: Session) -> None:
    organisation = service.ensure_organisation(db_session, "271004")
    assert (organisation.name, organisation.kind, organisation.prefecture_code) == (
        "大阪市",
        "municipality",
        "27",
    )
    assert service.ensure_organisation(db_session, "271004").id == organisation.id


def test_unknown_organisation_code_is_refused(db_session: Session) -> None:
    with pytest.raises(NotFound, match="登録されていません"):
        service.ensure_organisation(db_session, "999999")


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        ("1310112346", "clinic", "検証番号"),
        ("131011234", "clinic", "10桁"),
        ("1310112345", "pharmacy", "点数表"),
        ("1340112349", "clinic", "点数表"),
    ],
)
def test_invalid_institution_is_refused_with_reason(db_session: Session, code: str, kind: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        service.add_institution(db_session, code, "名前", kind)  # type: ignore[arg-type]


def test_institution_code_is_registered_once(db_session: Session) -> None:
    f.institution(db_session)
    with pytest.raises(Conflict):
        f.institution(db_session)


def test_large_chain_applies_to_pharmacies_only(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="薬局"):
        service.add_institution(db_session, f.CLINIC_CODE, "医院", "clinic", large_chain=True)
    pharmacy = service.add_institution(db_session, f.PHARMACY_CODE, "チェーン薬局", "pharmacy", large_chain=True)
    assert pharmacy.large_chain
