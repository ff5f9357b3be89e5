"""Operator and institution pages over HTTP: staff sign-in, forms with CSRF, printable invoice, map."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.operator import clock
from tests import factories as f
from tests.operator.support import payer, register, sign_in

FY2025_LIST = Path(__file__).parent / "data" / "participation_fy2025.csv"


@pytest.fixture
def registered(db_session: Session) -> Session:
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2026, 4, 1), planned=40)
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2026, 6, 1), planned=100)
    return db_session


def test_operator_sets_a_price_and_prints_an_invoice(client: TestClient, registered: Session) -> None:
    csrf = sign_in(client, registered, f.operator(registered), "op-1")
    assert "運営負担金・新規導入費用" in client.get("/").text
    page = client.get("/operator/fees", params={"fiscal_year": 2027})
    assert "2027年度の単価は設定されていません" in page.text
    client.post(
        "/operator/fees/prices",
        data={"csrf_token": csrf, "fiscal_year": "2027", "version": "estimate", "unit_price": "7"},
    )
    page = client.get("/operator/fees", params={"fiscal_year": 2027})
    assert "概算単価 月額7円で算定" in page.text and "八王子市" in page.text
    invoice = client.get(f"/operator/fees/{f.HACHIOJI}/invoice", params={"fiscal_year": 2027})
    assert "請求書（令和9年度 運営負担金）" in invoice.text and "8,400円" in invoice.text  # 100 × 7 × 12
    download = client.get("/operator/fees/invoices.csv", params={"fiscal_year": 2027})
    assert download.content.decode("utf-8-sig").splitlines()[0].startswith("年度,単価区分")
    refused = client.post(
        "/operator/fees/prices",
        data={"csrf_token": "forged", "fiscal_year": "2027", "version": "final", "unit_price": "1"},
    )
    assert refused.status_code == 403


def test_operator_builds_contracts_and_reads_a_prefecture_page(client: TestClient, registered: Session) -> None:
    csrf = sign_in(client, registered, f.operator(registered), "op-2")
    client.post("/operator/contracts/build", data={"csrf_token": csrf, "fiscal_year": "2027"})
    listing = client.get("/operator/contracts", params={"fiscal_year": 2027})
    assert "13 東京都" in listing.text and "作成済み" in listing.text
    page = client.get("/operator/contracts/13", params={"fiscal_year": 2027})
    assert "特定医療費（指定難病）" in page.text and "委任状が未提出の市区町村" in page.text
    assert "デジタル庁" in client.get("/operator/contracts", params={"fiscal_year": 2026}).text


def test_operator_uploads_the_fy2025_list_and_sees_typos_and_the_map(client: TestClient, db_session: Session) -> None:
    csrf = sign_in(client, db_session, f.operator(db_session), "op-3")
    page = client.post(
        "/operator/stats/list",
        data={"csrf_token": csrf},
        files={"file": ("fy2025.csv", FY2025_LIST.read_bytes(), "text/csv")},
    )
    assert page.status_code == 200
    assert "長瀬町" in page.text and "長瀞町（113638）" in page.text and "姶良市（462250）" in page.text
    assert page.text.count('class="prefecture"') == 47
    png = client.get("/operator/stats/map.png")
    assert png.headers["content-type"] == "image/png"


def test_municipal_staff_cannot_open_operator_pages(client: TestClient, db_session: Session) -> None:
    sign_in(client, db_session, f.municipality(db_session), "muni-1")
    assert client.get("/operator/fees").status_code == 403
    assert client.get("/operator/stats").status_code == 403


@pytest.fixture
def in_period(client: TestClient) -> Iterator[TestClient]:
    app = client.app
    app.dependency_overrides[clock.today] = lambda: dt.date(2026, 7, 1)  # type: ignore[attr-defined]
    yield client
    app.dependency_overrides.pop(clock.today)  # type: ignore[attr-defined]


def test_clinic_applies_with_a_missing_document_and_sends_it_later(in_period: TestClient, db_session: Session) -> None:
    csrf = sign_in(in_period, db_session, f.institution(db_session), "clinic-1")
    form = {
        "csrf_token": csrf,
        "option": "2",
        "cost": "100,000",
        "completed_on": "令和8年4月20日",
        "documents": ["receipt", "checklist"],
    }
    quoted = in_period.post("/subsidy/application", data={**form, "step": "quote"})
    assert quoted.status_code == 200
    assert 'data-testid="quote-amount">54,000円' in quoted.text and "この内容で申請する" in quoted.text
    assert 'data-testid="application"' not in quoted.text  # a quote files nothing
    unquoted = in_period.post("/subsidy/application", data={**form, "step": "apply"})
    assert "試算の後に入力が変わりました" in unquoted.text and 'data-testid="application"' not in unquoted.text
    page = in_period.post("/subsidy/application", data={**form, "step": "apply", "quoted_amount": "54000"})
    assert "54,000円" in page.text and "書類が不足しています" in page.text and "領収書内訳書" in page.text
    again = in_period.post("/subsidy/application", data={**form, "step": "apply", "quoted_amount": "54000"})
    assert "申請済みです" in again.text and "1医療機関・薬局につき1回" in again.text
    sent = in_period.post(
        "/subsidy/application/documents", data={"csrf_token": csrf, "documents": ["itemised_receipt"]}
    )
    assert "書類がそろっています" in sent.text


def test_subsidy_form_keeps_the_entry_and_shows_each_problem_beside_its_field(
    in_period: TestClient, db_session: Session
) -> None:
    csrf = sign_in(in_period, db_session, f.institution(db_session), "clinic-3")
    page = in_period.post(
        "/subsidy/application",
        data={
            "csrf_token": csrf,
            "step": "quote",
            "option": "3",
            "cost": "12万",
            "completed_on": "2026-08-01",  # after today (2026-07-01)
            "reception_machine": "true",
            "documents": ["checklist"],
        },
    )
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert 'data-testid="error-cost"' in page.text and "整数（円）" in page.text
    assert 'data-testid="error-completed_on"' in page.text and "今日より後" in page.text
    assert 'value="12万"' in page.text and 'value="2026-08-01"' in page.text
    assert '<option value="3" selected>' in page.text
    assert 'name="reception_machine" value="true" checked' in page.text
    assert 'value="checklist" checked' in page.text and 'value="receipt" checked' not in page.text
    assert 'data-testid="application"' not in page.text


def test_subsidy_form_says_up_front_that_the_period_is_closed(client: TestClient, db_session: Session) -> None:
    client.app.dependency_overrides[clock.today] = lambda: dt.date(2026, 10, 1)  # type: ignore[attr-defined]
    try:
        csrf = sign_in(client, db_session, f.institution(db_session), "clinic-2")
        shown = client.get("/subsidy/application")
        quoted = client.post(
            "/subsidy/application",
            data={"csrf_token": csrf, "step": "quote", "option": "1", "cost": "50000", "completed_on": "2026-09-01"},
        )
        refused = client.post(
            "/subsidy/application",
            data={
                "csrf_token": csrf,
                "step": "apply",
                "option": "1",
                "cost": "50000",
                "completed_on": "2026-09-01",
                "quoted_amount": "37000",
            },
        )
    finally:
        client.app.dependency_overrides.pop(clock.today)  # type: ignore[attr-defined]
    assert "令和8年9月30日）は終了しました" in shown.text and "申請期間外" in shown.text
    assert "次の申請期間は決まっていません" in shown.text
    assert 'data-testid="quote-amount"' in quoted.text and "この内容で申請する" not in quoted.text
    assert "申請期間外です" in refused.text and 'data-testid="apply-form"' in refused.text
    assert 'value="50000"' in refused.text


def test_subsidy_window_names_the_next_period_before_it_opens() -> None:
    from pmh.operator.subsidy import rules

    before = rules.window(dt.date(2026, 5, 1))
    assert before.current is None and before.upcoming is not None and before.upcoming.opens == dt.date(2026, 5, 15)
    assert rules.window(dt.date(2026, 5, 15)).is_open
    after = rules.window(dt.date(2026, 10, 1))
    assert after.current is None and after.upcoming is None and after.previous is not None


def _visible_text(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", html)


def test_pages_name_programs_and_prefectures_in_japanese_never_by_code(client: TestClient, registered: Session) -> None:
    register(registered, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2027, 6, 1), planned=10)
    csrf = sign_in(client, registered, f.operator(registered), "op-ja")
    client.post(
        "/operator/fees/prices",
        data={"csrf_token": csrf, "fiscal_year": "2027", "version": "estimate", "unit_price": "7"},
    )
    invoice = client.get(f"/operator/fees/{f.HACHIOJI}/invoice", params={"fiscal_year": 2027})
    assert invoice.status_code == 200
    text = _visible_text(invoice.text)
    assert "ひとり親家庭医療費助成（地単）" in text  # the program joining in FY2027, by name
    directory = _visible_text(client.get("/directory").text)
    assert "東京都" in directory
    for code in ("kodomo", "nanbyo", "hitorioya", "shoman"):
        assert code not in text and code not in directory
