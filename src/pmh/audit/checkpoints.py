"""Signed checkpoints of every chain's head, written to files the operator keeps outside the database.

Heads move only when entries are sealed, so a checkpoint pins sealed entries only; entries appended
but not yet sealed are covered by the next checkpoint after their sealing.

A checkpoint pins each chain's newest entry (chain, sequence number, link, time) under an Ed25519
signature. The hub holds the private key (a file, never the database); whoever verifies needs only
the public key, so an auditor who checks checkpoints cannot forge them. Verifying later finds every
chain still holding the checkpointed entries, or says which chain was cut back, deleted or re-forged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from pmh.audit.models import AuditEntry, AuditHead
from pmh.audit.service import KEYED
from pmh.db import utcnow
from pmh.errors import PmhError

FORMAT = "pmh-audit-checkpoint/1"
JST = ZoneInfo("Asia/Tokyo")
_BATCH = 500
log = logging.getLogger("pmh.audit")


class CheckpointKeyMissing(PmhError):
    """The key a checkpoint needs is not where the settings say."""

    status_code = 422
    code = "audit_checkpoint_key_missing"
    title = "チェックポイントの鍵がありません"


def public_key_path(private_key_path: Path) -> Path:
    """Return where the public key of a signing key is kept (same name, ``.pub``)."""
    return private_key_path.with_suffix(".pub")


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Return the Ed25519 signing key kept at ``path``, generating it (0600) and its ``.pub`` on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_key_path(path).write_bytes(public)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointKeyMissing(f"{path} は Ed25519 の秘密鍵ではありません。")
    return loaded


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Return the Ed25519 public key kept at ``path`` (PEM), or refuse clearly."""
    if not path.exists():
        raise CheckpointKeyMissing(f"チェックポイントの公開鍵 {path} がありません（--public-key で指定できます）。")
    loaded = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(loaded, Ed25519PublicKey):
        raise CheckpointKeyMissing(f"{path} は Ed25519 の公開鍵ではありません。")
    return loaded


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a short fingerprint of a public key (first 16 hex digits of the SHA-256 of its raw bytes)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def heads(session: Session) -> list[dict[str, Any]]:
    """Return every chain's head as a checkpoint records it: chain, seq, hash, time (JST), keyed_from.

    A checkpoint pins the heads as they are; it does not verify the chains (``pmh audit verify`` does).
    A head whose entry is missing is still recorded (time None), so that verifying reports it.
    """
    first_keyed = select(AuditEntry.chain, func.min(AuditEntry.seq)).where(
        AuditEntry.form == KEYED, AuditEntry.seq.is_not(None)
    )
    keyed_from = {int(c): int(s) for c, s in session.execute(first_keyed.group_by(AuditEntry.chain)) if s is not None}
    rows = session.execute(
        select(AuditHead.id - 1, AuditHead.seq, AuditHead.entry_hash, AuditEntry.occurred_at)
        .outerjoin(AuditEntry, (AuditEntry.chain == AuditHead.id - 1) & (AuditEntry.seq == AuditHead.seq))
        .where(AuditHead.seq > 0)
        .order_by(AuditHead.id)
    )
    return [
        {
            "chain": int(chain),
            "seq": int(seq),
            "hash": entry_hash,
            "time": occurred_at.astimezone(JST).isoformat(timespec="seconds") if occurred_at else None,
            "keyed_from": keyed_from.get(int(chain)),
        }
        for chain, seq, entry_hash, occurred_at in rows
    ]


def write_checkpoint(session: Session, directory: Path, key_path: Path, now: dt.datetime | None = None) -> Path:
    """Sign every chain's head and write it as one JSON file into ``directory``; return the file.

    The file is written under a temporary name and renamed, so a reader never sees half a checkpoint.
    """
    key = load_or_create_signing_key(key_path)
    created = (now or utcnow()).astimezone(JST)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "created_at": created.isoformat(timespec="microseconds"),
        "key_id": key_id(key.public_key()),
        "chains": heads(session),
    }
    payload["signature"] = base64.b64encode(key.sign(_canonical(payload))).decode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{created:%Y%m%dT%H%M%S%f}JST.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


@dataclass
class CheckpointVerification:
    """What checking the checkpoint files found: how many, the newest, and every mismatch."""

    files: int = 0
    latest: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the result as the ``--json`` output's ``checkpoints`` object."""
        return {"files": self.files, "latest": self.latest}


def _signed_payload(path: Path, public_key: Ed25519PublicKey, result: CheckpointVerification) -> dict[str, Any] | None:
    """Return a checkpoint file's content if its signature holds, else note why and return None."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(document.pop("signature"), validate=True)
        if document.get("format") != FORMAT or not isinstance(document.get("chains"), list):
            raise ValueError("unknown format")
    except (ValueError, KeyError, TypeError, AttributeError):
        result.problems.append(f"チェックポイント {path.name} を読めません（形式が正しくありません）。")
        return None
    try:
        public_key.verify(signature, _canonical(document))
    except InvalidSignature:
        result.problems.append(f"チェックポイント {path.name} の署名が正しくありません（改ざんの疑い）。")
        return None
    return dict(document)


def verify_checkpoints(session: Session, directory: Path, public_key: Ed25519PublicKey) -> CheckpointVerification:
    """Check every checkpoint file's signature, and that every chain still holds the entries they pin.

    A pinned entry that is missing means the chain was cut back below it or deleted; one whose link
    differs means the chain was re-written (re-forged) up to it. Entries after the newest checkpoint
    are not covered.
    """
    result = CheckpointVerification()
    pinned: dict[int, dict[int, list[tuple[str, str, int | None]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []:
        result.files += 1
        payload = _signed_payload(path, public_key, result)
        if payload is None:
            continue
        result.latest = max(result.latest or "", str(payload["created_at"]))
        for item in payload["chains"]:
            pinned[int(item["chain"])][int(item["seq"])].append((str(item["hash"]), path.name, item.get("keyed_from")))
    if result.files == 0:
        result.problems.append(f"{directory} にチェックポイントがありません。")
    for chain in sorted(pinned):
        _check_chain(session, chain, pinned[chain], result)
    return result


def _check_chain(
    session: Session,
    chain: int,
    pinned: dict[int, list[tuple[str, str, int | None]]],
    result: CheckpointVerification,
) -> None:
    where = f"鎖 {chain} の"
    found: dict[int, str] = {}
    seqs = sorted(pinned)
    for start in range(0, len(seqs), _BATCH):
        batch = [(chain, seq) for seq in seqs[start : start + _BATCH]]
        stmt = select(AuditEntry.seq, AuditEntry.entry_hash).where(tuple_(AuditEntry.chain, AuditEntry.seq).in_(batch))
        found.update((int(seq), str(h)) for seq, h in session.execute(stmt) if seq is not None)
    keyed_from = session.scalar(
        select(func.min(AuditEntry.seq)).where(AuditEntry.chain == chain, AuditEntry.form == KEYED)
    )
    for seq in seqs:
        for expected, name, pinned_keyed_from in pinned[seq]:
            if seq not in found:
                result.problems.append(
                    f"{where}連番 {seq}（チェックポイント {name}）がありません（末尾の切り詰め・鎖の削除の疑い）。"
                )
            elif found[seq] != expected:
                result.problems.append(
                    f"{where}連番 {seq} がチェックポイント {name} と一致しません（書き換えの疑い）。"
                )
            elif pinned_keyed_from is not None and keyed_from != pinned_keyed_from:
                result.problems.append(
                    f"{where}鍵付きの開始位置がチェックポイント {name}（連番 {pinned_keyed_from}）と"
                    "一致しません（改ざんの疑い）。"
                )


@dataclass
class PeriodicCheckpoints:
    """The server's checkpoint writer: a daemon thread that writes one checkpoint per interval."""

    thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop writing, after the checkpoint in progress (if any) is finished."""
        self.stopping.set()
        self.thread.join(timeout_s)


def start_periodic_checkpoints(interval_s: float, directory: Path, key_path: Path) -> PeriodicCheckpoints:
    """Write a checkpoint every ``interval_s`` seconds in a daemon thread of the server.

    A failed checkpoint is logged and the next one tried.
    """
    from pmh.db import read_only

    stopping = threading.Event()

    def run() -> None:
        while not stopping.wait(interval_s):
            try:
                with read_only() as session:
                    write_checkpoint(session, directory, key_path)
            except Exception:  # a failed checkpoint must not stop the next one
                log.exception("audit checkpoint failed")

    thread = threading.Thread(target=run, name="pmh-audit-checkpoints", daemon=True)
    thread.start()
    return PeriodicCheckpoints(thread, stopping)
