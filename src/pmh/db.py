"""Engine, session factory and declarative base, identical in behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from pmh import clock
from pmh.availability import discard_pool_on_failover, postgres_connect_args
from pmh.errors import PmhError
from pmh.settings import get_settings

log = logging.getLogger("pmh.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime (from the hub's one clock, :mod:`pmh.clock`)."""
    return clock.now()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on both backends (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids fall back to INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

int_pk = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow, nullable=False)]
code_str = Annotated[str, mapped_column(String(32), nullable=False)]


class Base(DeclarativeBase):
    """Declarative base of every table; constraint names follow one convention (Alembic batch mode)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class TimestampedBase(Base):
    """Abstract base with an id and creation/update timestamps."""

    __abstract__ = True

    id: Mapped[int_pk]
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def table_of(model: type[Base]) -> Table:
    """Return the Core table of a mapped class (typed, for bulk statements)."""
    return cast(Table, model.__table__)


def _configure_sqlite(engine: Engine, immediate: bool = True) -> None:
    """Switch on foreign keys and WAL, and make every transaction take the write lock up front.

    ``BEGIN IMMEDIATE`` serialises writers so that read-then-write logic (audit chain, caps)
    cannot interleave on the embedded database; pysqlite's own transaction handling is turned
    off so that SAVEPOINTs behave as on PostgreSQL.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


SAFE_SQLITE = (3, 51, 3)
"""The oldest SQLite pmh runs its embedded database on (docs/security.md, "Embedded database").

Older versions carry two WAL defects that lose committed transactions: a ``ROLLBACK TO`` after the
page cache spilled to the WAL leaves frames whose checksums recovery stops at (every later commit is
lost when the WAL is recovered; reproduced here on 3.40.1 and 3.49.1, gone in 3.50.4), and the
WAL-reset race between two connections' checkpoints and a commit (3.7.0 to 3.51.2, fixed in 3.51.3).
"""


class UnsafeDatabase(PmhError):
    """The embedded database's SQLite has a known data-loss defect: the hub refuses to start on it."""

    status_code = 503
    code = "unsafe_database"
    title = "データベースを使用できません"


def sqlite_driver() -> Any:
    """Return the DB-API module of the SQLite pmh uses: the bundled current one (``pysqlite3``), else stdlib."""
    try:
        from pysqlite3 import dbapi2  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - the dependency ships a wheel for the supported platforms
        import sqlite3 as dbapi2
    return dbapi2


def check_sqlite_version(version: tuple[int, int, int], where: str = "SQLite") -> None:
    """Refuse a SQLite older than :data:`SAFE_SQLITE` with one line in Japanese and English."""
    if tuple(version) >= SAFE_SQLITE:
        return
    found = ".".join(map(str, version))
    need = ".".join(map(str, SAFE_SQLITE))
    raise UnsafeDatabase(
        f"{where} {found} にはコミット済みのデータを失う WAL の不具合があるため使用できません"
        f"（{need} 以上が必要です） / "
        f"{where} {found} has a WAL defect that loses committed data; pmh needs {need} or later "
        "(pip install --upgrade pysqlite3)"
    )


def _create_private(path: Path) -> None:
    """Create an empty file readable and writable by its owner only (0600), unless it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, *, for_reading: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the per-backend settings pmh relies on.

    SQLite runs on :func:`sqlite_driver` and is refused below :data:`SAFE_SQLITE`; a new database file
    is created 0600 (SQLite gives its -wal and -shm files the same mode). Bound parameters never appear
    in the text of a database error (``hide_parameters``), so a traceback in a log carries no personal
    value. ``for_reading`` (the read-only URL's engine): on SQLite a plain ``BEGIN``, which takes no
    write lock, so a report never waits for a writer.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        driver = sqlite_driver()
        check_sqlite_version(driver.sqlite_version_info)
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_private(Path(database))
        engine = create_engine(url, module=driver, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine, immediate=not for_reading)
        return engine
    connect_args = postgres_connect_args(get_settings()) | kwargs.pop("connect_args", {})
    engine = create_engine(url, pool_pre_ping=True, pool_timeout=10, connect_args=connect_args, **kwargs)
    discard_pool_on_failover(engine)
    return engine


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return make_engine(get_settings().effective_database_url)


@lru_cache
def get_read_engine() -> Engine | None:
    """Return the engine of the read-only URL (``PMH_DATABASE_READ_URL``), or None when none is set."""
    url = get_settings().database_read_url
    return make_engine(url, for_reading=True) if url else None


_LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


def replica_lag_seconds(session: Session) -> float:
    """Return how far behind the primary the session's server is, in seconds (a primary: 0).

    A replica that has replayed all it received is 0, however long ago the primary last wrote;
    otherwise the age of the last replayed transaction. SQLite has no replicas: 0.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0.0
    return float(session.scalar(_LAG_SQL) or 0)


def replica_is_fresh(lag_seconds: float | None, max_lag_seconds: float) -> bool:
    """Decide whether a report may read on the replica: reachable (a lag) and no further behind than allowed."""
    return lag_seconds is not None and lag_seconds <= max_lag_seconds


def open_replica_session() -> Session | None:
    """Return a read-only session on the read URL when it is set, reachable and fresh enough; else None.

    None sends the caller to the primary (``deps.get_report_session``). On PostgreSQL the session's
    transaction is ``READ ONLY``, so a report that tried to write would fail on the primary too.
    """
    engine = get_read_engine()
    if engine is None:
        return None
    session = Session(bind=engine, expire_on_commit=False)
    try:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET TRANSACTION READ ONLY"))
        lag: float | None = replica_lag_seconds(session)
    except DBAPIError as exc:  # the replica is away: the primary answers instead
        session.close()
        log.warning("read replica unavailable", extra={"error": type(exc).__name__})
        return None
    if not replica_is_fresh(lag, get_settings().read_max_lag_seconds):
        session.close()
        log.info("read replica behind, reading on the primary", extra={"lag_seconds": lag})
        return None
    return session


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Return the process-wide session factory."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def read_only() -> Iterator[Session]:
    """Open one session for reading; nothing it does is committed."""
    with get_sessionmaker()() as session:
        yield session


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Open one session and one transaction: committed on success, rolled back on any error.

    An error that says it ``keeps_work`` (a refused PIN: the wrong-PIN count must stick) is
    raised after the commit instead.
    """
    with get_sessionmaker()() as session:
        yield from transaction(session)


def transaction(session: Session, begin: Callable[[], SessionTransaction] | None = None) -> Iterator[Session]:
    """Run the caller's work in one transaction of ``session`` (the body of every unit of work).

    ``begin`` opens it (default ``session.begin``; the tests pass ``begin_nested`` to run a request
    inside a savepoint). Committed on success, rolled back on any error, except an error that
    ``keeps_work``, which is raised after the commit.
    """
    outer = (begin or session.begin)()
    try:
        yield session
    except PmhError as exc:
        if exc.keeps_work:
            outer.commit()
        else:
            outer.rollback()
        raise
    except BaseException:
        outer.rollback()
        raise
    outer.commit()
