"""The failover benchmark, short: a real Patroni cluster, a mixed load, one kill of the primary.

Runs ``benchmarks/failover.py --seconds 20`` against a cluster of its own (``scripts/cluster up`` in a
temporary directory, on a block of loopback ports nobody else uses) and asserts what the benchmark
checks on the new primary: nothing acknowledged lost, nothing recorded twice, no copay sheet past its
cap, no error other than 503, the audit chains verified. How fast the failover was is measured by the
benchmark (docs/performance.md), never asserted here. The cluster is torn down even when the run
fails. This is the only test in its file, so ``--dist loadfile`` gives it one worker.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "cluster"
BENCHMARK = ROOT / "benchmarks" / "failover.py"
PORTS_PER_CLUSTER = 40  # scripts/cluster uses base … base + 30 + nodes
FIRST_BASE, BLOCKS = 16400, 40  # 16400–17999: none of the machine's own services listen there


def _missing_engines() -> str | None:
    """Say why the cluster cannot start here, or None when it can (root installs what is missing)."""
    if os.geteuid() == 0:
        return None
    missing = [command for command in ("patroni", "etcd", "haproxy") if shutil.which(command) is None]
    if not missing and Path("/usr/lib/postgresql/15/bin/postgres").exists():
        return None
    return (
        "Patroni クラスターのテストには Debian の patroni・etcd-server・haproxy・postgresql-15 が必要です"
        f"（不足: {missing}）"
    )


def _block_free(base: int) -> bool:
    for port in range(base, base + PORTS_PER_CLUSTER):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _free_base() -> int:
    """A block of ports of its own: where it starts depends on the checkout's test prefix (two checkouts
    running their suites side by side start apart), and a busy block is skipped."""
    prefix = os.environ.get("PMH_TEST_DB_PREFIX", "pmh_test")
    first = zlib.crc32(prefix.encode()) % BLOCKS
    for step in range(BLOCKS):
        base = FIRST_BASE + ((first + step) % BLOCKS) * PORTS_PER_CLUSTER
        if _block_free(base):
            return base
    pytest.fail("クラスター用のポート（16400〜17999）に空きがありません", pytrace=False)


@pytest.fixture
def cluster_env() -> Iterator[dict[str, str]]:
    reason = _missing_engines()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " — CI ではこのテストは省略できません。", pytrace=False)
        pytest.skip(reason)
    # Left 0700, as `scripts/serve` leaves var/: the postgres user cannot enter it, so the members'
    # data goes under /var/tmp and the daemons run from "/" (scripts/cluster.py members_root, start).
    directory = Path(tempfile.mkdtemp(prefix="pmh-cluster-test-"))
    env = {
        **os.environ,
        "PMH_CLUSTER_DIR": str(directory / "var" / "cluster"),
        "PMH_CLUSTER_BASE_PORT": str(_free_base()),
    }
    try:
        yield env
    finally:
        # Always: the benchmark stops the cluster it started, but not if it was killed by the timeout.
        down = subprocess.run([str(CLUSTER), "down"], env=env, capture_output=True, text=True, timeout=180)
        shutil.rmtree(directory, ignore_errors=True)
        assert down.returncode == 0, down.stderr


@pytest.mark.cluster
def test_a_killed_primary_loses_and_duplicates_nothing(cluster_env: dict[str, str]) -> None:
    command = [sys.executable, str(BENCHMARK), "--seconds", "20", "--nodes", "2", "--patients", "3", "--json"]
    done = subprocess.run(command, env=cluster_env, capture_output=True, text=True, timeout=480, cwd=ROOT)
    assert done.stdout.strip(), f"the benchmark printed nothing ({done.returncode}):\n{done.stderr[-4000:]}"
    result = json.loads(done.stdout)
    report = json.dumps(result, ensure_ascii=False, indent=1) + "\n" + done.stderr[-2000:]
    assert result["acknowledged"] > 0, report
    assert result["new_primary"] not in (None, result["old_primary"]), report
    assert result["failover_seconds"] is not None, report  # writes were acknowledged again after the kill
    assert result["lost"] == 0, report
    assert result["duplicated"] == 0, report
    assert result["cap_overshoot"] == 0, report
    assert result["errors_other_than_503"] == 0, report
    assert result["audit_verified"] is True, report
