"""The sealer: links the entries appended unsealed into their keyed hash chains, in batches, in the background.

Readers append with one ``INSERT`` and never touch a chain head (:func:`pmh.audit.service.record`).
A sealer — a daemon thread of every server process (``PMH_AUDIT_SEALER``), or ``pmh audit seal
--follow`` as a process of its own — looks every half ``PMH_AUDIT_SEAL_MS`` for chains with unsealed
entries and seals each in its own transaction, one batch at a time. Sealers of several processes and
nodes are safe together: a sealer only *tries* a chain's transaction-scoped advisory lock, so one
that cannot have a chain at once leaves it to the one that has it (nobody waits).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pmh.audit import service
from pmh.db import read_only, unit_of_work

log = logging.getLogger("pmh.audit")


def seal_pending() -> int:
    """Seal every unsealed entry committed so far, one transaction per chain and batch; return how many.

    Chains held by another sealer are skipped (it seals them).
    """
    with read_only() as session:
        chains = service.unsealed_chains(session)
    total = 0
    for chain in chains:
        while True:
            with unit_of_work() as session:
                sealed = service.seal_chain(session, chain)
            total += sealed or 0
            if sealed is None or sealed < service.SEAL_BATCH:
                break
    return total


def interval_s(seal_ms: int) -> float:
    """Return how long a sealer sleeps between passes: half the bound, so an entry waits at most about the bound."""
    return seal_ms / 2000


@dataclass
class Sealer:
    """A running sealer thread."""

    thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the pass in progress and one last pass, so that what was appended before is sealed."""
        self.stopping.set()
        self.thread.join(timeout_s)


FAILURE_PAUSE_S = 5.0
"""How long a sealer waits after a failed pass before the next (a database restart, a forged link)."""


def run(stopping: threading.Event, seal_ms: int) -> None:
    """Seal every ``interval_s(seal_ms)`` until ``stopping`` is set, then once more.

    A failed pass is logged and the next one tried after :data:`FAILURE_PAUSE_S`; entries it could not
    seal stay unsealed, which ``pmh audit verify`` reports once they are overdue.
    """
    pause = interval_s(seal_ms)
    while True:
        stop = stopping.wait(pause)
        try:
            seal_pending()
            pause = interval_s(seal_ms)
        except Exception:  # a failed pass must not stop the next one
            log.exception("audit seal failed")
            pause = FAILURE_PAUSE_S
        if stop:
            return


def start_sealer(seal_ms: int) -> Sealer:
    """Start a sealer as a daemon thread of this process."""
    stopping = threading.Event()
    thread = threading.Thread(target=run, args=(stopping, seal_ms), name="pmh-audit-sealer", daemon=True)
    thread.start()
    return Sealer(thread, stopping)
