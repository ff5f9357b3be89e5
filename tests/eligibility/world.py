"""A small world for the reader flow: two municipalities' programs, one patient's certificates, a card.

Patient 1 (``MY_NUMBER``) holds, in claim order: 難病 (東京都, cap-managed, this clinic designated),
小児慢性 (八王子市, starts in ten days), こども (八王子市) and ひとり親 (八王子市, not to be disclosed).
They also hold an expired こども certificate and a ひとり親 certificate held by the linking guard
(its name belongs to someone else); neither may ever be offered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.eligibility.common import today_in_japan
from pmh.registry import importer
from pmh.registry.parsing import read_certificates
from pmh.registry.schemas import UploadResult
from tests import factories as f

MY_NUMBER = f.my_number(101)
OTHER_PERSON = f.my_number(202)
PIN = "2468"
NANBYO_PAYER = "54136015"
SHOMAN_PAYER = "52136017"
TODAY = today_in_japan()


def day(offset: int) -> str:
    """Return today (in Japan) plus ``offset`` days, ISO."""
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def register(session: Session, caller: Caller, rows: list[dict[str, Any]]) -> UploadResult:
    """Import certificate rows (English column aliases) for a municipality; every row must be applied."""
    columns = sorted({key for row in rows for key in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    stream = io.BytesIO(buffer.getvalue().encode("utf-8"))
    result = importer.run_import(
        session,
        caller,
        lambda rules, gaiji: read_certificates(stream, rules, gaiji),
        digest=importer.content_digest(stream),
        source="file",
    )
    assert result.status == "applied", result.errors
    return result


def certificate(payer: str, recipient: int, **extra: Any) -> dict[str, Any]:
    """Return a 新規 row of patient 1 (valid from a year ago, open-ended) with overrides."""
    row: dict[str, Any] = {
        "op": 1,
        "payer_number": payer,
        "recipient_number": f.recipient(recipient),
        "my_number": MY_NUMBER,
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "birth_date": "2015-06-01",
        "sex": 2,
        "valid_from": day(-365),
    }
    row.update(extra)
    return row


@dataclass
class World:
    """Keys and ids of the world; ``card_serial`` is patient 1's card (PIN ``PIN``)."""

    session: Session
    client: TestClient
    hachioji: Caller
    tokyo: Caller
    reader_key: str
    face_reader_key: str
    clinic_key: str
    other_clinic_key: str
    other_reader_key: str
    municipality_key: str
    card_serial: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def reader(self) -> dict[str, str]:
        return f.bearer(self.reader_key)

    def clinic(self) -> dict[str, str]:
        return f.bearer(self.clinic_key)

    def open_session(self, pin: str | None = PIN, auth: str = "pin", key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"card_serial": self.card_serial, "auth": auth}
        if pin is not None:
            body["pin"] = pin
        response = self.client.post("/api/v1/card-sessions", json=body, headers=f.bearer(key or self.reader_key))
        assert response.status_code == 201, response.text
        return dict(response.json())

    def receive(self, subsidy: str = "all", selected: list[str] | None = None, key: str | None = None) -> int:
        card_session = self.open_session(key=key)
        response = self.client.post(
            f"/api/v1/card-sessions/{card_session['id']}/consent",
            json={"subsidy": subsidy, "selected": selected or []},
            headers=f.bearer(key or self.reader_key),
        )
        assert response.status_code == 201, response.text
        return int(response.json()["reception_id"])

    def eligibility(self, reception_id: int, key: str | None = None, **params: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/receptions/{reception_id}/eligibility", params=params, headers=f.bearer(key or self.clinic_key)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def build(session: Session, client: TestClient) -> World:
    """Create the world described in the module docstring."""
    hachioji = f.municipality_caller(session, f.HACHIOJI)
    tokyo = f.municipality_caller(session, f.TOKYO)
    f.program(session, hachioji, "kodomo", (f.KODOMO_PAYER,))
    f.program(session, hachioji, "hitorioya", (f.HITORIOYA_PAYER,))
    f.program(session, hachioji, "shoman", (SHOMAN_PAYER,))
    f.program(session, tokyo, "nanbyo", (NANBYO_PAYER,))
    f.insurance(session, MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
    f.insurance(session, OTHER_PERSON, "鈴木 次郎", "スズキ ジロウ", "1980-01-01")
    clinic = f.institution(session)
    other = f.institution(session, f.OTHER_CLINIC_CODE, "別のクリニック")
    register(
        session,
        tokyo,
        [
            certificate(
                NANBYO_PAYER,
                1,
                monthly_cap=5000,
                inpatient_cap=10000,
                copay_rate=20,
                cap_managed=1,
                income_category="一般所得I",
                diseases="パーキンソン病",
                designated_institutions=f.CLINIC_CODE,
            )
        ],
    )
    register(
        session,
        hachioji,
        [
            certificate(f.KODOMO_PAYER, 2, copay_rate=0),
            certificate(f.KODOMO_PAYER, 3, valid_from=day(-800), valid_to=day(-400)),
            certificate(f.HITORIOYA_PAYER, 4, not_disclosed=1),
            certificate(f.HITORIOYA_PAYER, 5, name="田中 太郎", name_kana="タナカ タロウ"),
            certificate(SHOMAN_PAYER, 6, valid_from=day(10), monthly_cap=2500, cap_managed=1),
        ],
    )
    municipality = f.api_key(session, f.municipality(session, f.HACHIOJI), "municipality")
    with session.begin_nested():
        card = cards.issue_card(session, MY_NUMBER, PIN)
    return World(
        session=session,
        client=client,
        hachioji=hachioji,
        tokyo=tokyo,
        reader_key=f.api_key(session, clinic, "card_reader"),
        face_reader_key=f.face_reader(session),
        clinic_key=f.api_key(session, clinic, "institution"),
        other_clinic_key=f.api_key(session, other, "institution"),
        other_reader_key=f.api_key(session, other, "card_reader"),
        municipality_key=municipality,
        card_serial=card.card_serial,
    )
