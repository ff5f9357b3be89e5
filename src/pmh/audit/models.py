"""The audit log (監査ログ): append-only, each entry chained to the previous one by its hash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, UTCDateTime


class AuditEntry(Base):
    """One audited read or write of a person's data, or another security-relevant event.

    ``subject_id`` names records by their ids or keyed hashes, never by My Number or name. The log
    is several independent hash chains (``chain``), each numbered by its own ``seq``, so that
    appenders of different chains never wait for one another. ``form`` says how the entry is linked:
    0 a plain SHA-256 (entries written before revision 0010), 1 an HMAC under the audit key, which
    the database does not hold.

    An entry is appended *unsealed* (``seq``, ``prev_hash`` and ``entry_hash`` empty) by one INSERT in
    the caller's transaction; a sealer later links it into its chain by filling exactly those three
    columns, once (a trigger refuses every other change). SQLite seals at append.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        UniqueConstraint("chain", "prev_hash"),
        # The sealer's work list: small, since entries leave it within the seal delay.
        Index(
            "ix_audit_entries_unsealed",
            "chain",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    seq: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    organisation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    form: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class AuditHead(Base):
    """A chain's newest entry, so that deleting the last entries is detected too (``id`` = chain + 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
