"""A database that goes away answers 503 with Retry-After (never 500, never a hang), then recovers.

PostgreSQL only (the embedded database does not fail over). The hub reaches its own database
through a small TCP proxy in this test, which can refuse connections (no primary), accept and say
nothing (a host that vanished), or forward again (the new primary at the same address); a standby
is simulated with ``default_transaction_read_only`` on the database.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

import pmh.db
import pmh.deps
from pmh.app import create_app
from pmh.availability import RETRY_AFTER_SECONDS, is_unavailable
from pmh.db import make_engine
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import PG_ADMIN_URL, _pg_database


class Proxy:
    """A TCP proxy to PostgreSQL on a port of its own: ``up``, ``refuse`` or ``silent``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "up"
        self.port = 0
        self._server: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.up()

    def up(self) -> None:
        self.mode = "up"
        if self._server is None:
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self.port))
            server.listen(16)
            self.port = server.getsockname()[1]
            self._server = server
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def refuse(self) -> None:
        """No primary: every connection is cut and new ones are refused (nothing listens)."""
        self.mode = "refuse"
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
            self._server.close()
            self._server = None
        self._cut()

    def silent(self) -> None:
        """A vanished host: connections are accepted and never answered."""
        self.up()
        self.mode = "silent"
        self._cut()

    def close(self) -> None:
        self.refuse()

    def _cut(self) -> None:
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(client)
            if self.mode == "silent":
                continue  # held open, never answered
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def hub(worker_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Proxy, str, str]]:
    """The app on a database of its own reached through the proxy; a municipality's key; the db name."""
    direct_url = _pg_database(f"failover_{worker_name}")
    name = direct_url.rsplit("/", 1)[1]
    direct = make_engine(direct_url)
    with direct.begin() as connection:
        upgrade(connection)
    with Session(direct) as session, session.begin():
        key = f.api_key(session, f.municipality(session), "municipality")
    direct.dispose()
    target = make_engine(direct_url).url
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    monkeypatch.setenv("PMH_DATABASE_CONNECT_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    engine = make_engine(direct_url.replace(f":{target.port or 5432}/", f":{proxy.port}/"))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(pmh.db, "get_sessionmaker", lambda: factory)
    monkeypatch.setattr(pmh.deps, "get_sessionmaker", lambda: factory)
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield client, proxy, key, name
    finally:
        engine.dispose()
        proxy.close()
        _read_only(name, False)


def _read_only(database: str, on: bool, restart: bool = True) -> None:
    """Make the database behave as a standby for new sessions (on) or as a primary again (off).

    A session keeps the read-only default it connected with, so without ``restart`` the sessions
    opened meanwhile stay "on the standby" while new ones reach "the new primary" — as when the
    address moves on to the promoted member while the old connections still lead to a standby.
    """
    admin: Engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
            connection.execute(text(f'ALTER DATABASE "{database}" {setting}'))
            if not restart:
                return
            # a failover restarts the server: every session of the old one ends
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": database}
            )
    finally:
        admin.dispose()


def _assert_503(response: object) -> None:
    status = getattr(response, "status_code", None)
    assert status == 503, getattr(response, "text", "")
    headers = getattr(response, "headers", {})
    assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


def _program(code: str, payer: str) -> dict[str, object]:
    return {"program_code": code, "payer_numbers": [payer]}


def test_no_primary_answers_503_then_the_pool_recovers_by_itself(hub: tuple[TestClient, Proxy, str, str]) -> None:
    client, proxy, key, _ = hub
    assert client.get("/api/v1/programs", headers=f.bearer(key)).status_code == 200  # a pooled connection
    proxy.refuse()
    read = client.get("/api/v1/programs", headers=f.bearer(key))
    _assert_503(read)
    problem = read.json()
    assert problem["code"] == "database_unavailable" and "データベース" in problem["detail"]
    assert read.headers["content-type"].startswith("application/problem+json")
    _assert_503(client.post("/api/v1/programs", json=_program("kodomo", f.KODOMO_PAYER), headers=f.bearer(key)))
    page = client.get("/login", headers={"accept": "text/html"})  # a page that reads nothing still works
    assert page.status_code == 200
    proxy.up()  # the new primary, at the same address
    created = client.post("/api/v1/programs", json=_program("kodomo", f.KODOMO_PAYER), headers=f.bearer(key))
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/programs", headers=f.bearer(key)).status_code == 200


def test_an_upload_while_there_is_no_primary_is_503_before_its_body(hub: tuple[TestClient, Proxy, str, str]) -> None:
    client, proxy, key, _ = hub
    proxy.refuse()
    files = {"file": ("certificates.csv", b"payer_number\n", "text/csv")}
    _assert_503(client.post("/api/v1/uploads", files=files, headers=f.bearer(key)))


def test_a_host_that_never_answers_is_503_after_the_connect_timeout(hub: tuple[TestClient, Proxy, str, str]) -> None:
    client, proxy, key, _ = hub
    proxy.silent()
    outcome: dict[str, object] = {}
    worker = threading.Thread(target=lambda: outcome.update(r=client.get("/api/v1/programs", headers=f.bearer(key))))
    worker.start()
    worker.join(timeout=60)  # a bound for the test only; the hub's own bound is the connect timeout (1 s here)
    assert not worker.is_alive(), "the request hung"
    _assert_503(outcome["r"])
    proxy.up()
    assert client.get("/api/v1/programs", headers=f.bearer(key)).status_code == 200


def test_a_standby_answers_503_and_its_connections_are_dropped(hub: tuple[TestClient, Proxy, str, str]) -> None:
    client, _, key, name = hub
    assert client.get("/api/v1/programs", headers=f.bearer(key)).status_code == 200
    _read_only(name, True)  # the URL now reaches a standby
    refused = client.post("/api/v1/programs", json=_program("kodomo", f.KODOMO_PAYER), headers=f.bearer(key))
    _assert_503(refused)
    assert refused.json()["code"] == "database_unavailable"
    _read_only(name, False, restart=False)  # the same URL reaches a primary again; old sessions stay read-only
    created = client.post("/api/v1/programs", json=_program("kodomo", f.KODOMO_PAYER), headers=f.bearer(key))
    assert created.status_code == 201, created.text  # no read-only connection was kept in the pool


def test_a_page_without_a_primary_is_a_japanese_503_page(hub: tuple[TestClient, Proxy, str, str]) -> None:
    client, proxy, _, _ = hub
    proxy.refuse()
    page = client.post(
        "/login",
        data={"login": "someone", "password": "x" * 12, "totp": "123456"},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert page.status_code == 503 and page.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert page.headers["content-type"].startswith("text/html")
    assert "データベースに接続できません" in page.text


def test_what_counts_as_unavailable() -> None:
    class Orig(Exception):
        def __init__(self, sqlstate: str | None) -> None:
            super().__init__("x")
            self.sqlstate = sqlstate

    assert is_unavailable(InternalError("INSERT", {}, Orig("25006")))  # read-only transaction
    assert is_unavailable(OperationalError("SELECT 1", {}, Orig("57P01")))  # admin shutdown
    assert is_unavailable(OperationalError("SELECT 1", {}, Orig("08006")))  # connection failure
    assert not is_unavailable(InternalError("SELECT 1", {}, Orig("XX000")))  # a bug is a 500
    assert not is_unavailable(OperationalError("SELECT 1", {}, Orig("42P01")))
    assert not is_unavailable(ValueError("not a database error"))
