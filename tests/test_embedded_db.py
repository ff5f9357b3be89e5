"""The embedded database keeps every commit across a kill -9, and refuses a SQLite that would not.

SQLite before 3.50.4 wrote WAL frames with broken checksums after a ``ROLLBACK TO`` of a savepoint
whose pages had spilled to the WAL (a large rejected upload does exactly that): recovery stopped at
them, so after a crash every later commit was gone, and ``pmh audit verify`` still passed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh import db, migrate
from pmh.audit.models import AuditEntry
from pmh.registry.models import Certificate, Upload
from tests import factories as f
from tests.live import LiveHub, serve

HEADER = "処理区分,公費負担者番号,公費受給者番号,個人番号,氏名,氏名カナ,生年月日,性別,有効開始日"
REJECTED_ROWS = 20_000


def _rows(seeds: range, last_birth_date: str = "2015-06-01") -> bytes:
    lines = [HEADER]
    for seed in seeds:
        number = f"{f.KODOMO_PAYER},{f.recipient(seed)},{f.my_number(seed)},試験 太郎,シケン タロウ"
        lines.append(f"1,{number},2015-06-01,1,2026-04-01")
    lines[-1] = lines[-1].replace("2015-06-01", last_birth_date)
    return ("\n".join(lines) + "\n").encode()


def _prepare(database: Path) -> dict[str, str]:
    """Migrate a new database, register 八王子市's こども program and return a municipality key's header."""
    engine = db.make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        migrate.upgrade(connection)
        connection.commit()
    with Session(engine) as session, session.begin():
        f.program(session, f.municipality_caller(session), "kodomo", (f.KODOMO_PAYER,))
        key = f.api_key(session, f.municipality(session), "municipality")
    engine.dispose()
    return f.bearer(key)


def _upload(hub: LiveHub, key: dict[str, str], body: bytes) -> dict[str, object]:
    response = httpx.post(
        f"{hub.base_url}/api/v1/uploads", headers=key, files={"file": ("c.csv", body, "text/csv")}, timeout=120
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_commits_after_a_large_rejected_upload_survive_a_kill(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    key = _prepare(data_dir / "pmh.sqlite3")
    with serve(data_dir) as hub:
        rejected = _upload(hub, key, _rows(range(500_000, 500_000 + REJECTED_ROWS), last_birth_date="2015-13-45"))
        assert rejected["status"] == "rejected" and rejected["accepted"] == 0
        applied = _upload(hub, key, _rows(range(600_000, 600_005)))
        assert applied["status"] == "applied" and applied["accepted"] == 5
        read = httpx.get(f"{hub.base_url}/api/v1/uploads/{rejected['id']}/errors", headers=key)
        assert read.status_code == 200 and read.json()[0]["code"]
        os.kill(hub.pid, signal.SIGKILL)

    database = data_dir / "pmh.sqlite3"
    assert (data_dir / "pmh.sqlite3-wal").exists(), "the kill left the WAL to recover"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMH_")}
    env |= {"PMH_DATA_DIR": str(data_dir), "PMH_SECRET_KEY": "live-test-secret"}
    verify = subprocess.run(
        [sys.executable, "-m", "pmh", "audit", "verify", "--json"], env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    engine = db.make_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        uploads = conn.scalars(select(Upload.status).order_by(Upload.id)).all()
        later = conn.scalar(
            select(func.count()).select_from(Certificate).where(Certificate.recipient_number == f.recipient(600_004))
        )
        reads = conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "upload.errors.read")
        )
    engine.dispose()
    assert uploads[-2:] == ["rejected", "applied"], uploads
    assert later == 1
    assert reads, "the audit entry of the read after the rejected upload survived"
    assert json.loads(verify.stdout)["ok"] is True

    with serve(data_dir) as hub:  # the restarted hub serves the later upload
        again = httpx.get(f"{hub.base_url}/api/v1/uploads/{applied['id']}", headers=key)
        assert again.status_code == 200 and again.json()["status"] == "applied"


def test_a_sqlite_with_the_wal_defects_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ((3, 40, 1), (3, 49, 1), (3, 50, 4), (3, 51, 2)):
        with pytest.raises(db.UnsafeDatabase) as refused:
            db.check_sqlite_version(bad)
        message = refused.value.message
        assert "\n" not in message and ".".join(map(str, bad)) in message
        assert "使用できません" in message and "loses committed data" in message
    for good in ((3, 51, 3), (3, 53, 4), (4, 0, 0)):
        db.check_sqlite_version(good)
    monkeypatch.setattr(db, "sqlite_driver", lambda: types.SimpleNamespace(sqlite_version_info=(3, 40, 1)))
    with pytest.raises(db.UnsafeDatabase):
        db.make_engine("sqlite:///:memory:")


def test_the_hub_runs_on_a_safe_sqlite() -> None:
    engine = db.make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        version = conn.exec_driver_sql("select sqlite_version()").scalar()
    assert version is not None and tuple(int(p) for p in version.split(".")) >= db.SAFE_SQLITE


def test_the_command_line_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pmh import cli
    from pmh.settings import get_settings

    monkeypatch.setattr(db, "sqlite_driver", lambda: types.SimpleNamespace(sqlite_version_info=(3, 40, 1)))
    monkeypatch.setenv("PMH_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setattr(sys, "argv", ["pmh", "db", "upgrade"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "3.40.1" in err and "Traceback" not in err
