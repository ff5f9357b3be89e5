"""Request-scoped dependencies shared by every area's HTTP edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from pmh.db import get_sessionmaker, transaction


def get_session() -> Iterator[Session]:
    """Yield one session inside one transaction: the request's unit of work.

    Used with ``scope="function"`` so the commit happens before the response is sent, and an
    exception raised by the endpoint rolls everything back.
    """
    with get_sessionmaker()() as session:
        yield from transaction(session)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
