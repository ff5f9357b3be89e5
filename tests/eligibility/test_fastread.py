"""The PostgreSQL read path gives exactly the general path's answer and audit entry, scoped the same way.

It runs against a committed database of its own (the fast path has its own connections, so the
tests' one-transaction session cannot hold its data), through the real app with its lifespan.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from pmh.app import create_app
from pmh.audit.models import AuditEntry
from pmh.auth import keycache
from pmh.auth import service as auth
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.db import get_engine, get_sessionmaker, make_engine, utcnow
from pmh.eligibility import fastread, result
from pmh.eligibility import reader as eligibility
from pmh.eligibility.models import Reception, ReceptionCertificate
from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate
from pmh.errors import NotFound
from pmh.migrate import upgrade
from pmh.registry.models import Certificate
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import _pg_database
from tests.eligibility import world as w


class World:
    def __init__(self, engine: Engine, key: str, caller: Caller, other: Caller, shared: int, none: int) -> None:
        self.engine, self.key, self.caller, self.other = engine, key, caller, other
        self.shared, self.none = shared, none


def _reader(session: Session, code: str, name: str) -> tuple[Caller, Caller]:
    org = f.institution(session, code, name)
    reader = Caller(org.id, org.code, org.name, "institution", "card_reader", "reader", "受付1", face_device=True)
    return reader, Caller(org.id, org.code, org.name, "institution", "institution", "key:test")


def _consent(session: Session, reader: Caller, card: str, subsidy: str, selected: list[str] | None = None) -> int:
    opened = eligibility.open_card_session(
        session, reader, CardSessionCreate(card_serial=card, auth="face", face_matched=True)
    )
    consent = ConsentCreate(subsidy=subsidy, selected=selected or [])  # type: ignore[arg-type]
    return eligibility.give_consent(session, reader, opened.id, consent).reception_id


@pytest.fixture
def world(worker_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    url = _pg_database(f"fastread_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        tokyo = f.municipality_caller(session, f.TOKYO)
        f.program(session, tokyo, "nanbyo", (w.NANBYO_PAYER,))
        f.program(session, tokyo, "shoman", (w.SHOMAN_PAYER,))
        f.insurance(session, w.MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
        w.register(
            session,
            tokyo,
            [
                w.certificate(w.NANBYO_PAYER, 1, monthly_cap=5000, cap_managed=1),
                w.certificate(w.SHOMAN_PAYER, 2, monthly_cap=2500),
            ],
        )
        card = cards.issue_card(session, w.MY_NUMBER, w.PIN).card_serial
        reader, caller = _reader(session, f.CLINIC_CODE, "テスト内科")
        _, other = _reader(session, f.OTHER_CLINIC_CODE, "別のクリニック")
        shared = _consent(session, reader, card, "all")
        none = _consent(session, reader, card, "none")
        clinic = auth.get_organisation(session, f.CLINIC_CODE)
        key = auth.create_api_key(session, clinic, "institution").key
    monkeypatch.setenv("PMH_DATABASE_URL", url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    keycache.reset()
    yield World(engine, key, caller, other, shared, none)
    keycache.reset()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    engine.dispose()


def _read_fast(world: World, caller: Caller, reception_id: int, **kwargs: Any) -> Any:
    async def read() -> Any:
        pool = fastread.open_pool(world.engine.url.render_as_string(hide_password=False), 2)
        await pool.open()
        try:
            return await fastread.eligibility(pool, caller, reception_id, w.TODAY, **kwargs)
        finally:
            await pool.close()

    return asyncio.run(read())


def _audit(world: World) -> list[AuditEntry]:
    with Session(world.engine) as session:
        query = select(AuditEntry).where(AuditEntry.action == "eligibility.read").order_by(AuditEntry.id)
        return list(session.scalars(query))


def test_the_fast_path_answers_exactly_as_the_general_path(world: World) -> None:
    """Both certificates were shared; one is then held for review, so it is withheld from both reads."""
    with Session(world.engine) as session, session.begin():
        held = session.scalars(select(Certificate).where(Certificate.payer_number == w.NANBYO_PAYER)).one()
        held.link_status = "held"
        held_id = held.id
    fast = _read_fast(world, world.caller, world.shared, total_cost=12_340)
    with Session(world.engine) as session, session.begin():
        general = result.eligibility(session, world.caller, world.shared, w.TODAY, "json", total_cost=12_340)
    assert fast.model_dump(mode="json") == general.model_dump(mode="json")
    assert len(fast.subsidies) == 1
    fast_entry, general_entry = _audit(world)[-2:]
    assert json.loads(fast_entry.detail) == json.loads(general_entry.detail)
    assert json.loads(fast_entry.detail)["withheld"] == [held_id]
    assert json.loads(fast_entry.detail)["certificates"] == [fast_id(world)]
    assert (fast_entry.organisation_id, fast_entry.actor, fast_entry.subject_id) == (
        general_entry.organisation_id,
        general_entry.actor,
        general_entry.subject_id,
    )


def fast_id(world: World) -> int:
    with Session(world.engine) as session:
        return session.scalars(select(Certificate.id).where(Certificate.payer_number == w.SHOMAN_PAYER)).one()


def test_the_fast_path_keeps_the_first_read_once(world: World) -> None:
    _read_fast(world, world.caller, world.shared)
    with Session(world.engine) as session:
        link = session.scalars(
            select(ReceptionCertificate).where(ReceptionCertificate.reception_id == world.shared).limit(1)
        ).one()
    assert link.first_read_at is not None
    assert json.loads(link.first_read or "{}")["payer_number"] in (w.SHOMAN_PAYER, w.NANBYO_PAYER)
    kept = link.first_read_at
    _read_fast(world, world.caller, world.shared)
    with Session(world.engine) as session:
        again = session.get_one(ReceptionCertificate, link.id)
    assert again.first_read_at == kept


def test_another_institution_and_a_withdrawn_consent_read_nothing(world: World) -> None:
    with pytest.raises(NotFound):
        _read_fast(world, world.other, world.shared)
    with Session(world.engine) as session, session.begin():
        session.get_one(Reception, world.shared).withdrawn_at = utcnow()
    with pytest.raises(NotFound):
        _read_fast(world, world.caller, world.shared)
    assert _audit(world) == []  # a refused read reads nobody's data and writes no entry


def test_the_app_serves_the_read_on_the_loop_with_a_cached_key(world: World) -> None:
    """Through HTTP: the same body as the general path, one audit entry per read, the key read once."""
    headers = {"Authorization": f"Bearer {world.key}"}
    url = f"/api/v1/receptions/{world.shared}/eligibility?service_date={w.TODAY.isoformat()}"
    with TestClient(create_app()) as client:
        assert client.app.state.read_pool is not None  # type: ignore[attr-defined]
        first = client.get(url, headers=headers)
        cache = keycache.cache_for(get_engine(), get_settings().api_key_cache_seconds)
        deadline = time.monotonic() + 10
        while not cache.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        client.get(url, headers=headers)  # verified once the revocation listener listens: now cached
        seen: list[str] = []

        def note(*args: Any) -> None:
            seen.append(args[2])

        event.listen(get_engine(), "before_cursor_execute", note)
        second = client.get(url, headers=headers)
        event.remove(get_engine(), "before_cursor_execute", note)
        orca = client.get(url + "&format=orca", headers=headers)
        nothing = client.get(f"/api/v1/receptions/{world.none}/eligibility", headers=headers)
        wrong = client.get(url, headers={"Authorization": "Bearer pmh_nope_wrong"})
    assert first.status_code == second.status_code == orca.status_code == 200, first.text
    assert first.json() == second.json()
    # The second read took neither the general path nor a key lookup (the sealer's own statements aside).
    assert [sql[:60] for sql in seen if "reception" in sql or "api_keys" in sql] == []
    assert len(first.json()["subsidies"]) == 2
    assert nothing.status_code == 200 and nothing.json()["subsidies"] == []
    assert wrong.status_code == 401
    assert len(_audit(world)) == 5


def test_the_read_path_inserts_every_column_an_append_writes() -> None:
    from pmh.audit import service as audit

    assert tuple(audit.entry_values(0, None, "eligibility.read", "reception", "1")) == audit.APPENDED_COLUMNS
    assert all(f"%({name})s" in fastread.INSERT_AUDIT_SQL for name in audit.APPENDED_COLUMNS)
