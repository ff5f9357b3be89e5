"""Writing to and verifying the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.schemas import Caller
from pmh.db import utcnow
from pmh.privacy import redact_my_numbers
from pmh.settings import get_settings

GENESIS_HASH = "0" * 64
SESSION_CHAIN = "pmh_audit_chain"


def _head_id(chain: int) -> int:
    return chain + 1  # chain 0's head kept the id 1 it had when the log was a single chain


def _canonical(entry: AuditEntry) -> bytes:
    """Serialise exactly the fields the hash covers, in a fixed order and format.

    Entries of chain 0 keep the form they had when the log was a single chain; the others add
    their chain, so an entry cannot be moved from one chain to another unnoticed.
    """
    fields: list[object] = [
        entry.seq,
        entry.occurred_at.isoformat(timespec="microseconds"),
        entry.organisation_id,
        entry.actor,
        entry.role,
        entry.action,
        entry.subject_type,
        entry.subject_id,
        entry.detail,
        entry.prev_hash,
    ]
    if entry.chain:
        fields.append(entry.chain)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    """Return the SHA-256 that chains this entry to its predecessor."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _chain_of(session: Session) -> int:
    """Return the chain this session appends to.

    On PostgreSQL each session draws one of ``PMH_AUDIT_CHAINS`` chains at random and keeps it, so
    a transaction never holds two chain locks (no deadlock) and concurrent transactions mostly hold
    different ones. SQLite already serialises every writer (``BEGIN IMMEDIATE``) and uses chain 0.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    chain = session.info.get(SESSION_CHAIN)
    if chain is None:
        chain = session.info[SESSION_CHAIN] = secrets.randbelow(get_settings().audit_chains)
    return int(chain)


def _locked_head(session: Session, chain: int) -> AuditHead | None:
    """Return the chain's head, locked until the transaction ends (None for a new chain on SQLite).

    On PostgreSQL the head row itself is the chain's lock (``SELECT … FOR UPDATE``, which reads the
    newest committed head after waiting). A chain's first appender creates its head at sequence 0
    (``ON CONFLICT DO NOTHING``, so two first appenders cannot both start it) and then locks it.
    SQLite's ``BEGIN IMMEDIATE`` already holds the database's write lock.
    """
    head_id = _head_id(chain)
    if session.get_bind().dialect.name != "postgresql":
        return session.get(AuditHead, head_id, populate_existing=True)
    locked = select(AuditHead).where(AuditHead.id == head_id).with_for_update()
    head = session.scalars(locked.execution_options(populate_existing=True)).first()
    if head is None:
        session.execute(
            pg_insert(AuditHead).values(id=head_id, seq=0, entry_hash=GENESIS_HASH).on_conflict_do_nothing()
        )
        head = session.scalars(locked.execution_options(populate_existing=True)).one()
    return head


def record(
    session: Session,
    caller: Caller | None,
    action: str,
    subject_type: str,
    subject_ids: str | Sequence[str],
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction, so it commits or rolls back with the work it records.

    ``subject_ids`` are record ids or keyed hashes; several are joined so that one entry can
    cover one request that read many records.
    """
    chain = _chain_of(session)
    head = _locked_head(session, chain)
    subject = subject_ids if isinstance(subject_ids, str) else ",".join(subject_ids)
    entry = AuditEntry(
        chain=chain,
        seq=(head.seq + 1) if head else 1,
        occurred_at=utcnow(),
        organisation_id=caller.organisation_id if caller else None,
        actor=caller.actor if caller else "system",
        role=caller.role if caller else "system",
        action=action,
        subject_type=subject_type,
        subject_id=redact_my_numbers(subject)[:128],
        detail=redact_my_numbers(json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)),
        prev_hash=head.entry_hash if head else GENESIS_HASH,
    )
    entry.entry_hash = entry_hash(entry)
    session.add(entry)
    if head is None:
        session.add(AuditHead(id=_head_id(chain), seq=entry.seq, entry_hash=entry.entry_hash))
    else:
        head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    return entry


@dataclass
class ChainVerification:
    """What verifying the chain found: how many entries, and each break with its position."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when the chain is intact."""
        return not self.problems


def verify_chain(session: Session, batch_size: int = 5000) -> ChainVerification:
    """Walk every chain and report every edited, deleted or reordered entry, naming its chain."""
    result = ChainVerification()
    heads = {head.id - 1: head for head in session.scalars(select(AuditHead))}
    chains = set(heads) | set(session.scalars(select(AuditEntry.chain).distinct()))
    for chain in sorted(chains):
        _verify_one(session, chain, heads.get(chain), batch_size, result)
    return result


def _verify_one(
    session: Session, chain: int, head: AuditHead | None, batch_size: int, result: ChainVerification
) -> None:
    where = f"鎖 {chain} の" if chain else ""
    expected_seq, previous_hash = 1, GENESIS_HASH
    stream = session.execute(
        select(AuditEntry)
        .where(AuditEntry.chain == chain)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size)
    )
    count = 0
    for entry in stream.scalars():
        count += 1
        if entry.seq != expected_seq:
            result.problems.append(f"{where}連番 {expected_seq}〜{entry.seq - 1} の記録が欠けています（削除の疑い）。")
        if entry.prev_hash != previous_hash:
            result.problems.append(f"{where}連番 {entry.seq} の直前の記録と連鎖していません（削除・並べ替えの疑い）。")
        if entry_hash(entry) != entry.entry_hash:
            result.problems.append(f"{where}連番 {entry.seq} の内容がハッシュと一致しません（改ざんの疑い）。")
        expected_seq, previous_hash = entry.seq + 1, entry.entry_hash
    result.entries += count
    if head is None and count:
        result.problems.append(f"{where}監査ログの末尾情報がありません（改ざんの疑い）。")
    elif head is not None and (head.seq != expected_seq - 1 or head.entry_hash != previous_hash):
        result.problems.append(f"{where}末尾の記録が連番 {head.seq} と一致しません（末尾の削除の疑い）。")


PATIENT_SECRET_DETAIL = frozenset({"offered_certificates", "withheld", "subsidy"})
"""Detail keys about what a patient was offered and did not share: the certificates offered, those
withheld from a read, and the patient's own answer (個別に提供 tells that more than one was offered).
They stay in the log, where the hash chain covers them, but only the operator's view shows them:
an institution must not learn from its own log which certificates a patient declined."""


@dataclass(frozen=True, slots=True)
class AuditView:
    """One audit entry as a reader of the log sees it (``detail`` filtered for the reader's role)."""

    id: int
    chain: int
    seq: int
    occurred_at: dt.datetime
    actor: str
    role: str
    action: str
    subject_type: str
    subject_id: str
    detail: str


def detail_for(caller: Caller, detail: str) -> str:
    """Return an entry's detail as ``caller`` may read it: without :data:`PATIENT_SECRET_DETAIL` unless operator."""
    if caller.role == "operator":
        return detail
    try:
        data = json.loads(detail)
    except ValueError:
        return "{}"
    if not isinstance(data, dict):
        return detail
    if not PATIENT_SECRET_DETAIL & data.keys():
        return detail
    kept = {key: value for key, value in data.items() if key not in PATIENT_SECRET_DETAIL}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True)


def entries_for(session: Session, caller: Caller, limit: int = 100, before_id: int | None = None) -> list[AuditView]:
    """Return the newest audit entries of the caller's own organisation (newest first, across chains).

    What a patient was offered and did not share is left out of the detail for every reader but the
    operator (:func:`detail_for`); the stored entry, and so the chain's verification, is unchanged.
    """
    stmt = select(AuditEntry).where(AuditEntry.organisation_id == caller.organisation_id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return [
        AuditView(
            id=e.id,
            chain=e.chain,
            seq=e.seq,
            occurred_at=e.occurred_at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            detail=detail_for(caller, e.detail),
        )
        for e in session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit))
    ]


def count_entries(session: Session) -> int:
    """Return how many entries the log holds."""
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
