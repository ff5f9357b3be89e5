"""Idempotency-Key over HTTP (both databases): replay, a different body, another caller, bad keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh import clock
from pmh.audit.models import AuditEntry
from pmh.copay.models import CopayEntry
from pmh.eligibility.models import CardSession, Reception
from pmh.idempotency import service
from pmh.idempotency.models import IdempotencyRecord
from pmh.registry.models import Program, Upload
from tests import factories as f
from tests.eligibility import world as w
from tests.registry.test_import import HEADER, line


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _entry(reception_id: int, paid: int = 1000) -> dict[str, Any]:
    return {
        "reception_id": reception_id,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "service_date": w.TODAY.isoformat(),
        "total_cost": 10_000,
        "copay_amount": paid,
    }


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _keyed(key_value: str, api_key: str) -> dict[str, str]:
    return f.bearer(api_key) | {"Idempotency-Key": key_value}


def test_a_retried_copay_entry_is_recorded_once_and_answered_the_same(world: w.World, db_session: Session) -> None:
    reception = world.receive("all")
    audits = _count(db_session, AuditEntry)
    first = world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=_keyed("k-1", world.clinic_key))
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    audits_after_first = _count(db_session, AuditEntry)
    assert audits_after_first > audits
    again = world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=_keyed("k-1", world.clinic_key))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert _count(db_session, CopayEntry) == 1
    assert _count(db_session, AuditEntry) == audits_after_first  # no second audit entry either
    record = db_session.scalars(select(IdempotencyRecord)).one()
    assert (record.status_code, record.key, record.method) == (201, "k-1", "POST")
    assert record.path == "/api/v1/copay-entries" and len(record.fingerprint) == 64


def test_without_the_header_every_post_records(world: w.World, db_session: Session) -> None:
    reception = world.receive("all")
    for _ in range(2):
        response = world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=world.clinic())
        assert response.status_code == 201
    assert _count(db_session, CopayEntry) == 2
    assert _count(db_session, IdempotencyRecord) == 0


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(world: w.World, db_session: Session) -> None:
    reception = world.receive("all")
    headers = _keyed("k-2", world.clinic_key)
    assert world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=headers).status_code == 201
    other = world.client.post("/api/v1/copay-entries", json=_entry(reception, paid=999), headers=headers)
    assert other.status_code == 422
    problem = other.json()
    assert problem["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in problem["detail"] and "別のリクエスト" in problem["detail"]
    assert _count(db_session, CopayEntry) == 1
    # the same key on another route is another request too
    sheet = world.client.post("/api/v1/card-sessions", json={"card_serial": world.card_serial}, headers=headers)
    assert sheet.status_code in (403, 422)  # a clinic key may not open card sessions: refused before the key


def test_two_institutions_may_use_the_same_key(world: w.World, db_session: Session) -> None:
    mine, theirs = world.receive("all"), world.receive("all", key=world.other_reader_key)
    one = world.client.post("/api/v1/copay-entries", json=_entry(mine), headers=_keyed("same", world.clinic_key))
    two = world.client.post(
        "/api/v1/copay-entries", json=_entry(theirs), headers=_keyed("same", world.other_clinic_key)
    )
    assert (one.status_code, two.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]
    assert _count(db_session, CopayEntry) == 2
    assert {r.caller_scope for r in db_session.scalars(select(IdempotencyRecord))} == {
        service.caller_scope(world.session.get(Reception, mine).institution_id, "institution"),  # type: ignore[union-attr]
        service.caller_scope(world.session.get(Reception, theirs).institution_id, "institution"),  # type: ignore[union-attr]
    }


def test_card_session_and_consent_are_replayed(world: w.World, db_session: Session) -> None:
    body = {"card_serial": world.card_serial, "auth": "pin", "pin": w.PIN}
    opened = world.client.post("/api/v1/card-sessions", json=body, headers=_keyed("open-1", world.reader_key))
    again = world.client.post("/api/v1/card-sessions", json=body, headers=_keyed("open-1", world.reader_key))
    assert (opened.status_code, again.status_code) == (201, 201)
    assert again.json() == opened.json() and again.headers["Idempotent-Replayed"] == "true"
    assert _count(db_session, CardSession) == 1
    path = f"/api/v1/card-sessions/{opened.json()['id']}/consent"
    consent = {"subsidy": "all", "selected": []}
    given = world.client.post(path, json=consent, headers=_keyed("consent-1", world.reader_key))
    replayed = world.client.post(path, json=consent, headers=_keyed("consent-1", world.reader_key))
    assert (given.status_code, replayed.status_code) == (201, 201), given.text
    assert replayed.json() == given.json()
    assert _count(db_session, Reception) == 1


def test_a_refused_pin_is_not_remembered(world: w.World, db_session: Session) -> None:
    """A wrong PIN keeps its count (keeps_work) but not its key: the corrected retry is a new request."""
    wrong = {"card_serial": world.card_serial, "auth": "pin", "pin": "0000"}
    refused = world.client.post("/api/v1/card-sessions", json=wrong, headers=_keyed("pin-1", world.reader_key))
    assert refused.status_code in (401, 403, 422), refused.text
    assert _count(db_session, IdempotencyRecord) == 0
    right = {"card_serial": world.card_serial, "auth": "pin", "pin": w.PIN}
    assert (
        world.client.post("/api/v1/card-sessions", json=right, headers=_keyed("pin-2", world.reader_key)).status_code
        == 201
    )


def test_an_upload_retried_with_a_new_multipart_boundary_is_replayed(
    client: TestClient, db_session: Session, world: w.World
) -> None:
    key = world.municipality_key
    programs = client.get("/api/v1/programs", headers=f.bearer(key)).json()
    assert programs  # 八王子市 has programs in the world
    content = ("\n".join((HEADER, line(recipient=1))) + "\n").encode("cp932")
    files = {"file": ("certificates.csv", content, "text/csv")}
    uploads = _count(db_session, Upload)
    first = client.post("/api/v1/uploads", files=files, headers=_keyed("up-1", key))
    second = client.post("/api/v1/uploads", files=files, headers=_keyed("up-1", key))
    assert first.status_code == second.status_code
    assert first.status_code in (201,), first.text
    assert second.json() == first.json() and second.headers["Idempotent-Replayed"] == "true"
    assert _count(db_session, Upload) == uploads + 1
    changed = {"file": ("certificates.csv", content + line(recipient=2).encode("cp932") + b"\n", "text/csv")}
    assert client.post("/api/v1/uploads", files=changed, headers=_keyed("up-1", key)).status_code == 422
    assert _count(db_session, Upload) == uploads + 1


def test_a_program_registration_is_replayed(client: TestClient, db_session: Session) -> None:
    key = f.api_key(db_session, f.municipality(db_session), "municipality")
    body = {"program_code": "kodomo", "payer_numbers": [f.KODOMO_PAYER]}
    first = client.post("/api/v1/programs", json=body, headers=_keyed("prog", key))
    second = client.post("/api/v1/programs", json=body, headers=_keyed("prog", key))
    assert first.status_code == 201, first.text
    assert (second.status_code, second.content) == (201, first.content)
    assert _count(db_session, Program) == 1


@pytest.mark.parametrize("value", ["", "x" * 256, "キー", "tab\there"])
def test_a_malformed_key_is_refused_by_name(world: w.World, db_session: Session, value: str) -> None:
    reception = world.receive("all")
    headers = f.bearer(world.clinic_key) | {"Idempotency-Key": value}
    response = world.client.post(
        "/api/v1/copay-entries", json=_entry(reception), headers={k: v.encode() for k, v in headers.items()}
    )
    assert response.status_code in (400, 422), response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert _count(db_session, CopayEntry) == 0


def test_purge_removes_keys_past_their_time(world: w.World, db_session: Session) -> None:
    reception = world.receive("all")
    headers = _keyed("old", world.clinic_key)
    assert world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=headers).status_code == 201
    assert service.purge(db_session) == 0
    with clock.frozen_at(clock.now() + dt.timedelta(hours=service.KEEP_HOURS, minutes=1)):
        assert service.purge(db_session) == 1
    assert _count(db_session, IdempotencyRecord) == 0
    # after the purge the same key is a new request: recorded again
    assert world.client.post("/api/v1/copay-entries", json=_entry(reception), headers=headers).status_code == 201
    assert _count(db_session, CopayEntry) == 2
