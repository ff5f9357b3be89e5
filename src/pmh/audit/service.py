"""Writing to and verifying the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
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
    that several sealers (one per server process) can seal different chains at once. SQLite already
    serialises every writer (``BEGIN IMMEDIATE``) and uses chain 0.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    chain = session.info.get(SESSION_CHAIN)
    if chain is None:
        chain = session.info[SESSION_CHAIN] = secrets.randbelow(get_settings().audit_chains)
    return int(chain)


_ENTRIES = cast(Table, AuditEntry.__table__)
_HEADS = cast(Table, AuditHead.__table__)
SEAL_BATCH = 500
"""How many entries a sealer links in one transaction at most."""


class SealConflict(RuntimeError):
    """An entry the sealer was linking had been sealed already (only possible by someone bypassing the sealer)."""


APPENDED_COLUMNS = (
    "chain",
    "occurred_at",
    "organisation_id",
    "actor",
    "role",
    "action",
    "subject_type",
    "subject_id",
    "detail",
    "form",
)
"""The columns an append writes (:func:`entry_values`); the chain's link columns are the sealer's."""


def entry_values(
    chain: int,
    caller: Caller | None,
    action: str,
    subject_type: str,
    subject_ids: str | Sequence[str],
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the columns of a new, unsealed entry (:func:`record`; the eligibility read path inserts them itself).

    My Numbers are redacted from the subject and the details before anything is stored.
    """
    subject = subject_ids if isinstance(subject_ids, str) else ",".join(subject_ids)
    return {
        "chain": chain,
        "occurred_at": utcnow(),
        "organisation_id": caller.organisation_id if caller else None,
        "actor": caller.actor if caller else "system",
        "role": caller.role if caller else "system",
        "action": action,
        "subject_type": subject_type,
        "subject_id": redact_my_numbers(subject)[:128],
        "detail": redact_my_numbers(json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)),
        "form": KEYED,
    }


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

    On PostgreSQL the entry is one ``INSERT`` and is appended *unsealed*: no chain head is read or
    locked, so no reader ever waits for another; a sealer links it into its chain within
    ``PMH_AUDIT_SEAL_MS`` (:func:`seal_chain`). SQLite, whose writers are serialised anyway, seals it
    in the same transaction. The returned entry is not attached to the session; on PostgreSQL its
    ``seq``, ``prev_hash`` and ``entry_hash`` are still empty.
    """
    values = entry_values(_chain_of(session), caller, action, subject_type, subject_ids, detail)
    # Core, not the ORM: one statement, and no flush of whatever else the session holds.
    connection = session.connection()
    entry = AuditEntry(id=connection.execute(insert(_ENTRIES).values(values).returning(_ENTRIES.c.id)).scalar_one())
    for name, value in values.items():
        setattr(entry, name, value)
    if connection.dialect.name != "postgresql":
        links = _seal(connection, entry.chain, None, get_settings().effective_audit_key)
        if links is not None and entry.id in links:
            entry.seq, entry.prev_hash, entry.entry_hash = links[entry.id]
    return entry


SEAL_LOCK_NAMESPACE = 0x706D6861  # "pmha": advisory-lock namespace of the audit sealers (PostgreSQL)


def _claim_head(connection: Connection, chain: int) -> tuple[int, str] | None:
    """Take the chain for this transaction and return its head (seq, link); None if another sealer has it.

    On PostgreSQL a sealer takes the chain with a transaction-scoped advisory lock that it only
    *tries* (``pg_try_advisory_xact_lock``): a sealer that cannot have a chain at once leaves it to
    the one that has it, and nobody waits. Readers never take it. The head row is then locked as well
    (``FOR UPDATE``), so that a hub of an older version still appending sealed entries during a
    rolling upgrade cannot interleave. A chain's first sealer creates its head at sequence 0. SQLite's
    ``BEGIN IMMEDIATE`` already holds the database's write lock.
    """
    head_id = _head_id(chain)
    current = select(_HEADS.c.seq, _HEADS.c.entry_hash).where(_HEADS.c.id == head_id)
    if connection.dialect.name == "postgresql":
        taken = select(func.pg_try_advisory_xact_lock(SEAL_LOCK_NAMESPACE, chain))
        if not connection.execute(taken).scalar():
            return None
        current = current.with_for_update()
    row = connection.execute(current).first()
    if row is None:
        connection.execute(insert(_HEADS).values(id=head_id, seq=0, entry_hash=GENESIS_HASH))
        return 0, GENESIS_HASH
    return int(row.seq), str(row.entry_hash)


def _seal(connection: Connection, chain: int, limit: int | None, key: bytes) -> dict[int, tuple[int, str, str]] | None:
    """Link the chain's unsealed entries, oldest id first; return id → (seq, prev_hash, entry_hash).

    The order is that of the ids among the entries committed when the sealer looks: an entry whose
    transaction committed after a later id was sealed is simply linked in the next pass (the sealer
    asks for every unsealed entry, never for ids after the last one it sealed), so none waits forever.
    """
    head = _claim_head(connection, chain)
    if head is None:
        return None
    pending = select(_ENTRIES).where(_ENTRIES.c.chain == chain, _ENTRIES.c.seq.is_(None)).order_by(_ENTRIES.c.id)
    rows = connection.execute(pending.limit(limit) if limit else pending).all()
    seq, previous = head
    links: dict[int, tuple[int, str, str]] = {}
    for row in rows:
        entry = AuditEntry(**row._asdict())  # transient: only for entry_hash()
        seq += 1
        entry.seq, entry.prev_hash = seq, previous
        entry.entry_hash = entry_hash(entry, key)
        links[row.id] = (seq, previous, entry.entry_hash)
        previous = entry.entry_hash
    if not links:
        return links
    sealing = (
        update(_ENTRIES)
        .where(_ENTRIES.c.id == bindparam("b_id"), _ENTRIES.c.seq.is_(None))
        .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), entry_hash=bindparam("b_hash"))
    )
    params = [{"b_id": i, "b_seq": q, "b_prev": p, "b_hash": h} for i, (q, p, h) in links.items()]
    if connection.execute(sealing, params).rowcount != len(params):
        raise SealConflict(f"chain {chain}: an entry was sealed by someone else")
    connection.execute(update(_HEADS).where(_HEADS.c.id == _head_id(chain)).values(seq=seq, entry_hash=previous))
    return links


def seal_chain(session: Session, chain: int, limit: int | None = SEAL_BATCH) -> int | None:
    """Seal up to ``limit`` unsealed entries of ``chain`` in the session's transaction (never commits).

    Return how many were sealed, or None when another sealer holds the chain (it will seal them).
    """
    links = _seal(session.connection(), chain, limit, get_settings().effective_audit_key)
    return None if links is None else len(links)


def unsealed_chains(session: Session) -> list[int]:
    """Return the chains that have unsealed entries (the sealer's partial index answers it)."""
    stmt = select(_ENTRIES.c.chain).where(_ENTRIES.c.seq.is_(None)).distinct().order_by(_ENTRIES.c.chain)
    return [int(chain) for chain in session.connection().execute(stmt).scalars()]


def seal_all(session: Session) -> int:
    """Seal every unsealed entry this session sees, in its transaction; return how many.

    Chains held by another sealer are left to it. For tests and one-off use: ``pmh audit seal`` and the
    server's sealer commit one batch at a time instead (:mod:`pmh.audit.sealer`).
    """
    total = 0
    for chain in unsealed_chains(session):
        while (sealed := seal_chain(session, chain)) is not None:
            total += sealed
            if sealed < SEAL_BATCH:
                break
    return total


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


UNSEALED_LISTED = 100
"""How many unsealed entries' ids a verification lists (the oldest)."""


@dataclass
class UnsealedReport:
    """The entries appended but not yet sealed into a chain: not covered by any link until they are."""

    count: int = 0
    ids: list[int] = field(default_factory=list)
    """The oldest :data:`UNSEALED_LISTED` ids."""
    oldest_id: int | None = None
    oldest_age_s: float | None = None
    overdue: int = 0
    """How many are older than ``PMH_AUDIT_SEAL_OVERDUE_S`` (a stopped sealer)."""
    overdue_after_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the report as the ``--json`` output's ``unsealed`` object."""
        return {
            "count": self.count,
            "ids": self.ids,
            "oldest_id": self.oldest_id,
            "oldest_age_s": self.oldest_age_s,
            "overdue": self.overdue,
            "overdue_after_s": self.overdue_after_s,
        }


@dataclass
class ChainVerification:
    """What verifying the chain found: how many entries, each chain's report, and each break with its position.

    ``entries`` counts the sealed entries, which the links cover; ``unsealed`` those still waiting.
    """

    entries: int = 0
    problems: list[str] = field(default_factory=list)
    chains: list[ChainReport] = field(default_factory=list)
    unsealed: UnsealedReport = field(default_factory=UnsealedReport)

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
    settings = get_settings()
    key = key or settings.effective_audit_key
    result = ChainVerification()
    heads = {head.id - 1: head for head in session.scalars(select(AuditHead))}
    sealed_chains = select(AuditEntry.chain).where(AuditEntry.seq.is_not(None)).distinct()
    chains = set(heads) | set(session.scalars(sealed_chains))
    for chain in sorted(chains):
        _verify_one(session, chain, heads.get(chain), batch_size, key, result)
    result.unsealed = _unsealed(session, settings.effective_audit_seal_overdue_s)
    if result.unsealed.overdue:
        waiting = result.unsealed
        result.problems.append(
            f"封印されていない記録 {waiting.overdue} 件が {waiting.overdue_after_s:g} 秒を過ぎても"
            f"鎖に連結されていません（最も古いもの id {waiting.oldest_id}、{waiting.oldest_age_s:.0f} 秒前。"
            "封印処理が止まっている疑い）。"
        )
    return result


def _unsealed(session: Session, overdue_after_s: float) -> UnsealedReport:
    """Count the unsealed entries, list the oldest, and count those older than ``overdue_after_s``."""
    now = utcnow()
    waiting = AuditEntry.seq.is_(None)
    count, oldest_at = session.execute(select(func.count(), func.min(AuditEntry.occurred_at)).where(waiting)).one()
    report = UnsealedReport(count=int(count), overdue_after_s=overdue_after_s)
    if not count:
        return report
    report.ids = list(
        session.scalars(select(AuditEntry.id).where(waiting).order_by(AuditEntry.id).limit(UNSEALED_LISTED))
    )
    report.oldest_id = report.ids[0]
    report.oldest_age_s = round(max((now - oldest_at).total_seconds(), 0.0), 3)
    limit = now - dt.timedelta(seconds=overdue_after_s)
    report.overdue = session.scalar(select(func.count()).where(waiting, AuditEntry.occurred_at < limit)) or 0
    return report


def _verify_one(
    session: Session, chain: int, head: AuditHead | None, batch_size: int, key: bytes, result: ChainVerification
) -> None:
    where = f"鎖 {chain} の" if chain else ""
    expected_seq, previous_hash = 1, GENESIS_HASH
    keyed_from: int | None = None
    stream = session.execute(
        select(AuditEntry)
        .where(AuditEntry.chain == chain, AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size)
    )
    count = 0
    for entry in stream.scalars():
        count += 1
        seq = int(entry.seq or 0)  # the query asks for sealed entries only
        if seq != expected_seq:
            result.problems.append(f"{where}連番 {expected_seq}〜{seq - 1} の記録が欠けています（削除の疑い）。")
        if entry.prev_hash != previous_hash:
            result.problems.append(f"{where}連番 {seq} の直前の記録と連鎖していません（削除・並べ替えの疑い）。")
        if entry.form not in (PLAIN, KEYED):
            result.problems.append(f"{where}連番 {seq} の形式 {entry.form} は不明です（改ざんの疑い）。")
        elif entry.form == PLAIN and keyed_from is not None:
            result.problems.append(
                f"{where}連番 {seq} は鍵なしの形式ですが、連番 {keyed_from} から鍵付きです（改ざんの疑い）。"
            )
        elif entry_hash(entry, key) != entry.entry_hash:
            result.problems.append(f"{where}連番 {seq} の内容がハッシュと一致しません（改ざんの疑い）。")
        if entry.form == KEYED and keyed_from is None:
            keyed_from = seq
        expected_seq, previous_hash = seq + 1, entry.entry_hash or ""
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
    seq: int | None
    """None until the entry is sealed into its chain."""
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
