"""A certificate a patient declined leaves no trace in anything the institution or its reader can read.

Patient A holds a 難病 certificate (東京都) and a こども certificate X (八王子市) and shares only the
難病 one. Patient B holds only a 難病 certificate and shares it. Patient C holds nothing. Every
surface the clinic's keys and staff can reach is read for A, and either compared with the same
surface for B or C (it must look the same) or searched for X's numbers, program and id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.audit.models import AuditEntry
from pmh.auth.models import Organisation
from pmh.cards import service as cards
from pmh.reference import catalogue
from pmh.registry.models import Certificate
from tests import factories as f
from tests.eligibility import world as w
from tests.operator.support import sign_in

A_NUMBER, B_NUMBER, C_NUMBER = f.my_number(301), f.my_number(302), f.my_number(303)
PIN = "1357"
MONTH = w.TODAY.strftime("%Y-%m")
X_RECIPIENT = f.recipient(31)
UNKNOWN_RECIPIENT = f.recipient(39)  # valid, but nobody holds it


def _row(payer: str, recipient: str, my_number: str, name: str, kana: str, birth: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "op": 1,
        "payer_number": payer,
        "recipient_number": recipient,
        "my_number": my_number,
        "name": name,
        "name_kana": kana,
        "birth_date": birth,
        "sex": 2,
        "valid_from": w.day(-365),
    }
    row.update(extra)
    return row


@dataclass
class Secrets:
    client: TestClient
    session: Session
    reader_key: str
    clinic_key: str
    cards: dict[str, str]
    x_id: int
    clinic: Organisation

    def consent(self, who: str, subsidy: str, pick: str | None = None) -> int:
        opened = self.client.post(
            "/api/v1/card-sessions",
            json={"card_serial": self.cards[who], "auth": "pin", "pin": PIN},
            headers=f.bearer(self.reader_key),
        )
        assert opened.status_code == 201, opened.text
        body = opened.json()
        selected = [c["key"] for c in body["certificates"] if c["program_code"] == pick] if pick else []
        answer = self.client.post(
            f"/api/v1/card-sessions/{body['id']}/consent",
            json={"subsidy": subsidy, "selected": selected},
            headers=f.bearer(self.reader_key),
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["reception_id"])

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params=params, headers=f.bearer(self.clinic_key))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=f.bearer(self.clinic_key))


@pytest.fixture
def world(db_session: Session, client: TestClient) -> Secrets:
    hachioji = f.municipality_caller(db_session, f.HACHIOJI)
    tokyo = f.municipality_caller(db_session, f.TOKYO)
    f.program(db_session, hachioji, "kodomo", (f.KODOMO_PAYER,))
    f.program(db_session, tokyo, "nanbyo", (w.NANBYO_PAYER,))
    people = {
        "A": (A_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01"),
        "B": (B_NUMBER, "佐藤 葉子", "サトウ ヨウコ", "2015-06-02"),
        "C": (C_NUMBER, "佐藤 桜子", "サトウ サクラコ", "2015-06-03"),
    }
    for number, name, kana, birth in people.values():
        f.insurance(db_session, number, name, kana, birth, sex=2)
    nanbyo = {"monthly_cap": 5000, "cap_managed": 1, "copay_rate": 20, "diseases": "パーキンソン病"}
    w.register(
        db_session,
        tokyo,
        [
            _row(w.NANBYO_PAYER, f.recipient(32), *people["A"], **nanbyo),
            _row(w.NANBYO_PAYER, f.recipient(33), *people["B"], **nanbyo),
        ],
    )
    w.register(db_session, hachioji, [_row(f.KODOMO_PAYER, X_RECIPIENT, *people["A"], monthly_cap=1000, cap_managed=1)])
    clinic = f.institution(db_session)
    issued = {}
    with db_session.begin_nested():
        for who, person in people.items():
            issued[who] = cards.issue_card(db_session, person[0], PIN).card_serial
    x_id = db_session.scalars(select(Certificate.id).where(Certificate.recipient_number == X_RECIPIENT)).one()
    return Secrets(
        client=client,
        session=db_session,
        reader_key=f.api_key(db_session, clinic, "card_reader"),
        clinic_key=f.api_key(db_session, clinic, "institution"),
        cards=issued,
        x_id=x_id,
        clinic=clinic,
    )


def _assert_no_trace(text: str, world: Secrets, where: str) -> None:
    """Fail when ``text`` names certificate X: its numbers, its program or (in JSON) its id."""
    for needle in (X_RECIPIENT, f.KODOMO_PAYER, catalogue.program("kodomo").name, "kodomo", "八王子"):
        assert needle not in text, f"{where} names the declined certificate ({needle})"
    assert "offered" not in text and "withheld" not in text, f"{where} speaks of what was offered"


def _ints(value: Any) -> set[int]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_ints(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_ints(v) for v in value)) if value else set()
    return set()


def test_audit_entries_hide_what_was_offered(world: Secrets) -> None:
    a = world.consent("A", "select", "nanbyo")
    b = world.consent("B", "all")
    world.get(f"/receptions/{a}/eligibility")
    world.get(f"/receptions/{b}/eligibility")
    response = world.get("/audit-entries", limit=1000)
    assert response.status_code == 200
    _assert_no_trace(response.text, world, "GET /audit-entries")
    entries = response.json()
    for entry in entries:
        assert world.x_id not in _ints(json.loads(entry["detail"])), entry
    # A's entries and B's carry the same kinds of detail: nothing tells that A was offered more.
    shapes: dict[str, list[tuple[str, ...]]] = {}
    for entry in entries:
        shapes.setdefault(entry["action"], []).append(tuple(sorted(json.loads(entry["detail"]))))
    for action in ("card_session.open", "consent.give", "eligibility.read"):
        assert len(shapes[action]) == 2 and len(set(shapes[action])) == 1, (action, shapes[action])
    # The log itself still holds everything, and still verifies.
    stored = world.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "consent.give")).all()
    assert any("offered_certificates" in d and str(world.x_id) in d for d in stored)
    from pmh.audit import service as audit

    audit.seal_all(world.session)  # PostgreSQL appends unsealed; verify the links, not only the queue
    result = audit.verify_chain(world.session)
    assert result.ok and result.unsealed.count == 0 and result.entries >= len(stored)


def test_operator_view_keeps_what_was_offered(world: Secrets) -> None:
    from pmh.audit import service as audit
    from pmh.auth.schemas import Caller

    detail = json.dumps({"offered_certificates": [world.x_id], "shared_certificates": []})
    institution = Caller(1, "x", "x", "clinic", "institution", "a")
    operator = Caller(1, "x", "x", "operator", "operator", "a")
    assert "offered_certificates" not in audit.detail_for(institution, detail)
    assert audit.detail_for(operator, detail) == detail


def test_reception_list_does_not_tell_a_declined_certificate(world: Secrets) -> None:
    a_some = world.consent("A", "select", "nanbyo")
    b_all = world.consent("B", "all")
    a_none = world.consent("A", "none")
    c_none = world.consent("C", "none")
    c_all = world.consent("C", "all")  # nothing offered, "all" answered through the API
    response = world.get("/receptions")
    assert response.status_code == 200
    _assert_no_trace(response.text, world, "GET /receptions")
    rows = {row["id"]: row for row in response.json()}

    def consent(reception: int) -> tuple[str, int]:
        return rows[reception]["subsidy_consent"], rows[reception]["shared_certificates"]

    assert consent(a_some) == consent(b_all) == ("all", 1)
    assert consent(a_none) == consent(c_none) == consent(c_all) == ("none", 0)


def test_eligibility_in_every_format_does_not_name_it(world: Secrets) -> None:
    a = world.consent("A", "select", "nanbyo")
    b = world.consent("B", "all")
    for fmt in ("json", "xml", "fhir", "orca"):
        mine = world.get(f"/receptions/{a}/eligibility", format=fmt)
        twin = world.get(f"/receptions/{b}/eligibility", format=fmt)
        assert mine.status_code == twin.status_code == 200
        _assert_no_trace(mine.text, world, f"eligibility {fmt}")
        assert len(mine.content) - len(twin.content) == len(mine.text.encode()) - len(twin.text.encode())
    assert len(world.get(f"/receptions/{a}/eligibility").json()["subsidies"]) == 1


def test_recheck_does_not_name_it(world: Secrets) -> None:
    a = world.consent("A", "select", "nanbyo")
    world.get(f"/receptions/{a}/eligibility")
    response = world.post("/eligibility/recheck", {"month": MONTH})
    assert response.status_code == 200
    _assert_no_trace(response.text, world, "recheck")
    assert response.json()["certificates_checked"] == 1


def _copay_answers(world: Secrets, reception: int, recipient: str) -> list[tuple[int, str]]:
    quote = {
        "reception_id": reception,
        "payer_number": f.KODOMO_PAYER,
        "recipient_number": recipient,
        "service_date": w.TODAY.isoformat(),
        "total_cost": 10000,
    }
    answers = [
        world.post("/copay-quotes", quote),
        world.post("/copay-entries", {**quote, "copay_amount": 500}),
        world.get(
            "/copay-entries",
            reception_id=reception,
            payer_number=f.KODOMO_PAYER,
            recipient_number=recipient,
            month=MONTH,
        ),
    ]
    return [(r.status_code, r.text) for r in answers]


def test_copay_endpoints_answer_a_declined_certificate_as_none_at_all(world: Secrets) -> None:
    a = world.consent("A", "select", "nanbyo")
    b = world.consent("B", "all")
    declined = _copay_answers(world, a, X_RECIPIENT)
    assert [status for status, _ in declined] == [404, 404, 404]
    assert declined == _copay_answers(world, a, UNKNOWN_RECIPIENT)
    assert declined == _copay_answers(world, b, X_RECIPIENT)


def test_consent_errors_do_not_count_what_was_offered(world: Secrets) -> None:
    answers = []
    for who in ("A", "B", "C"):
        opened = world.client.post(
            "/api/v1/card-sessions",
            json={"card_serial": world.cards[who], "auth": "pin", "pin": PIN},
            headers=f.bearer(world.reader_key),
        ).json()
        response = world.client.post(
            f"/api/v1/card-sessions/{opened['id']}/consent",
            json={"subsidy": "select", "selected": ["3"]},  # A was offered two, B one, C none
            headers=f.bearer(world.reader_key),
        )
        answers.append((response.status_code, response.json()["detail"], response.json()["errors"]))
    assert answers[0][0] == 422
    assert answers[0] == answers[1] == answers[2]


def test_pages_and_csv_do_not_name_it(world: Secrets) -> None:
    a = world.consent("A", "select", "nanbyo")
    b = world.consent("B", "none")
    sign_in(world.client, world.session, world.clinic, "clinic-staff")
    pages = {
        "/reception": world.client.get("/reception"),
        "eligibility page": world.client.get(f"/reception/{a}/eligibility"),
        "/audit": world.client.get("/audit"),
    }
    for fmt in ("json", "xml", "fhir", "orca"):
        pages[f"download {fmt}"] = world.client.get(f"/reception/{a}/eligibility.{fmt}")
    for where, response in pages.items():
        assert response.status_code == 200, (where, response.text)
        _assert_no_trace(response.text, world, where)
    desk = pages["/reception"].text
    # A shared one of two, B declined: the desk shows 1 件 and 提供なし, nothing about the rest.
    assert re.search(r"提供なし", desk) and "1 件" in desk and b
    query = {"payer_number": f.KODOMO_PAYER, "month": MONTH}
    for suffix in ("copay", "copay.csv"):
        declined = world.client.get(f"/reception/{a}/{suffix}", params={**query, "recipient_number": X_RECIPIENT})
        unknown = world.client.get(f"/reception/{a}/{suffix}", params={**query, "recipient_number": UNKNOWN_RECIPIENT})
        assert declined.status_code == unknown.status_code == 404
        assert declined.text == unknown.text
