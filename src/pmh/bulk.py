"""Bulk writes for large imports: PostgreSQL ``COPY`` where it is available, executemany elsewhere."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, Table, any_, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    """Return True when the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows with the same keys, in the session's transaction.

    On PostgreSQL the rows go through ``COPY … FROM STDIN`` on the session's own connection (so
    savepoints and rollback apply as usual); on SQLite through one executemany.
    """
    if not rows:
        return
    if not is_postgresql(session):
        session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    driver = session.connection().connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def in_values(session: Session, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """Return ``column IN values``: one array parameter on PostgreSQL (thousands of separate
    parameters cost more to send and plan than the lookup itself), a plain IN list elsewhere."""
    if is_postgresql(session):
        element = column.type if isinstance(column.type, Integer | String) else String()
        return column == any_(bindparam(None, list(values), type_=ARRAY(element)))
    return column.in_(values)


def allocate_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """Reserve ``count`` ids from a PostgreSQL table's sequence (None on SQLite: use RETURNING)."""
    if not is_postgresql(session):
        return None
    result = session.execute(
        text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
        {"n": count},
    )
    return [int(value) for value in result.scalars()]
