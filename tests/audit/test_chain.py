"""The audit log: appended in the caller's transaction, append-only, and verifiable."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.audit import service
from pmh.audit.models import AuditEntry
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from tests import factories as f


@pytest.fixture
def clinic(db_session: Session) -> Organisation:
    return f.institution(db_session)


@pytest.fixture
def caller(clinic: Organisation) -> Caller:
    return Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")


def _fill(session: Session, caller: Caller, count: int = 5) -> None:
    for n in range(count):
        service.record(session, caller, "certificate.read", "certificate", str(n), {"n": n})
    service.seal_all(session)  # PostgreSQL appends unsealed; SQLite sealed each at append


def _without_guard(session: Session, backend: str) -> None:
    """Switch off the append-only triggers inside the test's transaction, as an intruder with DDL rights could."""
    if backend == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_no_update"))
        session.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_intact_chain_verifies(db_session: Session, caller: Caller) -> None:
    _fill(db_session, caller)
    result = service.verify_chain(db_session)
    assert result.ok and result.entries == 5


def test_entries_are_chained_in_sequence(db_session: Session, caller: Caller) -> None:
    appended = [service.record(db_session, caller, "a", "t", "1"), service.record(db_session, caller, "b", "t", "2")]
    service.seal_all(db_session)
    first, second = (db_session.get_one(AuditEntry, e.id) for e in appended)
    assert first.seq is not None and second.seq is not None
    assert (first.seq + 1, first.entry_hash) == (second.seq, second.prev_hash)


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"])
def test_database_refuses_to_change_entries(db_session: Session, caller: Caller, statement: str) -> None:
    _fill(db_session, caller, 1)
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text(statement))


def test_edited_entry_fails_verification(db_session: Session, caller: Caller, backend: str) -> None:
    _fill(db_session, caller)
    _without_guard(db_session, backend)
    db_session.execute(text("UPDATE audit_entries SET subject_id = '999' WHERE seq = 3"))
    db_session.expire_all()
    result = service.verify_chain(db_session)
    assert not result.ok
    assert any("連番 3" in p and "改ざん" in p for p in result.problems)


def test_deleted_entry_fails_verification(db_session: Session, caller: Caller, backend: str) -> None:
    _fill(db_session, caller)
    _without_guard(db_session, backend)
    db_session.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    db_session.expire_all()
    result = service.verify_chain(db_session)
    assert any("欠けています" in p for p in result.problems)


def test_deleted_last_entry_fails_verification(db_session: Session, caller: Caller, backend: str) -> None:
    _fill(db_session, caller)
    _without_guard(db_session, backend)
    db_session.execute(text("DELETE FROM audit_entries WHERE seq = 5"))
    db_session.expire_all()
    assert any("末尾" in p for p in service.verify_chain(db_session).problems)


def test_reordered_entries_fail_verification(db_session: Session, caller: Caller, backend: str) -> None:
    _fill(db_session, caller)
    _without_guard(db_session, backend)
    db_session.execute(text("UPDATE audit_entries SET seq = -2 WHERE seq = 2"))
    db_session.execute(text("UPDATE audit_entries SET seq = 2 WHERE seq = 3"))
    db_session.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = -2"))
    db_session.expire_all()
    assert not service.verify_chain(db_session).ok


def test_entry_rolls_back_with_the_work_it_records(db_session: Session, caller: Caller) -> None:
    with pytest.raises(RuntimeError), db_session.begin_nested():
        service.record(db_session, caller, "certificate.read", "certificate", "1")
        raise RuntimeError("the read failed")
    assert service.count_entries(db_session) == 0


def test_details_never_carry_a_my_number(db_session: Session, caller: Caller) -> None:
    entry = service.record(db_session, caller, "x", "person", "123456789018", {"note": "番号 123456789018"})
    assert "123456789018" not in entry.detail + entry.subject_id


def test_cli_verify_reports_ok_and_tampering(db_session: Session, caller: Caller, backend: str) -> None:
    _fill(db_session, caller, 3)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    chain = report["chains"][0]["chain"]  # drawn at random on PostgreSQL
    assert report == {
        "ok": True,
        "entries": 3,
        "problems": [],
        "chains": [{"chain": chain, "entries": 3, "head_seq": 3, "keyed_from": 1}],
        "unsealed": {
            "count": 0,
            "ids": [],
            "oldest_id": None,
            "oldest_age_s": None,
            "overdue": 0,
            "overdue_after_s": 2.0,
        },
    }
    _without_guard(db_session, backend)
    db_session.execute(text("UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 1"))
    db_session.expire_all()
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "改ざん" in broken.output


def test_api_lists_only_the_callers_own_entries(
    db_session: Session, clinic: Organisation, caller: Caller, client: TestClient
) -> None:
    other = f.institution(db_session, code=f.OTHER_CLINIC_CODE, name="別の医院")
    other_caller = Caller(other.id, other.code, other.name, "institution", "institution", "key:o")
    service.record(db_session, caller, "mine", "t", "1")
    service.record(db_session, other_caller, "theirs", "t", "2")
    key = f.api_key(db_session, clinic, "institution")
    actions = [e["action"] for e in client.get("/api/v1/audit-entries", headers=f.bearer(key)).json()]
    assert actions == ["mine"]
