"""A short-lived, in-process cache of verified API keys, dropped on revocation in every process.

A レセコン sends its key with every eligibility read; looking it up each time was a sixth of a read's
cost. Verified keys are kept here for ``PMH_API_KEY_CACHE_SECONDS`` (by the key's SHA-256 digest,
never the key), and a revocation reaches every process on every node at once:

- ``revoke`` (the API, the page, the CLI, a reader's revocation) sends ``NOTIFY pmh_api_keys`` in
  its own transaction, so the notice goes out exactly when the revocation commits;
- each process keeps one listening connection (a daemon thread) and drops the cache on any notice;
- the cache answers only while that listener is connected: before it has started, after its
  connection broke (a database restart or a failover) and until it has listened again, every key
  is looked up in the database, and the cache is emptied when the listener reconnects, because
  notices sent in between are lost.

On SQLite there is no NOTIFY, and the cache stays off: every request reads its key (the embedded
database has one node, and the read is local).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller

CHANNEL = "pmh_api_keys"
MAX_ENTRIES = 10_000
"""Enough for every key a node sees in a cache period; past it the cache starts over."""
RECONNECT_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass
class KeyCache:
    """Verified keys by digest, valid while ``connected`` and younger than ``seconds``."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    connected: bool = False
    _entries: dict[str, tuple[Caller, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0

    @property
    def generation(self) -> int:
        """A number that changes whenever the cache is cleared (read it before looking a key up)."""
        return self._generation

    def get(self, digest: str) -> Caller | None:
        """Return the cached caller of a key digest, or None (not cached, expired, or cache off)."""
        if not self.connected or self.seconds <= 0:
            return None
        found = self._entries.get(digest)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]

    def put(self, digest: str, caller: Caller, generation: int) -> None:
        """Remember a key verified by a lookup that began at ``generation``.

        A lookup that began before a revocation's notice arrived may have read the key before the
        revocation committed: if the cache was cleared since, its answer is not kept.
        """
        if not self.connected or self.seconds <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (caller, self.clock() + self.seconds)

    def clear(self) -> None:
        """Forget every key (a revocation somewhere, or notices possibly missed)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def disconnect(self) -> None:
        """Stop answering from the cache until the listener has listened again."""
        self.connected = False
        self.clear()


class Listener(threading.Thread):
    """Listens for revocations on its own PostgreSQL connection and drops the cache on each."""

    def __init__(self, engine: Engine, cache: KeyCache) -> None:
        super().__init__(name="pmh-key-revocations", daemon=True)
        self._engine = engine
        self._cache = cache
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the thread to end (it notices within a second)."""
        self._stopping.set()

    def run(self) -> None:
        warned = False
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:
                # Any failure means no cache until listening again; warn once per outage, not every second.
                warned = warned and not self._cache.connected
                level = logging.DEBUG if warned else logging.WARNING
                log.log(level, "api key revocation listener disconnected: %s", type(exc).__name__)
                warned = True
            self._cache.disconnect()
            self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        import psycopg

        # Its own connection, outside the pool: it is held for the life of the process.
        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._cache.clear()
            self._cache.connected = True
            while not self._stopping.is_set():
                for _ in connection.notifies(timeout=1.0, stop_after=1):
                    self._cache.clear()


_caches: dict[str, KeyCache] = {}
_listeners: list[Listener] = []
_start_lock = threading.Lock()


_by_engine: weakref.WeakKeyDictionary[Engine, KeyCache] = weakref.WeakKeyDictionary()
"""The same caches by engine: rendering an engine's URL on every request would cost more than the lookup."""


def cache_for(engine: Engine, seconds: float) -> KeyCache:
    """Return this process's cache for a database, starting its listener on PostgreSQL the first time."""
    found = _by_engine.get(engine)
    if found is not None:
        return found
    key = engine.url.render_as_string(hide_password=True)
    with _start_lock:
        if key not in _caches:
            cache = KeyCache(seconds)
            if engine.dialect.name == "postgresql" and seconds > 0:
                listener = Listener(engine, cache)
                listener.start()
                _listeners.append(listener)
            _caches[key] = cache
        _by_engine[engine] = _caches[key]
    return _caches[key]


def reset() -> None:
    """Stop the listeners and forget every cache (tests, and a process that changes its database)."""
    with _start_lock:
        for listener in _listeners:
            listener.stop()
        for listener in _listeners:
            listener.join(timeout=5)
        for cache in _caches.values():
            cache.disconnect()
        _listeners.clear()
        _caches.clear()
        _by_engine.clear()


def announce_revocation(session: Session) -> None:
    """Tell every process to drop its cached keys when this transaction commits (PostgreSQL)."""
    for cache in _caches.values():
        cache.clear()  # this process at once; the others when the revocation commits
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
