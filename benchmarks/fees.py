"""Benchmark: the fiscal year's operating and introduction fees over the national registrations.

Builds a dedicated PostgreSQL database (``pmh_bench_fees``) with every 市区町村 of the master (1,741)
running three programs and N registrations spread over them (``generate_series``; about one in ten
certificates has a change, one in twenty ended before the reference date, one in forty-one was
uploaded after it, one in ninety-seven was rejected by the review queue, one in fifty is a second
certificate of a person already counted). The load writes the tables directly, so the kept registered
counts of the reference date are then built once from the versions (``pmh fees rebuild-counts``: the
aggregate fees computed before the summary existed, timed as ``rebuild_seconds``); the uploads keep
them up to date in production. Then it measures ``pmh fees compute --fiscal-year 2027 --json`` in a
child process: wall time and the child's peak RSS. The figures are checked against an independent
formulation of the same rule (DISTINCT ON per certificate) run in the database.

    .venv/bin/python benchmarks/fees.py --registrations 1000000
    .venv/bin/python benchmarks/fees.py --registrations 15000000 --json

Targets (issue 16): 15,000,000 registrations in ≤ 30 s and ≤ 500 MB. The database is dropped
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time

from _shared import ADMIN_URL, fresh_database, measured, pmh
from sqlalchemy import create_engine, text

from pmh.reference import catalogue

DATABASE = "pmh_bench_fees"
FISCAL_YEAR = 2027
REFERENCE_DATE = dt.date(2026, 4, 1)
OPERATING = ("kodomo", "hitorioya", "shogaisha")  # 地単, any body may run them; started FY2024
UNIT_YEN = "7"
INTRODUCTION_TOTAL = 30_000_000
SECONDARY_INDEXES = (
    ("certificates", "uq_certificates_payer_number_recipient_number", "UNIQUE", "(payer_number, recipient_number)"),
    ("certificates", "ix_certificates_municipality_id", "", "(municipality_id)"),
    ("certificates", "ix_certificates_person_digest", "", "(person_digest)"),
    ("certificate_versions", "uq_certificate_versions_certificate_id_version", "UNIQUE", "(certificate_id, version)"),
    ("certificate_versions", "ix_certificate_versions_lookup", "", "(certificate_id, effective_from)"),
    ("certificate_versions", "ix_certificate_versions_upload_id", "", "(upload_id)"),
)


def _load(url: str, registrations: int) -> float:
    """Fill the database: organisations, programs, certificates and their versions. Returns seconds."""
    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    bodies = [m for m in catalogue.municipalities() if not m.is_prefecture]
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (code, name, kind, prefecture_code, large_chain, created_at, updated_at)"
                " VALUES (:code, :name, 'municipality', :prefecture, false, :now, :now)"
            ),
            [{"code": m.code, "name": m.name, "prefecture": m.prefecture_code, "now": now} for m in bodies],
        )
        ids = {code: id_ for code, id_ in conn.execute(text("SELECT code, id FROM organisations"))}
        programs = []
        for index, body in enumerate(bodies):
            for program in OPERATING:
                programs.append((body.code, program, dt.date(2024, 4, 1), 0))
            if index % 10 == 0:  # joins in FY2027: counted by its planned recipients
                programs.append((body.code, "chitan-other", dt.date(2026, 6, 1), 1_000))
            if index % 50 == 0:  # introduced in FY2027: pays the introduction fee
                programs.append((body.code, "yoiku", dt.date(2027, 7, 1), 500))
        conn.execute(
            text(
                "INSERT INTO programs (municipality_id, program_code, start_date, planned_recipients,"
                " recipient_check_digit, created_at, updated_at)"
                " VALUES (:municipality, :program, :start, :planned, true, :now, :now)"
            ),
            [
                {"municipality": ids[code], "program": program, "start": start, "planned": planned, "now": now}
                for code, program, start, planned in programs
            ],
        )
        conn.execute(
            text(
                "CREATE UNLOGGED TABLE bench_slots AS SELECT (row_number() OVER (ORDER BY p.id) - 1)::int AS slot,"
                " p.municipality_id, p.id AS program_id, lpad(p.id::text, 8, '0') AS payer"
                f" FROM programs p WHERE p.program_code IN {OPERATING!r}"
            )
        )
        slots = conn.execute(text("SELECT count(*) FROM bench_slots")).scalar_one()
        conn.execute(text("CREATE UNIQUE INDEX ON bench_slots (slot)"))
        for table, name, _, _ in SECONDARY_INDEXES:
            conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"'))
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        conn.execute(text("SET session_replication_role = replica"))  # no FK triggers while loading
        conn.execute(text("SET synchronous_commit = off"))
        conn.execute(
            text(
                "INSERT INTO certificates (id, municipality_id, program_id, payer_number, recipient_number,"
                " person_digest, link_status, current_version, created_at, updated_at)"
                " SELECT g + 1, s.municipality_id, s.program_id, s.payer, g::text,"
                " md5(p::text) || md5(p::text || 'p'),"
                " CASE WHEN g % 97 = 0 THEN 'rejected' WHEN g % 53 = 0 THEN 'held' ELSE 'linked' END,"
                " CASE WHEN g % 10 = 3 THEN 2 ELSE 1 END, now(), now()"
                " FROM generate_series(0, :n - 1) AS g"
                " CROSS JOIN LATERAL"
                " (SELECT CASE WHEN g % 50 = 7 AND g >= :slots THEN g - :slots ELSE g END AS p) AS person"
                " JOIN bench_slots s ON s.slot = g % :slots"
            ),
            {"n": registrations, "slots": slots},
        )
        version_columns = (
            "certificate_id, version, operation, effective_from, recorded_at, name, name_kana, birth_date, sex,"
            " valid_from, valid_to, cap_managed, diseases, designated_institutions, not_disclosed,"
            " always_reimbursement, additional_conditions, certificate_details"
        )
        conn.execute(
            text(
                f"INSERT INTO certificate_versions ({version_columns})"
                " SELECT g + 1, 1, '新規', DATE '2024-04-01' + (g % 365)::int,"
                " CASE WHEN g % 41 = 0 THEN TIMESTAMPTZ '2026-05-01 01:00+00'"
                " ELSE (DATE '2024-04-01' + (g % 365)::int)::timestamp AT TIME ZONE 'UTC' END,"
                " 'ベンチ', 'ベンチ', DATE '2000-01-01', 1, DATE '2024-04-01' + (g % 365)::int,"
                " CASE WHEN g % 20 = 0 THEN DATE '2025-03-31' END, false, '', '', false, false, '', ''"
                " FROM generate_series(0, :n - 1) AS g"
            ),
            {"n": registrations},
        )
        conn.execute(
            text(
                f"INSERT INTO certificate_versions ({version_columns})"
                " SELECT g + 1, 2, '変更', DATE '2025-10-01', TIMESTAMPTZ '2025-10-01 01:00+00',"
                " 'ベンチ', 'ベンチ', DATE '2000-01-01', 1, DATE '2024-04-01' + (g % 365)::int,"
                " CASE WHEN g % 30 = 3 THEN DATE '2026-03-31' END, false, '', '', false, false, '', ''"
                " FROM generate_series(3, :n - 1, 10) AS g"
            ),
            {"n": registrations},
        )
        conn.execute(text("SET session_replication_role = origin"))
        conn.execute(text("SELECT setval(pg_get_serial_sequence('certificates', 'id'), :n)"), {"n": registrations})
        for table, name, unique, columns in SECONDARY_INDEXES:
            if unique:
                conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE {columns}'))
            else:
                conn.execute(text(f'CREATE INDEX "{name}" ON {table} {columns}'))
        conn.execute(text("DROP TABLE bench_slots"))
        conn.execute(text("VACUUM ANALYZE certificates"))
        conn.execute(text("VACUUM ANALYZE certificate_versions"))
    engine.dispose()
    return time.perf_counter() - started


CHECK = """
WITH visible AS (
  SELECT cv.* FROM certificate_versions cv WHERE cv.recorded_at < :cutoff
), latest AS (
  SELECT DISTINCT ON (certificate_id) certificate_id, valid_to FROM visible ORDER BY certificate_id, version DESC
), chosen AS (
  SELECT DISTINCT ON (certificate_id) certificate_id, valid_from FROM visible
  ORDER BY certificate_id, (effective_from <= :on) DESC,
    CASE WHEN effective_from <= :on THEN effective_from END DESC NULLS LAST,
    CASE WHEN effective_from <= :on THEN version END DESC NULLS LAST, effective_from, version
)
SELECT o.code, count(DISTINCT (c.program_id, c.person_digest))
FROM certificates c
JOIN chosen ON chosen.certificate_id = c.id
JOIN latest ON latest.certificate_id = c.id
JOIN programs p ON p.id = c.program_id
JOIN organisations o ON o.id = c.municipality_id
WHERE c.link_status <> 'rejected' AND p.start_date < :operating_before
  AND chosen.valid_from <= :on AND (latest.valid_to IS NULL OR :on <= latest.valid_to)
GROUP BY o.code
"""


def _independent_counts(url: str) -> dict[str, int]:
    """Count the registrations with a differently written query of the same rule (DISTINCT ON)."""
    engine = create_engine(url)
    cutoff = dt.datetime(2026, 4, 1, 15, 0, tzinfo=dt.UTC)  # the end of 2026-04-01 in Japan
    with engine.connect() as conn:
        conn.execute(text("SET work_mem = '256MB'"))
        rows = conn.execute(
            text(CHECK), {"cutoff": cutoff, "on": REFERENCE_DATE, "operating_before": dt.date(2026, 4, 1)}
        )
        counts = {code: int(count) for code, count in rows}
    engine.dispose()
    return counts


def run(registrations: int, keep: bool, check: bool) -> dict[str, object]:
    """Load the database, measure the fee computation and check its figures."""
    url = fresh_database(DATABASE)
    env = {**os.environ, "PMH_DATABASE_URL": url, "PMH_DATA_DIR": tempfile.mkdtemp(prefix="pmh-bench-fees-")}
    try:
        pmh(env, "db", "upgrade")
        load_seconds = _load(url, registrations)
        pmh(
            env, "fees", "price", "--fiscal-year", str(FISCAL_YEAR), "--version", "final", "--unit", UNIT_YEN,
            "--introduction-total", str(INTRODUCTION_TOTAL),
        )  # fmt: skip
        # The registered counts of the reference date are kept at import time; this load wrote the
        # tables directly, so the summary is built once from the versions (the computation fees used
        # before the summary existed, timed as rebuild_seconds).
        _, rebuild_seconds, _ = measured(
            env, "fees", "rebuild-counts", "--reference-date", REFERENCE_DATE.isoformat(), "--json"
        )
        stdout, seconds, peak = measured(
            env, "fees", "compute", "--fiscal-year", str(FISCAL_YEAR), "--json", sample_seconds=0.02
        )
        report = json.loads(stdout)
        figures: dict[str, object] = {
            "registrations": registrations,
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak, 1),
            "municipalities": len(report["municipalities"]),
            "registered_count": report["totals"]["registered_count"],
            "annual_fee": report["totals"]["annual_fee"],
            "introduction_fee": report["totals"]["introduction_fee"],
            "load_seconds": round(load_seconds, 1),
            "rebuild_seconds": round(rebuild_seconds, 1),
        }
        if check:
            started = time.perf_counter()
            expected = _independent_counts(url)
            got = {m["code"]: m["registered_on_reference_date"] for m in report["municipalities"]}
            got = {code: count for code, count in got.items() if count}
            figures["check"] = (
                "identical" if got == expected else f"DIFFERENT: {len(set(got.items()) ^ set(expected.items()))} lines"
            )
            figures["check_seconds"] = round(time.perf_counter() - started, 1)
        return figures
    finally:
        if not keep:
            admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrations", type=int, default=1_000_000, help="certificates to register")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-check", action="store_true", help="skip the independent count")
    args = parser.parse_args()
    figures = run(args.registrations, args.keep, not args.no_check)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{figures['registrations']:,} registrations, {figures['municipalities']:,} municipalities: "
        f"fees computed in {figures['seconds']} s, peak RSS {figures['peak_rss_mb']} MB "
        f"(load {figures['load_seconds']} s, summary built from the versions in {figures['rebuild_seconds']} s; "
        f"check: {figures.get('check', 'skipped')})"
    )


if __name__ == "__main__":
    main()
