"""Staff sign-in: argon2 password plus TOTP, lockout, replay refusal, session expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import service
from pmh.auth.models import StaffSession, StaffUser
from pmh.auth.passwords import totp_code
from pmh.db import utcnow
from pmh.errors import InvalidInput, NotAuthenticated
from tests import factories as f

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(db_session: Session) -> tuple[StaffUser, str]:
    user, secret = service.create_staff_user(db_session, f.municipality(db_session), "hachioji-1", "担当者", PASSWORD)
    return user, secret


def _code(secret: str, shift: dt.timedelta = dt.timedelta()) -> str:
    return totp_code(secret, utcnow() + shift)


def test_password_is_stored_as_argon2_hash(staff: tuple[StaffUser, str]) -> None:
    user, _ = staff
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_short_password_is_refused(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="12文字以上"):
        service.create_staff_user(db_session, f.operator(db_session), "x", "x", "short")


def test_sign_in_needs_both_factors(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    assert service.sign_in(db_session, user.login, PASSWORD, "000000", absolute_hours=8).refusal
    assert service.sign_in(db_session, user.login, "wrong password!!", _code(secret), absolute_hours=8).refusal
    outcome = service.sign_in(db_session, user.login, PASSWORD, _code(secret), absolute_hours=8)
    assert outcome.token and outcome.staff_session
    caller, _ = service.resolve_staff_session(db_session, outcome.token, idle_minutes=30)
    assert (caller.organisation_code, caller.role, caller.actor) == (
        "132012",
        "municipality",
        "staff:hachioji-1",
    )


def test_a_totp_code_cannot_be_used_twice(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    code = _code(secret)
    assert service.sign_in(db_session, user.login, PASSWORD, code, absolute_hours=8).token
    assert service.sign_in(db_session, user.login, PASSWORD, code, absolute_hours=8).refusal


def test_five_failures_lock_the_account(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    for _ in range(service.MAX_FAILED_LOGINS):
        service.sign_in(db_session, user.login, "wrong password!!", _code(secret), absolute_hours=8)
    outcome = service.sign_in(db_session, user.login, PASSWORD, _code(secret), absolute_hours=8)
    assert outcome.token is None and outcome.refusal is not None and "しばらく" in outcome.refusal
    assert user.locked_until is not None and user.locked_until > utcnow()


def test_unknown_and_locked_logins_read_the_same_and_check_a_hash(
    db_session: Session, staff: tuple[StaffUser, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _ = staff
    checked: list[str] = []
    original = service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return original(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    unknown = service.sign_in(db_session, "nobody-here", PASSWORD, "000000", absolute_hours=8)
    known = service.sign_in(db_session, user.login, "wrong password!!", "000000", absolute_hours=8)
    assert unknown.refusal == known.refusal
    user.locked_until = utcnow() + dt.timedelta(minutes=5)
    locked = service.sign_in(db_session, user.login, PASSWORD, "000000", absolute_hours=8)
    assert locked.refusal == known.refusal
    # every attempt costs one argon2 check: the unknown and the locked one against a dummy hash
    assert len(checked) == 3 and all(h.startswith("$argon2id$") for h in checked)
    assert checked[0] == checked[2] != user.password_hash == checked[1]


def test_idle_session_expires(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    outcome = service.sign_in(db_session, user.login, PASSWORD, _code(secret), absolute_hours=8)
    assert outcome.staff_session and outcome.token
    outcome.staff_session.last_seen_at = utcnow() - dt.timedelta(minutes=31)
    with pytest.raises(NotAuthenticated, match="操作がなかった"):
        service.resolve_staff_session(db_session, outcome.token, idle_minutes=30)


def test_session_expires_after_its_absolute_lifetime(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    outcome = service.sign_in(db_session, user.login, PASSWORD, _code(secret), absolute_hours=8)
    assert outcome.staff_session and outcome.token
    outcome.staff_session.expires_at = utcnow() - dt.timedelta(seconds=1)
    with pytest.raises(NotAuthenticated, match="有効期限"):
        service.resolve_staff_session(db_session, outcome.token, idle_minutes=30)


def test_signed_out_session_is_refused(db_session: Session, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    outcome = service.sign_in(db_session, user.login, PASSWORD, _code(secret), absolute_hours=8)
    assert outcome.token
    service.sign_out(db_session, outcome.token)
    with pytest.raises(NotAuthenticated):
        service.resolve_staff_session(db_session, outcome.token, idle_minutes=30)


def test_failed_sign_in_over_http_is_counted_and_explained(
    client: TestClient, db_session: Session, staff: tuple[StaffUser, str]
) -> None:
    user, _ = staff
    response = client.post("/login", data={"login": user.login, "password": PASSWORD, "totp": "000000"})
    assert response.status_code == 401
    assert "正しくありません" in response.text
    db_session.refresh(user)
    assert user.failed_logins == 1


def test_sign_in_over_http_opens_the_role_start_page(
    client: TestClient, db_session: Session, staff: tuple[StaffUser, str]
) -> None:
    user, secret = staff
    assert client.get("/keys", follow_redirects=False).headers["location"] == "/login?next=/keys"
    response = client.post(
        "/login",
        data={"login": user.login, "password": PASSWORD, "totp": _code(secret), "next": "/keys"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/keys"
    assert "httponly" in response.headers["set-cookie"].lower()
    start = client.get("/")
    assert "自治体メニュー" in start.text and "八王子市" in start.text
    assert db_session.scalars(select(StaffSession)).one().ended_at is None


def test_sign_in_never_redirects_off_site(client: TestClient, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    response = client.post(
        "/login",
        data={"login": user.login, "password": PASSWORD, "totp": _code(secret), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_key_form_refuses_a_missing_csrf_token(client: TestClient, staff: tuple[StaffUser, str]) -> None:
    user, secret = staff
    client.post("/login", data={"login": user.login, "password": PASSWORD, "totp": _code(secret)})
    response = client.post("/keys", data={"role": "municipality"}, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert "再読み込み" in response.text
