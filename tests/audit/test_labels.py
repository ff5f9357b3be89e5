"""Every audit action recorded anywhere in pmh has a Japanese name for the audit page."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import pmh
from pmh.audit.labels import ACTION_LABELS, SUBJECT_LABELS
from tests import factories as f

SOURCE = Path(pmh.__file__).parent
_RECORD = re.compile(r'audit\.record\(\s*session,\s*[\w.]+,\s*f?"([^"]+)",\s*"([^"]+)"', re.S)


def _recorded() -> set[tuple[str, str]]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        found.update(_RECORD.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_scan_finds_the_actions_it_is_meant_to_check() -> None:
    actions = {action for action, _ in _recorded()}
    assert {"consent.give", "certificates.import", "copay.record"} <= actions


def test_every_recorded_action_and_object_has_a_japanese_name() -> None:
    missing = []
    for action, subject in sorted(_recorded()):
        names = [action.replace("{decision}", d) for d in ("link", "reject")] if "{" in action else [action]
        missing += [name for name in names if name not in ACTION_LABELS]
        if subject not in SUBJECT_LABELS:
            missing.append(subject)
    assert missing == []
    assert all(re.search(r"[ぁ-んァ-ヶ一-龯]", label) for label in ACTION_LABELS.values())


def test_the_audit_page_names_actions_in_japanese_with_japan_time(db_session: Session, client: TestClient) -> None:
    from tests.eligibility import world as w
    from tests.operator.support import sign_in

    world = w.build(db_session, client)  # imports certificates, opens a card session, gives consent
    world.receive("all")
    sign_in(client, db_session, f.municipality(db_session, f.HACHIOJI), "audit-reader")
    page = client.get("/audit")
    assert page.status_code == 200
    assert "受給者証の取込" in page.text and "certificates.import" not in page.text
    assert "JST" in page.text and "UTC" not in page.text
