"""The linking guard (紐づけ誤り防止): a certificate is used only when its name and birth date agree
with the insurance record found by its My Number."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pmh.cards.service import RecordIdentity
from pmh.registry.naming import IdentityFacts, compare_identity

NO_RECORD_CODE = "no_insurance_record"
NO_RECORD_REASON = "個人番号に対応する保険資格が見つかりません。"


@dataclass(frozen=True)
class Verdict:
    """Whether a certificate may be linked, and if not, why (codes and Japanese reasons)."""

    linked: bool
    codes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


LINKED = Verdict(True)


def _spaceless(text: str) -> str:
    return text.replace(" ", "").replace("\u3000", "")


def check_link(name: str, name_kana: str, birth_date: dt.date, record: RecordIdentity | None) -> Verdict:
    """Compare a certificate's identity facts with the insurance record its My Number points to."""
    if record is None:
        return Verdict(False, (NO_RECORD_CODE,), (NO_RECORD_REASON,))
    # Most files write the name exactly as the record does; identical facts need no folding.
    if (
        birth_date == record.birth_date
        and _spaceless(name) == _spaceless(record.name)
        and _spaceless(name_kana) == _spaceless(record.name_kana)
    ):
        return LINKED
    match = compare_identity(
        IdentityFacts(name=name, name_kana=name_kana, birth_date=birth_date),
        IdentityFacts(name=record.name, name_kana=record.name_kana, birth_date=record.birth_date),
    )
    if match.matched:
        return LINKED
    return Verdict(False, tuple(match.codes), tuple(match.reasons))
