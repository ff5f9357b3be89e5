"""Writing to and verifying the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
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
PLAIN, KEYED = 0, 1
"""``AuditEntry.form``: a plain SHA-256 link (entries written before revision 0010) or an HMAC link."""


def _head_id(chain: int) -> int:
    return chain + 1  # chain 0's head kept the id 1 it had when the log was a single chain


def _canonical(entry: AuditEntry) -> bytes:
    """Serialise exactly the fields the link covers, in a fixed order and format.

    Plain entries of chain 0 keep the form they had when the log was a single chain; other plain
    entries add their chain, so an entry cannot be moved from one chain to another unnoticed. Keyed
    entries always carry a label, their form and their chain.
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
    if entry.form == KEYED:
        fields = ["pmh-audit", KEYED, entry.chain, *fields]
    elif entry.chain:
        fields.append(entry.chain)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry, key: bytes | None = None) -> str:
    """Return the link that chains this entry to its predecessor: the one place entries are hashed.

    A keyed entry's link is ``HMAC-SHA256(audit key, canonical form)``: without the key, which the
    database does not hold, nobody can re-compute a chain after editing it. A plain entry (written
    before the keyed form existed) keeps its SHA-256. ``key`` defaults to the configured audit key.
    """
    if entry.form == PLAIN:
        return hashlib.sha256(_canonical(entry)).hexdigest()
    if entry.form != KEYED:
        raise ValueError(f"unknown audit entry form {entry.form!r}")
    return hmac.new(key or get_settings().effective_audit_key, _canonical(entry), hashlib.sha256).hexdigest()


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
        form=KEYED,
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
class ChainReport:
    """One chain as verification found it: its entries, its head, and from which entry it is keyed."""

    chain: int
    entries: int
    head_seq: int
    head_hash: str
    keyed_from: int | None
    """The first keyed entry's sequence number; entries before it are only hash-chained (None: none keyed)."""

    def as_dict(self) -> dict[str, Any]:
        """Return the report as the ``--json`` output's ``chains`` item."""
        return {"chain": self.chain, "entries": self.entries, "head_seq": self.head_seq, "keyed_from": self.keyed_from}


@dataclass
class ChainVerification:
    """What verifying the chain found: how many entries, each chain's report, and each break with its position."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)
    chains: list[ChainReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when the chain is intact."""
        return not self.problems


def verify_chain(session: Session, batch_size: int = 5000, key: bytes | None = None) -> ChainVerification:
    """Walk every chain and report every edited, deleted or reordered entry, naming its chain.

    Keyed entries are checked with the audit key (``key``, default the configured one); an entry in
    the plain form after a keyed one in the same chain is a forgery (a keyed chain cannot be
    re-computed without the key, so a forger would have to fall back to the plain form).
    """
    key = key or get_settings().effective_audit_key
    result = ChainVerification()
    heads = {head.id - 1: head for head in session.scalars(select(AuditHead))}
    chains = set(heads) | set(session.scalars(select(AuditEntry.chain).distinct()))
    for chain in sorted(chains):
        _verify_one(session, chain, heads.get(chain), batch_size, key, result)
    return result


def _verify_one(
    session: Session, chain: int, head: AuditHead | None, batch_size: int, key: bytes, result: ChainVerification
) -> None:
    where = f"鎖 {chain} の" if chain else ""
    expected_seq, previous_hash = 1, GENESIS_HASH
    keyed_from: int | None = None
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
        if entry.form not in (PLAIN, KEYED):
            result.problems.append(f"{where}連番 {entry.seq} の形式 {entry.form} は不明です（改ざんの疑い）。")
        elif entry.form == PLAIN and keyed_from is not None:
            result.problems.append(
                f"{where}連番 {entry.seq} は鍵なしの形式ですが、連番 {keyed_from} から鍵付きです（改ざんの疑い）。"
            )
        elif entry_hash(entry, key) != entry.entry_hash:
            result.problems.append(f"{where}連番 {entry.seq} の内容がハッシュと一致しません（改ざんの疑い）。")
        if entry.form == KEYED and keyed_from is None:
            keyed_from = entry.seq
        expected_seq, previous_hash = entry.seq + 1, entry.entry_hash
    result.entries += count
    if head is None and count:
        result.problems.append(f"{where}監査ログの末尾情報がありません（改ざんの疑い）。")
    elif head is not None and (head.seq != expected_seq - 1 or head.entry_hash != previous_hash):
        result.problems.append(f"{where}末尾の記録が連番 {head.seq} と一致しません（末尾の削除の疑い）。")
    result.chains.append(ChainReport(chain, count, expected_seq - 1, previous_hash, keyed_from))


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
