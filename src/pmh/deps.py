"""Request-scoped dependencies shared by every area's HTTP edge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from annotated_types import Ge, Le
from fastapi import Depends
from sqlalchemy.orm import Session

from pmh.db import get_sessionmaker, open_replica_session, transaction


def get_session() -> Iterator[Session]:
    """Yield one session inside one transaction: the request's unit of work.

    Used with ``scope="function"`` so the commit happens before the response is sent, and an
    exception raised by the endpoint rolls everything back.
    """
    with get_sessionmaker()() as session:
        yield from transaction(session)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_report_session(primary: SessionDep) -> Iterator[Session]:
    """Yield a session for a report that writes nothing: on the read-only URL when it is fresh enough.

    Falls back to the request's unit of work on the primary (``primary``, which connects only when
    used) when no read URL is set, or the replica is unreachable or further behind than
    ``PMH_READ_MAX_LAG_SECONDS``. Only routes whose reads may lag by that much use it
    (docs/deployment.md lists them); anything that writes, audits or must see the caller's own last
    write keeps :data:`SessionDep`.
    """
    replica = open_replica_session()
    if replica is None:
        yield primary
        return
    with replica:  # closing rolls the read-only transaction back
        yield replica


ReportSessionDep = Annotated[Session, Depends(get_report_session, scope="function")]


INT64_MAX = 2**63 - 1
DbId = Annotated[int, Ge(1), Le(INT64_MAX)]
"""An id of a stored row, as a path parameter or a body field: a positive 64-bit integer (anything
larger is refused as invalid input instead of overflowing the database's integer)."""

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., object])


def large_body(endpoint: _Endpoint) -> _Endpoint:
    """Mark a JSON route as an upload: its body may be as large as ``PMH_MAX_UPLOAD_MB``.

    Routes with a ``File`` parameter are uploads without the mark (``pmh.bodyguard``).
    """
    setattr(endpoint, "__pmh_upload__", True)  # noqa: B010
    return endpoint
