"""Running the real hub in a subprocess, exactly as the README's quick start does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """Return a loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveHub:
    """A hub serving on loopback, with the demo credentials it printed and kept."""

    base_url: str
    data_dir: Path
    log_path: Path
    pid: int = 0

    def credentials(self) -> dict[str, Any]:
        """Return the demo accounts and keys kept in the data directory."""
        return dict(json.loads((self.data_dir / "demo-credentials.json").read_text()))


@contextmanager
def serve_demo(data_dir: Path, timeout_s: float = 180.0) -> Iterator[LiveHub]:
    """Start ``pmh serve --demo`` on an empty SQLite data directory and stop it afterwards."""
    with serve(data_dir, demo=True, timeout_s=timeout_s) as hub:
        yield hub


@contextmanager
def serve(data_dir: Path, demo: bool = False, timeout_s: float = 60.0) -> Iterator[LiveHub]:
    """Start ``pmh serve`` on the SQLite database of ``data_dir`` (``--demo``: with demo data) and stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMH_")}
    env.update({"PMH_DATA_DIR": str(data_dir), "PMH_SECRET_KEY": "live-test-secret"})
    log_path = data_dir.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "pmh", "serve", *(["--demo"] if demo else []), "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    hub = LiveHub(f"http://127.0.0.1:{port}", data_dir, log_path, process.pid)
    try:
        _wait_until_up(hub, process, timeout_s)
        yield hub
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(hub: LiveHub, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pmh serve exited early:\n{hub.log_path.read_text()}")
        try:
            if httpx.get(f"{hub.base_url}/docs", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"pmh serve did not come up in {timeout_s}s:\n{hub.log_path.read_text()}")
