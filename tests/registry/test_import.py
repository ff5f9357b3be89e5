"""The import engine: all or nothing, partial on request, idempotent, versioned, guarded."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.errors import NotFound
from pmh.registry import importer, service
from pmh.registry.models import Certificate, CertificateVersion, LinkReview, Upload
from pmh.registry.parsing import read_certificates
from pmh.registry.schemas import UploadResult
from tests import factories as f

HEADER = (
    "処理区分,公費負担者番号,公費受給者番号,個人番号,氏名,氏名カナ,生年月日,性別,有効開始日,有効終了日,自己負担上限額"
)


def line(
    op: int = 1,
    recipient: int = 1,
    person: int = 1,
    name: str = "高橋 一郎",
    kana: str = "タカハシ イチロウ",
    birth: str = "平成30年4月1日",
    start: str = "令和8年4月1日",
    end: str = "",
    cap: str = "",
    payer: str = f.KODOMO_PAYER,
) -> str:
    my_number = f.my_number(person) if op == 1 else ""
    return f"{op},{payer},{f.recipient(recipient)},{my_number},{name},{kana},{birth},1,{start},{end},{cap}"


def upload(
    session: Session, caller: Caller, *lines: str, allow_partial: bool = False, encoding: str = "utf-8"
) -> UploadResult:
    data = ("\n".join((HEADER, *lines)) + "\n").encode(encoding)
    stream = io.BytesIO(data)
    return importer.run_import(
        session,
        caller,
        lambda rules, gaiji: read_certificates(stream, rules, gaiji),
        digest=importer.content_digest(stream),
        source="file",
        allow_partial=allow_partial,
    )


@pytest.fixture
def caller(db_session: Session) -> Caller:
    municipality = f.municipality_caller(db_session)
    f.program(db_session, municipality)
    for person in range(1, 6):
        f.insurance(db_session, f.my_number(person), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    return municipality


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_valid_file_is_applied_and_linked(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(recipient=1, person=1), line(recipient=2, person=2, cap="5000"))
    assert (result.status, result.accepted, result.rejected, result.held_for_review) == ("applied", 2, 0, 0)
    statuses = db_session.scalars(select(Certificate.link_status)).all()
    assert statuses == ["linked", "linked"]


def test_one_bad_row_applies_nothing_and_names_row_column_and_reason(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(recipient=1), line(recipient=2, person=2, birth="令和8年2月30日"))
    assert (result.status, result.accepted, result.rejected) == ("rejected", 0, 1)
    [problem] = result.errors
    assert (problem.row, problem.column, problem.code) == (2, "生年月日", "invalid_date")
    assert problem.value == "令和8年2月30日"
    assert count(db_session, Certificate) == 0 and count(db_session, CertificateVersion) == 0
    assert count(db_session, Upload) == 1


def test_allow_partial_applies_the_valid_rows(db_session: Session, caller: Caller) -> None:
    result = upload(
        db_session,
        caller,
        line(recipient=1),
        line(recipient=2, person=2, kana="たかはし"),
        line(recipient=3, person=3, kana="ﾀｶﾊｼ ｲﾁﾛｳ"),
        allow_partial=True,
    )
    assert (result.status, result.accepted, result.rejected) == ("applied", 3, 0)
    bad = upload(
        db_session,
        caller,
        line(recipient=4, person=4),
        line(recipient=5, person=5, kana="Takahashi"),
        allow_partial=True,
    )
    assert (bad.status, bad.accepted, bad.rejected) == ("applied", 1, 1)
    assert bad.errors[0].code == "not_katakana" and bad.errors[0].row == 2
    assert count(db_session, Certificate) == 4


def test_allow_partial_with_every_row_wrong_is_rejected_not_applied(db_session: Session, caller: Caller) -> None:
    result = upload(
        db_session,
        caller,
        line(recipient=1, kana="Takahashi"),
        line(recipient=2, person=2, birth="令和8年2月30日"),
        allow_partial=True,
    )
    assert (result.status, result.accepted, result.rejected) == ("rejected", 0, 2)
    assert count(db_session, Certificate) == 0
    again = upload(db_session, caller, line(recipient=1), allow_partial=True)  # the fixed file is not a duplicate
    assert (again.status, again.accepted) == ("applied", 1)


def test_problems_name_the_file_line_beside_the_data_row(db_session: Session, caller: Caller) -> None:
    spanning = line(recipient=1).replace("高橋 一郎", '"高橋\n一郎"')  # a quoted value over two lines
    result = upload(db_session, caller, spanning, line(recipient=2, person=2, birth="令和8年2月30日"))
    by_row = {problem.row: problem for problem in result.errors}
    assert (by_row[2].row, by_row[2].line) == (2, 4)  # header line 1, record 1 on lines 2–3
    plain = upload(db_session, caller, line(recipient=3, person=3, birth="令和8年2月30日"))
    assert [(p.row, p.line) for p in plain.errors] == [(1, 2)]


def test_same_content_again_is_a_duplicate_and_changes_nothing(db_session: Session, caller: Caller) -> None:
    first = upload(db_session, caller, line(recipient=1))
    again = upload(db_session, caller, line(recipient=1))
    assert again.status == "duplicate" and again.id == first.id and again.accepted == 1
    assert count(db_session, CertificateVersion) == 1


def test_cp932_file_gives_the_same_result(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(recipient=1, name="渡辺 一郎"), encoding="cp932")
    assert result.status == "applied"
    version = db_session.scalars(select(CertificateVersion)).one()
    assert version.name == "渡辺 一郎" and version.birth_date == dt.date(2018, 4, 1)


def test_change_creates_a_version_and_history_answers_as_of(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1, cap="5000"))
    result = upload(
        db_session, caller, line(op=2, recipient=1, name="", kana="", birth="", start="令和8年10月1日", cap="2500")
    )
    assert result.status == "applied", result.errors
    before = service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2026, 9, 30))
    after = service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2026, 10, 1))
    assert (before.in_force.monthly_cap, after.in_force.monthly_cap) == (5000, 2500)
    assert after.in_force.name == "高橋 一郎"  # identity kept when left empty in a 変更
    assert [v.operation for v in after.history] == ["add", "change"]
    early = service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2026, 3, 1))
    assert early.status == "not_yet_valid"


def test_end_sets_the_end_date(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1))
    upload(db_session, caller, line(op=3, recipient=1, name="", kana="", birth="", start="", end="令和9年3月31日"))
    inside = service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2027, 3, 31))
    after = service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2027, 4, 1))
    assert (inside.status, after.status) == ("valid", "expired")
    assert after.in_force.valid_to == dt.date(2027, 3, 31)


def test_change_of_an_unknown_certificate_is_refused(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(op=2, recipient=9, name="", kana="", birth=""))
    assert result.status == "rejected"
    assert result.errors[0].code == "unknown_certificate" and result.errors[0].row == 1


def test_new_for_an_existing_certificate_is_refused(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1))
    result = upload(db_session, caller, line(recipient=1, cap="1000"))
    assert result.status == "rejected" and result.errors[0].code == "already_registered"


def test_payer_number_of_another_municipality_is_refused(db_session: Session, caller: Caller) -> None:
    tokyo = f.municipality_caller(db_session, f.TOKYO)
    f.program(db_session, tokyo, "hitorioya", (f.HITORIOYA_PAYER,))
    result = upload(db_session, caller, line(payer=f.HITORIOYA_PAYER))
    assert result.status == "rejected" and result.errors[0].code == "unknown_payer"


def test_variant_kanji_links_and_a_different_birth_date_is_held(db_session: Session, caller: Caller) -> None:
    result = upload(
        db_session,
        caller,
        line(recipient=1, person=1, name="髙橋 一郎"),
        line(recipient=2, person=2, birth="平成30年4月2日"),
    )
    assert (result.accepted, result.held_for_review) == (2, 1)
    reviews = service.list_link_reviews(db_session, caller)
    assert [r.recipient_number for r in reviews] == [f.recipient(2)]
    assert reviews[0].reason_codes == ["birth_date_mismatch"]
    assert reviews[0].insurance_record and reviews[0].insurance_record.birth_date == dt.date(2018, 4, 1)


def test_no_insurance_record_is_held(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(recipient=1, person=99))
    assert result.held_for_review == 1
    assert service.list_link_reviews(db_session, caller)[0].reason_codes == ["no_insurance_record"]


def test_resolving_a_review_links_or_rejects(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1, person=98), line(recipient=2, person=99))
    first, second = service.list_link_reviews(db_session, caller)
    service.resolve_link_review(db_session, caller, first.id, "link", "表記ゆれを確認")
    service.resolve_link_review(db_session, caller, second.id, "reject", None)
    statuses = dict(db_session.execute(select(Certificate.recipient_number, Certificate.link_status)).all())
    assert statuses == {f.recipient(1): "linked", f.recipient(2): "rejected"}
    assert service.list_link_reviews(db_session, caller) == []


def test_name_change_to_someone_else_is_held(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1))
    result = upload(db_session, caller, line(op=2, recipient=1, name="佐藤 花子", kana="サトウ ハナコ", birth=""))
    assert result.held_for_review == 1
    assert db_session.scalar(select(Certificate.link_status)) == "held"


def test_corrected_name_closes_the_open_review(db_session: Session, caller: Caller) -> None:
    upload(db_session, caller, line(recipient=1, name="佐藤 花子", kana="サトウ ハナコ"))
    assert db_session.scalar(select(Certificate.link_status)) == "held"
    upload(db_session, caller, line(op=2, recipient=1, name="高橋 一郎", kana="タカハシ イチロウ", birth=""))
    assert db_session.scalar(select(Certificate.link_status)) == "linked"
    assert db_session.scalar(select(LinkReview.status)) == "linked"


def test_gaiji_is_refused_without_a_mapping_and_replaced_with_one(db_session: Session, caller: Caller) -> None:
    from pmh.registry.schemas import GaijiEntry

    gaiji_line = line(recipient=1, name="\ue001橋 一郎")
    refused = upload(db_session, caller, gaiji_line)
    assert refused.status == "rejected" and refused.errors[0].code == "gaiji" and "U+E001" in refused.errors[0].message
    service.replace_gaiji_table(db_session, caller, [GaijiEntry(character="U+E001", replacement="髙")])
    applied = upload(db_session, caller, gaiji_line)
    assert applied.status == "applied" and applied.held_for_review == 0
    assert db_session.scalar(select(CertificateVersion.name)) == "髙橋 一郎"


def test_my_number_is_stored_only_as_a_keyed_digest(db_session: Session, caller: Caller) -> None:
    from tests.test_privacy import _database_text

    upload(db_session, caller, line(recipient=1, person=1), line(recipient=2, person=2, kana="x"))
    text = _database_text(db_session)
    assert f.my_number(1) not in text and f.my_number(2) not in text


def test_another_municipality_cannot_read_the_upload(db_session: Session, caller: Caller) -> None:
    result = upload(db_session, caller, line(recipient=1))
    other = f.municipality_caller(db_session, "131016")
    with pytest.raises(NotFound):
        importer.upload_result(db_session, other, result.id)
    with pytest.raises(NotFound):
        service.certificate_as_of(db_session, other, f.KODOMO_PAYER, f.recipient(1), dt.date(2026, 5, 1))


def test_reads_and_imports_are_audited(db_session: Session, caller: Caller) -> None:
    from pmh.audit.models import AuditEntry

    upload(db_session, caller, line(recipient=1))
    service.certificate_as_of(db_session, caller, f.KODOMO_PAYER, f.recipient(1), dt.date(2026, 5, 1))
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[-2:] == ["certificates.import", "certificate.read"]


def test_every_version_column_is_stored() -> None:
    from pmh.db import table_of

    stored = set(table_of(CertificateVersion).c.keys())
    assert set(importer._VERSION_COPY) <= stored and len(importer._VERSION_COPY) == 20
