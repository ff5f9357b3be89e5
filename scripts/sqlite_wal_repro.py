"""Reproduce the WAL defect that made SQLite before 3.50.4 lose commits, with any DB-API SQLite module.

Usage: .venv/bin/python scripts/sqlite_wal_repro.py [sqlite3|pysqlite3] [ROWS]

In one transaction, ~200k rows (with an index, so that pages spill to the WAL and are then written
again) are inserted inside a SAVEPOINT that is rolled back; the transaction commits, then three
small transactions commit. The database and its -wal file are copied without the -shm file, as a
crash leaves them, and opened: recovery must find every commit. On SQLite 3.40.1 (Python's own
sqlite3 on Debian 12) nothing after the first row survives; on the bundled SQLite of pysqlite3 all do.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def reproduce(module: Any, rows: int = 200_000) -> list[str]:
    """Run the sequence with ``module`` and return the rows of ``later`` the recovered copy holds."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "a.db"
    con = module.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    con.execute("CREATE INDEX t_v ON t(v)")
    con.execute("CREATE TABLE later(id INTEGER PRIMARY KEY, v TEXT)")
    con.execute("INSERT INTO later(v) VALUES ('before')")
    con.execute("BEGIN IMMEDIATE")
    con.execute("SAVEPOINT big")
    con.executemany("INSERT INTO t(v) VALUES (?)", ((f"x{i}" * 20,) for i in range(rows)))
    con.execute("ROLLBACK TO big")
    con.execute("RELEASE big")
    con.execute("INSERT INTO later(v) VALUES ('same transaction')")
    con.execute("COMMIT")
    for i in range(3):
        con.execute("INSERT INTO later(v) VALUES (?)", (f"after {i}",))
    copy = Path(tempfile.mkdtemp())
    for suffix in ("", "-wal"):
        shutil.copy(f"{path}{suffix}", copy / f"a.db{suffix}")
    recovered = module.connect(str(copy / "a.db"))
    found = [str(row[0]) for row in recovered.execute("SELECT v FROM later ORDER BY id")]
    recovered.close()
    con.close()
    shutil.rmtree(folder)
    shutil.rmtree(copy)
    return found


def main() -> None:
    """Print the SQLite version and what the recovered copy kept."""
    name = sys.argv[1] if len(sys.argv) > 1 else "sqlite3"
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    module = importlib.import_module("pysqlite3.dbapi2" if name == "pysqlite3" else name)
    found = reproduce(module, rows)
    verdict = "kept every commit" if len(found) == 5 else "LOST COMMITS"
    print(f"{name} SQLite {module.sqlite_version}: {verdict}: {found}")


if __name__ == "__main__":
    main()
