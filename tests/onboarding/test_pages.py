"""The onboarding pages over HTTP: a municipality reports its steps, the dashboard is scoped like the API."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.onboarding import service
from pmh.operator.clock import today as today_dependency
from tests import factories as f
from tests.operator.support import payer, register, sign_in

TACHIKAWA, OSAKA_CITY = "132021", "271004"


@pytest.fixture
def hub(db_session: Session, client: TestClient) -> Session:
    client.app.dependency_overrides[today_dependency] = lambda: dt.date(2026, 12, 2)  # type: ignore[attr-defined]
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2026, 4, 1))
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2025, 6, 1), planned=20_000)
    register(db_session, TACHIKAWA, "kodomo", [payer("88", "13", 21)], dt.date(2027, 1, 1))
    register(db_session, OSAKA_CITY, "kodomo", [payer("88", "27", 10)], dt.date(2026, 4, 1))
    organisation = f.operator(db_session)
    service.seed_deadlines(
        db_session, Caller(organisation.id, organisation.code, organisation.name, "operator", "operator", "t"), 2026
    )
    return db_session


def test_a_municipality_reports_its_steps_on_its_page(client: TestClient, hub: Session) -> None:
    csrf = sign_in(client, hub, f.municipality(hub, f.HACHIOJI), "hachioji-staff")
    page = client.get("/onboarding/mine")
    assert page.status_code == 200
    assert 'action="/onboarding/mine/kodomo/intent"' in page.text
    assert 'action="/onboarding/mine/kodomo/contract"' not in page.text  # derived: no form
    assert "基礎項目評価＋重点項目評価" not in page.text and "基礎項目評価" in page.text  # 20,000 people
    saved = client.post(
        "/onboarding/mine/kodomo/pia",
        data={
            "csrf_token": csrf,
            "fiscal_year": "2026",
            "status": "done",
            "date": "2026-06-01",
            "pia_template": "digital_agency",
            "pia_evaluation": "basic",
        },
    )
    assert saved.status_code == 200 and "保存しました" in saved.text
    assert "2027-04-01までに修正ひな形で評価書を修正" in saved.text
    refused = client.post(
        "/onboarding/mine/kodomo/intent", data={"csrf_token": csrf, "fiscal_year": "2026", "status": "done"}
    )
    assert refused.status_code == 422 and "完了日を入力してください" in refused.text
    derived = client.post(
        "/onboarding/mine/kodomo/test_upload",
        data={"csrf_token": csrf, "fiscal_year": "2026", "status": "done", "date": "2026-06-01"},
    )
    assert derived.status_code == 422 and "入力できません" in derived.text
    forged = client.post(
        "/onboarding/mine/kodomo/budget", data={"csrf_token": "x", "fiscal_year": "2026", "status": "in_progress"}
    )
    assert forged.status_code == 403
    added = client.post(
        "/onboarding/mine/intent",
        data={"csrf_token": csrf, "fiscal_year": "2026", "program_code": "shogaisha", "status": "in_progress"},
    )
    assert added.status_code == 200 and 'data-testid="program-shogaisha"' in added.text
    view = service.overview(hub, f.municipality_caller(hub), 2026, dt.date(2026, 12, 2))
    assert {r.program_code: r.steps["intent"].status for r in view.rows} == {
        "kodomo": "not_started",
        "shogaisha": "in_progress",
    }


def test_the_dashboard_by_prefecture_with_counts_and_the_overdue_list(client: TestClient, hub: Session) -> None:
    sign_in(client, hub, f.operator(hub), "operator-staff")
    page = client.get("/onboarding", params={"fiscal_year": 2026})
    assert page.status_code == 200
    assert "13 東京都" in page.text and "27 大阪府" in page.text
    assert "期限切れ" in page.text and "2026-10-31" in page.text  # the intention survey was due in October
    only_osaka = client.get("/onboarding", params={"fiscal_year": 2026, "prefecture": "27"})
    assert "大阪市" in only_osaka.text and "八王子市" not in only_osaka.text
    exported = client.get("/onboarding/export.csv", params={"fiscal_year": 2026})
    assert exported.content.startswith("\ufeff年度".encode())


def test_a_prefecture_sees_only_its_own_on_the_dashboard(client: TestClient, hub: Session) -> None:
    sign_in(client, hub, f.municipality(hub, f.TOKYO), "tokyo-staff")
    page = client.get("/onboarding", params={"fiscal_year": 2026})
    assert "八王子市" in page.text and "立川市" in page.text and "大阪市" not in page.text
    assert client.get("/onboarding", params={"prefecture": "27"}).status_code == 403
    assert client.get("/onboarding/mine").status_code == 200  # a prefecture reports its own programs too
    clinic_client = client
    clinic_client.cookies.clear()
    sign_in(clinic_client, hub, f.institution(hub), "clinic-staff")
    assert clinic_client.get("/onboarding").status_code == 403
