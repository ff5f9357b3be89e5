"""Benchmark: a large certificate file into PostgreSQL through the import engine, against COPY.

Measures, in one run on a fresh database:
- the engine: ``pmh certificates import FILE`` in a child process (validation, linking guard,
  versions, audit — everything a municipality's upload does): rows/s and the child's peak RSS;
- the ceiling: PostgreSQL ``COPY`` of the very rows the engine stored, into the same tables.

    .venv/bin/python benchmarks/ingest.py --rows 1000000
    .venv/bin/python benchmarks/ingest.py --rows 100000 --json

Targets (issue 3): ≥ 20,000 rows/s, ≤ 300 MB peak RSS, ratio ≥ 0.25.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _shared import MUNICIPALITY, fresh_database, measured, pmh, register_programs

TABLES = ("certificates", "certificate_versions")


def _copy_ceiling(url: str) -> tuple[int, float]:
    """Dump what the engine stored, empty the tables, and time COPY of the same rows back in."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    dumps: dict[str, bytes] = {}
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            buffer = io.BytesIO()
            with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for block in copy:
                    buffer.write(block)
            dumps[table] = buffer.getvalue()
        conn.execute("TRUNCATE link_reviews, certificate_versions, certificates RESTART IDENTITY CASCADE")
        conn.commit()
        started = time.perf_counter()
        with conn.transaction():
            for table in TABLES:
                with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    data = dumps[table]
                    for offset in range(0, len(data), 1 << 20):
                        copy.write(data[offset : offset + (1 << 20)])
        elapsed = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM certificates").fetchone()
    return int(rows[0]) if rows else 0, elapsed


def run(rows: int, keep: bool) -> dict[str, float | int]:
    """Run the benchmark and return its figures."""
    url = fresh_database("pmh_bench_ingest")
    workdir = Path(tempfile.mkdtemp(prefix="pmh-bench-"))
    env = {**os.environ, "PMH_DATABASE_URL": url, "PMH_DATA_DIR": str(workdir / "var"), "PMH_LOG_LEVEL": "WARNING"}
    env.setdefault("PMH_SECRET_KEY", "benchmark-secret")
    register_programs(env)
    certificates = workdir / "certificates.csv"
    insurance = workdir / "insurance.csv"
    print(f"generating {rows:,} rows …", file=sys.stderr)
    pmh(
        env,
        "certificates",
        "generate",
        "--rows",
        str(rows),
        "--municipality",
        MUNICIPALITY,
        "--out",
        str(certificates),
        "--insurance-out",
        str(insurance),
        "--encoding",
        "cp932",
    )
    print("importing insurance records …", file=sys.stderr)
    pmh(env, "insurance", "import", str(insurance))

    print("importing certificates through the engine …", file=sys.stderr)
    stdout, seconds, peak_mb = measured(
        env, "certificates", "import", str(certificates), "--municipality", MUNICIPALITY, "--json"
    )
    outcome = json.loads(stdout)
    if outcome["status"] != "applied" or outcome["accepted"] != rows:
        raise SystemExit(f"import did not apply every row: {stdout[:2000]}")

    print("timing COPY of the same rows …", file=sys.stderr)
    copied, copy_seconds = _copy_ceiling(url)
    if not keep:
        for path in (certificates, insurance):
            path.unlink()
    rows_per_s = rows / seconds
    copy_rows_per_s = copied / copy_seconds
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows_per_s),
        "peak_rss_mb": round(peak_mb, 1),
        "held_for_review": outcome["held_for_review"],
        "copy_rows_per_s": round(copy_rows_per_s),
        "ratio": round(rows_per_s / copy_rows_per_s, 3),
    }


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    figures = run(args.rows, args.keep)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"engine : {figures['rows']:,} rows in {figures['seconds']} s = {figures['rows_per_s']:,} rows/s, "
        f"peak RSS {figures['peak_rss_mb']} MB ({figures['held_for_review']:,} held for review)"
    )
    print(f"ceiling: COPY {figures['copy_rows_per_s']:,} rows/s")
    print(f"ratio  : {figures['ratio']} (target ≥ 0.25); rows/s target ≥ 20,000; peak target ≤ 300 MB")


if __name__ == "__main__":
    main()
