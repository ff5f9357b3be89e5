"""受付番号: 1, 2, 3 … per institution and day in Japan, never given twice, even at once (both DBs)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmh import clock
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.db import make_engine
from pmh.eligibility import reader as eligibility
from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate
from pmh.migrate import upgrade
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database
from tests.eligibility import world as w

THREADS = 8


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _numbers(world: w.World, key: str, day: dt.date) -> list[int | None]:
    listed = world.client.get("/api/v1/receptions", params={"date": day.isoformat()}, headers=f.bearer(key))
    assert listed.status_code == 200, listed.text
    return [row["number"] for row in listed.json()]


def test_numbers_count_from_one_per_institution_and_day(world: w.World) -> None:
    day = w.TODAY
    first, second = world.receive("none"), world.receive("all")
    assert _numbers(world, world.clinic_key, day) == [1, 2]
    world.receive("none", key=world.other_reader_key)
    assert _numbers(world, world.other_clinic_key, day) == [1]  # the other clinic has its own count
    tomorrow = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 5), tzinfo=clock.JST)
    with clock.frozen_at(tomorrow):
        world.receive("none")
    assert _numbers(world, world.clinic_key, day + dt.timedelta(days=1)) == [1]
    assert first < second


def test_the_consent_answer_carries_the_reception_number(world: w.World) -> None:
    world.receive("none")
    card_session = world.open_session()
    answer = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent", json={"subsidy": "none"}, headers=world.reader()
    )
    assert answer.status_code == 201 and answer.json()["reception_number"] == 2


@pytest.fixture(params=BACKENDS)
def sessions_waiting(
    request: pytest.FixtureRequest, tmp_path: Path, worker_name: str
) -> Iterator[tuple[Engine, Caller, list[str]]]:
    """A database of its own where one clinic's reader holds THREADS open card sessions."""
    sqlite = f"sqlite:///{tmp_path / 'numbers.sqlite3'}"
    url = sqlite if request.param == "sqlite" else _pg_database(f"numbers_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        f.insurance(session, w.MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
        card = cards.issue_card(session, w.MY_NUMBER, w.PIN)
        org = f.institution(session)
        reader = Caller(org.id, org.code, org.name, "institution", "card_reader", "reader")
        tokens = [
            eligibility.open_card_session(
                session, reader, CardSessionCreate(card_serial=card.card_serial, auth="pin", pin=w.PIN)
            ).id
            for _ in range(THREADS)
        ]
    yield engine, reader, tokens
    engine.dispose()


def test_readers_answering_at_once_never_share_a_number(sessions_waiting: tuple[Engine, Caller, list[str]]) -> None:
    engine, reader, tokens = sessions_waiting
    start = threading.Barrier(THREADS)
    numbers: list[int | None] = []
    failures: list[BaseException] = []

    def answer(token: str) -> None:
        try:
            start.wait()
            with Session(engine) as session, session.begin():
                numbers.append(
                    eligibility.give_consent(session, reader, token, ConsentCreate(subsidy="none")).reception_number
                )
        except BaseException as exc:  # reported below with the numbers
            failures.append(exc)

    threads = [threading.Thread(target=answer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sorted(n for n in numbers if n is not None) == list(range(1, THREADS + 1))
