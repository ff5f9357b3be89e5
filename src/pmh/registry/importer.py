"""The one import engine behind every door (web page, ``POST /uploads``, ``POST /certificates/batch``,
``pmh certificates import``).

Semantics (docs/upload-format.md): all or nothing unless ``allow_partial``; idempotent by content (an
upload whose content was already *applied* for the municipality applies nothing and answers with
the first result); uploads of one municipality never interleave; every problem names row, column,
code and a Japanese message; the linking guard holds mismatches in the review queue.

The rows are applied in chunks inside a savepoint while they stream in; problems are spooled aside.
If any row was refused and partial application was not asked for, the savepoint is rolled back and
only the upload's record and its problems are kept. A process killed mid-file never commits at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import IO, Any, BinaryIO, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.bulk import allocate_ids, bulk_insert, in_values
from pmh.cards import service as cards
from pmh.db import table_of, utcnow
from pmh.errors import FieldError, InvalidInput, NotFound, PmhError
from pmh.privacy import mask_my_numbers
from pmh.registry import counts
from pmh.registry import service as registry
from pmh.registry.guard import Verdict, check_link
from pmh.registry.models import Certificate, CertificateVersion, LinkReview, PayerNumber, Program, Upload, UploadProblem
from pmh.registry.names import stored_name_forms
from pmh.registry.parsing import ProgramRule, UploadFileError, read_certificates
from pmh.registry.rows import COLUMNS, CertificateRow, RowProblem
from pmh.registry.schemas import UploadProblemRead, UploadResult
from pmh.settings import get_settings

CHUNK_ROWS = 5000
RESULT_ERRORS = 1000
Source = Literal["file", "api", "cli", "web"]
RowReader = Callable[[Mapping[str, ProgramRule], Mapping[str, str]], Iterator[CertificateRow | RowProblem]]
Progress = Callable[[int], None]
PointerOf = Callable[[int, str], str]
"""(0-based record index, column) → the problem's JSON pointer, for bodies that have one (the registration API)."""

# Identity facts: left empty in a 変更 they keep their previous value (docs/upload-format.md).
IDENTITY_FIELDS = ("name", "name_kana", "birth_date", "sex")
UPLOAD_LOCK_NAMESPACE = counts.UPLOAD_LOCK_NAMESPACE  # advisory-lock namespace of uploads (PostgreSQL)


def file_reader(stream: BinaryIO) -> RowReader:
    """Return the row reader of an upload file (docs/upload-format.md) for :func:`run_import`."""
    return lambda rules, gaiji: read_certificates(stream, rules, gaiji)


class UploadTooLarge(PmhError):
    """A file over the size limit of the web and HTTP doors."""

    status_code = 413
    code = "upload_too_large"
    title = "ファイルが大きすぎます"


def check_upload_size(size: int | None) -> None:
    """Refuse a file over ``PMH_MAX_UPLOAD_MB`` before anything is read into the database."""
    limit = get_settings().max_upload_mb
    if size is not None and size > limit * 1024 * 1024:
        message = (
            f"ファイルが大きすぎます（{size / 1024 / 1024:,.0f} MB、上限 {limit} MB）。何も反映していません。"
            "ファイルを分けて登録するか、自動連携（API）またはサーバーでのコマンドによる取込を"
            "システム管理者に依頼してください。"
        )
        raise UploadTooLarge(message, [FieldError("file", "upload_too_large", message)])


MAX_FILENAME_LENGTH = 255
_FILENAME_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_filename(filename: str | None) -> None:
    """Refuse a file name that is too long to keep or carries control characters (NUL included)."""
    if filename is None:
        return
    if len(filename) > MAX_FILENAME_LENGTH or _FILENAME_CONTROL.search(filename):
        message = f"ファイル名は制御文字を含まない{MAX_FILENAME_LENGTH}文字以内にしてください。何も反映していません。"
        raise InvalidInput(message, [FieldError("file", "invalid_filename", message)])


def import_http_file(
    session: Session,
    caller: Caller,
    stream: BinaryIO,
    *,
    size: int | None,
    filename: str | None,
    source: Source,
    allow_partial: bool,
) -> UploadResult:
    """Import a file received over HTTP (API or page): size and name first, then the usual engine."""
    check_upload_size(size)
    check_filename(filename)
    return run_import(
        session,
        caller,
        file_reader(stream),
        digest=content_digest(stream),
        source=source,
        filename=filename,
        allow_partial=allow_partial,
    )


def content_digest(stream: IO[bytes]) -> str:
    """Return the SHA-256 of a stream's bytes and rewind it."""
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def json_digest(payload: Any) -> str:
    """Return the SHA-256 of a JSON document in canonical form (key order and spacing do not matter)."""
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class ProblemSpool:
    """Problems of one upload, kept in memory up to a point and spooled to a temporary file beyond."""

    in_memory_limit: int = 20_000
    count: int = 0
    rows: set[int] = field(default_factory=set)
    _items: list[tuple[int | None, str, str, str, str]] = field(default_factory=list)
    _file: IO[str] | None = None

    def add(self, row: int | None, column: str, code: str, message: str, value: str = "") -> None:
        """Record one problem; a My Number anywhere in its message or value is masked before it is kept.

        A My Number typed into the wrong column (氏名, 住所 …) would otherwise be stored in
        ``upload_problems`` and shown in the error report as it was received.
        """
        self.count += 1
        if row is not None:
            self.rows.add(row)
        self._items.append((row, column, code, mask_my_numbers(message), mask_my_numbers(value)))
        if len(self._items) >= self.in_memory_limit:
            self._spill()

    def add_row_problem(self, problem: RowProblem) -> None:
        """Record every error of a refused row, with the value as received."""
        for error in problem.errors:
            self.add(problem.row, error.field, error.code, error.message, _masked(error.field, problem.values))

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in close()
        for item in self._items:
            self._file.write(json.dumps(item, ensure_ascii=False) + "\n")
        self._items = []

    def __iter__(self) -> Iterator[tuple[int | None, str, str, str, str]]:
        if self._file is not None:
            self._file.seek(0)
            for line in self._file:
                row, column, code, message, value = json.loads(line)
                yield row, column, code, message, value
        yield from self._items

    def close(self) -> None:
        """Delete the spool file."""
        if self._file is not None:
            self._file.close()


_MY_NUMBER_COLUMNS = ("個人番号", "my_number", "myNumber")


def _masked(column: str, values: Mapping[str, str]) -> str:
    """Return the value as received for the report, never a My Number (only its last four digits)."""
    value = values.get(column, "")
    if column in _MY_NUMBER_COLUMNS and value:
        return "*" * max(len(value) - 4, 0) + value[-4:]
    return value


@dataclass
class _Context:
    """What one import needs while it runs."""

    session: Session
    caller: Caller
    upload: Upload
    program_ids: dict[str, int]
    spool: ProblemSpool
    has_certificates: bool
    accepted: int = 0
    held: int = 0
    total: int = 0
    lines: dict[int, int] = field(default_factory=dict)
    """File lines of the rows that do not start on ``row + 1`` (after a value spanning lines)."""
    pointer_of: PointerOf | None = None
    count_dates: list[dt.date] = field(default_factory=list)
    """The reference dates whose registered counts are kept (``pmh.registry.counts``)."""


def _program_rules(session: Session, municipality_id: int) -> tuple[dict[str, ProgramRule], dict[str, int]]:
    from pmh.reference import catalogue

    rows = session.execute(
        select(PayerNumber.payer_number, Program.id, Program.program_code, Program.recipient_check_digit)
        .join(Program, Program.id == PayerNumber.program_id)
        .where(Program.municipality_id == municipality_id)
    ).all()
    rules = {
        payer: ProgramRule(program_code=code, national=catalogue.program(code).national, recipient_check_digit=check)
        for payer, _, code, check in rows
    }
    return rules, {payer: program_id for payer, program_id, _, _ in rows}


def run_import(
    session: Session,
    caller: Caller,
    reader: RowReader,
    *,
    digest: str,
    source: Source,
    filename: str | None = None,
    allow_partial: bool = False,
    progress: Progress | None = None,
    pointer_of: PointerOf | None = None,
) -> UploadResult:
    """Validate and apply one upload for the caller's municipality; see the module docstring.

    ``pointer_of`` gives each stored problem of a row its JSON pointer (registration-API batches).
    """
    municipality_id = caller.organisation_id
    counts.lock_municipality(session, municipality_id)
    first = session.scalar(
        select(Upload)
        .where(Upload.municipality_id == municipality_id, Upload.content_digest == digest, Upload.status == "applied")
        .order_by(Upload.id)
        .limit(1)
    )
    if first is not None:
        return upload_result(session, caller, first.id, status="duplicate")

    rules, program_ids = _program_rules(session, municipality_id)
    upload = Upload(
        municipality_id=municipality_id,
        source=source,
        filename=filename,
        content_digest=digest,
        allow_partial=allow_partial,
        status="processing",
        actor=caller.actor,
    )
    session.add(upload)
    session.flush()
    # A municipality's first load (often all its recipients at once) needs no look-ups of existing
    # certificates: rows of one upload never share a key (the reader refuses duplicates).
    has_certificates = (
        session.scalar(select(Certificate.id).where(Certificate.municipality_id == municipality_id).limit(1))
        is not None
    )
    context = _Context(session, caller, upload, program_ids, ProblemSpool(), has_certificates, pointer_of=pointer_of)
    context.count_dates = counts.tracked_dates(session)
    try:
        _apply_all(context, reader(rules, registry.gaiji_table(session, municipality_id)), allow_partial, progress)
        _store_problems(context)
    finally:
        context.spool.close()
    if upload.status == "applied" and context.count_dates and not has_certificates:
        # A first load was not counted chunk by chunk (nothing to compare with): count it in one go.
        counts.refresh_municipality(session, municipality_id)
    audit.record(
        session,
        caller,
        "certificates.import",
        "upload",
        str(upload.id),
        {"status": upload.status, "accepted": upload.accepted, "held": upload.held_for_review, "source": source},
    )
    return upload_result(session, caller, upload.id)


def _apply_all(
    context: _Context, rows: Iterator[CertificateRow | RowProblem], allow_partial: bool, progress: Progress | None
) -> None:
    savepoint = context.session.begin_nested()
    try:
        for chunk in _chunks(rows, context):
            # Once an all-or-nothing upload is doomed, the rest is only checked, not written.
            _apply_chunk(context, chunk, write=allow_partial or context.spool.count == 0)
            if progress:
                progress(context.total)
    except UploadFileError as exc:
        for error in exc.errors:
            context.spool.add(error.row, error.field, error.code, error.message)
        context.spool.rows.add(0)
    except BaseException:
        savepoint.rollback()
        raise
    # A partial upload in which no row could be applied is a rejection, not an empty success.
    refused = context.spool.count > 0 and (not allow_partial or 0 in context.spool.rows or context.accepted == 0)
    if refused:
        savepoint.rollback()
        context.accepted = context.held = 0
    else:
        savepoint.commit()
    upload = context.upload
    upload.status = "rejected" if refused else "applied"
    upload.total_rows = context.total
    upload.accepted = context.accepted
    upload.held_for_review = context.held
    upload.rejected = len(context.spool.rows - {0})
    upload.error_count = context.spool.count


def _chunks(rows: Iterator[CertificateRow | RowProblem], context: _Context) -> Iterator[list[CertificateRow]]:
    chunk: list[CertificateRow] = []
    for item in rows:
        context.total += 1
        if item.line is not None:
            context.lines[item.row] = item.line
        if isinstance(item, RowProblem):
            context.spool.add_row_problem(item)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _file_line(context: _Context, row: int | None) -> int | None:
    """Return the file line of a data row (the header is line 1), or None for the file or an API batch."""
    if row is None or context.upload.source == "api":
        return None
    return context.lines.get(row, row + 1)


def _pointer(context: _Context, row: int | None, column: str) -> str | None:
    """Return the JSON pointer of a record's problem (rows count records from 1), or None."""
    if row is None or row < 1 or context.pointer_of is None:
        return None
    return context.pointer_of(row - 1, column)


def _store_problems(context: _Context) -> None:
    batch: list[dict[str, Any]] = []
    for row, column, code, message, value in context.spool:
        batch.append(
            {
                "upload_id": context.upload.id,
                "row": row,
                "line": _file_line(context, row),
                "column": column,
                "code": code,
                "message": message,
                "value": value,
                "pointer": _pointer(context, row, column),
            }
        )
        if len(batch) >= 5000:
            context.session.execute(insert(table_of(UploadProblem)), batch)
            batch = []
    if batch:
        context.session.execute(insert(table_of(UploadProblem)), batch)


# --- applying one chunk ---------------------------------------------------------------------------


def _json_pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    """Return name-value pairs as a JSON object (most rows have none: skip the encoder then)."""
    return json.dumps(dict(pairs), ensure_ascii=False) if pairs else "{}"


def _version_values(row: CertificateRow) -> dict[str, Any]:
    """Return the stored columns of a version built from a row as given."""
    return {
        "name": row.name,
        "name_kana": row.name_kana,
        "birth_date": row.birth_date,
        "sex": row.sex,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "monthly_cap": row.monthly_cap,
        "inpatient_cap": row.inpatient_cap,
        "copay_rate": row.copay_rate,
        "income_category": row.income_category,
        "cap_managed": row.cap_managed,
        "diseases": ";".join(row.diseases),
        "designated_institutions": ";".join(row.designated_institutions),
        "guardian_name": row.guardian_name,
        "certification_name": row.certification_name,
        "address": row.address,
        "not_disclosed": row.not_disclosed,
        "always_reimbursement": row.always_reimbursement,
        "additional_conditions": _json_pairs(row.additional_conditions),
        "certificate_details": _json_pairs(row.certificate_details),
        "history_key": row.history_key,
    }


# The stored columns of a version are the file's columns, less the key, the operation and My Number.
_VERSION_COPY = tuple(
    column.alias for column in COLUMNS if column.alias not in ("op", "payer_number", "recipient_number", "my_number")
)


@dataclass
class _Existing:
    """A stored certificate: ``current_version`` is its highest version number (withdrawn ones
    included, so numbers are never reused); ``latest`` the newest version still in force, None
    when every version was withdrawn."""

    certificate_id: int
    person_digest: str
    link_status: str
    current_version: int
    latest: dict[str, Any] | None
    latest_version: int | None


_LATEST_NAMES = (*_VERSION_COPY, "effective_from")
_LATEST_COLUMNS = tuple(table_of(CertificateVersion).c[name] for name in _LATEST_NAMES)


def _existing(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Existing]:
    """Return the certificates (with their newest version) among the keys of one chunk.

    Two IN lists on the composite unique index are much cheaper for PostgreSQL to plan than a
    list of row values; the few extra combinations they admit are dropped here. Plain rows, not
    ORM objects: building thousands of objects per chunk would dominate the import.
    """
    wanted = set(keys)
    certificates = table_of(Certificate).c
    versions = table_of(CertificateVersion)
    rows = session.execute(
        select(
            certificates.payer_number,
            certificates.recipient_number,
            certificates.id,
            certificates.person_digest,
            certificates.link_status,
            certificates.current_version,
            versions.c.withdrawn_at,
            *_LATEST_COLUMNS,
        )
        .join(
            versions,
            (versions.c.certificate_id == certificates.id) & (versions.c.version == certificates.current_version),
        )
        .where(
            in_values(session, certificates.payer_number, {payer for payer, _ in wanted}),
            in_values(session, certificates.recipient_number, {recipient for _, recipient in wanted}),
        )
    ).all()
    found = {}
    withdrawn = []
    for payer, recipient, certificate_id, digest, status, current, withdrawn_at, *latest in rows:
        if (payer, recipient) in wanted:
            existing = _Existing(
                certificate_id, digest, status, current, dict(zip(_LATEST_NAMES, latest, strict=True)), current
            )
            found[(payer, recipient)] = existing
            if withdrawn_at is not None:
                withdrawn.append(existing)
    if withdrawn:
        _newest_in_force(session, withdrawn)
    return found


def _newest_in_force(session: Session, certificates: list[_Existing]) -> None:
    """Replace ``latest`` of certificates whose highest version was withdrawn (rare: one query each)."""
    versions = table_of(CertificateVersion).c
    for existing in certificates:
        row = session.execute(
            select(versions.version, *_LATEST_COLUMNS)
            .where(versions.certificate_id == existing.certificate_id, versions.withdrawn_at.is_(None))
            .order_by(versions.version.desc())
            .limit(1)
        ).first()
        if row is None:
            existing.latest = existing.latest_version = None
        else:
            version, *latest = row
            existing.latest, existing.latest_version = dict(zip(_LATEST_NAMES, latest, strict=True)), version


@dataclass
class _Planned:
    """One accepted row's effect: a version to add, and for a new certificate, the certificate."""

    row: CertificateRow
    version: dict[str, Any]
    verdict: Verdict | None
    existing: _Existing | None
    digest: str


@dataclass(frozen=True)
class _Keyed:
    """A stored version named by a 履歴キー."""

    version: int
    operation: str
    withdrawn: bool


@dataclass(frozen=True)
class _Withdrawal:
    """One accepted 取消: the certificate and the version (its newest in force) to withdraw."""

    row: CertificateRow
    existing: _Existing
    version: int


def _apply_chunk(context: _Context, rows: list[CertificateRow], write: bool) -> None:
    session = context.session
    existing = (
        _existing(session, [(r.payer_number, r.recipient_number) for r in rows]) if context.has_certificates else {}
    )
    planned: list[_Planned] = []
    withdrawals: list[_Withdrawal] = []
    digest_of = cards.person_digester()
    keyed = _keyed_versions(session, rows, existing)
    for row in rows:
        current = existing.get((row.payer_number, row.recipient_number))
        known = keyed.get((current.certificate_id, row.history_key)) if current is not None else None
        # 取消 (4), or isDeleted / 終了 naming a 新規・変更 version by its 履歴キー: withdraw that version.
        if row.op == "withdraw" or (row.op == "end" and known is not None and known.operation != "end"):
            withdrawal = _plan_withdrawal(context, row, current, known)
            if withdrawal is not None:
                withdrawals.append(withdrawal)
            continue
        if known is not None:
            continue  # this 履歴キー was applied before: resending it changes nothing
        digest = digest_of(row.my_number) if row.my_number else None
        step = _plan(context, row, current, digest)
        if step is not None:
            planned.append(step)
    if not write:
        return
    _withdraw(context, withdrawals)
    to_check = [step for step in planned if step.existing is None or _identity_changed(step, step.existing)]
    records = cards.identities_by_digest(session, (step.digest for step in to_check))
    for step in to_check:
        version = step.version
        step.verdict = check_link(
            version["name"], version["name_kana"], version["birth_date"], records.get(step.digest)
        )
    _write(context, planned)


def _keyed_versions(
    session: Session, rows: list[CertificateRow], existing: Mapping[tuple[str, str], _Existing]
) -> dict[tuple[int, str | None], _Keyed]:
    """Return the stored versions named by the 履歴キー of a chunk's rows, by (certificate, 履歴キー)."""
    wanted = {
        (current.certificate_id, row.history_key)
        for row in rows
        if row.history_key and (current := existing.get((row.payer_number, row.recipient_number))) is not None
    }
    if not wanted:
        return {}
    versions = table_of(CertificateVersion).c
    found = session.execute(
        select(
            versions.certificate_id, versions.history_key, versions.version, versions.operation, versions.withdrawn_at
        ).where(
            in_values(session, versions.certificate_id, {certificate for certificate, _ in wanted}),
            in_values(session, versions.history_key, {key for _, key in wanted}),
        )
    ).all()
    keyed: dict[tuple[int, str | None], _Keyed] = {}
    for certificate, key, version, operation, withdrawn_at in found:
        if (certificate, key) in wanted:  # a 履歴キー is applied once per certificate: it names one version
            keyed[(certificate, key)] = _Keyed(version, operation, withdrawn_at is not None)
    return keyed


def _plan_withdrawal(
    context: _Context, row: CertificateRow, current: _Existing | None, known: _Keyed | None
) -> _Withdrawal | None:
    """Check a 取消 and return it, or None (a problem was recorded, or it was withdrawn before)."""
    spool = context.spool
    if current is None:
        message = "この公費負担者番号・公費受給者番号の受給者証は登録されていません（取消できません）。"
        spool.add(row.row, "公費受給者番号", "unknown_certificate", message, row.recipient_number)
        return None
    if known is None:
        message = f"履歴キー「{row.history_key}」の版はこの受給者証にありません（取消できるのは登録済みの版だけです）。"
        spool.add(row.row, "履歴キー", "unknown_history_key", message, row.history_key or "")
        return None
    if known.withdrawn:
        return None  # withdrawn before: resending the 取消 changes nothing
    if current.latest_version != known.version:
        message = (
            f"履歴キー「{row.history_key}」の版（第{known.version}版）より後の版（第{current.latest_version}版）が"
            "有効なため取り消せません。後の版から順に取り消してください。"
        )
        spool.add(row.row, "履歴キー", "not_latest_version", message, row.history_key or "")
        return None
    return _Withdrawal(row, current, known.version)


def _plan(context: _Context, row: CertificateRow, current: _Existing | None, digest: str | None) -> _Planned | None:
    in_force = current is not None and current.latest is not None
    operation = row.op if row.op != "upsert" else ("change" if in_force else "add")
    if operation == "add":
        if current is not None and current.latest is not None:
            context.spool.add(
                row.row,
                "公費受給者番号",
                "already_registered",
                "この公費負担者番号・公費受給者番号の受給者証は既に登録されています（内容の変更は処理区分2）。",
                row.recipient_number,
            )
            return None
        assert digest is not None  # the parser requires 個人番号 for 新規
        version = _version_values(row) | {"operation": "add", "effective_from": row.valid_from}
        # A certificate whose every version was withdrawn is registered again under its old row.
        return _Planned(row, version, None, current, digest)
    if current is not None and current.latest is None:
        message = "この受給者証の版はすべて取り消されています（登録し直すときは処理区分1（新規））。"
        context.spool.add(row.row, "公費受給者番号", "withdrawn_certificate", message, row.recipient_number)
        return None
    if current is None:
        context.spool.add(
            row.row,
            "公費受給者番号",
            "unknown_certificate",
            "この公費負担者番号・公費受給者番号の受給者証は登録されていません（新規は処理区分1）。",
            row.recipient_number,
        )
        return None
    assert current.latest is not None
    if operation == "end":
        if row.valid_to is not None and row.valid_to < current.latest["valid_from"]:
            context.spool.add(
                row.row,
                "有効終了日",
                "end_before_start",
                f"有効終了日が登録済みの有効開始日（{current.latest['valid_from']}）より前です。",
                str(row.valid_to),
            )
            return None
        version = dict(current.latest) | {"operation": "end", "valid_to": row.valid_to, "history_key": row.history_key}
        return _Planned(row, version, None, current, current.person_digest)
    version = _version_values(row) | {"operation": "change", "effective_from": row.valid_from}
    for column in IDENTITY_FIELDS:
        if column not in row.present:
            version[column] = current.latest[column]
    return _Planned(row, version, None, current, digest or current.person_digest)


def _identity_changed(step: _Planned, current: _Existing) -> bool:
    if step.digest != current.person_digest or current.latest is None:
        return True
    return any(step.version[c] != current.latest[c] for c in ("name", "name_kana", "birth_date"))


@lru_cache(maxsize=8192)
def _name_forms(name: str) -> Mapping[str, Any]:
    """Return the derived name columns of a version (cached: a 変更 or 終了 repeats the name)."""
    return MappingProxyType(stored_name_forms(name))


def _write(context: _Context, planned: list[_Planned]) -> None:
    if not planned:
        return
    session, upload = context.session, context.upload
    before = (
        counts.snapshot(session, _count_keys(context, planned), context.count_dates)
        if context.has_certificates
        else None
    )
    now = utcnow()
    new = [p for p in planned if p.existing is None]
    if new:
        certificates = [
            {
                "municipality_id": upload.municipality_id,
                "program_id": context.program_ids[p.row.payer_number],
                "payer_number": p.row.payer_number,
                "recipient_number": p.row.recipient_number,
                "person_digest": p.digest,
                "link_status": "linked" if p.verdict and p.verdict.linked else "held",
                "current_version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for p in new
        ]
        table = table_of(Certificate)
        ids = allocate_ids(session, table, len(new))
        if ids is None:
            ids = list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), certificates))
        else:
            bulk_insert(session, table, [row | {"id": id_} for row, id_ in zip(certificates, ids, strict=True)])
        for step, certificate_id in zip(new, ids, strict=True):
            step.version |= {"certificate_id": certificate_id, "version": 1}
    changed = [p for p in planned if p.existing is not None]
    if changed:
        updates = []
        for step in changed:
            assert step.existing is not None
            status = step.existing.link_status
            if step.verdict is not None:
                status = "linked" if step.verdict.linked else "held"
            version = step.existing.current_version + 1
            step.version |= {"certificate_id": step.existing.certificate_id, "version": version}
            if step.digest != step.existing.person_digest:  # what withdrawing this version restores
                step.version["previous_person_digest"] = step.existing.person_digest
            updates.append(
                {
                    "key": step.existing.certificate_id,
                    "current_version": version,
                    "link_status": status,
                    "person_digest": step.digest,
                    "updated_at": now,
                }
            )
        table = table_of(Certificate)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("key"))
            .values(
                current_version=bindparam("current_version"),
                link_status=bindparam("link_status"),
                person_digest=bindparam("person_digest"),
                updated_at=bindparam("updated_at"),
            ),
            updates,
        )
        _close_reviews_fixed_by_correction(context, [s for s in changed if s.verdict and s.verdict.linked])
    # Core or COPY, not ORM bulk inserts: the ORM splits rows by which columns are NULL and would
    # send thousands of small statements.
    for step in planned:
        step.version["upload_id"] = upload.id
        step.version["recorded_at"] = now
        step.version.setdefault("previous_person_digest", None)  # COPY needs one set of keys
        step.version.update(_name_forms(step.version["name"]))
    bulk_insert(session, table_of(CertificateVersion), [step.version for step in planned])
    held = [step for step in planned if step.verdict is not None and not step.verdict.linked]
    if held:
        session.execute(
            insert(table_of(LinkReview)),
            [
                {
                    "municipality_id": upload.municipality_id,
                    "certificate_id": step.version["certificate_id"],
                    "version": step.version["version"],
                    "upload_id": upload.id,
                    "reason_codes": ",".join(step.verdict.codes),
                    "reasons": "\n".join(step.verdict.reasons),
                    "status": "open",
                    "created_at": now,
                    "updated_at": now,
                }
                for step in held
                if step.verdict is not None
            ],
        )
    counts.apply(session, before)
    context.accepted += len(planned)
    context.held += sum(1 for step in planned if _is_held(step))


_WITHDRAWN_NOTE = "この版は取り消されたため、確認は不要になりました。"


def _withdraw(context: _Context, withdrawals: list[_Withdrawal]) -> None:
    """Withdraw versions (取消): kept in the history, never in force again; the version before is.

    Rare, so plain statements per certificate. The linking guard treats the restored version like
    a 変更 back to it: when the withdrawn version had changed the identity (My Number, name, kana,
    birth date), the restored identity is checked against the insurance record again.
    """
    session, upload = context.session, context.upload
    versions = table_of(CertificateVersion)
    now = utcnow()
    before = counts.snapshot(session, _withdrawal_keys(context, withdrawals), context.count_dates)
    for withdrawal in withdrawals:
        certificate_id = withdrawal.existing.certificate_id
        session.execute(
            update(versions)
            .where(versions.c.certificate_id == certificate_id, versions.c.version == withdrawal.version)
            .values(withdrawn_at=now, withdrawn_upload_id=upload.id)
        )
        session.execute(
            update(LinkReview)
            .where(
                LinkReview.certificate_id == certificate_id,
                LinkReview.version == withdrawal.version,
                LinkReview.status == "open",
            )
            .values(
                status="rejected", resolved_by=f"upload:{upload.id}", resolved_at=now, resolution_note=_WITHDRAWN_NOTE
            )
        )
        context.accepted += 1
        if _restore_identity(context, withdrawal, now):
            context.held += 1
    counts.apply(session, before)


def _withdrawal_keys(context: _Context, withdrawals: list[_Withdrawal]) -> set[counts.Key]:
    """Return the (program, person) pairs withdrawals change: the current person and the one restored."""
    if not withdrawals or not context.count_dates:
        return set()
    ids = [w.existing.certificate_id for w in withdrawals]
    rows = context.session.execute(
        select(Certificate.program_id, Certificate.person_digest, CertificateVersion.previous_person_digest)
        .join(CertificateVersion, CertificateVersion.certificate_id == Certificate.id)
        .where(Certificate.id.in_(ids))
    )
    keys: set[counts.Key] = set()
    for program_id, digest, previous in rows:
        keys.add((program_id, digest))
        if previous is not None:
            keys.add((program_id, previous))
    return keys


def _restore_identity(context: _Context, withdrawal: _Withdrawal, now: dt.datetime) -> bool:
    """Give the certificate back the identity of its restored version; return True when it is held."""
    session = context.session
    certificate = session.get_one(Certificate, withdrawal.existing.certificate_id)
    gone = session.scalars(
        select(CertificateVersion).where(
            CertificateVersion.certificate_id == certificate.id, CertificateVersion.version == withdrawal.version
        )
    ).one()
    restored = session.scalars(
        select(CertificateVersion)
        .where(CertificateVersion.certificate_id == certificate.id, CertificateVersion.withdrawn_at.is_(None))
        .order_by(CertificateVersion.version.desc())
        .limit(1)
    ).first()
    certificate.updated_at = now
    if restored is None:
        return False  # nothing left in force: institutions see no certificate at all
    digest = gone.previous_person_digest or certificate.person_digest
    changed = digest != certificate.person_digest or any(
        getattr(gone, column) != getattr(restored, column) for column in ("name", "name_kana", "birth_date")
    )
    if not changed:
        return certificate.link_status != "linked"
    certificate.person_digest = digest
    record = cards.identities_by_digest(session, [digest]).get(digest)
    verdict = check_link(restored.name, restored.name_kana, restored.birth_date, record)
    certificate.link_status = "linked" if verdict.linked else "held"
    if verdict.linked:
        session.execute(
            update(LinkReview)
            .where(LinkReview.certificate_id == certificate.id, LinkReview.status == "open")
            .values(
                status="linked",
                resolved_by=f"upload:{context.upload.id}",
                resolved_at=now,
                resolution_note="取消で戻った版が保険資格と一致しました。",
            )
        )
        return False
    session.add(
        LinkReview(
            municipality_id=certificate.municipality_id,
            certificate_id=certificate.id,
            version=restored.version,
            upload_id=context.upload.id,
            reason_codes=",".join(verdict.codes),
            reasons="\n".join(verdict.reasons),
            status="open",
        )
    )
    session.flush()
    return True


def _count_keys(context: _Context, planned: list[_Planned]) -> set[counts.Key]:
    """Return the (program, person) pairs a chunk changes: a changed identity moves a certificate between two."""
    keys = set()
    for step in planned:
        program_id = context.program_ids[step.row.payer_number]
        keys.add((program_id, step.digest))
        if step.existing is not None:
            keys.add((program_id, step.existing.person_digest))
    return keys


def _is_held(step: _Planned) -> bool:
    if step.verdict is not None:
        return not step.verdict.linked
    return step.existing is not None and step.existing.link_status != "linked"


def _close_reviews_fixed_by_correction(context: _Context, corrected: Iterable[_Planned]) -> None:
    """Close open reviews of certificates whose corrected identity now matches the insurance record."""
    ids = [
        step.version["certificate_id"] for step in corrected if step.existing and step.existing.link_status != "linked"
    ]
    if not ids:
        return
    context.session.execute(
        update(LinkReview)
        .where(LinkReview.certificate_id.in_(ids), LinkReview.status == "open")
        .values(
            status="linked",
            resolved_by=f"upload:{context.upload.id}",
            resolved_at=utcnow(),
            resolution_note="訂正データにより保険資格と一致しました。",
        )
    )


# --- results --------------------------------------------------------------------------------------


def upload_result(
    session: Session, caller: Caller, upload_id: int, status: str | None = None, audit_read: bool = False
) -> UploadResult:
    """Return an upload's result (with its first problems) for the caller's own municipality.

    Problems carry values as received (names, dates), so a read outside the import is audited.
    """
    upload = session.scalar(
        select(Upload).where(Upload.id == upload_id, Upload.municipality_id == caller.organisation_id)
    )
    if upload is None:
        raise NotFound("該当するアップロードはありません。")
    problems = session.scalars(
        select(UploadProblem)
        .where(UploadProblem.upload_id == upload.id)
        .order_by(UploadProblem.id)
        .limit(RESULT_ERRORS)
    ).all()
    return UploadResult(
        id=upload.id,
        status=status or upload.status,
        accepted=upload.accepted,
        rejected=upload.rejected,
        held_for_review=upload.held_for_review,
        total_rows=upload.total_rows,
        error_count=upload.error_count,
        errors=[problem_read(p) for p in problems],
        errors_truncated=upload.error_count > len(problems),
    )


def problem_read(problem: UploadProblem) -> UploadProblemRead:
    """Return the API shape of a stored problem; one with a JSON pointer also carries its record's index."""
    read = UploadProblemRead.model_validate(problem, from_attributes=True)
    if problem.pointer is not None and problem.row is not None:
        read.index = problem.row - 1
    return read


def upload_problems(session: Session, caller: Caller, upload_id: int) -> Iterator[UploadProblem]:
    """Stream every problem of one of the caller's uploads, in order."""
    upload_result(session, caller, upload_id)  # scope check
    audit.record(session, caller, "upload.errors.read", "upload", str(upload_id))
    yield from session.scalars(
        select(UploadProblem)
        .where(UploadProblem.upload_id == upload_id)
        .order_by(UploadProblem.id)
        .execution_options(yield_per=5000)
    )
