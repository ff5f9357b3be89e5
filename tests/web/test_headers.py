"""Security headers on every response: API, pages, errors, static files, and the OpenAPI pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from pmh.web.headers import CSP, DOCS_CSP
from tests import factories as f
from tests.operator.support import sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "pmh"


def _assert_secured(response: Response, *, cached: bool = False, policy: str = CSP) -> None:
    headers = response.headers
    assert headers["content-security-policy"] == policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    if cached:
        assert "no-store" not in headers.get("cache-control", "")
    else:
        assert headers["cache-control"] == "no-store"


def test_api_responses_carry_the_headers(db_session: Session, client: TestClient) -> None:
    clinic = f.institution(db_session)
    key = f.api_key(db_session, clinic, "institution")
    _assert_secured(client.get("/api/v1/me", headers=f.bearer(key)))
    _assert_secured(client.get("/api/v1/audit-entries", headers=f.bearer(key)))
    _assert_secured(client.get("/api/v1/me"))  # a 401 problem
    _assert_secured(client.get("/api/v1/nothing-here"))  # a 404 problem
    _assert_secured(client.post("/api/v1/codes/check", json={"value": "1", "kind": "nonsense"}))  # a 422


def test_pages_carry_the_headers_signed_in_or_not(db_session: Session, client: TestClient) -> None:
    for path in ("/", "/login", "/kiosk"):
        _assert_secured(client.get(path, follow_redirects=False))
    sign_in(client, db_session, f.institution(db_session), "clinic-staff")
    for path in ("/", "/audit", "/reception", "/keys"):
        page = client.get(path)
        assert page.status_code == 200, path
        _assert_secured(page)


def test_static_files_may_be_cached_and_docs_get_their_own_policy(client: TestClient) -> None:
    _assert_secured(client.get("/static/pmh.js"), cached=True)
    _assert_secured(client.get("/docs"), policy=DOCS_CSP)
    _assert_secured(client.get("/openapi.json"))


def test_policy_allows_no_inline_script() -> None:
    script = next(d for d in CSP.split("; ") if d.startswith("script-src"))
    assert script == "script-src 'self'"
    assert "frame-ancestors 'none'" in CSP


@pytest.mark.parametrize(
    "pattern",
    [r"<script(?![^>]*\bsrc=)", r"<style", r"\sstyle=", r"\son[a-z]+\s*=", r"\shx-on", r"javascript:"],
)
def test_no_template_carries_inline_script_or_style(pattern: str) -> None:
    """Inline script, event handlers and styles would be refused by the policy: they live in static files."""
    offenders = [
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*.html")
        if re.search(pattern, p.read_text(encoding="utf-8"), re.IGNORECASE)
    ]
    assert offenders == []
