"""Profile: where the eligibility read spends its CPU inside the app (no HTTP, no load generator).

Calls the ASGI app directly with ``--concurrency`` reads at a time on a database a run of
``benchmarks/eligibility.py`` left behind (its receptions and its benchmark clinic), the sealer off,
and prints the app's CPU per read; with ``--profile``, cProfile's internal time grouped by package.

    .venv/bin/python benchmarks/eligibility.py --certificates 20000 --seconds 5 --database pmh_bench_eligibility
    .venv/bin/python benchmarks/profile_read.py --database pmh_bench_eligibility --reads 3000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import os
import pstats
import tempfile
import time
from typing import Any

from _shared import database_url


def _scope(reception_id: int, key: str) -> dict[str, Any]:
    path = f"/api/v1/receptions/{reception_id}/eligibility"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"format=json",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def _group(filename: str, name: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if "/src/pmh/" in filename:
        return "pmh/" + filename.split("/src/pmh/")[1]
    if "/lib/python3" in filename:
        return "stdlib " + filename.rsplit("/", 1)[-1]
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="pmh_bench_eligibility")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        PMH_DATABASE_URL=database_url(args.database),
        PMH_DATA_DIR=tempfile.mkdtemp(prefix="pmh-profile-"),
        PMH_LOG_LEVEL="WARNING",
        PMH_SECRET_KEY=os.environ.get("PMH_SECRET_KEY", "benchmark-secret"),
        PMH_AUDIT_SEALER="false",
    )
    from eligibility import _existing_setup
    from pmh.app import create_app

    setup = _existing_setup()
    app = create_app()

    async def read(reception_id: int) -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(_scope(reception_id, setup.institution_key), receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"read failed: {sent}")

    async def run() -> None:
        ids = setup.reception_ids
        async with app.router.lifespan_context(app):
            for reception_id in ids[:200]:  # warm: pool, key cache, prepared statements
                await read(reception_id)
            profiler = cProfile.Profile()
            started_cpu, started = time.process_time(), time.perf_counter()
            if args.profile:
                profiler.enable()

            async def worker(first: int) -> None:
                for index in range(first, args.reads, args.concurrency):
                    await read(ids[index % len(ids)])

            await asyncio.gather(*(worker(k) for k in range(args.concurrency)))
            if args.profile:
                profiler.disable()
            cpu_ms = (time.process_time() - started_cpu) / args.reads * 1000
            wall_ms = (time.perf_counter() - started) / args.reads * 1000
            print(f"app CPU per read: {cpu_ms:.3f} ms; wall per read: {wall_ms:.3f} ms ({args.reads} reads)")
            if args.profile:
                groups: collections.Counter[str] = collections.Counter()
                stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
                for (filename, _line, name), (_cc, _nc, internal, _cum, _callers) in stats.items():
                    groups[_group(filename, name)] += internal
                total = sum(groups.values())
                for group, seconds in groups.most_common(20):
                    print(f"{seconds / total * 100:5.1f} %  {group}")

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()
