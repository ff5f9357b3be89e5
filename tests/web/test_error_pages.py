"""Errors met in a browser are pages in Japanese inside the signed-in frame, never raw JSON."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f
from tests.operator.support import sign_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_a_wrong_month_in_a_page_url_is_a_page_that_names_the_field(db_session: Session, client: TestClient) -> None:
    clinic = f.institution(db_session)
    sign_in(client, db_session, clinic, "desk-clerk")
    page = client.get(
        "/reception/1/copay",
        params={"payer_number": "54136015", "recipient_number": "9000019", "month": "2026-13"},
        headers=HTML,
    )
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "入力内容に誤りがあります" in page.text and "month" in page.text and "2026-13" in page.text
    assert clinic.name in page.text  # the header still shows who is signed in
    assert '"detail"' not in page.text


def test_an_unknown_page_is_a_japanese_page_inside_the_signed_in_frame(db_session: Session, client: TestClient) -> None:
    clinic = f.institution(db_session)
    sign_in(client, db_session, clinic, "desk-clerk")
    page = client.get("/reception/no-such-page/at-all", headers={**HTML, "Referer": "http://testserver/reception"})
    assert page.status_code == 404
    assert "お探しのページは見つかりません" in page.text and clinic.name in page.text
    assert 'href="/reception"' in page.text  # back to where the clerk came from


def test_the_api_keeps_problem_details_for_the_same_mistake(db_session: Session, client: TestClient) -> None:
    key = f.api_key(db_session, f.institution(db_session), "institution")
    response = client.get(
        "/api/v1/copay-entries",
        params={"reception_id": 1, "payer_number": "54136015", "recipient_number": "9000019", "month": "2026-13"},
        headers={**f.bearer(key), **HTML},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
