"""Forging the audit log as someone who can write the database but holds neither the audit key nor the
checkpoint signing key: every attempt that passed `pmh audit verify` before is now detected."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.audit import checkpoints, service
from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.settings import get_settings
from tests import factories as f
from tests.audit.test_chain import _without_guard

CHAIN = 5  # on PostgreSQL the tests write one chain other than 0; SQLite writes chain 0 only


@pytest.fixture
def caller(db_session: Session) -> Caller:
    clinic = f.institution(db_session)
    return Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")


@pytest.fixture
def chain(backend: str) -> int:
    return CHAIN if backend == "postgresql" else 0


def _append(session: Session, caller: Caller, chain: int, count: int) -> None:
    session.info[service.SESSION_CHAIN] = chain
    for n in range(count):
        service.record(session, caller, "certificate.read", "certificate", str(n), {"n": n})
    session.info.pop(service.SESSION_CHAIN)
    service.seal_all(session)  # PostgreSQL appends unsealed; SQLite sealed each at append


def _entries(session: Session, chain: int) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)))


def _rechain_plain(session: Session, chain: int, start: int) -> None:
    """Re-compute the chain from entry ``start`` on with the plain SHA-256 (all a forger without the key can do)."""
    entries = _entries(session, chain)
    previous = entries[start - 2].entry_hash if start > 1 else service.GENESIS_HASH
    for entry in entries[start - 1 :]:
        entry.prev_hash, entry.form = previous, service.PLAIN
        entry.entry_hash = previous = service.entry_hash(entry)
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == chain + 1).values(entry_hash=previous))
    session.expire_all()


def _cut_tail(session: Session, chain: int, keep: int) -> None:
    """Delete every entry after ``keep`` and move the chain's head back to it (needs no key at all)."""
    kept = _entries(session, chain)[keep - 1]
    session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > keep))
    session.execute(update(AuditHead).where(AuditHead.id == chain + 1).values(seq=keep, entry_hash=kept.entry_hash))
    session.expire_all()


def _checkpoint(session: Session, directory: Path) -> Path:
    return checkpoints.write_checkpoint(session, directory, get_settings().effective_audit_signing_key_file)


def _check(session: Session, directory: Path) -> checkpoints.CheckpointVerification:
    public = checkpoints.load_public_key(checkpoints.public_key_path(get_settings().effective_audit_signing_key_file))
    return checkpoints.verify_checkpoints(session, directory, public)


def test_edited_entry_with_the_chain_recomputed_in_plain_sha_is_detected(
    db_session: Session, caller: Caller, backend: str, chain: int
) -> None:
    _append(db_session, caller, chain, 5)
    _without_guard(db_session, backend)
    db_session.execute(text(f"UPDATE audit_entries SET subject_id = '999' WHERE chain = {chain} AND seq = 3"))
    _rechain_plain(db_session, chain, 3)
    problems = service.verify_chain(db_session).problems
    where = f"鎖 {chain} の" if chain else ""
    assert f"{where}連番 3 は鍵なしの形式ですが、連番 1 から鍵付きです（改ざんの疑い）。" in problems
    assert len(problems) == 3  # entries 3, 4 and 5 — the forger cannot produce a keyed link


def test_edited_entry_relinked_without_the_key_is_detected(
    db_session: Session, caller: Caller, backend: str, chain: int
) -> None:
    _append(db_session, caller, chain, 4)
    _without_guard(db_session, backend)
    db_session.execute(text(f"UPDATE audit_entries SET actor = 'someone' WHERE chain = {chain} AND seq = 2"))
    guessed_key = b"k" * 32  # any key but the hub's
    entries = _entries(db_session, chain)
    previous = entries[0].entry_hash
    for entry in entries[1:]:
        entry.prev_hash = previous
        entry.entry_hash = previous = service.entry_hash(entry, guessed_key)
    db_session.flush()
    db_session.execute(update(AuditHead).where(AuditHead.id == chain + 1).values(entry_hash=previous))
    db_session.expire_all()
    problems = service.verify_chain(db_session).problems
    assert [p for p in problems if "一致しません" in p] == [
        f"{'鎖 ' + str(chain) + ' の' if chain else ''}連番 {seq} の内容がハッシュと一致しません（改ざんの疑い）。"
        for seq in (2, 3, 4)
    ]


def _allow_plain_inserts(session: Session, backend: str) -> None:
    """Switch off the trigger that refuses new plain entries, inside the test's transaction (needs ownership)."""
    if backend == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_keyed_only"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_keyed_only"))


def _legacy_log(session: Session, caller: Caller, chain: int, count: int, backend: str) -> None:
    """Write ``count`` plain entries and their head, as a hub before revision 0010 did."""
    _allow_plain_inserts(session, backend)
    previous = service.GENESIS_HASH
    for seq in range(1, count + 1):
        entry = AuditEntry(
            chain=chain,
            seq=seq,
            occurred_at=dt.datetime(2026, 11, 1, 9, 0, seq, tzinfo=dt.UTC),
            organisation_id=caller.organisation_id,
            actor=caller.actor,
            role=caller.role,
            action="certificate.read",
            subject_type="certificate",
            subject_id=str(seq),
            detail="{}",
            prev_hash=previous,
            form=service.PLAIN,
        )
        entry.entry_hash = previous = service.entry_hash(entry)
        session.add(entry)
    session.add(AuditHead(id=chain + 1, seq=count, entry_hash=previous))
    session.flush()


def test_legacy_unkeyed_entries_still_verify_and_the_keyed_start_is_reported(
    db_session: Session, caller: Caller, chain: int, backend: str
) -> None:
    _legacy_log(db_session, caller, chain, 3, backend)
    _append(db_session, caller, chain, 2)
    result = service.verify_chain(db_session)
    assert result.ok, result.problems
    assert [c.as_dict() for c in result.chains] == [{"chain": chain, "entries": 5, "head_seq": 5, "keyed_from": 4}]
    shown = CliRunner().invoke(cli, ["audit", "verify"])
    assert shown.exit_code == 0, shown.output
    assert f"鎖 {chain}: 5件、連番 4 から鍵付き（それより前はハッシュ連鎖のみ）" in shown.stdout


def test_a_plain_entry_cannot_be_appended_to_a_chain_without_keyed_entries(
    db_session: Session, caller: Caller, chain: int, backend: str
) -> None:
    """Plain links need no key: whoever may INSERT could otherwise extend a chain that is still all plain."""
    _legacy_log(db_session, caller, chain, 2, backend)
    db_session.commit()
    db_session.expire_all()
    head = db_session.get(AuditHead, chain + 1)
    assert head is not None
    forged = AuditEntry(
        chain=chain,
        seq=3,
        occurred_at=dt.datetime(2026, 11, 1, 9, 1, tzinfo=dt.UTC),
        organisation_id=caller.organisation_id,
        actor="someone",
        role="institution",
        action="certificate.read",
        subject_type="certificate",
        subject_id="x",
        detail="{}",
        prev_hash=head.entry_hash,
        form=service.PLAIN,
    )
    forged.entry_hash = service.entry_hash(forged)
    guarded = db_session.connection()
    if backend == "postgresql":
        guarded.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_keyed_only"))
    else:
        guarded.execute(
            text(
                "CREATE TRIGGER audit_entries_keyed_only BEFORE INSERT ON audit_entries WHEN NEW.form <> 1 "
                "BEGIN SELECT RAISE(ABORT, 'audit entries are written in the keyed form only'); END"
            )
        )
    with pytest.raises(DBAPIError, match="keyed form only"), db_session.begin_nested():
        db_session.add(forged)
        db_session.flush()


def test_intact_log_matches_its_checkpoints(db_session: Session, caller: Caller, chain: int, tmp_path: Path) -> None:
    _append(db_session, caller, chain, 3)
    written = _checkpoint(db_session, tmp_path)
    _append(db_session, caller, chain, 2)  # entries after a checkpoint are fine
    _checkpoint(db_session, tmp_path)
    document = json.loads(written.read_text())
    assert [(c["chain"], c["seq"], c["keyed_from"]) for c in document["chains"]] == [(chain, 3, 1)]
    assert document["created_at"].endswith("+09:00") and document["chains"][0]["time"].endswith("+09:00")
    result = _check(db_session, tmp_path)
    assert (result.files, result.problems) == (2, [])
    key_file = get_settings().effective_audit_signing_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_cut_tail_with_the_head_moved_back_is_detected_by_the_checkpoint(
    db_session: Session, caller: Caller, backend: str, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 5)
    _checkpoint(db_session, tmp_path)
    _without_guard(db_session, backend)
    _cut_tail(db_session, chain, keep=3)
    assert service.verify_chain(db_session).ok  # the cut chain is consistent in itself …
    problems = _check(db_session, tmp_path).problems  # … but no longer holds the checkpointed head
    assert len(problems) == 1
    assert f"鎖 {chain} の連番 5（チェックポイント " in problems[0] and "切り詰め" in problems[0]


def test_deleted_chain_is_detected_by_the_checkpoint(
    db_session: Session, caller: Caller, backend: str, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 3)
    if backend == "postgresql":
        _append(db_session, caller, 2, 2)  # another chain, left alone
    _checkpoint(db_session, tmp_path)
    _without_guard(db_session, backend)
    db_session.execute(delete(AuditEntry).where(AuditEntry.chain == chain))
    db_session.execute(delete(AuditHead).where(AuditHead.id == chain + 1))
    db_session.expire_all()
    assert service.verify_chain(db_session).ok
    problems = _check(db_session, tmp_path).problems
    assert len(problems) == 1 and f"鎖 {chain} の連番 3" in problems[0]


def test_a_head_without_its_entry_is_still_checkpointed(
    db_session: Session, caller: Caller, backend: str, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 3)
    _without_guard(db_session, backend)
    db_session.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 3))
    db_session.expire_all()
    written = json.loads(_checkpoint(db_session, tmp_path).read_text())
    assert [(c["chain"], c["seq"], c["time"]) for c in written["chains"]] == [(chain, 3, None)]
    assert len(_check(db_session, tmp_path).problems) == 1


def test_whole_chain_reforged_in_plain_form_is_detected_by_the_checkpoint(
    db_session: Session, caller: Caller, backend: str, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 4)
    _checkpoint(db_session, tmp_path)
    _without_guard(db_session, backend)
    db_session.execute(text(f"UPDATE audit_entries SET subject_id = 'x' WHERE chain = {chain} AND seq = 1"))
    _rechain_plain(db_session, chain, 1)  # the whole chain now looks like a log from before the keyed form
    result = service.verify_chain(db_session)
    assert result.ok and result.chains[0].keyed_from is None  # alone, this cannot be told from an old log
    problems = _check(db_session, tmp_path).problems
    assert len(problems) == 1 and f"鎖 {chain} の連番 4 がチェックポイント" in problems[0]


@pytest.mark.parametrize("edit", ["seq", "hash", "chains"])
def test_tampered_checkpoint_file_is_detected(
    db_session: Session, caller: Caller, chain: int, tmp_path: Path, edit: str
) -> None:
    _append(db_session, caller, chain, 5)
    path = _checkpoint(db_session, tmp_path)
    document = json.loads(path.read_text())
    if edit == "seq":
        document["chains"][0]["seq"] = 3
    elif edit == "hash":
        document["chains"][0]["hash"] = "0" * 64
    else:
        document["chains"] = []
    path.write_text(json.dumps(document))
    problems = _check(db_session, tmp_path).problems
    assert problems == [f"チェックポイント {path.name} の署名が正しくありません（改ざんの疑い）。"]


def test_checkpoint_signed_by_another_key_is_refused(
    db_session: Session, caller: Caller, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 2)
    checkpoints.load_or_create_signing_key(get_settings().effective_audit_signing_key_file)  # the hub's key
    path = checkpoints.write_checkpoint(db_session, tmp_path / "points", tmp_path / "forger.key")
    problems = _check(db_session, tmp_path / "points").problems
    assert problems == [f"チェックポイント {path.name} の署名が正しくありません（改ざんの疑い）。"]


def test_empty_checkpoint_directory_is_not_a_pass(db_session: Session, caller: Caller, tmp_path: Path) -> None:
    _append(db_session, caller, 0, 1)
    _checkpoint(db_session, tmp_path / "elsewhere")
    assert _check(db_session, tmp_path / "empty").problems == [f"{tmp_path / 'empty'} にチェックポイントがありません。"]


def test_cli_checkpoint_and_verify_with_checkpoints(
    db_session: Session, caller: Caller, backend: str, chain: int, tmp_path: Path
) -> None:
    _append(db_session, caller, chain, 3)
    runner = CliRunner()
    written = runner.invoke(cli, ["audit", "checkpoint", "--out", str(tmp_path), "--json"])
    assert written.exit_code == 0, written.output
    made = json.loads(written.stdout)
    assert Path(made["file"]).parent == tmp_path and [c["seq"] for c in made["chains"]] == [3]
    ok = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(tmp_path), "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["ok"] and report["checkpoints"]["files"] == 1
    _without_guard(db_session, backend)
    _cut_tail(db_session, chain, keep=2)
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
    broken = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(tmp_path)])
    assert broken.exit_code == 1 and "切り詰め" in broken.output
    missing = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(tmp_path), "--public-key", "/nonexistent"])
    assert missing.exit_code == 1 and "公開鍵" in missing.output


def test_default_checkpoint_directory_and_derived_key(db_session: Session, caller: Caller) -> None:
    settings = get_settings()
    assert settings.effective_audit_checkpoint_dir == settings.data_dir / "audit-checkpoints"
    assert settings.effective_audit_key not in (settings.effective_secret_key, b"")
    _append(db_session, caller, 0, 1)
    assert CliRunner().invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    assert len(list(settings.effective_audit_checkpoint_dir.glob("checkpoint-*.json"))) == 1


def test_audit_key_setting_is_used(db_session: Session, caller: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMH_AUDIT_KEY", "a-separate-audit-key-of-32-chars-or-more")
    get_settings.cache_clear()
    _append(db_session, caller, 0, 2)
    assert service.verify_chain(db_session).ok
    monkeypatch.delenv("PMH_AUDIT_KEY")
    get_settings.cache_clear()
    assert not service.verify_chain(db_session).ok  # written under PMH_AUDIT_KEY, not the derived key


def test_the_server_can_write_checkpoints_periodically(db_session: Session, caller: Caller, tmp_path: Path) -> None:
    import time

    _append(db_session, caller, 0, 1)
    db_session.commit()  # to the test's savepoint, which the background thread's session shares
    settings = get_settings()
    writer = checkpoints.start_periodic_checkpoints(0.05, tmp_path, settings.effective_audit_signing_key_file)
    try:
        deadline = time.monotonic() + 20
        while len(list(tmp_path.glob("checkpoint-*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        writer.stop()
    assert not writer.thread.is_alive()
    assert len(list(tmp_path.glob("checkpoint-*.json"))) >= 2
    assert _check(db_session, tmp_path).problems == []
