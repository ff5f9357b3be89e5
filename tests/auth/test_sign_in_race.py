"""Parallel sign-ins with real threads, each with its own connection, on both databases.

Twenty wrong passwords at once check the password exactly five times before the lock; ten
sign-ins with one TOTP code open exactly one session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmh.auth import passwords, service
from pmh.auth.models import StaffSession, StaffUser
from pmh.db import make_engine, transaction, utcnow
from pmh.migrate import upgrade
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database

PASSWORD = "correct horse battery"
LOGIN = "race-1"


@pytest.fixture(params=BACKENDS)
def committed(request: pytest.FixtureRequest, tmp_path: Path, worker_name: str) -> Iterator[tuple[Engine, str]]:
    """A database of its own holding one staff account; yields the engine and its TOTP secret."""
    url = (
        f"sqlite:///{tmp_path / 'signin.sqlite3'}"
        if request.param == "sqlite"
        else _pg_database(f"signin_{worker_name}")
    )
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        _, secret = service.create_staff_user(session, f.municipality(session), LOGIN, "担当者", PASSWORD)
    yield engine, secret
    engine.dispose()


def _in_parallel(count: int, attempt: Callable[[], None]) -> None:
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        attempt()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def _sign_in(engine: Engine, password: str, code: str, outcomes: list[bool]) -> None:
    # One request: its own session and transaction, committed as the HTTP edge does.
    with Session(engine, expire_on_commit=False) as session:
        for work in transaction(session):
            outcome = service.sign_in(work, LOGIN, password, code, absolute_hours=8)
    outcomes.append(outcome.token is not None)


def test_twenty_parallel_wrong_passwords_check_the_password_five_times(
    committed: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, secret = committed
    with Session(engine) as session:
        real_hash = session.scalars(select(StaffUser.password_hash)).one()
    checks: list[str] = []
    original = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checks.append("real" if password_hash == real_hash else "dummy")
        return original(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    outcomes: list[bool] = []
    code = passwords.totp_code(secret, utcnow())
    _in_parallel(20, lambda: _sign_in(engine, "wrong password!!", code, outcomes))
    assert len(outcomes) == 20 and not any(outcomes)
    assert checks.count("real") == service.MAX_FAILED_LOGINS
    assert checks.count("dummy") == 20 - service.MAX_FAILED_LOGINS  # the locked ones take as long
    with Session(engine) as session:
        user = session.scalars(select(StaffUser)).one()
        assert user.locked_until is not None and user.locked_until > utcnow()


def test_one_totp_code_opens_one_session_however_many_ask_at_once(committed: tuple[Engine, str]) -> None:
    engine, secret = committed
    code = passwords.totp_code(secret, utcnow())
    outcomes: list[bool] = []
    _in_parallel(10, lambda: _sign_in(engine, PASSWORD, code, outcomes))
    assert sorted(outcomes) == [False] * 9 + [True]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 1
