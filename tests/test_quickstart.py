"""The README's quick start: `pmh serve --demo` on a fresh SQLite data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pmh.privacy import looks_like_my_number
from tests.live import LiveHub, serve_demo


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("quickstart") / "var") as live:
        yield live


def test_serves_docs_and_start_page(hub: LiveHub) -> None:
    assert "swagger" in httpx.get(f"{hub.base_url}/docs").text.lower()
    top = httpx.get(f"{hub.base_url}/")
    assert top.status_code == 200 and "医療費助成" in top.text


def test_demo_keys_work_for_every_role(hub: LiveHub) -> None:
    keys = hub.credentials()["keys"]
    roles = set()
    for key in keys:
        me = httpx.get(f"{hub.base_url}/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})
        assert me.status_code == 200, me.text
        roles.add(me.json()["role"])
    assert roles == {"municipality", "institution", "card_reader", "operator"}


def test_data_lives_in_the_embedded_sqlite_file(hub: LiveHub) -> None:
    assert (hub.data_dir / "pmh.sqlite3").stat().st_size > 0
    assert oct((hub.data_dir / "demo-credentials.json").stat().st_mode & 0o777) == "0o600"


def test_server_log_is_structured_and_has_no_my_number(hub: LiveHub, tmp_path: Path) -> None:
    number = "123456789018"
    httpx.post(f"{hub.base_url}/api/v1/codes/check", json={"value": number, "kind": "mynumber"})
    httpx.get(f"{hub.base_url}/login", params={"next": f"/x{number}"})
    log = hub.log_path.read_text()
    assert '"logger": "pmh.http"' in log
    assert number not in log
    assert not any(looks_like_my_number(token) for token in log.replace('"', " ").split())
