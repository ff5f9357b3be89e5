"""Face authentication only from registered face-recognition readers; the locked PIN's unlock path.

A card-reader key that is not a registered face device must have the holder give the PIN, however
the request says the face matched; a registered face device's key is audited as such.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.audit.models import AuditEntry
from pmh.auth.models import Organisation
from pmh.cli import app as cli
from tests import factories as f
from tests.eligibility import world as w
from tests.operator.support import sign_in


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _face(world: w.World, key: str, **extra: object) -> dict[str, object]:
    body = {"card_serial": world.card_serial, "auth": "face"} | extra
    response = world.client.post("/api/v1/card-sessions", json=body, headers=f.bearer(key))
    return {"status": response.status_code} | dict(response.json())


def _audit(world: w.World, action: str) -> list[dict[str, object]]:
    entries = world.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    return [json.loads(e.detail) for e in entries]


def test_a_plain_reader_key_cannot_authenticate_by_face_even_claiming_a_match(world: w.World) -> None:
    refused = _face(world, world.reader_key, face_matched=True)
    assert refused["status"] == 403 and refused["code"] == "face_not_available"
    assert "暗証番号" in str(refused["detail"])
    assert _audit(world, "card_session.open") == []
    assert _audit(world, "card_session.refused")[-1]["code"] == "face_not_available"
    assert world.open_session()["id"]  # the PIN still works at that reader


def test_a_face_device_must_say_the_face_matched(world: w.World) -> None:
    refused = _face(world, world.face_reader_key)
    assert refused["status"] == 401 and refused["code"] == "face_not_matched"


def test_a_face_device_opens_the_session_and_is_audited_as_face_from_that_device(world: w.World) -> None:
    opened = _face(world, world.face_reader_key, face_matched=True)
    assert opened["status"] == 201
    details = _audit(world, "card_session.open")[-1]
    assert (details["auth"], details["reader"], details["face_device"]) == ("face", "受付1", True)


def test_a_revoked_face_device_key_is_refused(world: w.World, db_session: Session) -> None:
    from pmh.auth import readers

    prefix = world.face_reader_key.split("_")[1]
    readers.revoke_reader(db_session, prefix)
    assert _face(world, world.face_reader_key, face_matched=True)["status"] == 401


def test_a_locked_card_tells_the_patient_how_to_unlock_it(world: w.World) -> None:
    body = {"card_serial": world.card_serial, "auth": "pin", "pin": "0000"}
    for _ in range(3):
        world.client.post("/api/v1/card-sessions", json=body, headers=world.reader())
    locked = world.client.post("/api/v1/card-sessions", json=body | {"pin": w.PIN}, headers=world.reader()).json()
    assert locked["code"] == "card_locked"
    assert "市区町村の窓口でPINの初期化" in locked["detail"]
    assert "市区町村の窓口でPINの初期化" in locked["unlock_path"]


def test_the_kiosk_offers_the_pin_only_and_shows_the_unlock_path(world: w.World, db_session: Session) -> None:
    clinic = db_session.scalars(select(Organisation).where(Organisation.code == f.CLINIC_CODE)).one()
    staff_csrf = sign_in(world.client, db_session, clinic, "kiosk-1")
    assert world.client.post("/kiosk/setup", data={"csrf_token": staff_csrf}).status_code == 200  # → /kiosk
    page = world.client.get("/kiosk")
    assert 'value="face" disabled' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf_token": csrf.group(1), "card_serial": world.card_serial}
    face = world.client.post("/kiosk/session", data=form | {"auth": "face"})
    assert face.status_code == 403 and "顔認証付きカードリーダーとして登録されていない" in face.text
    for _ in range(3):
        world.client.post("/kiosk/session", data=form | {"auth": "pin", "pin": "0000"})
    locked = world.client.post("/kiosk/session", data=form | {"auth": "pin", "pin": w.PIN})
    assert locked.status_code == 401
    assert 'data-testid="kiosk-unlock"' in locked.text and "PINの初期化" in locked.text


def test_cli_registers_lists_and_revokes_readers(db_session: Session) -> None:
    f.institution(db_session)
    runner = CliRunner()
    added = runner.invoke(
        cli, ["institutions", "readers", "add", "--institution", f.CLINIC_CODE, "--name", "受付1", "--face", "--json"]
    )
    assert added.exit_code == 0, added.output
    reader = json.loads(added.stdout)
    assert (reader["institution"], reader["name"], reader["face"], reader["role"]) == (
        f.CLINIC_CODE,
        "受付1",
        True,
        "card_reader",
    )
    assert reader["key"].startswith(f"pmh_{reader['prefix']}_")
    plain = runner.invoke(
        cli, ["institutions", "readers", "add", "--institution", f.CLINIC_CODE, "--name", "受付2", "--json"]
    )
    assert json.loads(plain.stdout)["face"] is False
    twice = runner.invoke(cli, ["institutions", "readers", "add", "--institution", f.CLINIC_CODE, "--name", "受付1"])
    assert twice.exit_code == 1
    listed = json.loads(
        runner.invoke(cli, ["institutions", "readers", "list", "--institution", f.CLINIC_CODE, "--json"]).stdout
    )
    assert [(r["name"], r["face"], r["revoked_at"]) for r in listed] == [("受付1", True, None), ("受付2", False, None)]
    assert "key" not in listed[0]
    assert runner.invoke(cli, ["institutions", "readers", "revoke", reader["prefix"]]).exit_code == 0
    listed = json.loads(
        runner.invoke(cli, ["institutions", "readers", "list", "--institution", f.CLINIC_CODE, "--json"]).stdout
    )
    assert listed[0]["revoked_at"] is not None
    municipality = runner.invoke(cli, ["institutions", "readers", "add", "--institution", f.HACHIOJI, "--name", "x"])
    assert municipality.exit_code == 1
