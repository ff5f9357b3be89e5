"""Rate limits on staff sign-in, card serials and PINs, and wrong API keys: 429 with Retry-After.

The counts live in the database, so two app instances (two engines and session factories on one
database) share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pmh.auth import limits, service
from pmh.auth.models import RateLimitWindow
from pmh.db import make_engine
from pmh.errors import RateLimited
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database
from tests.eligibility import world as w

PASSWORD = "correct horse battery"


def _limits(monkeypatch: pytest.MonkeyPatch, **values: int) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"PMH_LIMIT_{name.upper()}", str(value))
    get_settings.cache_clear()


def _assert_limited(response: Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= get_settings().limit_window_seconds


def _login(client: TestClient, login: str, password: str = "wrong password!!") -> Response:
    return client.post("/login", data={"login": login, "password": password, "totp": "000000"})


def test_sign_in_is_limited_per_login(client: TestClient, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, sign_in_per_login=3)
    service.create_staff_user(db_session, f.municipality(db_session), "limited-1", "担当者", PASSWORD)
    for _ in range(3):
        assert _login(client, "limited-1").status_code == 401
    _assert_limited(_login(client, "limited-1", PASSWORD))
    assert _login(client, "someone-else").status_code == 401


def test_unknown_logins_are_limited_like_known_ones(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, sign_in_per_login=2)
    for _ in range(2):
        assert _login(client, "nobody").status_code == 401
    _assert_limited(_login(client, "nobody"))


def test_sign_in_is_limited_per_client_address(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, sign_in_per_client=3)
    for number in range(3):
        assert _login(client, f"guess-{number}").status_code == 401
    _assert_limited(_login(client, "guess-99"))


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def test_card_attempts_are_limited_per_serial(world: w.World, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, card_per_serial=2)
    wrong = {"card_serial": world.card_serial, "auth": "pin", "pin": "0000"}
    assert world.client.post("/api/v1/card-sessions", json=wrong, headers=world.reader()).status_code == 401
    other = f.bearer(world.other_reader_key)  # another reader, the same card
    assert world.client.post("/api/v1/card-sessions", json=wrong, headers=other).status_code == 401
    right = wrong | {"pin": w.PIN}
    _assert_limited(world.client.post("/api/v1/card-sessions", json=right, headers=world.reader()))


def test_card_attempts_are_limited_per_reader(world: w.World, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, card_per_reader=3)
    for number in range(3):
        unknown = {"card_serial": f"UNKNOWN{number:05d}", "auth": "pin", "pin": "1234"}
        response = world.client.post("/api/v1/card-sessions", json=unknown, headers=world.reader())
        assert response.json()["code"] == "card_unknown"
    _assert_limited(world.client.post("/api/v1/card-sessions", json=unknown, headers=world.reader()))
    assert world.open_session(key=world.other_reader_key)["id"]  # another reader is not held up


def test_wrong_api_keys_are_limited_per_client_address(
    client: TestClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(monkeypatch, api_key_per_client=3)
    good = f.api_key(db_session, f.operator(db_session), "operator")
    for number in range(3):
        assert client.get("/api/v1/me", headers=f.bearer(f"pmh_wrong_{number}")).status_code == 401
    _assert_limited(client.get("/api/v1/me", headers=f.bearer("pmh_wrong_x")))
    assert client.get("/api/v1/me", headers=f.bearer(good)).status_code == 200  # a valid key still works


def test_counts_are_stored_only_as_digests(client: TestClient, db_session: Session) -> None:
    _login(client, "secret-login-name")
    rows = db_session.scalars(select(RateLimitWindow)).all()
    assert {r.scope for r in rows} == {"sign_in_login", "sign_in_client"}
    assert all("secret-login-name" not in r.key_digest and "testclient" not in r.key_digest for r in rows)


@pytest.fixture(params=BACKENDS)
def two_instances(
    request: pytest.FixtureRequest, tmp_path: Path, worker_name: str
) -> Iterator[tuple[sessionmaker[Session], sessionmaker[Session]]]:
    """Two engines and session factories on one committed database, as two server processes have."""
    url = (
        f"sqlite:///{tmp_path / 'limits.sqlite3'}"
        if request.param == "sqlite"
        else _pg_database(f"limits_{worker_name}")
    )
    first, second = make_engine(url), make_engine(url)
    with first.begin() as connection:
        upgrade(connection)
    yield sessionmaker(bind=first), sessionmaker(bind=second)
    first.dispose()
    second.dispose()


def _fail(factory: sessionmaker[Session], target: limits.Target) -> RateLimited | None:
    with factory() as session, session.begin():
        return limits.note_failures(session, [target])


def test_two_app_instances_share_the_count(
    two_instances: tuple[sessionmaker[Session], sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(monkeypatch, sign_in_per_login=3)
    first, second = two_instances
    target = limits.Target("sign_in_login", "shared-login")
    assert _fail(first, target) is None
    assert _fail(second, target) is None
    assert _fail(first, target) is None
    with second() as session, pytest.raises(RateLimited) as refused:
        limits.refuse_if_limited(session, [target])
    assert refused.value.headers()["Retry-After"] == str(refused.value.retry_after)
    assert isinstance(_fail(second, target), RateLimited)  # the fourth failure, in the other instance
    with first() as session:
        limits.refuse_if_limited(session, [limits.Target("sign_in_login", "another-login")])


def test_two_app_instances_share_the_count_over_http(
    two_instances: tuple[sessionmaker[Session], sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmh.app import create_app
    from pmh.db import transaction
    from pmh.deps import get_session

    _limits(monkeypatch, sign_in_per_login=2)

    def sessions_of(factory: sessionmaker[Session]) -> Callable[[], Iterator[Session]]:
        def _session() -> Iterator[Session]:
            with factory() as session:
                yield from transaction(session)

        return _session

    clients = []
    for factory in two_instances:
        app = create_app()
        app.dependency_overrides[get_session] = sessions_of(factory)
        clients.append(TestClient(app))
    assert _login(clients[0], "shared").status_code == 401
    assert _login(clients[1], "shared").status_code == 401
    _assert_limited(_login(clients[0], "shared"))
    _assert_limited(_login(clients[1], "shared"))
