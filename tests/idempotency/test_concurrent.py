"""Idempotency keys with real commits (both databases): a concurrent duplicate, a crash mid-request.

The database is one of its own (``committed``, from the copay race test): two clinics each hold a
consented reception of the same 難病 patient. The concurrent cases hold the first request's
transaction open on purpose and start the duplicate on a second connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

import pmh.db
import pmh.deps
from pmh.app import create_app
from pmh.audit.models import AuditEntry
from pmh.auth import service as auth
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.copay import service as copay
from pmh.copay.models import CopayEntry
from pmh.copay.schemas import CopayEntryCreate
from pmh.idempotency import edge, service
from pmh.idempotency.models import IdempotencyRecord
from pmh.idempotency.service import KeyedRequest, StoredAnswer
from tests import factories as f
from tests.copay.test_race import committed
from tests.eligibility import world as w

__all__ = ["committed"]

World = tuple[Engine, list[tuple[Caller, int]]]


def _body(reception_id: int) -> CopayEntryCreate:
    return CopayEntryCreate(
        reception_id=reception_id,
        payer_number=w.NANBYO_PAYER,
        recipient_number=f.recipient(1),
        service_date=w.TODAY,
        total_cost=10_000,
        copay_amount=1000,
    )


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _request(key: str = "dup-1") -> KeyedRequest:
    return KeyedRequest(key=key, fingerprint="f" * 64, method="POST", path="/api/v1/copay-entries")


def _keyed_entry(
    engine: Engine, caller: Caller, reception_id: int, before_commit: Callable[[], None] = lambda: None
) -> StoredAnswer:
    """Record one entry under the key ``dup-1`` in a transaction of its own, as the route would."""

    def work() -> StoredAnswer:
        entry = copay.record_entry(session, caller, _body(reception_id))
        before_commit()
        return StoredAnswer(201, "application/json", entry.model_dump_json())

    with Session(engine) as session, session.begin():
        return service.run(session, service.caller_scope(caller.organisation_id, caller.role), _request(), work)


def _blocked_on_the_key(engine: Engine) -> bool:
    """Return True once another backend waits on a lock (PostgreSQL) — the duplicate's insert."""
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO idempotency_keys%'"
            )
        )
    return bool(waiting)


def _start_first(engine: Engine, caller: Caller, reception_id: int) -> tuple[threading.Thread, threading.Event, dict]:
    """Start the first request in a thread; it holds its transaction open until the event is set."""
    working, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold() -> None:
        working.set()
        assert release.wait(timeout=60)

    def first() -> None:
        try:
            outcome["answer"] = _keyed_entry(engine, caller, reception_id, before_commit=hold)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    assert working.wait(timeout=60)
    return thread, release, outcome


def test_a_concurrent_duplicate_waits_for_the_first_and_gets_its_answer(committed: World) -> None:
    engine, receptions = committed
    caller, reception_id = receptions[0]
    first, release, outcome = _start_first(engine, caller, reception_id)
    second: dict[str, Any] = {}

    def duplicate() -> None:
        try:
            second["answer"] = _keyed_entry(engine, caller, reception_id)
        except Exception as exc:
            second["error"] = exc

    thread = threading.Thread(target=duplicate)
    thread.start()
    deadline = time.monotonic() + 30
    if engine.dialect.name == "postgresql":
        while not _blocked_on_the_key(engine):  # the duplicate's insert waits on the first's key
            assert time.monotonic() < deadline, "the duplicate never reached the key"
            time.sleep(0.05)
    else:
        time.sleep(0.5)  # SQLite: the duplicate waits for the write lock (BEGIN IMMEDIATE)
    assert thread.is_alive()  # still waiting: it has written nothing
    release.set()
    first.join(timeout=60)
    thread.join(timeout=60)
    assert "error" not in outcome and "error" not in second, (outcome, second)
    assert not outcome["answer"].replayed
    assert second["answer"].replayed
    assert second["answer"].body == outcome["answer"].body
    assert _count(engine, CopayEntry) == 1
    assert _count(engine, IdempotencyRecord) == 1


@pytest.mark.parametrize("committed", ["postgresql"], indirect=True)
def test_a_duplicate_waits_only_so_long_then_409_in_progress(committed: World, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, receptions = committed
    caller, reception_id = receptions[0]
    monkeypatch.setattr(service, "WAIT_MS", 300)
    first, release, outcome = _start_first(engine, caller, reception_id)
    try:
        with pytest.raises(service.InProgress) as refused:
            _keyed_entry(engine, caller, reception_id)
    finally:
        release.set()
        first.join(timeout=60)
    assert refused.value.headers() == {"Retry-After": str(service.RETRY_AFTER_SECONDS)}
    assert refused.value.status_code == 409 and refused.value.code == "idempotency_in_progress"
    assert "error" not in outcome
    assert _count(engine, CopayEntry) == 1
    # once the first has committed, the same duplicate is answered from the table
    assert _keyed_entry(engine, caller, reception_id).replayed
    assert _count(engine, CopayEntry) == 1


@pytest.fixture
def app_on(committed: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Engine, str, int]]:
    """The app on the committed database (real commits per request) and a clinic's key and reception."""
    engine, receptions = committed
    caller, reception_id = receptions[0]
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(pmh.db, "get_sessionmaker", lambda: factory)
    monkeypatch.setattr(pmh.deps, "get_sessionmaker", lambda: factory)
    with Session(engine) as session, session.begin():
        organisation = session.get(Organisation, caller.organisation_id)
        assert organisation is not None
        key = auth.create_api_key(session, organisation, "institution").key
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client, engine, key, reception_id


def test_a_crash_after_the_write_rolls_back_the_write_and_the_key_together(
    app_on: tuple[TestClient, Engine, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, engine, key, reception_id = app_on
    body = _body(reception_id).model_dump(mode="json")
    headers = f.bearer(key) | {"Idempotency-Key": "crash-1"}
    audits = _count(engine, AuditEntry)

    def crash(result: Any, route: Any) -> StoredAnswer:
        raise RuntimeError("the process dies after the entry was written, before the key's answer")

    with monkeypatch.context() as patch:
        patch.setattr(edge, "_stored", crash)
        assert client.post("/api/v1/copay-entries", json=body, headers=headers).status_code == 500
    assert (_count(engine, CopayEntry), _count(engine, IdempotencyRecord)) == (0, 0)
    assert _count(engine, AuditEntry) == audits
    retried = client.post("/api/v1/copay-entries", json=body, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    again = client.post("/api/v1/copay-entries", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == retried.json()
    assert (_count(engine, CopayEntry), _count(engine, IdempotencyRecord)) == (1, 1)
