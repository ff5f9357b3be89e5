"""What the benchmark scripts share: the PostgreSQL server, a fresh database, the ``pmh`` command and
the demo municipality's programs. Imported by the scripts as ``_shared`` (their own folder is first on
``sys.path`` when run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def peak_rss_mb(pid: int) -> float:
    """Return the process's peak resident set (VmHWM) so far, in MB."""
    try:
        for entry in Path(f"/proc/{pid}/status").read_text().splitlines():
            if entry.startswith("VmHWM:"):
                return int(entry.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def measured(env: dict[str, str], *args: str, sample_seconds: float = 0.05) -> tuple[str, float, float]:
    """Run a pmh command; return its stdout, wall time and peak RSS (sampled from /proc every ``sample_seconds``)."""
    # Output goes to files, not pipes, so a chatty child can never block while it is being sampled.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        with subprocess.Popen([sys.executable, "-m", "pmh", *args], env=env, stdout=out, stderr=err) as process:
            peak = 0.0
            while process.poll() is None:
                peak = max(peak, peak_rss_mb(process.pid))
                time.sleep(sample_seconds)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"pmh {' '.join(args)} failed ({process.returncode}):\n{stderr[-3000:]}\n{stdout[:2000]}")
    return stdout, seconds, peak
