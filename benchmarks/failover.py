"""Benchmark: a mixed load through the cluster's front while its primary is killed (issue 14).

    .venv/bin/python benchmarks/failover.py --json                      # starts and stops its own cluster
    .venv/bin/python benchmarks/failover.py --seconds 120 --nodes 3 --json
    .venv/bin/python benchmarks/failover.py --api http://127.0.0.1:15404 --json   # a running scripts/cluster up

What it does:
1. Unless ``--api`` is given, ``scripts/cluster up --nodes N`` (and ``scripts/cluster down`` at the end,
   even on failure, unless ``--keep``).
2. Builds its world through the real doors: ``pmh`` commands against the cluster's read-write URL
   (``scripts/cluster env``) register 東京都's 難病 and 八王子市's こども programs, the insurance
   records, 難病 certificates with a small monthly cap (``--cap``), two clinics with a face reader and
   an institution key each, a municipality key, and test cards; over the HTTP API, each clinic's
   reader takes every capped patient's consent once, so that both clinics may write their sheets.
3. Drives for ``--seconds`` through the front HAProxy, in threads: per clinic a reader (card session
   with face authentication, consent, then the clinic's eligibility read of that reception), per
   clinic ``--copay-clients`` clients posting 500-yen copay entries to the same capped sheets (twelve
   months per patient, so the caps fill during the run and the two clinics meet at each cap), and
   one municipality uploading one-row certificate files. Every creating POST carries an
   ``Idempotency-Key``; a client that gets 503, or loses its connection (or its answer), sends the
   same request with the same key again (honouring ``Retry-After``, at most ``--give-up`` seconds).
   A 409 ``cap_exceeded`` is an answer, not an error.
4. At ``--kill-at`` × seconds it runs ``scripts/cluster kill-primary`` (kill -9 of the primary's
   postmaster), then waits for Patroni to show a new leader with a synchronous standby.
5. Checks, on the new primary (through the rw port): ``lost`` — acknowledged card sessions,
   receptions, copay entries and uploads (with their certificate) that are missing; ``duplicated`` —
   more rows than operations sent (card sessions), more than one copay entry with the same
   operation's marker (each entry's ``total_cost`` is unique to its operation) or more than one
   upload of the same file; ``cap_overshoot`` — sheets whose entries add up past the cap or whose
   running total disagrees with its entries; ``audit_verified`` — ``pmh audit verify``.

``failover_seconds`` is what clients saw: from the kill to the first acknowledged write after the last
write that failed (503 or a dropped connection) after the kill. ``promotion_seconds`` is Patroni's
view: from the kill to a new leader running.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import http.client
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "scripts" / "cluster"
TOKYO, HACHIOJI = "130001", "132012"
NANBYO_PAYER, KODOMO_PAYER = "54136015", "88138243"
CLINICS = (("1310112345", "フェイルオーバー内科"), ("1310112378", "フェイルオーバー薬局前クリニック"))
SURNAMES = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"))
GIVEN = (("花子", "ハナコ"), ("太郎", "タロウ"), ("陽子", "ヨウコ"), ("健一", "ケンイチ"), ("美咲", "ミサキ"))
ENTRY_YEN = 500
UPLOAD_POOL = 2000


def _say(message: str) -> None:
    print(f"[failover {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the cluster ---------------------------------------------------------------------------------


def cluster(*args: str, timeout: float = 600) -> dict[str, Any]:
    done = subprocess.run([str(CLUSTER), *args, "--json"], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"scripts/cluster {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout))


def pmh(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pmh", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"pmh {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[:2000]}"
        )
    return done.stdout


# --- people --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    seed: int
    my_number: str
    recipient: str
    name: str
    kana: str
    birth: str
    sex: int


def person(seed: int, born: dt.date) -> Person:
    from pmh.codes.checkdigits import modulus10_weight21_check_digit, my_number_check_digit

    eleven, six = f"{seed:011d}", f"{seed % 1_000_000:06d}"
    surname, given = SURNAMES[seed % 5], GIVEN[(seed // 5) % 5]
    return Person(
        seed=seed,
        my_number=eleven + str(my_number_check_digit(eleven)),
        recipient=six + str(modulus10_weight21_check_digit(six)),
        name=f"{surname[0]} {given[0]}",
        kana=f"{surname[1]} {given[1]}",
        birth=(born + dt.timedelta(days=seed % 3000)).isoformat(),
        sex=1 + seed % 2,
    )


def insurance_csv(people: list[Person]) -> str:
    out = io.StringIO()
    out.write(
        "my_number,insurer_number,symbol,number,branch,name,name_kana,birth_date,sex,copay_rate,valid_from,valid_to\n"
    )
    for p in people:
        out.write(f"{p.my_number},33120015,記号1,{p.seed},01,{p.name},{p.kana},{p.birth},{p.sex},30,2020-04-01,\n")
    return out.getvalue()


def certificates_csv(people: list[Person], payer: str, valid_from: dt.date, cap: int | None) -> str:
    columns = ["op", "payer_number", "recipient_number", "my_number", "name", "name_kana", "birth_date", "sex"]
    columns += ["valid_from"] + (["monthly_cap", "cap_managed"] if cap is not None else [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for p in people:
        row: list[Any] = [1, payer, p.recipient, p.my_number, p.name, p.kana, p.birth, p.sex, valid_from.isoformat()]
        writer.writerow(row + ([cap, 1] if cap is not None else []))
    return out.getvalue()


# --- HTTP with retries ------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int | None
    body: Any
    attempts: int


@dataclass
class Tally:
    """What every client saw, shared by the threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    retried_503: int = 0
    dropped: int = 0
    write_failures: list[float] = field(default_factory=list)
    write_successes: list[float] = field(default_factory=list)
    longest_request: float = 0.0
    requests: int = 0

    def error(self, what: str, sample: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{what}: {sample[:400]}")


class Client:
    """One keep-alive connection to the front; retries 503 and dropped connections with the same key."""

    def __init__(self, api: str, key: str, tally: Tally, give_up: float) -> None:
        parts = urlsplit(api)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.key, self.tally, self.give_up = key, tally, give_up
        self.connection: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self.connection

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        idempotent: bool = False,
    ) -> Outcome:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        write = method == "POST"
        if write and idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        started, attempts = time.monotonic(), 0
        while True:
            attempts += 1
            sent = time.monotonic()
            try:
                connection = self._connection()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
                retry_after = response.getheader("Retry-After")
                if response.getheader("Connection", "").lower() == "close":
                    self._drop()
            except (OSError, http.client.HTTPException):
                # Dropped connection or lost answer: the same request, the same key, again.
                self._drop()
                with self.tally.lock:
                    self.tally.dropped += 1
                    if write:
                        self.tally.write_failures.append(time.time())
                status, payload, retry_after = None, b"", "0.2"
            finished = time.monotonic()
            with self.tally.lock:
                self.tally.requests += 1
                self.tally.longest_request = max(self.tally.longest_request, finished - sent)
            if status == 503:
                with self.tally.lock:
                    self.tally.retried_503 += 1
                    if write:
                        self.tally.write_failures.append(time.time())
            if status is None or status == 503:
                if write and not idempotent:
                    return Outcome(status, payload, attempts)
                if finished - started > self.give_up:
                    self.tally.error(f"{method} gave up", f"{path} after {attempts} attempts")
                    return Outcome(status, payload, attempts)
                time.sleep(min(float(retry_after or 1), 2.0))
                continue
            if write and 200 <= status < 300:
                with self.tally.lock:
                    self.tally.write_successes.append(time.time())
            try:
                decoded: Any = json.loads(payload) if payload else None
            except ValueError:
                decoded = payload.decode(errors="replace")
            return Outcome(status, decoded, attempts)


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    env: dict[str, str]
    api: str
    reader_keys: list[str]
    clinic_keys: list[str]
    municipality_key: str
    capped: list[Person]
    serials: dict[str, str]
    uploads: list[Person]
    receptions: dict[tuple[int, str], int] = field(default_factory=dict)  # (clinic, my number) → reception
    setup_card_sessions: int = 0
    months: list[dt.date] = field(default_factory=list)


def build_world(env: dict[str, str], api: str, patients: int, cap: int) -> World:
    from pmh import clock

    today = clock.today()
    started = time.perf_counter()
    capped = [person(1000 + i, dt.date(1960, 1, 1)) for i in range(patients)]
    uploads = [person(500_000 + i, dt.date(2015, 1, 1)) for i in range(UPLOAD_POOL)]
    # Each pmh command is a process that takes seconds to start on a busy host: the independent
    # chains run side by side.
    with tempfile.TemporaryDirectory(prefix="pmh-failover-") as work, ThreadPoolExecutor(4) as pool:
        folder = Path(work)
        (folder / "insurance.csv").write_text(insurance_csv(capped + uploads), encoding="utf-8")
        valid_from = today.replace(day=1) - dt.timedelta(days=400)
        (folder / "nanbyo.csv").write_text(certificates_csv(capped, NANBYO_PAYER, valid_from, cap), encoding="utf-8")

        def registry() -> str:
            # The municipality's key after its programs: both would register the municipality first.
            pmh(env, "programs", "add", "--municipality", TOKYO, "--program", "nanbyo", "--payer-number", NANBYO_PAYER)
            pmh(
                env,
                "programs",
                "add",
                "--municipality",
                HACHIOJI,
                "--program",
                "kodomo",
                "--payer-number",
                KODOMO_PAYER,
            )
            pmh(env, "insurance", "import", str(folder / "insurance.csv"))
            imported = json.loads(
                pmh(env, "certificates", "import", str(folder / "nanbyo.csv"), "--municipality", TOKYO, "--json")
            )
            if imported.get("status") != "applied":
                raise SystemExit(f"the 難病 certificates were not applied: {imported}")
            return pmh(env, "keys", "create", "--org", HACHIOJI, "--role", "municipality", "--json")

        def clinic(code: str, name: str) -> tuple[str, str]:
            pmh(env, "institutions", "add", "--code", code, "--name", name, "--kind", "clinic")
            added = pmh(
                env, "institutions", "readers", "add", "--institution", code, "--name", "受付1", "--face", "--json"
            )
            institution = pmh(env, "keys", "create", "--org", code, "--role", "institution", "--json")
            return json.loads(added)["key"], json.loads(institution)["key"]

        def card(p: Person) -> str:
            return str(json.loads(pmh(env, "cards", "issue", "--my-number", p.my_number, "--json"))["card_serial"])

        registered = pool.submit(registry)
        clinics = [pool.submit(clinic, code, name) for code, name in CLINICS]
        cards = {p.my_number: pool.submit(card, p) for p in capped}
        reader_keys = [c.result()[0] for c in clinics]
        clinic_keys = [c.result()[1] for c in clinics]
        municipality_key = json.loads(registered.result())["key"]
        serials = {number: future.result() for number, future in cards.items()}
    first = today.replace(day=1)
    months = [today] + [
        first.replace(year=first.year - (k > first.month - 1), month=(first.month - 1 - k) % 12 + 1)
        for k in range(1, 12)
    ]
    world = World(env, api, reader_keys, clinic_keys, municipality_key, capped, serials, uploads, months=months)
    # Each clinic's reader takes every capped patient's consent once: the proof that lets the clinic
    # write that patient's sheets.
    scratch = Tally()
    for clinic, key in enumerate(reader_keys):
        client = Client(api, key, scratch, give_up=60)
        for p in capped:
            reception = reception_flow(client, serials[p.my_number])
            if reception is None:
                raise SystemExit(f"setup: consent at clinic {clinic} failed: {scratch.error_samples}")
            world.receptions[(clinic, p.my_number)] = reception[1]
            world.setup_card_sessions += 1
    _say(f"world built in {time.perf_counter() - started:.0f} s ({patients} capped patients, cap {cap} yen)")
    return world


def reception_flow(client: Client, serial: str) -> tuple[str, int] | None:
    """Card session (face) and consent to share everything; return (card session token, reception id)."""
    body = json.dumps({"card_serial": serial, "auth": "face", "face_matched": True}).encode()
    opened = client.call("POST", "/api/v1/card-sessions", body, idempotent=True)
    if opened.status != 201:
        client.tally.error(f"card session {opened.status}", str(opened.body))
        return None
    token = opened.body["id"]
    consent = client.call(
        "POST", f"/api/v1/card-sessions/{token}/consent", json.dumps({"subsidy": "all"}).encode(), idempotent=True
    )
    if consent.status != 201:
        client.tally.error(f"consent {consent.status}", str(consent.body))
        return None
    return token, int(consent.body["reception_id"])


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the hub acknowledged, and what was sent, per kind."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    card_sessions: list[str] = field(default_factory=list)
    card_session_ops: int = 0
    receptions: list[int] = field(default_factory=list)
    copay_entries: dict[int, int] = field(default_factory=dict)  # entry id → marker (total_cost)
    copay_refused: int = 0
    uploads: dict[int, tuple[str, str]] = field(default_factory=dict)  # upload id → (filename, recipient)
    reads: int = 0


def reader_loop(world: World, clinic: int, tally: Tally, ledger: Ledger, stop: threading.Event, give_up: float) -> None:
    reader = Client(world.api, world.reader_keys[clinic], tally, give_up)
    institution = Client(world.api, world.clinic_keys[clinic], tally, give_up)
    for p in itertools.cycle(world.capped):
        if stop.is_set():
            return
        with ledger.lock:
            ledger.card_session_ops += 1
        body = json.dumps({"card_serial": world.serials[p.my_number], "auth": "face", "face_matched": True}).encode()
        opened = reader.call("POST", "/api/v1/card-sessions", body, idempotent=True)
        if opened.status != 201:
            if opened.status not in (None, 503):
                tally.error(f"card session {opened.status}", str(opened.body))
            continue
        token = opened.body["id"]
        with ledger.lock:
            ledger.card_sessions.append(token)
        consent = reader.call(
            "POST", f"/api/v1/card-sessions/{token}/consent", json.dumps({"subsidy": "all"}).encode(), idempotent=True
        )
        if consent.status != 201:
            if consent.status not in (None, 503):
                tally.error(f"consent {consent.status}", str(consent.body))
            continue
        reception = int(consent.body["reception_id"])
        with ledger.lock:
            ledger.receptions.append(reception)
        read = institution.call("GET", f"/api/v1/receptions/{reception}/eligibility?format=json")
        if read.status == 200:
            with ledger.lock:
                ledger.reads += 1
        elif read.status not in (None, 503):
            tally.error(f"eligibility {read.status}", str(read.body))


def copay_loop(
    world: World,
    clinic: int,
    markers: Callable[[], int],
    full: set[tuple[str, dt.date]],
    tally: Tally,
    ledger: Ledger,
    stop: threading.Event,
    give_up: float,
    seed: int,
) -> None:
    client = Client(world.api, world.clinic_keys[clinic], tally, give_up)
    rng = random.Random(seed)
    sheets = [(p, month) for p in world.capped for month in world.months]
    while not stop.is_set():
        open_sheets = [s for s in sheets if (s[0].my_number, s[1]) not in full]
        if not open_sheets:
            time.sleep(0.2)
            continue
        # Every copay client of both clinics writes to the same two open sheets, so that the clinics
        # meet at a cap again and again, before, during and after the failover.
        p, day = rng.choice(open_sheets[:2])
        marker = markers()
        body = {
            "reception_id": world.receptions[(clinic, p.my_number)],
            "payer_number": NANBYO_PAYER,
            "recipient_number": p.recipient,
            "service_date": day.isoformat(),
            "total_cost": marker,  # unique to this operation: a duplicate would show as two rows with it
            "copay_amount": ENTRY_YEN,
        }
        answer = client.call("POST", "/api/v1/copay-entries", json.dumps(body).encode(), idempotent=True)
        if answer.status == 201:
            with ledger.lock:
                ledger.copay_entries[int(answer.body["id"])] = marker
                if answer.body["remaining"] < ENTRY_YEN:
                    full.add((p.my_number, day))
        elif answer.status == 409 and isinstance(answer.body, dict) and answer.body.get("code") == "cap_exceeded":
            with ledger.lock:
                ledger.copay_refused += 1
                full.add((p.my_number, day))
        elif answer.status not in (None, 503):
            tally.error(f"copay {answer.status}", str(answer.body))


def upload_loop(world: World, tally: Tally, ledger: Ledger, stop: threading.Event, give_up: float) -> None:
    client = Client(world.api, world.municipality_key, tally, give_up)
    valid_from = world.months[-1]
    for index, p in enumerate(world.uploads):
        if stop.is_set():
            return
        filename = f"failover-{os.getpid()}-{index}.csv"
        content = certificates_csv([p], KODOMO_PAYER, valid_from, None).encode()
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: text/csv\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = client.call(
            "POST", "/api/v1/uploads", body, f"multipart/form-data; boundary={boundary}", idempotent=True
        )
        if answer.status == 201 and answer.body.get("status") == "applied":
            with ledger.lock:
                ledger.uploads[int(answer.body["id"])] = (filename, p.recipient)
        elif answer.status not in (None, 503):
            tally.error(f"upload {answer.status}", str(answer.body))
        time.sleep(0.2)


# --- the checks -----------------------------------------------------------------------------------


def check(world: World, ledger: Ledger, cap: int) -> dict[str, Any]:
    engine = create_engine(world.env["PMH_DATABASE_URL"])
    lost: dict[str, int] = {}
    duplicated: dict[str, int] = {}
    with engine.connect() as db:
        tokens = set(db.scalars(text("SELECT token FROM card_sessions")))
        lost["card_sessions"] = sum(1 for t in ledger.card_sessions if t not in tokens)
        clinic_ids = list(
            db.scalars(text("SELECT id FROM organisations WHERE code = ANY(:c)"), {"c": [c for c, _ in CLINICS]})
        )
        stored = db.scalar(text("SELECT count(*) FROM card_sessions WHERE institution_id = ANY(:i)"), {"i": clinic_ids})
        # Every operation sent may have been stored once (even one whose answer never came back), never twice.
        in_run = int(stored or 0) - world.setup_card_sessions
        duplicated["card_sessions"] = max(0, in_run - ledger.card_session_ops)
        receptions = set(db.scalars(text("SELECT id FROM receptions")))
        lost["receptions"] = sum(1 for r in ledger.receptions if r not in receptions)
        entries = dict(db.execute(text("SELECT id, total_cost FROM copay_entries")).all())
        lost["copay_entries"] = sum(1 for i, m in ledger.copay_entries.items() if entries.get(i) != m)
        duplicated["copay_entries"] = int(
            db.scalar(
                text(
                    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM copay_entries "
                    "GROUP BY total_cost HAVING count(*) > 1) AS twice"
                )
            )
            or 0
        )
        uploads = dict(db.execute(text("SELECT id, filename FROM uploads")).all())
        recipients = set(
            db.scalars(text("SELECT recipient_number FROM certificates WHERE payer_number = :p"), {"p": KODOMO_PAYER})
        )
        lost["uploads"] = sum(1 for i, (f, r) in ledger.uploads.items() if uploads.get(i) != f or r not in recipients)
        duplicated["uploads"] = int(
            db.scalar(
                text(
                    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM uploads "
                    "WHERE filename LIKE 'failover-%' GROUP BY filename HAVING count(*) > 1) AS twice"
                )
            )
            or 0
        )
        sheets = db.execute(
            text(
                "SELECT m.id, m.total, coalesce(sum(e.copay_amount) FILTER (WHERE e.cancelled_at IS NULL), 0) "
                "FROM copay_months m LEFT JOIN copay_entries e ON e.copay_month_id = m.id GROUP BY m.id, m.total"
            )
        ).all()
        overshoot = sum(1 for _, total, summed in sheets if summed > cap or total != summed)
        sheets_full = sum(1 for _, _, summed in sheets if summed == cap)
    engine.dispose()
    verify = subprocess.run(
        [sys.executable, "-m", "pmh", "audit", "verify", "--json"], env=world.env, capture_output=True, text=True
    )
    try:
        audit = json.loads(verify.stdout)
    except ValueError:
        audit = {"ok": False, "error": verify.stderr[-2000:]}
    return {
        "lost": sum(lost.values()),
        "lost_by_kind": lost,
        "duplicated": sum(duplicated.values()),
        "duplicated_by_kind": duplicated,
        "cap_overshoot": overshoot,
        "sheets": len(sheets),
        "sheets_at_cap": sheets_full,
        "audit_verified": bool(audit.get("ok")) and verify.returncode == 0,
        "audit_entries": audit.get("entries"),
    }


# --- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.api:
        api = args.api.rstrip("/")
    else:
        _say(f"scripts/cluster up --nodes {args.nodes}{' --pgbouncer' if args.pgbouncer else ''} …")
        api = cluster("up", "--nodes", str(args.nodes), *(["--pgbouncer"] if args.pgbouncer else []))["api"]
    env = {**os.environ, **{k: str(v) for k, v in cluster("env").items()}}
    env.pop("PMH_DATA_DIR", None)
    with tempfile.TemporaryDirectory(prefix="pmh-failover-data-") as data:
        env["PMH_DATA_DIR"] = data
        os.environ.update({k: v for k, v in env.items() if k.startswith("PMH_")})  # in-process pmh.clock etc.
        world = build_world(env, api, args.patients, args.cap)
        return drive(world, args)


def drive(world: World, args: argparse.Namespace) -> dict[str, Any]:
    tally, ledger, stop = Tally(), Ledger(), threading.Event()
    counter = itertools.count(100_000)
    counter_lock = threading.Lock()

    def marker() -> int:
        with counter_lock:
            return next(counter)

    full: set[tuple[str, dt.date]] = set()
    threads = [
        threading.Thread(target=reader_loop, args=(world, c, tally, ledger, stop, args.give_up)) for c in range(2)
    ]
    threads += [
        threading.Thread(
            target=copay_loop, args=(world, c, marker, full, tally, ledger, stop, args.give_up, 10 * c + k)
        )
        for c in range(2)
        for k in range(args.copay_clients)
    ]
    threads.append(threading.Thread(target=upload_loop, args=(world, tally, ledger, stop, args.give_up)))
    _say(f"load: {len(threads)} clients for {args.seconds} s, primary killed at {args.kill_at:.0%}")
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(args.seconds * args.kill_at)
    killed = cluster("kill-primary")
    killed_at = float(killed["at"])
    _say(f"killed the primary {killed['killed']} (pid {killed['pid']})")
    promotion: float | None = None
    new_primary = None
    deadline = time.time() + 120
    while time.time() < deadline:
        members = cluster("status")["members"]
        leader = [m for m in members if m["role"] == "leader" and m["state"] == "running"]
        if leader and leader[0]["name"] != killed["killed"]:
            promotion, new_primary = time.time() - killed_at, leader[0]["name"]
            break
        time.sleep(0.25)
    _say(f"new primary: {new_primary} after {promotion if promotion is None else round(promotion, 1)} s")
    remaining = args.seconds - (time.monotonic() - begin)
    if remaining > 0:
        time.sleep(remaining)
    stop.set()
    for thread in threads:
        thread.join(timeout=args.give_up + 60)
    elapsed = time.monotonic() - begin
    healthy = False
    deadline = time.time() + 90
    while time.time() < deadline and not healthy:
        members = cluster("status")["members"]
        healthy = sum(m["role"] == "leader" for m in members) == 1 and any(m["role"] == "sync_standby" for m in members)
        if not healthy:
            time.sleep(0.5)
    failures = [t for t in tally.write_failures if t >= killed_at]
    after = max(failures) if failures else killed_at
    recovered = [t for t in tally.write_successes if t > after]
    failover = round(min(recovered) - killed_at, 2) if recovered else None
    checks = check(world, ledger, args.cap)
    acknowledged = len(ledger.card_sessions) + len(ledger.receptions) + len(ledger.copay_entries) + len(ledger.uploads)
    return {
        "acknowledged": acknowledged,
        "lost": checks.pop("lost"),
        "duplicated": checks.pop("duplicated"),
        "cap_overshoot": checks.pop("cap_overshoot"),
        "failover_seconds": failover,
        "errors_other_than_503": sum(tally.errors.values()),
        "audit_verified": checks.pop("audit_verified"),
        "promotion_seconds": None if promotion is None else round(promotion, 2),
        "old_primary": killed["killed"],
        "new_primary": new_primary,
        "cluster_healthy_after": healthy,
        "acknowledged_by_kind": {
            "card_sessions": len(ledger.card_sessions),
            "receptions": len(ledger.receptions),
            "copay_entries": len(ledger.copay_entries),
            "uploads": len(ledger.uploads),
        },
        "copay_refused_at_cap": ledger.copay_refused,
        "eligibility_reads": ledger.reads,
        "retried_503": tally.retried_503,
        "dropped_connections": tally.dropped,
        "requests": tally.requests,
        "longest_request_seconds": round(tally.longest_request, 2),
        "seconds": round(elapsed, 1),
        "clients": len(threads),
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        **checks,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the load (default 60)")
    parser.add_argument("--nodes", type=int, default=2, help="pmh nodes when it starts its own cluster (default 2)")
    parser.add_argument("--api", help="the front of a running scripts/cluster up (then it neither starts nor stops it)")
    parser.add_argument("--kill-at", type=float, default=0.4, help="when to kill the primary, as a share of --seconds")
    parser.add_argument("--patients", type=int, default=8, help="capped 難病 patients (default 8, 12 months each)")
    parser.add_argument(
        "--cap", type=int, default=10000, help="monthly cap of their certificates in yen (default 10000)"
    )
    parser.add_argument("--copay-clients", type=int, default=2, help="copay clients per clinic (default 2)")
    parser.add_argument("--give-up", type=float, default=60, help="seconds a client keeps retrying one request")
    parser.add_argument("--pgbouncer", action="store_true", help="start the cluster with the nodes behind PgBouncer")
    parser.add_argument("--keep", action="store_true", help="leave the cluster it started running")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started_cluster = not args.api
    try:
        result = run(args)
    finally:
        if started_cluster and not args.keep:
            with contextlib.suppress(Exception):
                subprocess.run([str(CLUSTER), "down"], capture_output=True, timeout=180)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    goal = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["cap_overshoot"] == 0
        and result["errors_other_than_503"] == 0
        and result["audit_verified"]
        and result["failover_seconds"] is not None
        and result["failover_seconds"] <= 30
    )
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
