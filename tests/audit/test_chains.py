"""Several hash chains: appenders of different chains never wait for each other, and each verifies."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmh.audit import service
from pmh.audit.models import AuditEntry
from pmh.auth.schemas import Caller
from pmh.db import make_engine
from pmh.migrate import upgrade
from tests import factories as f
from tests.audit.test_chain import _without_guard
from tests.conftest import _pg_database


@pytest.fixture
def caller(db_session: Session) -> Caller:
    clinic = f.institution(db_session)
    return Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")


def _append(session: Session, caller: Caller, chain: int, count: int) -> None:
    """Append ``count`` entries from a session pinned to one chain (as a request's session would be)."""
    session.info[service.SESSION_CHAIN] = chain
    for n in range(count):
        service.record(session, caller, "certificate.read", "certificate", str(n))
    session.info.pop(service.SESSION_CHAIN)
    service.seal_all(session)  # PostgreSQL appends unsealed; SQLite sealed each at append


_FIELDS = (
    "seq",
    "occurred_at",
    "organisation_id",
    "actor",
    "role",
    "action",
    "subject_type",
    "subject_id",
    "detail",
    "prev_hash",
)


def test_plain_entries_of_chain_zero_keep_the_original_hash_form(db_session: Session, caller: Caller) -> None:
    db_session.info[service.SESSION_CHAIN] = 0
    entry = service.record(db_session, caller, "a", "t", "1", {"k": "v"})
    assert entry.chain == 0 and entry.form == service.KEYED
    # The same entry as it would have been written before the keyed form existed.
    plain = AuditEntry(**{c: getattr(entry, c) for c in _FIELDS}, chain=0, form=service.PLAIN)
    fields = [getattr(entry, c) for c in _FIELDS]
    fields[1] = entry.occurred_at.isoformat(timespec="microseconds")
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    assert service.entry_hash(plain) == hashlib.sha256(canonical).hexdigest()
    moved = AuditEntry(**{c: getattr(entry, c) for c in _FIELDS}, chain=1, form=service.PLAIN)
    assert service.entry_hash(moved) != service.entry_hash(plain)  # a chain's entries cannot pass as another's
    keyed_moved = AuditEntry(**{c: getattr(entry, c) for c in _FIELDS}, chain=1, form=service.KEYED)
    assert service.entry_hash(keyed_moved) != entry.entry_hash


def test_several_chains_each_verify_and_a_break_names_its_chain(
    db_session: Session, caller: Caller, backend: str
) -> None:
    for chain in (0, 3, 7):
        _append(db_session, caller, chain, 4)
    result = service.verify_chain(db_session)
    assert result.ok and result.entries == 12
    chains = db_session.scalars(text("SELECT DISTINCT chain FROM audit_entries ORDER BY chain")).all()
    # PostgreSQL keeps the chains apart; SQLite, whose writers are serialised anyway, writes chain 0 only.
    broken, expected = (7, "鎖 7 の連番 2") if backend == "postgresql" else (0, "連番 6")
    assert chains == ([0, 3, 7] if backend == "postgresql" else [0])
    _without_guard(db_session, backend)
    seq = 2 if backend == "postgresql" else 6
    db_session.execute(text(f"UPDATE audit_entries SET subject_id = 'x' WHERE chain = {broken} AND seq = {seq}"))
    db_session.expire_all()
    problems = service.verify_chain(db_session).problems
    assert problems == [f"{expected} の内容がハッシュと一致しません（改ざんの疑い）。"]


@pytest.fixture
def committed(tmp_path: Path, worker_name: str) -> Iterator[tuple[Engine, Caller]]:
    """A PostgreSQL database of its own with a clinic committed (concurrency needs separate connections)."""
    engine = make_engine(_pg_database(f"chains_{worker_name}"))
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        clinic = f.institution(session)
        caller = Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")
    yield engine, caller
    engine.dispose()


def _append_committed(engine: Engine, caller: Caller, chain: int, done: list[int]) -> None:
    """Append one entry as a reader does (no sealing) and commit."""
    with Session(engine) as session, session.begin():
        session.info[service.SESSION_CHAIN] = chain
        service.record(session, caller, "certificate.read", "certificate", "x")
    done.append(chain)


def test_appenders_never_wait_for_each_other_nor_for_a_sealer(committed: tuple[Engine, Caller]) -> None:
    """Before revision 0020 an appender of a chain waited for the other appenders of that chain; now none waits."""
    engine, caller = committed
    holder = Session(engine)
    holder.begin()
    _append(holder, caller, 1, 1)  # appended and sealed: holds chain 1's head until it commits
    done: list[int] = []
    for chain in (2, 1):  # another chain, and the very chain whose head is held
        appender = threading.Thread(target=_append_committed, args=(engine, caller, chain, done))
        appender.start()
        appender.join(timeout=10)
    assert done == [2, 1], "an appender waited for a lock"
    with Session(engine) as other_sealer, other_sealer.begin():
        assert service.seal_chain(other_sealer, 1) is None  # a held chain is skipped, not waited for
        assert service.seal_chain(other_sealer, 2) == 1
    holder.commit()
    holder.close()
    with Session(engine) as session, session.begin():
        assert service.seal_all(session) == 1
    with Session(engine) as session:
        result = service.verify_chain(session)
        assert result.ok and result.entries == 3 and result.unsealed.count == 0
