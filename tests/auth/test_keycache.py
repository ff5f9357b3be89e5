"""The verified-key cache: hits skip the database, revocation reaches other processes, no stale refills."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from pmh.auth import keycache, service
from pmh.auth.schemas import Caller
from pmh.db import make_engine
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database

CALLER = Caller(1, "1310112345", "テスト内科", "institution", "institution", "key:abcd")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_answers_only_while_its_listener_is_connected() -> None:
    cache = keycache.KeyCache(seconds=30)
    cache.put("d", CALLER, cache.generation)
    assert cache.get("d") is None
    cache.connected = True
    cache.put("d", CALLER, cache.generation)
    assert cache.get("d") == CALLER
    cache.disconnect()
    assert cache.get("d") is None


def test_an_entry_expires_after_the_cache_period() -> None:
    clock = FakeClock()
    cache = keycache.KeyCache(seconds=30, clock=clock)
    cache.connected = True
    cache.put("d", CALLER, cache.generation)
    clock.now += 29.9
    assert cache.get("d") == CALLER
    clock.now += 0.2
    assert cache.get("d") is None


def test_a_lookup_that_began_before_a_clear_is_not_kept() -> None:
    """A key read before a revocation committed must not come back after the revocation's notice."""
    cache = keycache.KeyCache(seconds=30)
    cache.connected = True
    began = cache.generation
    cache.clear()  # the notice arrives while the lookup is still running
    cache.put("d", CALLER, began)
    assert cache.get("d") is None


def test_a_zero_period_turns_the_cache_off() -> None:
    cache = keycache.KeyCache(seconds=0)
    cache.connected = True
    cache.put("d", CALLER, cache.generation)
    assert cache.get("d") is None


# --- against a real database, committed, with a second process's revocation ----------------------


@pytest.fixture(params=BACKENDS)
def committed(request: pytest.FixtureRequest, tmp_path: Path, worker_name: str) -> Iterator[tuple[Engine, str, str]]:
    """A database of its own with one institution key, committed; yields (engine, key, prefix)."""
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}" if request.param == "sqlite" else _pg_database(f"keys_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        clinic = f.institution(session)
        issued = service.create_api_key(session, clinic, "institution")
    keycache.reset()
    yield engine, issued.key, issued.prefix
    keycache.reset()
    engine.dispose()


def _authenticate(engine: Engine, key: str) -> Caller:
    with Session(engine) as session, session.begin():
        return service.authenticate_api_key(session, key)


def _wait_connected(engine: Engine) -> keycache.KeyCache:
    cache = keycache.cache_for(engine, get_settings().api_key_cache_seconds)
    deadline = time.monotonic() + (10 if engine.dialect.name == "postgresql" else 0)
    while not cache.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    return cache


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_cached_key_is_not_read_again_on_postgresql(committed: tuple[Engine, str, str]) -> None:
    engine, key, _ = committed
    first = _authenticate(engine, key)
    cache = _wait_connected(engine)
    if engine.dialect.name == "sqlite":
        assert not cache.connected  # no NOTIFY on SQLite: keys are never cached
    _authenticate(engine, key)  # fills the cache where there is one
    seen = _statements(engine)
    again = _authenticate(engine, key)
    reads = [s for s in seen if "api_keys" in s]
    assert again == first
    assert len(reads) == (1 if engine.dialect.name == "sqlite" else 0)


def test_a_revocation_in_another_process_drops_the_cached_key(
    committed: tuple[Engine, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revoking 'process' has its own engine and none of this one's caches: only the notice can tell."""
    engine, key, prefix = committed
    _authenticate(engine, key)
    _wait_connected(engine)
    _authenticate(engine, key)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    ours = keycache._caches
    monkeypatch.setattr(keycache, "_caches", {})
    try:
        with Session(other) as session, session.begin():
            service.revoke_api_key(session, prefix)
    finally:
        monkeypatch.setattr(keycache, "_caches", ours)
        other.dispose()
    deadline = time.monotonic() + 5
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            _authenticate(engine, key)
            time.sleep(0.02)
        except service.KeyRefused:
            refused = True
    assert refused


def test_many_threads_share_one_listener(committed: tuple[Engine, str, str]) -> None:
    engine, key, _ = committed
    callers: list[Caller] = []
    threads = [threading.Thread(target=lambda: callers.append(_authenticate(engine, key))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(callers) == 8 and len(set(callers)) == 1
    assert len([t for t in threading.enumerate() if t.name == "pmh-key-revocations"]) <= 1
