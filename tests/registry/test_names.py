"""Names as municipal systems write them (行政事務標準文字 / MJ with IVS): accepted, kept exactly,
degenerated for the linking guard, and read back unchanged through every door (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.registry.models import CertificateVersion
from tests import factories as f
from tests.registry.test_import import HEADER

TSUJI = "辻\U000e0100 太郎"  # IVS over a JIS X 0208 character
KASAI = "葛\U000e0101西 花子"
YOSHIDA = "𠮷田 稔"  # an MJ character outside JIS X 0213
HOKKE = "𩸽 一郎"  # JIS X 0213 only: no JIS X 0208 counterpart
NONE_TO_ANY = "𠀂田 花子"  # no JIS X 0213 counterpart at all
BIRTH = "2018-04-01"

# (person, name on the certificate, kana, name in the insurance record, expected link status)
PEOPLE: list[tuple[int, str, str, str, str]] = [
    (1, TSUJI, "ツジ タロウ", "辻 太郎", "linked"),
    (2, KASAI, "カサイ ハナコ", "葛西 花子", "linked"),
    (3, YOSHIDA, "ヨシダ ミノル", "吉田 稔", "linked"),
    (4, "髙\U000e0100橋 一郎", "タカハシ イチロウ", "高橋 一郎", "linked"),
    (5, HOKKE, "ホッケ イチロウ", "𩸽 一郎", "linked"),
    (6, NONE_TO_ANY, "ヤマダ ハナコ", NONE_TO_ANY, "linked"),
    (7, KASAI, "カサイ ハナエ", "葛西 花江", "held"),  # another given name: another person
    (8, YOSHIDA, "ヨシダ ミノル", "吉田 稔", "held"),  # the record's birth date differs (below)
]


@pytest.fixture
def key(db_session: Session) -> str:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller)
    for person, _, kana, record_name, _ in PEOPLE:
        birth = "2018-04-02" if person == 8 else BIRTH
        f.insurance(db_session, f.my_number(person), record_name, kana, birth)
    return f.api_key(db_session, f.municipality(db_session), "municipality")


def _csv(*rows: tuple[int, str, str]) -> dict[str, tuple[str, bytes, str]]:
    lines = [
        f"1,{f.KODOMO_PAYER},{f.recipient(person)},{f.my_number(person)},{name},{kana},{BIRTH},1,2026-04-01,,"
        for person, name, kana in rows
    ]
    body = ("\n".join((HEADER, *lines)) + "\n").encode("utf-8")
    return {"file": ("certificates.csv", body, "text/csv")}


def _certificate(client: TestClient, key: str, person: int, as_of: str = "2026-05-01") -> dict[str, Any]:
    response = client.get(
        "/api/v1/certificates",
        params={"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(person), "as_of": as_of},
        headers=f.bearer(key),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_ivs_and_mj_names_are_applied_and_linked_where_the_degenerated_forms_match(
    client: TestClient, db_session: Session, key: str
) -> None:
    response = client.post(
        "/api/v1/uploads",
        files=_csv(*((person, name, kana) for person, name, kana, _, _ in PEOPLE)),
        headers=f.bearer(key),
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["status"], result["accepted"], result["rejected"]) == ("applied", len(PEOPLE), 0)
    assert result["held_for_review"] == 2
    for person, name, _, _, status in PEOPLE:
        found = _certificate(client, key, person)
        assert (person, found["link_status"]) == (person, status)
        assert found["in_force"]["name"] == name  # the name of record, exactly as sent
    reviews = client.get("/api/v1/link-reviews", headers=f.bearer(key)).json()
    assert sorted(r["recipient_number"] for r in reviews) == [f.recipient(7), f.recipient(8)]
    assert {r["certificate"]["name"] for r in reviews} == {KASAI, YOSHIDA}


def test_the_forms_are_stored_at_import_and_what_has_no_counterpart_is_reported(
    client: TestClient, db_session: Session, key: str
) -> None:
    rows = [(person, name, kana) for person, name, kana, _, _ in PEOPLE if person in (1, 3, 5, 6)]
    assert client.post("/api/v1/uploads", files=_csv(*rows), headers=f.bearer(key)).json()["status"] == "applied"
    stored = {
        v.name: (v.name_jisx0213, v.name_jisx0208, v.name_unmapped)
        for v in db_session.scalars(select(CertificateVersion))
    }
    assert stored == {
        TSUJI: ("辻 太郎", "辻 太郎", ""),
        YOSHIDA: ("吉田 稔", "吉田 稔", ""),
        HOKKE: (HOKKE, "〓 一郎", "JIS X 0208: U+29E3D"),
        NONE_TO_ANY: ("〓田 花子", "〓田 花子", "JIS X 0213: U+20002"),
    }
    read = _certificate(client, key, 5)["in_force"]
    assert (read["name"], read["name_jisx0213"], read["name_jisx0208"], read["name_unmapped"]) == (
        HOKKE,
        HOKKE,
        "〓 一郎",
        "JIS X 0208: U+29E3D",
    )


def test_the_original_survives_the_api_batch_and_the_as_of_history(client: TestClient, key: str) -> None:
    record = {
        "operation": "add",
        "myNumber": f.my_number(1),
        "basicFiveInfo": {"name": TSUJI, "nameKana": "ツジ タロウ", "birthDate": BIRTH, "sex": 1},
        "medicalSubsidyInsurerNumber": f.KODOMO_PAYER,
        "medicalSubsidyRecipientNumber": f.recipient(1),
        "validFrom": "2026-04-01",
    }
    added = client.post("/api/v1/certificates/batch", json={"records": [record]}, headers=f.bearer(key))
    assert added.status_code == 201 and added.json()["status"] == "applied", added.text
    # The municipality's system later writes the other registered glyph of 辻 (two-dot 辶).
    renamed = "辻\U000e0101 太郎"
    change = record | {
        "operation": "change",
        "basicFiveInfo": {"name": renamed, "nameKana": "ツジ タロウ", "birthDate": BIRTH, "sex": 1},
        "validFrom": "2026-07-01",
    }
    changed = client.post("/api/v1/certificates/batch", json={"records": [change]}, headers=f.bearer(key))
    assert changed.json()["status"] == "applied", changed.text
    before, after = _certificate(client, key, 1, "2026-05-01"), _certificate(client, key, 1, "2026-08-01")
    assert before["in_force"]["name"] == TSUJI and after["in_force"]["name"] == renamed
    assert [v["name"] for v in after["history"]] == [TSUJI, renamed]
    assert {v["name_jisx0213"] for v in after["history"]} == {"辻 太郎"}
    assert after["link_status"] == "linked"  # same person: the selector only picks a glyph


def test_private_use_in_a_name_is_still_refused_as_gaiji(client: TestClient, key: str) -> None:
    result = client.post(
        "/api/v1/uploads",
        files=_csv((1, TSUJI, "ツジ タロウ"), (2, "葛西 花\ue000", "カサイ ハナコ")),
        headers=f.bearer(key),
    ).json()
    assert result["status"] == "rejected" and result["accepted"] == 0
    [error] = result["errors"]
    assert (error["row"], error["column"], error["code"]) == (2, "氏名", "gaiji")
    assert error["message"] == "氏名に外字（U+E000）が含まれています。外字対応表に登録してから再送してください"
