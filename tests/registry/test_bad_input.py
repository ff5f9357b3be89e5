"""The corpus of broken uploads: each gets its clear error through the engine and changes nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.registry import importer
from pmh.registry.models import Certificate, CertificateVersion, LinkReview
from tests import factories as f
from tests.registry.test_import import HEADER, line

GOOD = line(recipient=1)


def _cp932(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("cp932")


CORPUS: list[tuple[str, bytes, str]] = [
    ("empty file", b"", "empty_file"),
    ("header only", _cp932(HEADER), "no_rows"),
    ("missing required column", _cp932(HEADER.replace("公費受給者番号,", ""), "1,88138243,,,"), "missing_column"),
    ("unknown column", _cp932(HEADER + ",備考欄", GOOD + ",メモ"), "unknown_column"),
    ("UTF-16 file", ("\n".join((HEADER, GOOD)) + "\n").encode("utf-16"), "not_csv"),
    ("Excel workbook", b"PK\x03\x04" + b"\x00" * 200, "not_csv"),
    ("CR-only newlines", ("\r".join((HEADER, GOOD)) + "\r").encode("cp932"), "unsupported_newline"),
    ("unclosed quote", _cp932(HEADER, GOOD, '1,"88138243' + "x" * 140_000), "invalid_csv"),
    ("duplicate key in one file", _cp932(HEADER, GOOD, line(recipient=1, person=2)), "duplicate_in_file"),
    ("payer of another municipality", _cp932(HEADER, line(payer=f.HITORIOYA_PAYER)), "unknown_payer"),
    (
        "変更 for an unknown certificate",
        _cp932(HEADER, line(op=2, recipient=7, name="", kana="", birth="")),
        "unknown_certificate",
    ),
    (
        "wrong check digit",
        _cp932(HEADER, GOOD.replace(f.recipient(1), f.recipient(1)[:6] + "0")),
        "invalid_check_digit",
    ),
    (
        "my number check digit",
        _cp932(HEADER, GOOD.replace(f.my_number(1), f.my_number(1)[:11] + "0")),
        "invalid_check_digit",
    ),
    ("impossible 和暦", _cp932(HEADER, line(birth="平成32年1月1日")), "invalid_date"),
    ("end before start", _cp932(HEADER, line(start="令和8年4月1日", end="令和8年3月1日")), "end_before_start"),
    ("bad sex", _cp932(HEADER, GOOD.replace(",1,令和8年4月1日", ",3,令和8年4月1日")), "invalid_choice"),
    ("negative cap", _cp932(HEADER, line(cap="-100")), "out_of_range"),
    ("kanji in the kana column", _cp932(HEADER, line(kana="高橋")), "not_katakana"),
    ("private-use character", _cp932(HEADER, line(name="\ue001橋 一郎")), "gaiji"),
    ("unknown operation", _cp932(HEADER, "9" + GOOD[1:]), "invalid_choice"),
]


@pytest.fixture
def caller(db_session: Session) -> Caller:
    municipality = f.municipality_caller(db_session)
    f.program(db_session, municipality)
    f.program(db_session, f.municipality_caller(db_session, f.TOKYO), "hitorioya", (f.HITORIOYA_PAYER,))
    return municipality


@pytest.mark.parametrize(("case", "data", "code"), CORPUS, ids=[c[0] for c in CORPUS])
def test_broken_upload_is_rejected_with_its_code_and_changes_nothing(
    db_session: Session, caller: Caller, case: str, data: bytes, code: str
) -> None:
    stream = io.BytesIO(data)
    result = importer.run_import(
        db_session, caller, importer.file_reader(stream), digest=importer.content_digest(stream), source="file"
    )
    assert result.status == "rejected", case
    assert code in {e.code for e in result.errors}, [e.model_dump() for e in result.errors]
    assert all(e.message for e in result.errors)
    for model in (Certificate, CertificateVersion, LinkReview):
        assert db_session.scalar(select(func.count()).select_from(model)) == 0
