"""Benchmark: consented eligibility reads over HTTP on a large registry, against pgbench (issue 4).

Measures, in one run on a fresh PostgreSQL database:
- the hub: ``GET /api/v1/receptions/{id}/eligibility?service_date=…&format=json`` served by uvicorn in a
  child process on 127.0.0.1, driven by ``--clients`` keep-alive connections for ``--seconds``. Every
  request authenticates its API key, reads a random consented reception with its certificate, the
  version in force and the insurance record, and appends one audit entry (one INSERT, unsealed; the
  sealer thread of each worker links the entries into their hash chains behind the readers, revision
  0020): req/s, p50 and p99 latency, and how far the sealers lagged (most unsealed entries seen, and
  the oldest one's age);
- the ceiling: ``pgbench`` running the very SQL statements one such request executes (captured from
  a request through the app), with the same transaction and the audit INSERT, over the same
  receptions, with as many clients. The sealers' work is not in the ceiling.

    .venv/bin/python benchmarks/eligibility.py --certificates 1000000 --seconds 30
    .venv/bin/python benchmarks/eligibility.py --certificates 20000 --seconds 5 --json

Targets (issue 4): ≥ 2,000 req/s, p99 ≤ 50 ms, ratio to the ceiling ≥ 0.3.

How the registry is loaded. The certificates go through the real doors, as ``benchmarks/ingest.py``
does: ``pmh certificates generate`` (one municipality, three programs, 10 % notation variants),
``pmh insurance import`` and ``pmh certificates import`` in child processes. A million rows take
about five and a half minutes that way on the development host (generate 60 s, insurance 153 s,
certificates 116 s), so a COPY bulk load was not needed: this route is the honest one, every row,
version, link verdict and index entry being exactly what the importer stores. The load is not part
of the measurement; ``--reuse`` skips it on a database a previous run left behind.

Receptions default to certificates / 50 (100 to 2,000), so ``--certificates 20000 --seconds 5``
takes under a minute.

How the receptions are made. For ``--receptions`` people sampled at random from the generated
insurance file whose one certificate is linked and valid today, the script issues a test card
(``cards.issue_card``), opens a card session at the benchmark clinic's reader (face
authentication) and gives consent to share everything (``open_card_session`` / ``give_consent``),
in-process through the service functions, each step audited as in production. One shortcut: the
argon2 PIN hash (0.1 s each) is computed once and reused for every card; the cards are never
authenticated by PIN here.

The measured window starts after a warm-up pass that reads every reception once, so the first-read
snapshot of each certificate (an UPDATE made only on the first read) is behind us and every
measured request does the same statements as the pgbench script.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _shared import ADMIN_URL, MUNICIPALITY, database_url, fresh_database, pmh, register_programs
from sqlalchemy import create_engine, make_url, text

DATABASE = "pmh_bench_eligibility"
CLINIC_CODE = "1310112345"
CLINIC_NAME = "ベンチマーク内科クリニック"
PIN = "2468"
TARGET_REQ_PER_S = 2000
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.3
BATCH = 200


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database and the registry -------------------------------------------------------------


def _database_exists(name: str) -> bool:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    admin.dispose()
    return found is not None


def _load_registry(env: dict[str, str], rows: int, workdir: Path) -> tuple[Path, dict[str, float]]:
    """Register the programs and load ``rows`` certificates with their insurance records; return the insurance file."""
    timings: dict[str, float] = {}
    register_programs(env)
    certificates, insurance = workdir / "certificates.csv", workdir / "insurance.csv"
    steps: tuple[tuple[str, tuple[str, ...]], ...] = (
        (
            "generate",
            (
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
            ),
        ),
        ("insurance_import", ("insurance", "import", str(insurance))),
        (
            "certificates_import",
            ("certificates", "import", str(certificates), "--municipality", MUNICIPALITY, "--json"),
        ),
    )
    for name, args in steps:
        _say(f"{name} ({rows:,} rows) …")
        started = time.perf_counter()
        out = pmh(env, *args)
        timings[name] = round(time.perf_counter() - started, 1)
        if name == "certificates_import":
            outcome = json.loads(out)
            if outcome["status"] != "applied":
                raise SystemExit(f"the certificate import was not applied: {out[:2000]}")
    certificates.unlink()
    return insurance, timings


# --- receptions: cards, card sessions and consent, through the service functions ------------


@dataclass
class Setup:
    """What the measurement needs: the clinic's keys and its consented receptions."""

    institution_key: str
    reader_key: str
    reception_ids: list[int]
    seconds: dict[str, float] = field(default_factory=dict)


def _reset_pmh_caches() -> None:
    """Make the in-process pmh read the environment set for this run."""
    from pmh.db import get_engine, get_sessionmaker
    from pmh.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _sample_my_numbers(insurance: Path, count: int, seed: int) -> list[str]:
    with insurance.open(encoding="utf-8-sig", newline="") as stream:
        numbers = [row["my_number"] for row in csv.DictReader(stream)]
    return random.Random(seed).sample(numbers, min(count, len(numbers)))


def _keys() -> tuple[str, str]:
    """Issue a fresh institution key and card-reader key for the benchmark clinic (created if missing)."""
    from sqlalchemy import select

    from pmh.auth import readers
    from pmh.auth import service as auth
    from pmh.auth.models import Organisation
    from pmh.db import unit_of_work

    with unit_of_work() as session:
        clinic = session.scalar(select(Organisation).where(Organisation.code == CLINIC_CODE))
        if clinic is None:
            clinic = auth.add_institution(session, CLINIC_CODE, CLINIC_NAME, "clinic")
        institution = auth.create_api_key(session, clinic, "institution", "benchmark")
        # a registered face-recognition reader: only its own key may authenticate by face
        _, reader = readers.add_reader(session, CLINIC_CODE, f"benchmark-{time.time_ns()}", face=True)
    return institution.key, reader.key


def _eligible_people(my_numbers: Sequence[str], today: dt.date) -> list[str]:
    """Keep those whose only certificate is linked and valid today (so the reader offers exactly one)."""
    from pmh.cards.service import person_digester
    from pmh.db import read_only

    digest = person_digester()
    by_digest = {digest(number): number for number in my_numbers}
    query = text(
        """
        SELECT c.person_digest
        FROM certificates c JOIN certificate_versions v ON v.certificate_id = c.id
        WHERE c.person_digest = ANY(:digests)
        GROUP BY c.person_digest
        HAVING count(DISTINCT c.id) = 1
           AND bool_and(c.link_status = 'linked')
           AND bool_or(v.valid_from <= :today AND (v.valid_to IS NULL OR v.valid_to >= :today))
        """
    )
    with read_only() as session:
        found = set(session.scalars(query, {"digests": list(by_digest), "today": today}))
    return [number for d, number in by_digest.items() if d in found]


def _make_receptions(insurance: Path, count: int, seed: int) -> Setup:
    from pmh.auth import service as auth
    from pmh.auth.passwords import hash_password
    from pmh.cards import service as cards
    from pmh.db import unit_of_work
    from pmh.eligibility import reader as eligibility
    from pmh.eligibility.common import today_in_japan
    from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate

    started = time.perf_counter()
    institution_key, reader_key = _keys()
    people = _eligible_people(_sample_my_numbers(insurance, count * 4, seed), today_in_japan())
    if len(people) < count:
        raise SystemExit(f"only {len(people)} people with one linked, valid certificate; lower --receptions")
    people = people[:count]
    with unit_of_work() as session:
        reader = auth.authenticate_api_key(session, reader_key)
    pin_hash = hash_password(PIN)

    def reused_hash(password: str) -> str:  # argon2 once (0.1 s), not once per card
        return pin_hash

    original_hash = cards.hash_password  # type: ignore[attr-defined]
    cards.hash_password = reused_hash  # type: ignore[attr-defined]
    reception_ids: list[int] = []
    _say(f"issuing {count:,} cards and taking consent at the reader …")
    try:
        for start in range(0, len(people), BATCH):
            with unit_of_work() as session:
                batch = people[start : start + BATCH]
                serials = [cards.issue_card(session, number, PIN).card_serial for number in batch]
            with unit_of_work() as session:
                for serial in serials:
                    opened = eligibility.open_card_session(
                        session, reader, CardSessionCreate(card_serial=serial, auth="face", face_matched=True)
                    )
                    if len(opened.certificates) != 1:
                        raise SystemExit(f"card {serial}: {len(opened.certificates)} certificates offered, not one")
                    consent = eligibility.give_consent(session, reader, opened.id, ConsentCreate(subsidy="all"))
                    reception_ids.append(consent.reception_id)
    finally:
        cards.hash_password = original_hash  # type: ignore[attr-defined]
    return Setup(institution_key, reader_key, reception_ids, {"receptions": round(time.perf_counter() - started, 1)})


def _existing_setup() -> Setup:
    """Reuse the receptions a previous run left in the database, with fresh keys."""
    from pmh.db import read_only

    institution_key, reader_key = _keys()
    with read_only() as session:
        ids = list(
            session.scalars(
                text(
                    "SELECT r.id FROM receptions r JOIN organisations o ON o.id = r.institution_id "
                    "WHERE o.code = :code AND r.subsidy_consent = 'all' ORDER BY r.id"
                ),
                {"code": CLINIC_CODE},
            )
        )
    if not ids:
        raise SystemExit(f"--reuse: no receptions of {CLINIC_CODE} in this database; run without --reuse first")
    return Setup(institution_key, reader_key, ids)


# --- the server and the load generator ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(reception_id: int, day: str, key: str) -> bytes:
    return (
        f"GET /api/v1/receptions/{reception_id}/eligibility?service_date={day}&format=json HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
    ).encode()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; return the status and the body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if match is None:
        raise RuntimeError(f"response without Content-Length: {head[:300]!r}")
    return status, await reader.readexactly(int(match.group(1)))


def _serve(env: dict[str, str], workers: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "pmh.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        # Saturated on purpose, a worker's CPU-bound threads can keep uvicorn's health-check thread from
        # answering within its default 5 s, and the supervisor then kills the worker mid-run.
        "--timeout-worker-healthcheck",
        "120",
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"uvicorn exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /api/v1/ready-probe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if probe.recv(16).startswith(b"HTTP/1.1"):
                    return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"uvicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Load:
    """What the clients saw in the measured window."""

    latencies: list[float]
    elapsed: float
    errors: dict[int, int]
    error_sample: str
    warmup_requests: int
    server_cpu: float
    worker_restarts: int = 0


def _workers(pid: int) -> set[int]:
    """Return the worker processes of the uvicorn supervisor ``pid`` (a new one means a worker was restarted)."""
    try:
        return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except (FileNotFoundError, ProcessLookupError):
        return set()


def _tree_cpu_seconds(pid: int) -> float:
    """Return the CPU seconds (user + system) used so far by a process and its children that are alive."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending += [int(child) for child in children]
    return total


async def _drive(
    port: int, key: str, ids: Sequence[int], clients: int, seconds: float, day: str, server_pid: int, url: str
) -> tuple[Load, dict[str, float]]:
    """Warm up by reading every reception once, then read random receptions for ``seconds``."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    errors: dict[int, int] = {}
    samples: list[str] = []

    def check(status: int, body: bytes) -> None:
        if status != 200:
            errors[status] = errors.get(status, 0) + 1
            if not samples:
                samples.append(body[:500].decode(errors="replace"))

    async def warm(index: int) -> int:
        reader, writer = connections[index]
        done = 0
        for reception_id in ids[index::clients]:
            check(*await _exchange(reader, writer, _request(reception_id, day, key)))
            done += 1
        return done

    warmup = sum(await asyncio.gather(*(warm(i) for i in range(clients))))
    if errors:
        raise SystemExit(f"warm-up failed: {errors} — {samples[0]}")
    latencies: list[float] = []
    finished: list[float] = []
    requests = [_request(reception_id, day, key) for reception_id in ids]

    async def measure(index: int, end: float) -> None:
        reader, writer = connections[index]
        rng = random.Random(index)
        clock = time.perf_counter
        while True:
            sent = clock()
            if sent >= end:
                break
            status, body = await _exchange(reader, writer, rng.choice(requests))
            latencies.append(clock() - sent)
            if status != 200:
                check(status, body)
        finished.append(clock())

    with _WaitSampler(url, unsealed=True) as sampler:
        cpu_before = _tree_cpu_seconds(server_pid)
        workers_before = _workers(server_pid)
        start = time.perf_counter()
        await asyncio.gather(*(measure(i, start + seconds) for i in range(clients)))
        cpu = _tree_cpu_seconds(server_pid) - cpu_before
        restarts = len(_workers(server_pid) - workers_before)
    for _, writer in connections:
        writer.close()
    load = Load(latencies, max(finished) - start, errors, samples[0] if samples else "", warmup, cpu, restarts)
    return load, sampler.averages()


def _run_clients(
    port: int, key: str, ids: Sequence[int], clients: int, seconds: float, day: str, server_pid: int, url: str
) -> tuple[Load, dict[str, float]]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_drive(port, key, ids, clients, seconds, day, server_pid, url))
    return uvloop.run(_drive(port, key, ids, clients, seconds, day, server_pid, url))


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --- the ceiling: the statements one request executes, replayed by pgbench ----------------------


def _audit_chains() -> int:
    from pmh.settings import get_settings

    return get_settings().audit_chains


def _literal(value: Any) -> str:
    quoted = str(value).replace("'", "''")
    if re.search(r":\w", quoted):  # pgbench would read ":name" as a variable, even inside quotes
        return "E'" + quoted.replace("\\", "\\\\").replace(":", "\\x3a") + "'"
    return f"'{quoted}'"


def _read_path_script(url: str, ids: Sequence[int], day: str) -> tuple[str, int]:
    """Return a pgbench script of what one read does on the hub's path, and its round trips.

    The statements are the read path's own (``pmh.eligibility.fastread``), with the reception drawn at
    random: the read (one statement, one snapshot, one round trip), then the audit INSERT (one round
    trip), each autocommitted as the hub runs them. The hub's key is cached, so no key lookup; no first
    read is kept (the warm-up did). The audit detail is one the hub wrote for such a read (same size).
    """
    from pmh.eligibility import fastread

    low, high = min(ids), max(ids)
    if high - low + 1 != len(ids):
        raise SystemExit("the receptions' ids are not contiguous: the script draws them as a range")
    engine = create_engine(url)
    with engine.connect() as conn:
        institution = conn.execute(
            text("SELECT institution_id FROM receptions WHERE id = :id"), {"id": low}
        ).scalar_one()
        entry = conn.execute(
            text(
                "SELECT actor, role, detail FROM audit_entries WHERE action = 'eligibility.read' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    values = {"reception_id": "(:rid)::bigint", "institution_id": str(institution), "month": _literal(day[:7])}

    def render(sql: str) -> str:
        return re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], " ".join(sql.split())) + ";"

    audit = {
        "chain": ":chain",
        "occurred_at": "now()",
        "organisation_id": str(institution),
        "actor": _literal(entry.actor),
        "role": _literal(entry.role),
        "action": "'eligibility.read'",
        "subject_type": "'reception'",
        "subject_id": "(:rid)::text",
        "detail": _literal(entry.detail),
        "form": "1",
    }
    insert = re.sub(r"%\((\w+)\)s", lambda m: audit[m.group(1)], fastread.INSERT_AUDIT_SQL) + ";"
    lines = [
        "-- one eligibility read as the hub's read path runs it (pmh.eligibility.fastread), autocommit",
        f"\\set rid random({low}, {high})",
        f"\\set chain random(0, {_audit_chains() - 1})",
        render(fastread.READ_SQL),
        insert,
    ]
    return "\n".join(lines) + "\n", 2


class _WaitSampler:
    """Samples pg_stat_activity of the database every 50 ms: busy backends and those waiting for a lock."""

    def __init__(self, url: str, unsealed: bool = False) -> None:
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.database = make_url(url).database
        self.samples: list[tuple[int, int, int]] = []
        self.unsealed = unsealed
        self.unsealed_samples: list[tuple[int, float]] = []
        """(unsealed entries, age of the oldest in ms), when ``unsealed``: how far the sealers lag."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        query = (
            "SELECT count(*), count(*) FILTER (WHERE wait_event = 'advisory'), "
            "count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event <> 'advisory') "
            "FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()"
        )
        lag = (
            "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at)) * 1000, 0) "
            "FROM audit_entries WHERE seq IS NULL"
        )
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                row = conn.execute(query, (self.database,)).fetchone()
                if row is not None:
                    self.samples.append((int(row[0]), int(row[1]), int(row[2])))
                if self.unsealed and (waiting := conn.execute(lag).fetchone()) is not None:
                    self.unsealed_samples.append((int(waiting[0]), float(waiting[1])))

    def __enter__(self) -> _WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def averages(self) -> dict[str, float]:
        """Mean active backends, mean waiting for an advisory lock, mean waiting for a row or other lock.

        Since revision 0020 readers take no audit lock at all; the sealers only *try* their advisory
        locks (never waiting), so advisory waits are left to uploads. With ``unsealed``, also the most
        unsealed entries seen and the oldest one's age (``unsealed_max``, ``seal_lag_max_ms``)."""
        count = max(len(self.samples), 1)
        figures = {
            key: round(sum(sample[index] for sample in self.samples) / count, 2)
            for index, key in enumerate(("active", "advisory_wait", "other_lock_wait"))
        }
        if self.unsealed_samples:
            figures["unsealed_max"] = max(n for n, _ in self.unsealed_samples)
            figures["seal_lag_max_ms"] = round(max(age for _, age in self.unsealed_samples), 1)
        return figures


def _pgbench(url: str, script: Path, clients: int, seconds: int) -> tuple[float, float, str]:
    """Run the script; return tps, average latency (ms) and the output."""
    target = make_url(url)
    command = [
        "pgbench",
        "-n",
        "-M",
        "prepared",
        "-f",
        str(script),
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-h",
        target.host or "127.0.0.1",
        "-p",
        str(target.port or 5432),
        "-U",
        target.username or "postgres",
        target.database or DATABASE,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed ({done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}")
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if tps is None or latency is None:
        raise SystemExit(f"cannot read pgbench's output:\n{done.stdout}")
    if failed and int(failed.group(1)):
        raise SystemExit(f"pgbench transactions failed:\n{done.stdout}")
    return float(tps.group(1)), float(latency.group(1)), done.stdout


def _audit_heads(url: str) -> tuple[dict[int, tuple[int, str]], int]:
    """Return every chain's head (chain → seq, hash) and the number of entries."""
    engine = create_engine(url)
    with engine.connect() as conn:
        heads = {
            int(i) - 1: (int(q), str(h)) for i, q, h in conn.execute(text("SELECT id, seq, entry_hash FROM audit_head"))
        }
        count = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one()
    engine.dispose()
    return heads, int(count)


def _drop_pgbench_entries(url: str, heads: dict[int, tuple[int, str]]) -> int:
    """Remove the entries pgbench appended (unsealed, as the hub's readers append) and restore every head.

    Every entry of the hub was sealed before pgbench ran (``pmh audit seal``), so the unsealed ones are pgbench's.

    The table refuses DELETE by trigger; in this throwaway database the session turns triggers off.
    """
    engine = create_engine(url)
    removed = 0
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        removed += conn.execute(text("DELETE FROM audit_entries WHERE seq IS NULL")).rowcount
        for chain in range(_audit_chains()):
            seq, entry_hash = heads.get(chain, (0, ""))
            removed += conn.execute(
                text("DELETE FROM audit_entries WHERE chain = :c AND seq > :seq"), {"c": chain, "seq": seq}
            ).rowcount
            if chain in heads:
                conn.execute(
                    text("UPDATE audit_head SET seq = :seq, entry_hash = :h WHERE id = :id"),
                    {"seq": seq, "h": entry_hash, "id": chain + 1},
                )
            else:
                conn.execute(text("DELETE FROM audit_head WHERE id = :id"), {"id": chain + 1})
    engine.dispose()
    return int(removed)


def _verify_audit(env: dict[str, str]) -> tuple[bool, int]:
    done = subprocess.run(
        [sys.executable, "-m", "pmh", "audit", "verify", "--json"], env=env, capture_output=True, text=True
    )
    result = json.loads(done.stdout)
    return bool(result["ok"]) and done.returncode == 0, int(result["entries"])


# --- the run -------------------------------------------------------------------------------------


def _environment(url: str, workdir: Path) -> dict[str, str]:
    values = {
        "PMH_DATABASE_URL": url,
        "PMH_DATA_DIR": str(workdir / "var"),
        "PMH_LOG_LEVEL": "WARNING",
        "PMH_SECRET_KEY": os.environ.get("PMH_SECRET_KEY", "benchmark-secret"),
    }
    os.environ.update(values)  # the in-process steps (receptions, capture) use the same settings
    _reset_pmh_caches()
    return {**os.environ, **values}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="pmh-bench-eligibility-"))
    reuse = args.reuse and _database_exists(args.database)
    url = database_url(args.database) if reuse else fresh_database(args.database)
    env = _environment(url, workdir)
    load_seconds: dict[str, float] = {}
    if reuse:
        _say(f"reusing {args.database}")
        pmh(env, "db", "upgrade")
        setup = _existing_setup()
    else:
        insurance, load_seconds = _load_registry(env, args.certificates, workdir)
        setup = _make_receptions(insurance, args.receptions, args.seed)
        insurance.unlink()
        load_seconds |= setup.seconds
    ids = setup.reception_ids
    engine = create_engine(url)
    with engine.connect() as conn:
        certificates = conn.execute(text("SELECT count(*) FROM certificates")).scalar_one()
    engine.dispose()

    _, entries_before = _audit_heads(url)
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date().isoformat()
    port = _free_port()
    _say(f"serving with {args.workers} worker(s); {args.clients} clients over {len(ids):,} receptions …")
    server = _serve(env, args.workers, port, workdir / "uvicorn.log")
    try:
        load, hub_waits = _run_clients(
            port, setup.institution_key, ids, args.clients, args.seconds, day, server.pid, url
        )
    finally:
        _stop(server)
    requests = len(load.latencies)
    errors = sum(load.errors.values())
    if errors:
        raise SystemExit(f"{errors} of {requests} requests failed: {load.errors} — {load.error_sample}")
    latencies = sorted(load.latencies)
    _, entries_after = _audit_heads(url)
    written = entries_after - entries_before
    if written < requests + load.warmup_requests:
        raise SystemExit(f"only {written} audit entries for {requests + load.warmup_requests} requests")

    sealed_after = json.loads(pmh(env, "audit", "seal", "--json"))["sealed"]  # what the sealers left (≈ 0)
    script, round_trips = _read_path_script(url, ids, day)
    script_path = workdir / "eligibility.pgbench"
    script_path.write_text(script)
    if args.show_script:
        print(script, file=sys.stderr)
    pmh(env, "audit", "seal")  # the two captured requests' entries (no sealer ran in this process)
    verified_before, entries = _verify_audit(env)

    _say(f"pgbench: {args.clients} clients for {args.seconds} s …")
    heads, _ = _audit_heads(url)
    with _WaitSampler(url) as sampler:
        tps, pgbench_latency, _ = _pgbench(url, script_path, args.clients, args.seconds)
    removed = _drop_pgbench_entries(url, heads)
    verified_after, _ = _verify_audit(env)
    if not (verified_before and verified_after):
        raise SystemExit("pmh audit verify failed after the run")
    req_per_s = requests / load.elapsed
    return {
        "certificates": certificates,
        "receptions": len(ids),
        "clients": args.clients,
        "workers": args.workers,
        "seconds": round(load.elapsed, 2),
        "requests": requests,
        "errors": errors,
        "req_per_s": round(req_per_s),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "server_cpu_ms_per_request": round(load.server_cpu / requests * 1000, 2),
        "worker_restarts": load.worker_restarts,
        "ceiling_per_s": round(tps),
        "pgbench_latency_ms": pgbench_latency,
        "ratio": round(req_per_s / tps, 3),
        "round_trips_per_request": round_trips,
        "hub_backends": hub_waits,
        "pgbench_backends": sampler.averages(),
        "audit_rows_written": written,
        "audit_sealed_after_run": sealed_after,
        "audit_chains": _audit_chains(),
        "audit_entries": entries,
        "audit_verified": True,
        "pgbench_rows_removed": removed,
        "warmup_requests": load.warmup_requests,
        "load_seconds": load_seconds,
        "script": str(script_path),
    }


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1_000_000, help="certificates to load")
    parser.add_argument(
        "--receptions", type=int, help="consented receptions to read (default: certificates / 50, 100 to 2,000)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds (and pgbench's -T)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database", default=DATABASE, help="database to create (dropped first)")
    parser.add_argument("--reuse", action="store_true", help="reuse the database and its receptions if it exists")
    parser.add_argument("--show-script", action="store_true", help="print the pgbench script to stderr")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.receptions is None:
        args.receptions = min(2_000, max(100, args.certificates // 50))
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
        return
    met = {True: "met", False: "NOT met"}
    print(
        f"hub    : {figures['requests']:,} requests in {figures['seconds']} s = {figures['req_per_s']:,} req/s, "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms, "
        f"{figures['errors']} errors ({figures['workers']} worker(s), {figures['clients']} clients, "
        f"{figures['receptions']:,} receptions, {figures['certificates']:,} certificates)"
    )
    print(
        f"ceiling: pgbench {figures['ceiling_per_s']:,} tx/s in {figures['round_trips_per_request']} round trips "
        f"(latency {figures['pgbench_latency_ms']} ms)"
    )
    hub, bench = figures["hub_backends"], figures["pgbench_backends"]
    print(
        f"server : {figures['server_cpu_ms_per_request']} ms CPU per request (uvicorn workers); backends active / "
        f"waiting for an advisory lock / for a row or other lock: "
        f"hub {hub['active']} / {hub['advisory_wait']} / "
        f"{hub['other_lock_wait']}, pgbench {bench['active']} / {bench['advisory_wait']} / {bench['other_lock_wait']}"
    )
    print(
        f"audit  : {figures['audit_rows_written']:,} entries written, chain verified: {figures['audit_verified']} "
        f"({figures['audit_entries']:,} entries); sealers' lag: at most {hub.get('unsealed_max', 0):,} unsealed, "
        f"the oldest {hub.get('seal_lag_max_ms', 0)} ms; left unsealed at the end: {figures['audit_sealed_after_run']}"
    )
    print(
        f"targets: req/s ≥ {TARGET_REQ_PER_S:,} {met[figures['req_per_s'] >= TARGET_REQ_PER_S]}; "
        f"p99 ≤ {TARGET_P99_MS:g} ms {met[figures['p99_ms'] <= TARGET_P99_MS]}; "
        f"ratio {figures['ratio']} ≥ {TARGET_RATIO} {met[figures['ratio'] >= TARGET_RATIO]}"
    )


if __name__ == "__main__":
    main()
