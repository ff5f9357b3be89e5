"""The public directory: participating municipalities with their programs, connected institutions."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.auth import service as auth
from tests import factories as f
from tests.operator.support import register

OSAKA_CLINIC = "2710112349"


def test_directory_lists_participating_bodies_and_their_programs_without_a_key(
    client: TestClient, db_session: Session
) -> None:
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2025, 6, 1))
    register(db_session, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2026, 4, 1))
    f.municipality(db_session, "271004")  # 大阪市 is known to the hub but runs no program
    body = client.get("/api/v1/directory/municipalities").json()
    assert [m["code"] for m in body] == [f.HACHIOJI]
    assert [p["program_code"] for p in body[0]["programs"]] == ["hitorioya", "kodomo"]
    assert body[0]["prefecture_name"] == "東京都" and body[0]["kind"] == "中核市"
    assert client.get("/api/v1/directory/municipalities", params={"prefecture": "大阪府"}).json() == []


def test_institutions_by_prefecture_by_code_or_name(client: TestClient, db_session: Session) -> None:
    f.institution(db_session)
    auth.add_institution(db_session, OSAKA_CLINIC, "大阪テスト医院", "clinic")
    tokyo = client.get("/api/v1/directory/institutions", params={"prefecture": "13"}).json()
    assert [(i["code"], i["kind_label"]) for i in tokyo] == [(f.CLINIC_CODE, "診療所")]
    osaka = client.get("/api/v1/directory/institutions", params={"prefecture": "大阪府"}).json()
    assert [i["name"] for i in osaka] == ["大阪テスト医院"]
    everyone = client.get("/api/v1/directory/institutions").json()
    assert len(everyone) == 2
    wrong = client.get("/api/v1/directory/institutions", params={"prefecture": "江戸"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "prefecture"


def test_directory_page_is_public(client: TestClient, db_session: Session) -> None:
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2025, 6, 1))
    f.institution(db_session)
    page = client.get("/directory", params={"prefecture": "13"})
    assert page.status_code == 200
    assert "八王子市" in page.text and "テスト内科" in page.text
