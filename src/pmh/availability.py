"""When the database is away: 503 with ``Retry-After``, never a 500 nor a hang (docs/deployment.md).

During a failover the primary is gone for some seconds: connections are refused or closed, the
server shuts down (``57P01``), or the URL briefly reaches a standby that refuses writes (``25006``,
"cannot execute … in a read-only transaction"). Those errors are :func:`is_unavailable`; the app
answers them with :class:`DatabaseUnavailable` (503, ``database_unavailable``). Time is bounded by the
connection settings of :func:`postgres_connect_args` (connect timeout, statement timeout, TCP
keepalives and user timeout). :func:`discard_pool_on_failover` makes a standby's refusal count as a
disconnect, so the pool drops every connection it holds and the next request connects afresh —
to the new primary once the URL reaches it (``pool_pre_ping`` discards connections that died).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext

from pmh.errors import PmhError
from pmh.settings import Settings

RETRY_AFTER_SECONDS = 5
"""What ``Retry-After`` says: a Patroni failover takes some ten to thirty seconds."""

# SQLSTATEs that mean "this server cannot do it now" (not "your request is wrong"): connection
# exceptions (class 08), shutdowns (57P01 admin, 57P02 crash, 57P03 cannot connect now), a read-only
# standby (25006), a statement cancelled by statement_timeout (57014), a database being recovered.
_GONE_STATES = frozenset({"57P01", "57P02", "57P03", "57P04", "25006", "57014", "53300"})
_STANDBY_STATES = frozenset({"25006", "57P01", "57P02", "57P03"})
_SQLITE_BUSY = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


class DatabaseUnavailable(PmhError):
    """The database cannot be reached or cannot write right now (a failover): try again shortly."""

    status_code = 503
    code = "database_unavailable"
    title = "データベースに接続できません"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unavailable() -> DatabaseUnavailable:
    """Return the 503 error every edge answers a database outage with."""
    return DatabaseUnavailable(
        "データベースに一時的に接続できません（切り替え中の可能性があります）。"
        f"{RETRY_AFTER_SECONDS} 秒ほど待ってから、もう一度お試しください。"
        "登録の再送には同じ Idempotency-Key を付けてください（二重に記録されません）。",
        extensions={"retry_after": RETRY_AFTER_SECONDS},
    )


def _sqlstate(error: BaseException) -> str | None:
    orig = getattr(error, "orig", None)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_unavailable(error: BaseException) -> bool:
    """Return True when a database error means the server is away or read-only, not a bug or bad input."""
    if isinstance(error, sa_exc.TimeoutError | PoolTimeout):  # no pooled connection came free in time
        return True
    if isinstance(error, psycopg.Error):  # raised as is by the async read path (pmh.eligibility.fastread)
        state = error.sqlstate
        if state is not None:
            return state.startswith("08") or state in _GONE_STATES
        return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None:
        return state.startswith("08") or state in _GONE_STATES
    orig = error.orig
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        # psycopg raises these without an SQLSTATE when the socket is refused, closed or times out
        if type(orig).__module__.startswith("psycopg"):
            return True
        return getattr(orig, "sqlite_errorname", "") in _SQLITE_BUSY
    return False


def discard_pool_on_failover(engine: Engine) -> None:
    """Treat a standby's or a shutting-down server's refusal as a disconnect: the whole pool is dropped.

    Without this the pool would keep handing out connections to a server that has become a
    standby (its sessions are read-only for good) after the URL moved on to the new primary.
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        state = getattr(context.original_exception, "sqlstate", None)
        if state in _STANDBY_STATES and not context.is_disconnect:
            context.is_disconnect = True


def postgres_connect_args(settings: Settings) -> dict[str, Any]:
    """Return libpq/psycopg connection arguments that bound every wait on PostgreSQL.

    ``connect_timeout`` bounds a connection attempt; keepalives and ``tcp_user_timeout`` notice a
    peer that vanished without closing the socket (a powered-off host); ``statement_timeout`` bounds
    one statement. Behind PgBouncer in transaction mode (``PMH_DATABASE_PGBOUNCER``) no startup
    option is sent (set ``statement_timeout`` on the role instead) and psycopg prepares no statements,
    since a prepared statement lives on a server connection the next transaction may not get.
    """
    args: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 3,
        "keepalives_count": 3,
        "tcp_user_timeout": settings.database_connect_timeout_seconds * 1000 + 10_000,
    }
    if settings.database_pgbouncer:
        args["prepare_threshold"] = None
    elif settings.database_statement_timeout_seconds:
        args["options"] = f"-c statement_timeout={settings.database_statement_timeout_seconds * 1000}"
    return args
