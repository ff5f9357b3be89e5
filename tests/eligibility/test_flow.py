"""The reader flow end to end over HTTP: card session, consent, eligibility as of a service date."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.audit.models import AuditEntry
from pmh.cards.service import import_insurance_text
from pmh.eligibility.reader import NO_CERTIFICATES, QUESTION
from tests import factories as f
from tests.eligibility import world as w


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _programs(result: dict[str, object]) -> list[str]:
    return [s["program_code"] for s in result["subsidies"]]  # type: ignore[attr-defined]


def test_reader_offers_names_only_never_numbers_nor_held_or_expired(world: w.World) -> None:
    card_session = world.open_session()
    assert card_session["question"] == QUESTION
    offered = card_session["certificates"]
    # Claim order: 小児慢性 (52) before 難病 (54), then the local programs by 法別番号 (81, 88).
    assert [c["program_code"] for c in offered] == ["shoman", "nanbyo", "hitorioya", "kodomo"]
    assert [c["status"] for c in offered] == ["not_yet_valid", "valid", "valid", "valid"]
    assert {c["municipality_name"] for c in offered} == {"八王子市", "東京都"}
    text = json.dumps(card_session, ensure_ascii=False)
    for number in (w.NANBYO_PAYER, f.KODOMO_PAYER, f.HITORIOYA_PAYER, f.recipient(1), f.recipient(2)):
        assert number not in text
    assert "held" not in text


def test_consent_all_shares_every_offered_certificate_in_claim_order(world: w.World) -> None:
    result = world.eligibility(world.receive("all"))
    assert _programs(result) == ["shoman", "nanbyo", "hitorioya", "kodomo"]
    assert [s["priority"] for s in result["subsidies"]] == [1, 2, 3, 4]
    nanbyo = result["subsidies"][1]
    assert nanbyo["payer_number"] == w.NANBYO_PAYER
    assert nanbyo["recipient_number"] == f.recipient(1)
    assert nanbyo["municipality_code"] == f.TOKYO and nanbyo["municipality_name"] == "東京都"
    assert (nanbyo["monthly_cap"], nanbyo["inpatient_cap"], nanbyo["copay_rate"]) == (5000, 10000, 20)
    assert nanbyo["cap_managed"] is True and nanbyo["cap_remaining_this_month"] == 5000
    assert nanbyo["designated_institution"] is True
    assert nanbyo["diseases"] == ["パーキンソン病"]
    assert nanbyo["income_category"] == "一般所得I"
    kodomo = result["subsidies"][3]
    assert kodomo["designated_institution"] is None  # a local program designates no institutions
    assert kodomo["cap_used_this_month"] is None
    assert result["person"] == {
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "birth_date": "2015-06-01",
        "sex": 2,
        "name_jisx0213": "佐藤 花子",
    }
    assert result["insurance"]["insurer_number"] == "33120015"


def test_consent_select_shares_only_the_chosen(world: w.World) -> None:
    card_session = world.open_session()
    keys = {c["program_code"]: c["key"] for c in card_session["certificates"]}
    response = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent",
        json={"subsidy": "select", "selected": [keys["kodomo"]]},
        headers=world.reader(),
    )
    assert response.status_code == 201 and response.json()["shared"] == 1
    result = world.eligibility(response.json()["reception_id"])
    assert _programs(result) == ["kodomo"]
    assert result["subsidies"][0]["priority"] == 1


def test_consent_none_creates_a_reception_with_insurance_only(world: w.World) -> None:
    result = world.eligibility(world.receive("none"))
    assert result["subsidies"] == []
    assert result["insurance"]["number"] == "1234"


def test_select_without_a_choice_or_with_an_unoffered_key_is_refused(world: w.World) -> None:
    card_session = world.open_session()
    url = f"/api/v1/card-sessions/{card_session['id']}/consent"
    empty = world.client.post(url, json={"subsidy": "select", "selected": []}, headers=world.reader())
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "selected"
    unknown = world.client.post(url, json={"subsidy": "select", "selected": ["99"]}, headers=world.reader())
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "not_offered"
    done = world.client.post(url, json={"subsidy": "all"}, headers=world.reader())
    assert done.status_code == 201
    again = world.client.post(url, json={"subsidy": "none"}, headers=world.reader())
    assert again.status_code == 409


def test_not_consented_and_nonexistent_look_the_same_but_the_audit_log_knows(world: w.World) -> None:
    card_session = world.open_session()
    keys = {c["program_code"]: c["key"] for c in card_session["certificates"]}
    response = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent",
        json={"subsidy": "select", "selected": [keys["kodomo"]]},
        headers=world.reader(),
    )
    reception_id = response.json()["reception_id"]
    result = world.eligibility(reception_id)
    assert set(result) == {
        "reception_id",
        "institution_code",
        "received_at",
        "service_date",
        "person",
        "insurance",
        "subsidies",
    }
    assert "nanbyo" not in json.dumps(result) and "withheld" not in json.dumps(result)
    consent = world.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "consent.give", AuditEntry.subject_id == str(reception_id))
    )
    assert consent is not None
    detail = json.loads(consent.detail)
    assert len(detail["offered_certificates"]) == 4 and len(detail["shared_certificates"]) == 1
    reads = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "eligibility.read")).all()
    assert [json.loads(r.detail)["format"] for r in reads] == ["json"]


@pytest.mark.parametrize(
    ("offset", "status"),
    [(-366, "not_yet_valid"), (0, "valid"), (400, "expired")],
    ids=["before", "inside", "after"],
)
def test_status_as_of_the_service_date(world: w.World, offset: int, status: str) -> None:
    reception_id = world.receive("all")
    # End the こども certificate 30 days from now, so "after" is past its end.
    w.register(
        world.session,
        world.hachioji,
        [{"op": 3, "payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(2), "valid_to": w.day(30)}],
    )
    result = world.eligibility(reception_id, service_date=w.day(offset))
    kodomo = next(s for s in result["subsidies"] if s["program_code"] == "kodomo")
    assert kodomo["status"] == status
    assert kodomo["valid_to"] == w.day(30)
    assert result["service_date"] == w.day(offset)


def test_a_certificate_held_after_consent_disappears(world: w.World) -> None:
    reception_id = world.receive("all")
    w.register(
        world.session,
        world.hachioji,
        [
            {
                "op": 2,
                "payer_number": f.KODOMO_PAYER,
                "recipient_number": f.recipient(2),
                "valid_from": w.day(-1),
                "name": "山田 三郎",
                "name_kana": "ヤマダ サブロウ",
            }
        ],
    )
    assert "kodomo" not in _programs(world.eligibility(reception_id))


def test_scoping_other_institution_card_reader_key_and_no_key(world: w.World) -> None:
    reception_id = world.receive("all")
    url = f"/api/v1/receptions/{reception_id}/eligibility"
    other = world.client.get(url, headers=f.bearer(world.other_clinic_key))
    missing = world.client.get("/api/v1/receptions/999999/eligibility", headers=world.clinic())
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == missing.json()["detail"]
    assert world.client.get(url, headers=world.reader()).status_code == 403
    assert world.client.get(url, headers=f.bearer(world.municipality_key)).status_code == 403
    assert world.client.get(url).status_code == 401


def test_another_institutions_reader_cannot_answer_this_session(world: w.World) -> None:
    card_session = world.open_session()
    response = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent",
        json={"subsidy": "all"},
        headers=f.bearer(world.other_reader_key),
    )
    assert response.status_code == 404


def test_an_institution_key_cannot_open_a_card_session(world: w.World) -> None:
    body = {"card_serial": world.card_serial, "auth": "pin", "pin": w.PIN}
    assert world.client.post("/api/v1/card-sessions", json=body, headers=world.clinic()).status_code == 403


def test_three_wrong_pins_lock_the_card_over_http_and_face_still_works(world: w.World) -> None:
    body = {"card_serial": world.card_serial, "auth": "pin", "pin": "0000"}
    codes = []
    for _ in range(3):
        response = world.client.post("/api/v1/card-sessions", json=body, headers=world.reader())
        assert response.status_code == 401
        codes.append(response.json()["code"])
    assert codes == ["pin_wrong", "pin_wrong", "card_locked"]
    right = world.client.post("/api/v1/card-sessions", json=body | {"pin": w.PIN}, headers=world.reader())
    assert right.status_code == 401 and right.json()["code"] == "card_locked"
    assert "ロック" in right.json()["detail"]
    assert right.json()["unlock_path"].startswith("お住まいの市区町村の窓口でPINの初期化")
    face = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": world.card_serial, "auth": "face", "face_matched": True},
        headers=f.bearer(world.face_reader_key),
    )
    assert face.status_code == 201
    refused = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "card_session.refused")).all()
    assert len(refused) == 4


def test_expired_card_is_refused_with_a_clear_message(world: w.World) -> None:
    import datetime as dt

    from pmh.cards import service as cards

    expired = cards.issue_card(world.session, w.MY_NUMBER, w.PIN, expires_on=dt.date(2020, 1, 1))
    response = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": expired.card_serial, "auth": "face", "face_matched": True},
        headers=f.bearer(world.face_reader_key),
    )
    assert response.status_code == 401
    assert response.json()["code"] == "card_expired" and "有効期限" in response.json()["detail"]


def test_a_person_without_certificates_is_told_so(world: w.World) -> None:
    from pmh.cards import service as cards

    card = cards.issue_card(world.session, w.OTHER_PERSON, "1357")
    response = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": card.card_serial, "auth": "pin", "pin": "1357"},
        headers=world.reader(),
    )
    assert response.status_code == 201
    assert response.json()["certificates"] == [] and response.json()["question"] == NO_CERTIFICATES


def test_every_format_carries_the_consented_certificates(world: w.World) -> None:
    reception_id = world.receive("all")
    url = f"/api/v1/receptions/{reception_id}/eligibility"
    xml = world.client.get(url, params={"format": "xml"}, headers=world.clinic())
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert f.recipient(1).encode() in xml.content
    fhir = world.client.get(url, params={"format": "fhir"}, headers=world.clinic())
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "Bundle"
    coverages = [e["resource"] for e in fhir.json()["entry"] if e["resource"]["resourceType"] == "Coverage"]
    assert len(coverages) == 5  # the insurance and four certificates
    orca = world.client.get(url, params={"format": "orca"}, headers=world.clinic())
    entries = orca.json()["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert [e["PublicInsurer_Number"] for e in entries] == [
        w.SHOMAN_PAYER,
        w.NANBYO_PAYER,
        f.HITORIOYA_PAYER,
        f.KODOMO_PAYER,
    ]
    formats = [
        json.loads(e.detail)["format"]
        for e in world.session.scalars(select(AuditEntry).where(AuditEntry.action == "eligibility.read"))
    ]
    assert formats == ["xml", "fhir", "orca"]


def test_the_insurance_record_s_relationship_reaches_json_and_fhir(world: w.World) -> None:
    header = (
        "my_number,insurer_number,symbol,number,branch,name,name_kana,birth_date,sex,copay_rate,valid_from,valid_to"
    )
    row = f"{w.MY_NUMBER},33120015,記号1,1234,01,佐藤 花子,サトウ ハナコ,2015-06-01,2,30,2020-04-01,"
    import_insurance_text(world.session, f"{header},relationship\n{row},被扶養者\n")
    reception_id = world.receive("none")
    assert world.eligibility(reception_id)["insurance"]["relationship"] == 2
    url = f"/api/v1/receptions/{reception_id}/eligibility"
    bundle = world.client.get(url, params={"format": "fhir"}, headers=world.clinic()).json()
    [insurance] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage"]
    assert insurance["relationship"]["coding"] == [
        {"system": "urn:oid:1.2.392.100495.20.2.62", "code": "2", "display": "被扶養者"}
    ]
