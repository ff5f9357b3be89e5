"""What the benchmark scripts share: the PostgreSQL server, a fresh database, the ``pmh`` command and
the demo municipality's programs. Imported by the scripts as ``_shared`` (their own folder is first on
``sys.path`` when run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, text

MUNICIPALITY = "132012"  # 八王子市
PROGRAMS = (("kodomo", "88138243"), ("hitorioya", "81136244"), ("shoman", "52136017"))
ADMIN_URL = os.environ.get("PMH_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def database_url(name: str) -> str:
    """Return the URL of database ``name`` on the benchmark server."""
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(name)


def pmh(env: dict[str, str], *args: str) -> str:
    """Run a ``pmh`` command in a child process; return its output, or stop with its error output."""
    done = subprocess.run([sys.executable, "-m", "pmh", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"pmh {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[:2000]}"
        )
    return done.stdout


def register_programs(env: dict[str, str]) -> None:
    """Migrate the database and register the municipality's programs."""
    pmh(env, "db", "upgrade")
    for program, payer in PROGRAMS:
        pmh(env, "programs", "add", "--municipality", MUNICIPALITY, "--program", program, "--payer-number", payer)
