"""The eligibility read on PostgreSQL: async, two round trips, no thread-pool hop.

A clinic's レセコン reads a reception's eligibility for every patient, all day: this is the hub's hot
path. The general path (:func:`pmh.eligibility.result.eligibility`, used on SQLite, for
``format=orca`` and inside tests that run each test in one transaction) takes about ten sequential
round trips through the ORM in a worker thread. This one, for a key the process has already
verified (:mod:`pmh.auth.keycache`), runs on the event loop with psycopg's async pool and takes two:

1. one statement (:data:`READ_SQL`) that returns, as JSON values, the reception (scoped to the
   caller's institution, consent not withdrawn), its consented certificates with every version,
   program and municipality, the insurance record and the month's copay totals — one statement,
   so one snapshot, with no transaction around it;
2. the audit entry's INSERT (:data:`INSERT_AUDIT_SQL`), sealed later by the sealer
   (:mod:`pmh.audit.sealer`); when a first read is to be kept for the 一括照会, its updates and the
   INSERT share one transaction.

The rules are not here: both paths fill the same :class:`~pmh.eligibility.result.Loaded` and call
:func:`~pmh.eligibility.result.compose`. The answer leaves only after its audit entry committed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Date, DateTime, Table

from pmh.audit import service as audit
from pmh.audit.models import AuditEntry
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.availability import postgres_connect_args
from pmh.cards.models import InsuranceRecord
from pmh.copay import ledger
from pmh.copay.models import CopayMonth
from pmh.db import Base, UTCDateTime, utcnow
from pmh.eligibility.claims import in_claim_order
from pmh.eligibility.common import UNKNOWN_RECEPTION, today_in_japan
from pmh.eligibility.models import Reception, ReceptionCertificate
from pmh.eligibility.result import OUTPATIENT_LEDGERS, Loaded, compose
from pmh.eligibility.schemas import EligibilityResult
from pmh.errors import NotFound
from pmh.registry.asof import CertificateOn, Histories, History
from pmh.registry.models import Certificate, CertificateVersion, Program
from pmh.settings import get_settings

_Model = TypeVar("_Model", bound=Base)

_RECEPTIONS = cast(Table, Reception.__table__)
_LINKS = cast(Table, ReceptionCertificate.__table__)
_CERTIFICATES = cast(Table, Certificate.__table__)
_VERSIONS = cast(Table, CertificateVersion.__table__)
_PROGRAMS = cast(Table, Program.__table__)
_ORGANISATIONS = cast(Table, Organisation.__table__)
_INSURANCE = cast(Table, InsuranceRecord.__table__)
_ENTRIES = cast(Table, AuditEntry.__table__)
_MONTHS = cast(Table, CopayMonth.__table__)


def _scoped(alias: str) -> str:
    """The reception, only if it is the caller's institution's and its consent still stands."""
    return (
        f"{alias}.id = %(reception_id)s AND {alias}.institution_id = %(institution_id)s "
        f"AND {alias}.withdrawn_at IS NULL"
    )


def _read_statement() -> str:
    """Return the one statement of the read: a single snapshot, each part a JSON value.

    One statement sees one snapshot without a transaction around it, and one round trip carries
    it; ``row_to_json`` keeps each table's own column names, so the rows become the same objects
    the registry's rules take (:func:`_instance`).
    """
    consented = (
        f"SELECT rc.certificate_id FROM {_LINKS.name} rc JOIN {_RECEPTIONS.name} r ON r.id = rc.reception_id "
        f"WHERE {_scoped('r')}"
    )
    ledgers = ", ".join(f"'{name}'" for name in OUTPATIENT_LEDGERS)  # constants of the code
    return f"""
SELECT
  (SELECT json_build_object('id', r.id, 'received_at', r.received_at, 'person_digest', r.person_digest)
     FROM {_RECEPTIONS.name} r WHERE {_scoped("r")}) AS reception,
  (SELECT coalesce(json_agg(json_build_array(rc.certificate_id, rc.first_read_at IS NOT NULL)
                            ORDER BY rc.offered_order), '[]')
     FROM {_LINKS.name} rc JOIN {_RECEPTIONS.name} r ON r.id = rc.reception_id WHERE {_scoped("r")}) AS links,
  (SELECT coalesce(json_agg(json_build_array(row_to_json(c), row_to_json(v), p.program_code, o.code, o.name)), '[]')
     FROM {_CERTIFICATES.name} c
     JOIN {_VERSIONS.name} v ON v.certificate_id = c.id
     JOIN {_PROGRAMS.name} p ON p.id = c.program_id
     JOIN {_ORGANISATIONS.name} o ON o.id = c.municipality_id
     WHERE c.id IN ({consented})) AS certificates,
  (SELECT row_to_json(i) FROM {_INSURANCE.name} i
     WHERE i.person_digest = (SELECT r.person_digest FROM {_RECEPTIONS.name} r WHERE {_scoped("r")})) AS insurance,
  (SELECT coalesce(json_agg(json_build_array(m.certificate_id, m.total)), '[]')
     FROM {_MONTHS.name} m
     WHERE m.certificate_id IN ({consented}) AND m.month = %(month)s AND m.ledger IN ({ledgers})) AS used
"""


READ_SQL = _read_statement()
INSERT_AUDIT_SQL = (
    f"INSERT INTO {_ENTRIES.name} ({', '.join(audit.APPENDED_COLUMNS)}) "
    f"VALUES ({', '.join(f'%({name})s' for name in audit.APPENDED_COLUMNS)})"
)
_KEEP_FIRST_READ = (
    f"UPDATE {_LINKS.name} SET first_read_at = %(at)s, first_read = %(snapshot)s "
    f"WHERE reception_id = %(reception_id)s AND certificate_id = %(certificate_id)s AND first_read_at IS NULL"
)


def _to_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _converters(table: Table) -> dict[str, Callable[[Any], Any]]:
    """Return, per column that JSON carries as text, what turns it back into the ORM's value."""
    found: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        if isinstance(column.type, UTCDateTime | DateTime):
            found[column.key] = _to_datetime
        elif isinstance(column.type, Date):
            found[column.key] = dt.date.fromisoformat
    return found


_CONVERT = {table.name: _converters(table) for table in (_CERTIFICATES, _VERSIONS, _INSURANCE)}


def _instance(model: type[_Model], table: Table, row: Mapping[str, Any]) -> _Model:
    """Return a read-only view of a row of JSON with the model's attribute names and value types.

    Not an ORM instance: building one costs ~0.1 ms (instrumented attributes, instance state), a
    fifth of a read. The rules only read these attributes, and the view is never added to a session.
    """
    convert = _CONVERT[table.name]
    values = {}
    for column in table.columns:
        value = row[column.name]
        if value is not None and column.key in convert:
            value = convert[column.key](value)
        values[column.key] = value
    return cast(_Model, SimpleNamespace(**values))


def _states(rows: Iterable[list[Any]], on: dt.date) -> list[CertificateOn]:
    """Return the certificates still linked as of ``on``, in claim order (the registry's rules, asof)."""
    found: dict[int, History] = {}
    for certificate_row, version_row, program_code, code, name in rows:
        certificate_id = certificate_row["id"]
        if certificate_id not in found:
            certificate = _instance(Certificate, _CERTIFICATES, certificate_row)
            found[certificate_id] = History(certificate, [], program_code, (code, name))
        found[certificate_id].versions.append(_instance(CertificateVersion, _VERSIONS, version_row))
    read = Histories(found)
    states = (read.on(certificate_id, on) for certificate_id in found)
    return in_claim_order(s for s in states if s is not None and s.certificate.link_status == "linked")


async def _load(connection: AsyncConnection[Any], caller: Caller, reception_id: int, on: dt.date) -> Loaded:
    """Read everything one snapshot holds for the reception, in one statement and one round trip."""
    params = {"reception_id": reception_id, "institution_id": caller.organisation_id, "month": ledger.month_of(on)}
    cursor = await connection.execute(READ_SQL, params)
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        # Another institution's reception, or one whose consent the patient withdrew, looks like none at all.
        raise NotFound(UNKNOWN_RECEPTION)
    reception, links, certificates, insurance, months = row
    used: dict[int, int] = defaultdict(int)
    for certificate_id, total in months:
        used[certificate_id] += total
    return Loaded(
        reception_id=reception["id"],
        received_at=_to_datetime(reception["received_at"]),
        first_read={certificate_id: kept for certificate_id, kept in links},
        states=_states(certificates, on),
        record=_instance(InsuranceRecord, _INSURANCE, insurance) if insurance is not None else None,
        used=dict(used),
    )


async def eligibility(
    pool: AsyncConnectionPool[Any],
    caller: Caller,
    reception_id: int,
    service_date: dt.date | None = None,
    result_format: str = "json",
    total_cost: int | None = None,
) -> EligibilityResult:
    """Return the eligibility result of a reception (the same answer and audit entry as the general path)."""
    now = utcnow()
    on = service_date or today_in_japan(now)
    async with pool.connection() as connection:
        loaded = await _load(connection, caller, reception_id, on)
        composed = compose(loaded, caller, on, result_format, total_cost)
        # A chain drawn per request: appenders never wait for each other, and sealers share the chains.
        chain = random.randrange(get_settings().audit_chains)
        entry = audit.entry_values(
            chain, caller, "eligibility.read", "reception", str(loaded.reception_id), composed.audit_detail
        )
        if not composed.first_reads:
            # The usual read: one INSERT, atomic on its own (autocommit).
            await connection.execute(INSERT_AUDIT_SQL, entry)
        else:
            async with connection.transaction():
                for certificate_id, snapshot in composed.first_reads.items():
                    first = {"at": now, "snapshot": snapshot, "reception_id": loaded.reception_id}
                    await connection.execute(_KEEP_FIRST_READ, first | {"certificate_id": certificate_id})
                await connection.execute(INSERT_AUDIT_SQL, entry)
    return composed.result


def open_pool(url: str, size: int) -> AsyncConnectionPool[Any]:
    """Return a closed pool of autocommit connections to the database at ``url`` (open it on the loop).

    Autocommit: the read and the usual write are one statement each; a connection that
    broke is checked and replaced by the pool when it is returned (``check`` on borrow would cost a
    round trip per read).
    """
    from sqlalchemy import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=size,
        open=False,
        # The same bounds on every wait as the hub's other connections (pmh.availability).
        kwargs={"autocommit": True, **postgres_connect_args(get_settings())},
        timeout=10,
        name="pmh-eligibility",
    )
