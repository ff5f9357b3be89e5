"""API keys: stored hashed, shown once, scoped to one organisation and one role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import service
from pmh.auth.models import ApiKey
from pmh.errors import InvalidInput, NotAuthenticated, NotPermitted
from tests import factories as f


def test_key_is_kept_only_as_a_digest(db_session: Session) -> None:
    clinic = f.institution(db_session)
    issued = service.create_api_key(db_session, clinic, "institution")
    stored = db_session.scalars(select(ApiKey)).one()
    assert issued.key.startswith(f"pmh_{stored.prefix}_")
    assert issued.key not in {stored.key_digest, stored.prefix, stored.label}
    assert service.authenticate_api_key(db_session, issued.key).organisation_code == clinic.code


@pytest.mark.parametrize(
    ("org_kind", "role"),
    [
        ("municipality", "institution"),
        ("institution", "municipality"),
        ("institution", "operator"),
        ("operator", "card_reader"),
    ],
)
def test_key_role_must_fit_the_organisation_kind(db_session: Session, org_kind: str, role: str) -> None:
    organisation = {"municipality": f.municipality, "institution": f.institution, "operator": f.operator}[org_kind](
        db_session
    )
    with pytest.raises(InvalidInput):
        service.create_api_key(db_session, organisation, role)  # type: ignore[arg-type]


def test_card_reader_key_belongs_to_its_institution(db_session: Session) -> None:
    clinic = f.institution(db_session)
    caller = service.authenticate_api_key(db_session, f.api_key(db_session, clinic, "card_reader"))
    assert (caller.organisation_code, caller.role) == (clinic.code, "card_reader")


def test_revoked_key_is_refused(db_session: Session) -> None:
    clinic = f.institution(db_session)
    issued = service.create_api_key(db_session, clinic, "institution")
    service.revoke_api_key(db_session, issued.prefix)
    with pytest.raises(NotAuthenticated):
        service.authenticate_api_key(db_session, issued.key)


def test_role_not_admitted_is_refused() -> None:
    caller = service.Caller(1, "x", "x", "institution", "card_reader", "key:x")
    with pytest.raises(NotPermitted):
        service.require_role(caller, ("institution",))


def test_request_without_key_gets_401_problem(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_authenticated"


def test_request_with_unknown_key_gets_401(client: TestClient) -> None:
    assert client.get("/api/v1/me", headers=f.bearer("pmh_nope_nope")).status_code == 401


def test_card_reader_may_not_list_keys(client: TestClient, db_session: Session) -> None:
    key = f.api_key(db_session, f.institution(db_session), "card_reader")
    response = client.get("/api/v1/keys", headers=f.bearer(key))
    assert response.status_code == 403
    assert "のみ" in response.json()["detail"]


def test_key_of_one_organisation_cannot_read_or_revoke_another_organisations_keys(
    client: TestClient, db_session: Session
) -> None:
    clinic = f.institution(db_session)
    other = f.institution(db_session, code=f.OTHER_CLINIC_CODE, name="別の医院")
    own_key = f.api_key(db_session, clinic, "institution")
    other_key = f.api_key(db_session, other, "institution")
    other_prefix = other_key.split("_")[1]

    listed = client.get("/api/v1/keys", headers=f.bearer(own_key)).json()
    assert [k["prefix"] for k in listed] == [own_key.split("_")[1]]

    refused = client.delete(f"/api/v1/keys/{other_prefix}", headers=f.bearer(own_key))
    assert refused.status_code == 404
    assert client.get("/api/v1/me", headers=f.bearer(other_key)).status_code == 200


def test_me_names_the_callers_organisation_and_role(client: TestClient, db_session: Session) -> None:
    key = f.api_key(db_session, f.municipality(db_session, "131016"), "municipality")
    body = client.get("/api/v1/me", headers=f.bearer(key)).json()
    assert body == {
        "organisation_code": "131016",
        "organisation_name": "千代田区",
        "organisation_kind": "municipality",
        "role": "municipality",
    }


def test_organisation_revokes_its_own_key_over_the_api(client: TestClient, db_session: Session) -> None:
    operator = f.operator(db_session)
    admin_key = f.api_key(db_session, operator, "operator")
    spare_key = f.api_key(db_session, operator, "operator")
    assert client.delete(f"/api/v1/keys/{spare_key.split('_')[1]}", headers=f.bearer(admin_key)).status_code == 204
    assert client.get("/api/v1/me", headers=f.bearer(spare_key)).status_code == 401
