"""The simulated eligibility service: importing insurance records and finding them by My Number."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from pmh.bulk import bulk_insert, in_values
from pmh.cards.models import InsuranceRecord
from pmh.codes.checkdigits import check_number
from pmh.codes.text import is_katakana, normalize_digits, normalize_kana, normalize_text
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.db import table_of, utcnow
from pmh.errors import FieldError, InvalidInput
from pmh.privacy import my_number_digest
from pmh.settings import get_settings

INSURANCE_COLUMNS = (
    "my_number",
    "insurer_number",
    "symbol",
    "number",
    "branch",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "copay_rate",
    "valid_from",
    "valid_to",
)
_REQUIRED = ("my_number", "insurer_number", "number", "name", "name_kana", "birth_date", "sex")
CHUNK = 5000


def person_digest(my_number: str) -> str:
    """Return the keyed digest under which a person's My Number is stored and looked up."""
    return my_number_digest(my_number, get_settings().effective_secret_key)


def person_digester() -> Callable[[str], str]:
    """Return :func:`person_digest` with the server secret read once (for bulk work)."""
    secret = get_settings().effective_secret_key
    return lambda my_number: my_number_digest(my_number, secret)


@dataclass(frozen=True, slots=True)
class RecordIdentity:
    """The facts of an insurance record the linking guard compares."""

    name: str
    name_kana: str
    birth_date: dt.date


def identities_by_digest(session: Session, digests: Iterable[str]) -> dict[str, RecordIdentity]:
    """Return name, kana and birth date of the insurance records of the given digests (bulk lookups)."""
    wanted = list(set(digests))
    table = table_of(InsuranceRecord).c
    found: dict[str, RecordIdentity] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(table.person_digest, table.name, table.name_kana, table.birth_date).where(
                in_values(session, table.person_digest, wanted[start : start + CHUNK])
            )
        )
        for digest, name, kana, birth in rows:
            found[digest] = RecordIdentity(name, kana, birth)
    return found


def records_by_digest(session: Session, digests: Iterable[str]) -> dict[str, InsuranceRecord]:
    """Return the insurance records of the given person digests."""
    wanted = list(set(digests))
    found: dict[str, InsuranceRecord] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for record in session.scalars(select(InsuranceRecord).where(InsuranceRecord.person_digest.in_(chunk))):
            found[record.person_digest] = record
    return found


@dataclass
class InsuranceImport:
    """What an insurance-record import did: rows added and updated, or every problem found."""

    added: int = 0
    updated: int = 0
    errors: list[FieldError] = field(default_factory=list)


def _validated(raw: Mapping[str, str], row: int, errors: list[FieldError]) -> dict[str, Any] | None:
    """Return the record's column values, or None after adding its problems to ``errors``."""
    before = len(errors)
    value = {k: normalize_text(raw.get(k) or "") for k in INSURANCE_COLUMNS}
    for column in _REQUIRED:
        if not value[column]:
            errors.append(FieldError(column, "required", f"{column} は必須です。", row))
    record: dict[str, Any] = {}
    for column, kind in (("my_number", "mynumber"), ("insurer_number", "insurer")):
        if value[column]:
            result = check_number(value[column], kind)  # type: ignore[arg-type]
            if not result.valid:
                errors.append(FieldError(column, "invalid_number", f"{column}: {result.reason}", row))
            record[column] = result.value
    for column in ("birth_date", "valid_from", "valid_to"):
        record[column] = None
        if value[column]:
            try:
                record[column] = parse_date(value[column])
            except DateFormatError as exc:
                errors.append(FieldError(column, "invalid_date", f"{column}: {exc}", row))
    kana = normalize_kana(value["name_kana"])
    if kana and not is_katakana(kana):
        errors.append(FieldError("name_kana", "not_katakana", "name_kana はカタカナで入力してください。", row))
    sex = normalize_digits(value["sex"])
    if sex and sex not in ("1", "2"):
        errors.append(FieldError("sex", "invalid_choice", "sex は 1（男）か 2（女）です。", row))
    rate = normalize_digits(value["copay_rate"])
    if rate and (not rate.isdigit() or int(rate) > 100):
        errors.append(FieldError("copay_rate", "out_of_range", "copay_rate は 0〜100 の整数です。", row))
    if len(errors) > before:
        return None
    record.update(
        person_digest=person_digest(record.pop("my_number")),
        symbol=value["symbol"],
        number=value["number"],
        branch=value["branch"] or None,
        name=value["name"],
        name_kana=kana,
        sex=int(sex),
        copay_rate=int(rate) if rate else None,
    )
    return record


def _rows(stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(stream)
    header = [h.strip().lstrip("\ufeff") for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"見出し行に必須の列がありません: {', '.join(missing)}",
            [FieldError(c, "missing_column", f"見出し行に列 {c} がありません。", 0) for c in missing],
        )
    reader.fieldnames = header
    yield from enumerate(reader, start=1)


def import_insurance_records(
    session: Session, stream: IO[str], progress: Callable[[int], None] | None = None
) -> InsuranceImport:
    """Load insurance records from CSV (interfaces.md §3), all or nothing; upsert by My Number digest."""
    result = InsuranceImport()
    pending: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in _rows(stream):
        record = _validated(raw, number, result.errors)
        if record is None:
            continue
        if record["person_digest"] in seen:
            result.errors.append(
                FieldError("my_number", "duplicate_in_file", "同じ個人番号が複数行にあります。", number)
            )
            continue
        seen.add(record["person_digest"])
        pending.append(record)
        if len(pending) >= CHUNK:
            _store(session, pending, result)
            if progress:
                progress(number)
            pending = []
    if pending:
        _store(session, pending, result)
    if result.errors:
        raise InvalidInput(f"保険資格ファイルに {len(result.errors)} 件の誤りがあります。", result.errors)
    return result


def _store(session: Session, records: list[dict[str, Any]], result: InsuranceImport) -> None:
    if result.errors:
        return  # the import will be refused as a whole; stop writing
    existing = set(
        session.scalars(
            select(InsuranceRecord.person_digest).where(
                InsuranceRecord.person_digest.in_([r["person_digest"] for r in records])
            )
        )
    )
    now = utcnow()
    new = [dict(r, created_at=now, updated_at=now) for r in records if r["person_digest"] not in existing]
    changed = [dict(r, updated_at=now, key=r["person_digest"]) for r in records if r["person_digest"] in existing]
    if new:
        bulk_insert(session, table_of(InsuranceRecord), new)
    if changed:
        table = table_of(InsuranceRecord)
        columns: dict[str, Any] = {k: bindparam(k) for k in changed[0] if k not in ("key", "person_digest")}
        session.connection().execute(
            update(table).where(table.c.person_digest == bindparam("key")).values(**columns), changed
        )
    result.added += len(new)
    result.updated += len(changed)


def import_insurance_text(session: Session, text: str) -> InsuranceImport:
    """Import insurance records from CSV text (tests, the demo)."""
    return import_insurance_records(session, io.StringIO(text))
