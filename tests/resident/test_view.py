"""The resident's own view over HTTP: card sign-in, certificates, access log, copay, consent withdrawal."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.app import API_PREFIX
from pmh.audit.models import AuditEntry
from pmh.errors import NotAuthenticated
from pmh.operator import clock
from pmh.operator.contracts import service as contracts
from pmh.resident import api as resident_api
from pmh.resident import service
from tests import factories as f
from tests.eligibility import world as w

ME_ROUTES_CALLS = {"GET": "get", "DELETE": "delete"}


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _sign_in(world: w.World, pin: str = w.PIN) -> Any:
    return world.client.post("/api/v1/resident-sessions", json={"card_serial": world.card_serial, "pin": pin})


def _token(world: w.World) -> dict[str, str]:
    response = _sign_in(world)
    assert response.status_code == 201, response.text
    return f.bearer(response.json()["token"])


def _me(world: w.World, path: str, headers: dict[str, str], **params: str) -> Any:
    response = world.client.get(f"/api/v1/me/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _me_routes() -> list[tuple[str, str]]:
    """Every resident route (method, concrete path), found by walking the resident router.

    FastAPI 0.165 keeps included routers whole (``app.routes`` no longer lists their routes).
    """
    found = []
    for route in resident_api.router.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/me/"):
            for method in sorted(route.methods):
                found.append((method, API_PREFIX + route.path.replace("{reception_id}", "1")))
    return found


def test_done_when_read_shows_in_log_withdrawal_hides_reception_and_other_keys_are_refused(
    world: w.World, db_session: Session
) -> None:
    reception = world.receive("all")
    read = world.eligibility(reception)
    assert w.NANBYO_PAYER in [s["payer_number"] for s in read["subsidies"]]
    me = _token(world)

    log = _me(world, "access-log", me)
    reads = [e for e in log if e["action"] == "eligibility.read"]
    assert len(reads) == 1
    entry = reads[0]
    assert set(entry) >= {"at", "organisation_name", "organisation_kind", "action", "certificates"}
    assert entry["organisation_name"] == "テスト内科" and entry["organisation_kind"] == "institution"
    assert entry["at"].endswith("+09:00") and entry["reception_id"] == reception
    assert any(w.NANBYO_PAYER in label for label in entry["certificates"])
    assert {"card_session.open", "consent.give"} <= {e["action"] for e in log}
    assert "key:" not in json.dumps(log)  # no staff or key names, ever

    unknown = world.client.get("/api/v1/receptions/99999999/eligibility", headers=world.clinic()).json()
    withdrawn = world.client.delete(f"/api/v1/me/consents/{reception}", headers=me)
    assert withdrawn.status_code == 200 and withdrawn.json()["institution_name"] == "テスト内科"

    gone = world.client.get(f"/api/v1/receptions/{reception}/eligibility", headers=world.clinic())
    assert gone.status_code == 404 and gone.json()["detail"] == unknown["detail"]
    listed = world.client.get("/api/v1/receptions", headers=world.clinic()).json()
    assert reception not in [row["id"] for row in listed]
    month = w.TODAY.strftime("%Y-%m")
    recheck = world.client.post("/api/v1/eligibility/recheck", json={"month": month}, headers=world.clinic())
    assert recheck.status_code == 200 and recheck.json()["receptions_checked"] == 0
    copay = {
        "reception_id": reception,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "service_date": w.TODAY.isoformat(),
        "total_cost": 1000,
        "copay_amount": 100,
    }
    refused = world.client.post("/api/v1/copay-entries", json=copay, headers=world.clinic())
    nowhere = world.client.post(
        "/api/v1/copay-entries", json=copay | {"reception_id": 99999999}, headers=world.clinic()
    )
    assert refused.status_code == nowhere.status_code == 404
    assert refused.json()["detail"] == nowhere.json()["detail"]

    # What the clinic read before stays in the resident's log; the withdrawal is audited.
    assert [e for e in _me(world, "access-log", me) if e["action"] == "eligibility.read"] == reads
    withdrawal = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.withdraw")).one()
    assert withdrawal.subject_id == str(reception) and withdrawal.organisation_id is None

    third = f.api_key(db_session, f.institution(db_session, f.PHARMACY_CODE, "第三薬局", "pharmacy"), "institution")
    outsiders = {
        "third institution": f.bearer(third),
        "municipality": f.bearer(world.municipality_key),
        "the patient's own clinic": world.clinic(),
        "card reader": world.reader(),
        "no credential": {},
    }
    routes = _me_routes()
    assert {path for _, path in routes} >= {
        "/api/v1/me/certificates",
        "/api/v1/me/access-log",
        "/api/v1/me/copay",
        "/api/v1/me/consents/1",
    }
    for who, headers in outsiders.items():
        for method, path in routes:
            response = world.client.request(method, path, headers=headers)
            assert response.status_code in (401, 403), (who, method, path, response.status_code)
    # The resident token is no API key: refused on the staff and key routes, /api/v1/me included.
    assert world.client.get("/api/v1/me", headers=me).status_code == 401
    assert world.client.get("/api/v1/receptions", headers=me).status_code == 401


def test_wrong_pins_count_with_the_reader_and_lock_the_card_everywhere(world: w.World) -> None:
    first = _sign_in(world, "0000")
    assert first.status_code == 401 and first.json()["code"] == "pin_wrong"
    assert "あと2回" in first.json()["detail"]
    reader = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": world.card_serial, "auth": "pin", "pin": "0000"},
        headers=world.reader(),
    )
    assert reader.status_code == 401 and "あと1回" in reader.json()["detail"]
    third = _sign_in(world, "0000")
    assert third.status_code == 401 and third.json()["code"] == "card_locked"
    assert _sign_in(world).json()["code"] == "card_locked"  # even the right PIN, until the window unlocks it
    locked_at_reader = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": world.card_serial, "auth": "pin", "pin": w.PIN},
        headers=world.reader(),
    )
    assert locked_at_reader.json()["code"] == "card_locked"


def test_certificates_show_everything_of_the_holder_and_nothing_unconfirmed(
    world: w.World, db_session: Session
) -> None:
    contracts.set_contact_window(db_session, f.HACHIOJI, "子ども家庭部 医療助成課", phone="042-000-0000")
    certificates = _me(world, "certificates", _token(world))
    confirmed = {c["recipient_number"]: c for c in certificates if c["status"] != "under_review"}
    assert set(confirmed) == {f.recipient(i) for i in (1, 2, 3, 4, 6)}
    assert confirmed[f.recipient(1)]["monthly_cap"] == 5000 and confirmed[f.recipient(1)]["cap_managed"] is True
    assert confirmed[f.recipient(1)]["designated_institutions"] == [{"code": f.CLINIC_CODE, "name": "テスト内科"}]
    assert confirmed[f.recipient(3)]["status"] == "expired"
    assert confirmed[f.recipient(6)]["status"] == "not_yet_valid"
    assert confirmed[f.recipient(4)]["not_disclosed"] is True and confirmed[f.recipient(4)]["status"] == "valid"
    held = [c for c in certificates if c["status"] == "under_review"]
    assert len(held) == 1 and held[0]["program_code"] == "hitorioya"
    assert held[0]["contact"] == {"department": "子ども家庭部 医療助成課", "phone": "042-000-0000", "email": None}
    assert held[0]["payer_number"] is None and held[0]["valid_from"] is None and held[0]["monthly_cap"] is None
    assert f.recipient(5) not in json.dumps(certificates) and "田中" not in json.dumps(certificates, ensure_ascii=False)


def test_access_log_covers_municipality_uploads_and_copay_and_nothing_of_other_people(
    world: w.World, db_session: Session
) -> None:
    from pmh.cards import service as cards

    reception = world.receive("all")
    world.eligibility(reception)
    body = {
        "reception_id": reception,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "service_date": w.TODAY.isoformat(),
        "total_cost": 10_000,
        "copay_amount": 1_000,
    }
    entry = world.client.post("/api/v1/copay-entries", json=body, headers=world.clinic())
    assert entry.status_code == 201, entry.text
    assert world.client.delete(f"/api/v1/copay-entries/{entry.json()['id']}", headers=world.clinic()).status_code == 200
    world.client.post("/api/v1/eligibility/recheck", json={"month": w.TODAY.strftime("%Y-%m")}, headers=world.clinic())
    # Someone else at the same clinic, the same day: none of it may reach this resident's log.
    with db_session.begin_nested():
        other = cards.issue_card(db_session, w.OTHER_PERSON, "1357")
    other_session = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": other.card_serial, "auth": "face", "face_matched": True},
        headers=f.bearer(world.face_reader_key),
    ).json()
    world.client.post(
        f"/api/v1/card-sessions/{other_session['id']}/consent", json={"subsidy": "none"}, headers=world.reader()
    )

    me = _token(world)
    log = _me(world, "access-log", me)
    actions = [e["action"] for e in log]
    assert actions.count("certificates.import") == 2
    uploads = {e["organisation_name"]: e for e in log if e["action"] == "certificates.import"}
    assert set(uploads) == {"八王子市", "東京都"} and uploads["東京都"]["organisation_kind"] == "municipality"
    assert len(uploads["八王子市"]["certificates"]) == 5  # the rejected-by-nobody held one shows as 確認中
    assert any("確認中" in label for label in uploads["八王子市"]["certificates"])
    assert {"copay.record", "copay.cancel", "eligibility.recheck", "consent.give"} <= set(actions)
    assert actions.count("card_session.open") == 1 and actions.count("consent.give") == 1
    assert log == sorted(log, key=lambda e: e["at"], reverse=True)
    text = json.dumps(log, ensure_ascii=False)
    assert "鈴木" not in text and other.card_serial not in text

    tomorrow = (w.TODAY + dt.timedelta(days=1)).isoformat()
    assert _me(world, "access-log", me, **{"from": tomorrow}) == []
    assert len(_me(world, "access-log", me, **{"from": w.TODAY.isoformat(), "to": w.TODAY.isoformat()})) == len(log)
    backwards = world.client.get("/api/v1/me/access-log", params={"from": tomorrow, "to": w.day(-1)}, headers=me)
    assert backwards.status_code == 422


def test_copay_sheet_of_the_month_across_institutions(world: w.World) -> None:
    mine = world.receive("all")
    theirs = world.receive("all", key=world.other_reader_key)
    month = w.TODAY.strftime("%Y-%m")

    def pay(reception: int, key: str, amount: int) -> int:
        body = {
            "reception_id": reception,
            "payer_number": w.NANBYO_PAYER,
            "recipient_number": f.recipient(1),
            "service_date": w.TODAY.isoformat(),
            "total_cost": amount * 5,
            "copay_amount": amount,
        }
        response = world.client.post("/api/v1/copay-entries", json=body, headers=f.bearer(key))
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    pay(mine, world.clinic_key, 1200)
    wrong = pay(theirs, world.other_clinic_key, 900)
    world.client.delete(f"/api/v1/copay-entries/{wrong}", headers=f.bearer(world.other_clinic_key))
    pay(theirs, world.other_clinic_key, 800)
    sheets = _me(world, "copay", _token(world), month=month)
    nanbyo = next(s for s in sheets if s["payer_number"] == w.NANBYO_PAYER)
    assert (nanbyo["cap"], nanbyo["month_total"], nanbyo["remaining"]) == (5000, 2000, 3000)
    lines = [
        (line["institution_name"], line["paid"], line["running_total"], line["cancelled"]) for line in nanbyo["lines"]
    ]
    assert lines == [
        ("テスト内科", 1200, 1200, False),
        ("別のクリニック", 900, None, True),
        ("別のクリニック", 800, 2000, False),
    ]
    assert {s["payer_number"] for s in sheets} == {w.NANBYO_PAYER, w.SHOMAN_PAYER}  # cap-managed ones only
    assert world.client.get("/api/v1/me/copay", params={"month": "2026-13"}, headers=_token(world)).status_code == 422


def test_today_comes_from_the_injectable_clock(world: w.World) -> None:
    me = _token(world)
    shoman = f.recipient(6)  # starts in ten days
    statuses = {c["recipient_number"]: c["status"] for c in _me(world, "certificates", me)}
    assert statuses[shoman] == "not_yet_valid"
    app = world.client.app
    app.dependency_overrides[clock.today] = lambda: w.TODAY + dt.timedelta(days=30)  # type: ignore[attr-defined]
    statuses = {c["recipient_number"]: c["status"] for c in _me(world, "certificates", me)}
    assert statuses[shoman] == "valid"
    later = (w.TODAY + dt.timedelta(days=40)).strftime("%Y-%m")
    assert {s["month"] for s in _me(world, "copay", me)} == {(w.TODAY + dt.timedelta(days=30)).strftime("%Y-%m")}
    assert {s["month"] for s in _me(world, "copay", me, month=later)} == {later}


def test_sessions_expire_end_and_cannot_touch_another_persons_reception(world: w.World, db_session: Session) -> None:
    opened = _sign_in(world).json()
    token = opened["token"]
    expires = dt.datetime.fromisoformat(opened["expires_at"])
    assert dt.timedelta(minutes=14) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=15)
    resident = service.resolve(db_session, token)
    with pytest.raises(NotAuthenticated):
        service.resolve(db_session, token, now=expires)
    other_reception = world.receive("all", key=world.other_reader_key)
    assert world.client.delete(f"/api/v1/me/consents/{other_reception}", headers=f.bearer(token)).status_code == 200
    assert world.client.delete("/api/v1/me/consents/99999999", headers=f.bearer(token)).status_code == 404
    assert world.client.delete("/api/v1/me/session", headers=f.bearer(token)).status_code == 204
    assert world.client.get("/api/v1/me/certificates", headers=f.bearer(token)).status_code == 401
    with pytest.raises(NotAuthenticated):
        service.resolve(db_session, token)
    assert resident.person_digest and "token" not in json.dumps(
        [e.detail for e in db_session.scalars(select(AuditEntry))]
    )


def test_a_reception_of_someone_else_looks_like_none(world: w.World, db_session: Session) -> None:
    from pmh.cards import service as cards

    with db_session.begin_nested():
        other = cards.issue_card(db_session, w.OTHER_PERSON, "1357")
    card_session = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": other.card_serial, "auth": "face", "face_matched": True},
        headers=f.bearer(world.face_reader_key),
    ).json()
    theirs = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent", json={"subsidy": "none"}, headers=world.reader()
    ).json()["reception_id"]
    response = world.client.delete(f"/api/v1/me/consents/{theirs}", headers=_token(world))
    assert response.status_code == 404
    assert world.client.get(f"/api/v1/receptions/{theirs}/eligibility", headers=world.clinic()).status_code == 200


def test_leaflet_lists_programs_places_and_the_contact_window(world: w.World, db_session: Session) -> None:
    contracts.set_contact_window(db_session, f.HACHIOJI, "医療保険年金課", phone="042-000-0001")
    page = world.client.get(f"/municipalities/{f.HACHIOJI}/leaflet")
    assert page.status_code == 200
    for text in ("八王子市", "ひとり親", "テスト内科", "別のクリニック", "医療保険年金課", "042-000-0001"):
        assert text in page.text, text
    assert 'href="/static/leaflet.css"' in page.text  # its A4 print rules, kept out of the HTML (CSP)
    assert "@page" in world.client.get("/static/leaflet.css").text
    assert world.client.get("/municipalities/131016/leaflet").status_code == 404  # 千代田区: no programs here
    assert world.client.get("/municipalities/999999/leaflet").status_code == 404


def test_pages_count_wrong_pins_with_the_card_and_guard_their_forms(world: w.World) -> None:
    assert "暗証番号" in world.client.get("/me").text
    wrong = world.client.post("/me/login", data={"card_serial": world.card_serial, "pin": "0000"})
    assert wrong.status_code == 401 and "あと2回" in wrong.text
    assert "あと1回" in _sign_in(world, "0000").json()["detail"]  # the page's wrong PIN was committed
    signed_in = world.client.post(
        "/me/login", data={"card_serial": world.card_serial, "pin": w.PIN}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and "Path=/me" in signed_in.headers["set-cookie"]
    reception = world.receive("all")
    home = world.client.get("/me")
    assert "特定医療費（指定難病）" in home.text and w.NANBYO_PAYER in home.text
    forged = world.client.post(f"/me/consents/{reception}/withdraw", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert world.client.get(f"/api/v1/receptions/{reception}/eligibility", headers=world.clinic()).status_code == 200
    assert world.client.get("/api/v1/me/certificates").status_code == 401  # the cookie is no API credential
