"""The sealer: entries appended unsealed are linked into their chains behind the readers; verify says which wait."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import pmh.db
from pmh.audit import sealer, service
from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.db import make_engine, utcnow
from pmh.migrate import upgrade
from tests import factories as f
from tests.audit.test_chain import _without_guard
from tests.conftest import _pg_database


@pytest.fixture
def caller(db_session: Session) -> Caller:
    clinic = f.institution(db_session)
    return Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")


def _unsealed(session: Session, caller: Caller, subject: str, ago_s: float = 0.0) -> int:
    """Append an entry without sealing it, as PostgreSQL's readers do (SQLite would seal at append)."""
    values: dict[str, Any] = {
        "chain": 0,
        "occurred_at": utcnow() - dt.timedelta(seconds=ago_s),
        "organisation_id": caller.organisation_id,
        "actor": caller.actor,
        "role": caller.role,
        "action": "certificate.read",
        "subject_type": "certificate",
        "subject_id": subject,
        "detail": "{}",
        "form": service.KEYED,
    }
    return int(session.execute(insert(AuditEntry).values(values).returning(AuditEntry.id)).scalar_one())


def _link(session: Session, entry_id: int) -> tuple[int | None, str | None, str | None]:
    session.expire_all()
    entry = session.get_one(AuditEntry, entry_id)
    return entry.seq, entry.prev_hash, entry.entry_hash


def test_postgresql_appends_unsealed_and_the_sealer_links_in_id_order(db_session: Session, backend: str) -> None:
    clinic = f.institution(db_session)
    caller = Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")
    db_session.info[service.SESSION_CHAIN] = 0
    entries = [service.record(db_session, caller, "certificate.read", "certificate", str(n)) for n in range(3)]
    if backend == "postgresql":
        assert [_link(db_session, e.id) for e in entries] == [(None, None, None)] * 3
        assert service.verify_chain(db_session).unsealed.ids == [e.id for e in entries]
        assert service.seal_all(db_session) == 3
    else:  # one writer anyway: sealed in the same transaction
        assert [e.seq for e in entries] == [1, 2, 3]
        assert service.seal_all(db_session) == 0
    links = [_link(db_session, e.id) for e in entries]
    assert [seq for seq, _, _ in links] == [1, 2, 3]
    assert links[1][1] == links[0][2] and links[2][1] == links[1][2]
    result = service.verify_chain(db_session)
    assert result.ok and result.entries == 3 and result.unsealed.count == 0


def test_the_append_is_one_insert_and_flushes_nothing_else(db_session: Session, caller: Caller, backend: str) -> None:
    from sqlalchemy import event

    pending = f.institution(db_session, code=f.OTHER_CLINIC_CODE, name="別の医院")
    db_session.flush()
    pending.name = "まだ書かれない名前"  # a pending change of another object
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", note)
    try:
        service.record(db_session, caller, "certificate.read", "certificate", "1")
    finally:
        event.remove(connection, "before_cursor_execute", note)
    assert pending in db_session.dirty
    if backend == "postgresql":
        assert statements == ["INSERT"]
    else:
        assert statements[0] == "INSERT" and "UPDATE" in statements  # sealed at once


def test_the_trigger_allows_only_filling_an_empty_link(db_session: Session, caller: Caller) -> None:
    entry_id = _unsealed(db_session, caller, "1")
    refused = (
        "UPDATE audit_entries SET actor = 'x' WHERE id = :id",
        "UPDATE audit_entries SET seq = 1, prev_hash = 'a', entry_hash = 'b', actor = 'x' WHERE id = :id",
        "UPDATE audit_entries SET seq = 1 WHERE id = :id",  # a half link
        "DELETE FROM audit_entries WHERE id = :id",
    )
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
            db_session.execute(text(statement), {"id": entry_id})
    with db_session.begin_nested():
        db_session.execute(
            text("UPDATE audit_entries SET seq = 7, prev_hash = 'a', entry_hash = 'b' WHERE id = :id"), {"id": entry_id}
        )
    for statement in (
        "UPDATE audit_entries SET entry_hash = 'c' WHERE id = :id",  # a sealed link never changes
        "UPDATE audit_entries SET seq = NULL, prev_hash = NULL, entry_hash = NULL WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
            db_session.execute(text(statement), {"id": entry_id})


def test_verify_lists_unsealed_entries_and_reports_overdue_ones(db_session: Session, caller: Caller) -> None:
    fresh = _unsealed(db_session, caller, "1")
    result = service.verify_chain(db_session)
    assert result.ok and result.unsealed.count == 1 and result.unsealed.ids == [fresh]
    stale = _unsealed(db_session, caller, "2", ago_s=60)
    runner = CliRunner()
    shown = runner.invoke(cli, ["audit", "verify", "--json"])
    assert shown.exit_code == 1, shown.output
    report = json.loads(shown.stdout)
    assert report["unsealed"]["count"] == 2 and report["unsealed"]["ids"] == [fresh, stale]
    assert report["unsealed"]["overdue"] == 1 and report["unsealed"]["overdue_after_s"] == 2.0
    assert report["unsealed"]["oldest_age_s"] >= 60
    assert any("封印処理が止まっている" in p and f"id {fresh}" in p for p in report["problems"])
    assert "封印待ちの記録: 2件" in runner.invoke(cli, ["audit", "verify"]).stdout
    sealed = runner.invoke(cli, ["audit", "seal", "--json"])
    assert sealed.exit_code == 0, sealed.output
    assert json.loads(sealed.stdout) == {"sealed": 2}
    after = runner.invoke(cli, ["audit", "verify", "--json"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["unsealed"]["count"] == 0


def test_an_edited_sealed_entry_and_a_deleted_one_are_detected(
    db_session: Session, caller: Caller, backend: str
) -> None:
    ids = [_unsealed(db_session, caller, str(n)) for n in range(4)]
    service.seal_all(db_session)
    _without_guard(db_session, backend)
    db_session.execute(text("UPDATE audit_entries SET subject_id = 'x' WHERE id = :id"), {"id": ids[1]})
    db_session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[2]})
    db_session.expire_all()
    problems = service.verify_chain(db_session).problems
    assert "連番 2 の内容がハッシュと一致しません（改ざんの疑い）。" in problems
    assert "連番 3〜3 の記録が欠けています（削除の疑い）。" in problems


def test_an_unsealed_entry_deleted_before_sealing_is_not_detected_but_one_deleted_after_is(
    db_session: Session, caller: Caller, backend: str
) -> None:
    """The residual risk docs/security.md states: before its sealing (within PMH_AUDIT_SEAL_MS) an entry
    is covered by no link, so someone who can bypass the triggers may remove it unseen."""
    ids = [_unsealed(db_session, caller, str(n)) for n in range(3)]
    _without_guard(db_session, backend)
    db_session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[1]})
    assert service.seal_all(db_session) == 2
    assert service.verify_chain(db_session).ok  # not detected: it was never linked
    db_session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[0]})  # now sealed
    db_session.expire_all()
    assert any("欠けています" in p for p in service.verify_chain(db_session).problems)


def test_a_forged_seal_is_detected(db_session: Session, caller: Caller) -> None:
    """Whoever may seal (the app role) can fill an unsealed entry's link, but not with a valid HMAC."""
    service.seal_all(db_session)
    honest = _unsealed(db_session, caller, "1")
    service.seal_all(db_session)
    forged = _unsealed(db_session, caller, "2")
    head = db_session.get_one(AuditHead, 1, populate_existing=True)
    seq, previous = head.seq + 1, head.entry_hash
    entry = db_session.get_one(AuditEntry, forged)
    entry_values = {c: getattr(entry, c) for c in ("chain", "occurred_at", "organisation_id", "actor", "role")}
    stand_in = AuditEntry(**entry_values, action=entry.action, subject_type=entry.subject_type)
    stand_in.subject_id, stand_in.detail, stand_in.form = entry.subject_id, entry.detail, entry.form
    stand_in.seq, stand_in.prev_hash = seq, previous
    link = service.entry_hash(stand_in, b"g" * 32)  # any key but the hub's
    # Allowed by the trigger (it fills an empty link) — and the head moved along, as a sealer would.
    db_session.execute(
        update(AuditEntry).where(AuditEntry.id == forged).values(seq=seq, prev_hash=previous, entry_hash=link)
    )
    db_session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, entry_hash=link))
    db_session.expire_all()
    result = service.verify_chain(db_session)
    assert result.problems == [f"連番 {seq} の内容がハッシュと一致しません（改ざんの疑い）。"]
    assert _link(db_session, honest)[0] == seq - 1


def test_a_seal_written_past_the_sealer_stops_it_and_is_reported(db_session: Session, caller: Caller) -> None:
    """A forged link on the next sequence number collides with the sealer's: it refuses the chain (the
    entries then wait and verify reports them), rather than linking around the forgery."""
    first = _unsealed(db_session, caller, "1")
    second = _unsealed(db_session, caller, "2")
    db_session.execute(
        update(AuditEntry).where(AuditEntry.id == second).values(seq=1, prev_hash="0" * 64, entry_hash="f" * 64)
    )
    with pytest.raises(DBAPIError), db_session.begin_nested():
        service.seal_all(db_session)
    assert _link(db_session, first) == (None, None, None)
    problems = service.verify_chain(db_session).problems
    assert any("監査ログの末尾情報がありません" in p for p in problems)


# --- PostgreSQL with several connections: commit order, several sealers, the thread ------------------


@pytest.fixture
def committed(worker_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Caller]]:
    """A PostgreSQL database of its own, the process's sessions pointed at it (the sealer opens its own)."""
    engine = make_engine(_pg_database(f"sealer_{worker_name}"))
    with engine.begin() as connection:
        upgrade(connection)
    monkeypatch.setattr(pmh.db, "get_sessionmaker", lambda: sessionmaker(bind=engine, expire_on_commit=False))
    with Session(engine) as session, session.begin():
        clinic = f.institution(session)
        caller = Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")
    yield engine, caller
    engine.dispose()


def _chain_of(engine: Engine, ids: list[int]) -> dict[int, int | None]:
    with Session(engine) as session:
        rows = session.execute(select(AuditEntry.id, AuditEntry.seq).where(AuditEntry.id.in_(ids)))
        return {int(i): s for i, s in rows}


def test_an_entry_committed_after_a_later_id_was_sealed_is_still_sealed(committed: tuple[Engine, Caller]) -> None:
    engine, caller = committed
    slow, quick = Session(engine), Session(engine)
    slow.info[service.SESSION_CHAIN] = quick.info[service.SESSION_CHAIN] = 4
    with slow.begin(), quick.begin():
        smaller = service.record(slow, caller, "certificate.read", "certificate", "slow").id
        larger = service.record(quick, caller, "certificate.read", "certificate", "quick").id
        assert smaller < larger
        quick.commit()
        assert sealer.seal_pending() == 1  # the smaller id is not committed: not visible yet
        assert _chain_of(engine, [smaller, larger]) == {larger: 1}
        slow.commit()
    assert sealer.seal_pending() == 1  # found although a larger id was sealed before it
    assert _chain_of(engine, [smaller, larger]) == {larger: 1, smaller: 2}
    with Session(engine) as session:
        result = service.verify_chain(session)
        assert result.ok and result.entries == 2 and result.unsealed.count == 0


def test_several_sealers_at_once_seal_each_entry_once(committed: tuple[Engine, Caller]) -> None:
    engine, caller = committed
    with Session(engine) as session, session.begin():
        for n in range(600):
            session.info[service.SESSION_CHAIN] = n % 3
            service.record(session, caller, "certificate.read", "certificate", str(n))
    totals: list[int] = []
    errors: list[BaseException] = []

    def one_sealer() -> None:
        try:
            totals.append(sealer.seal_pending())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one_sealer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    totals.append(sealer.seal_pending())  # whatever a skipped chain left
    assert sum(totals) == 600
    with Session(engine) as session:
        result = service.verify_chain(session)
        assert result.ok and result.entries == 600 and result.unsealed.count == 0


def test_the_server_process_runs_a_sealer_thread(committed: tuple[Engine, Caller]) -> None:
    engine, caller = committed
    with Session(engine) as session, session.begin():
        session.info[service.SESSION_CHAIN] = 0
        entry_id = service.record(session, caller, "certificate.read", "certificate", "1").id
    running = sealer.start_sealer(seal_ms=50)
    try:
        deadline = time.monotonic() + 30
        while _chain_of(engine, [entry_id])[entry_id] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with Session(engine) as session, session.begin():
            session.info[service.SESSION_CHAIN] = 0
            last = service.record(session, caller, "certificate.read", "certificate", "2").id
    finally:
        running.stop()
    assert not running.thread.is_alive()
    assert _chain_of(engine, [entry_id, last]) == {entry_id: 1, last: 2}  # the last one sealed on the way out


def test_each_server_process_starts_its_sealer_and_stops_it(
    committed: tuple[Engine, Caller], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from pmh.app import create_app
    from pmh.settings import get_settings

    engine, caller = committed
    monkeypatch.setenv("PMH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PMH_AUDIT_SEAL_MS", "50")
    get_settings.cache_clear()
    with Session(engine) as session, session.begin():
        entry_id = service.record(session, caller, "certificate.read", "certificate", "1").id
    with TestClient(create_app()):
        assert any(t.name == "pmh-audit-sealer" for t in threading.enumerate())
        deadline = time.monotonic() + 30
        while _chain_of(engine, [entry_id])[entry_id] is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _chain_of(engine, [entry_id])[entry_id] == 1
    assert not any(t.name == "pmh-audit-sealer" for t in threading.enumerate())
    monkeypatch.setenv("PMH_AUDIT_SEALER", "false")
    get_settings.cache_clear()
    with TestClient(create_app()):
        assert not any(t.name == "pmh-audit-sealer" for t in threading.enumerate())
