"""Benchmark: the reader path the kiosk uses — card session and consent — over HTTP (issue 12).

One "session" is what a face-recognition card reader does for a patient: ``POST /api/v1/card-sessions``
(face authentication; the holder's certificates are offered by name) and then
``POST /api/v1/card-sessions/{id}/consent`` (すべて提供), which creates the reception with its 受付番号.
Both are audited. ``--clients`` keep-alive connections run sessions back to back for ``--seconds``,
spread over ``--institutions`` clinics with one registered reader each (a clinic's 受付番号 counter is
one row, so one clinic's readers take numbers one after the other, as at a real desk).

    .venv/bin/python benchmarks/reader.py --certificates 20000 --seconds 15
    .venv/bin/python benchmarks/reader.py --certificates 1000000 --seconds 30 --json

Targets (issue 12): ≥ 500 sessions/s with consent, p99 ≤ 100 ms (for the whole session: both requests).
There is no pgbench ceiling here: the session writes a card session, a reception, its certificates,
the day's number and two audit entries through the general (ORM) path, whose statement mix differs
by clinic and day; the figures to compare are the hub's own CPU per session and the latency.

The registry is loaded as ``benchmarks/eligibility.py`` loads it (the real doors); the cards are
issued in-process with one argon2 hash reused (face authentication never checks the PIN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _shared import fresh_database

from eligibility import (
    BATCH,
    PIN,
    _eligible_people,
    _environment,
    _exchange,
    _free_port,
    _load_registry,
    _percentile,
    _sample_my_numbers,
    _say,
    _serve,
    _stop,
    _tree_cpu_seconds,
    _workers,
)

DATABASE = "pmh_bench_reader"
TARGET_SESSIONS_PER_S = 500
TARGET_P99_MS = 100.0


def _readers(count: int) -> list[str]:
    """Register ``count`` clinics, each with one face-recognition reader; return the readers' keys."""
    from pmh.auth import readers
    from pmh.auth import service as auth
    from pmh.codes.checkdigits import modulus10_weight21_check_digit
    from pmh.db import unit_of_work

    keys = []
    with unit_of_work() as session:
        for number in range(count):
            body = f"131{number + 20000:06d}"  # 東京都, 医科 (1), a clinic number of the benchmark's own
            code = body + str(modulus10_weight21_check_digit(body))
            auth.add_institution(session, code, f"ベンチマーク診療所{number + 1}", "clinic")
            _, issued = readers.add_reader(session, code, f"reader-{number + 1}", face=True)
            keys.append(issued.key)
    return keys


def _cards(insurance: Path, count: int, seed: int) -> list[str]:
    """Issue test cards to ``count`` people who hold one linked, valid certificate; return the serials."""
    from pmh.auth.passwords import hash_password
    from pmh.cards import service as cards
    from pmh.db import unit_of_work
    from pmh.eligibility.common import today_in_japan

    people = _eligible_people(_sample_my_numbers(insurance, count * 4, seed), today_in_japan())[:count]
    pin_hash = hash_password(PIN)
    original = cards.hash_password  # type: ignore[attr-defined]
    cards.hash_password = lambda _password: pin_hash  # type: ignore[attr-defined]
    serials: list[str] = []
    try:
        for start in range(0, len(people), BATCH):
            with unit_of_work() as session:
                serials += [cards.issue_card(session, n, PIN).card_serial for n in people[start : start + BATCH]]
    finally:
        cards.hash_password = original  # type: ignore[attr-defined]
    return serials


def _post(path: str, key: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _drive(
    port: int, keys: Sequence[str], serials: Sequence[str], clients: int, seconds: float, server_pid: int
) -> dict[str, Any]:
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    latencies: list[float] = []
    errors: dict[int, int] = {}
    samples: list[str] = []

    async def session(index: int, rng: random.Random) -> None:
        reader, writer = connections[index]
        key = keys[index % len(keys)]
        opened_request = _post(
            "/api/v1/card-sessions", key, {"card_serial": rng.choice(serials), "auth": "face", "face_matched": True}
        )
        status, body = await _exchange(reader, writer, opened_request)
        if status == 201:
            token = json.loads(body)["id"]
            status, body = await _exchange(
                reader, writer, _post(f"/api/v1/card-sessions/{token}/consent", key, {"subsidy": "all"})
            )
        if status != 201:
            errors[status] = errors.get(status, 0) + 1
            if not samples:
                samples.append(body[:500].decode(errors="replace"))

    async def run(index: int, end: float) -> None:
        rng = random.Random(index)
        clock = time.perf_counter
        while clock() < end:
            started = clock()
            await session(index, rng)
            latencies.append(clock() - started)

    await asyncio.gather(*(run(i, time.perf_counter() + 2) for i in range(clients)))  # warm-up
    latencies.clear()
    warm_errors = dict(errors)
    cpu_before = _tree_cpu_seconds(server_pid)
    workers_before = _workers(server_pid)
    start = time.perf_counter()
    await asyncio.gather(*(run(i, start + seconds) for i in range(clients)))
    elapsed = time.perf_counter() - start
    cpu = _tree_cpu_seconds(server_pid) - cpu_before
    restarts = len(_workers(server_pid) - workers_before)
    for _, writer in connections:
        writer.close()
    if warm_errors or errors:
        raise SystemExit(f"sessions failed: {errors} — {samples[0] if samples else ''}")
    ordered = sorted(latencies)
    return {
        "sessions": len(ordered),
        "seconds": round(elapsed, 2),
        "sessions_per_s": round(len(ordered) / elapsed),
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "server_cpu_ms_per_session": round(cpu / len(ordered) * 1000, 2),
        "errors": 0,
        "worker_restarts": restarts,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pmh-bench-reader-"))
    url = fresh_database(args.database)
    env = _environment(url, workdir)
    insurance, load_seconds = _load_registry(env, args.certificates, workdir)
    keys = _readers(args.institutions)
    serials = _cards(insurance, args.cards, args.seed)
    _say(f"serving with {args.workers} worker(s); {args.clients} clients, {len(keys)} readers, {len(serials)} cards …")
    port = _free_port()
    server = _serve(env, args.workers, port, workdir / "uvicorn.log")
    try:
        try:
            import uvloop

            figures = uvloop.run(_drive(port, keys, serials, args.clients, args.seconds, server.pid))
        except ImportError:
            figures = asyncio.run(_drive(port, keys, serials, args.clients, args.seconds, server.pid))
    finally:
        _stop(server)
    return {
        "path": "reader",
        "certificates": args.certificates,
        "institutions": len(keys),
        "cards": len(serials),
        "clients": args.clients,
        "workers": args.workers,
        **figures,
        "requests_per_session": 2,
        "load_seconds": load_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=20_000)
    parser.add_argument("--cards", type=int, default=400, help="patients with a test card")
    parser.add_argument("--institutions", type=int, default=16, help="clinics, one reader each")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
        return
    met = {True: "met", False: "NOT met"}
    print(
        f"reader : {figures['sessions']:,} sessions (card session + consent) in {figures['seconds']} s = "
        f"{figures['sessions_per_s']:,}/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"{figures['server_cpu_ms_per_session']} ms server CPU per session"
    )
    print(
        f"targets: ≥ {TARGET_SESSIONS_PER_S}/s {met[figures['sessions_per_s'] >= TARGET_SESSIONS_PER_S]}; "
        f"p99 ≤ {TARGET_P99_MS:g} ms {met[figures['p99_ms'] <= TARGET_P99_MS]}"
    )


if __name__ == "__main__":
    sys.exit(main())
