"""Writing to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.schemas import Caller
from pmh.db import utcnow
from pmh.privacy import redact_my_numbers

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
# Arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
_CHAIN_LOCK_KEY = 0x706D6861  # "pmha"


def _canonical(entry: AuditEntry) -> bytes:
    """Serialise exactly the fields the hash covers, in a fixed order and format."""
    fields = [
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
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    """Return the SHA-256 that chains this entry to its predecessor."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appenders so that the chain stays linear (SQLite already holds the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


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
    _lock_chain(session)
    head = session.get(AuditHead, _HEAD_ID)
    subject = subject_ids if isinstance(subject_ids, str) else ",".join(subject_ids)
    entry = AuditEntry(
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
        session.add(AuditHead(id=_HEAD_ID, seq=entry.seq, entry_hash=entry.entry_hash))
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
    """Walk the whole chain and report every edited, deleted or reordered entry."""
    result = ChainVerification()
    expected_seq, previous_hash = 1, GENESIS_HASH
    stream = session.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size))
    for entry in stream.scalars():
        result.entries += 1
        if entry.seq != expected_seq:
            result.problems.append(f"連番 {expected_seq}〜{entry.seq - 1} の記録が欠けています（削除の疑い）。")
        if entry.prev_hash != previous_hash:
            result.problems.append(f"連番 {entry.seq} の直前の記録と連鎖していません（削除・並べ替えの疑い）。")
        if entry_hash(entry) != entry.entry_hash:
            result.problems.append(f"連番 {entry.seq} の内容がハッシュと一致しません（改ざんの疑い）。")
        expected_seq, previous_hash = entry.seq + 1, entry.entry_hash
    head = session.get(AuditHead, _HEAD_ID)
    if head is None and result.entries:
        result.problems.append("監査ログの末尾情報がありません（改ざんの疑い）。")
    elif head is not None and (head.seq != expected_seq - 1 or head.entry_hash != previous_hash):
        result.problems.append(f"末尾の記録が連番 {head.seq} と一致しません（末尾の削除の疑い）。")
    return result


def entries_for(session: Session, caller: Caller, limit: int = 100, before_seq: int | None = None) -> list[AuditEntry]:
    """Return the newest audit entries of the caller's own organisation."""
    stmt = select(AuditEntry).where(AuditEntry.organisation_id == caller.organisation_id)
    if before_seq is not None:
        stmt = stmt.where(AuditEntry.seq < before_seq)
    return list(session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit)))


def count_entries(session: Session) -> int:
    """Return how many entries the log holds."""
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
