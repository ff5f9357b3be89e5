"""一括照会: the monthly re-check of what an institution read, before it claims.

Each consented certificate is taken again as of the service date of its first read and compared
with what the institution received then.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.bulk import in_values
from pmh.codes.fiscal import month_bounds
from pmh.eligibility.models import Reception, ReceptionCertificate
from pmh.eligibility.result import subsidy_of
from pmh.eligibility.schemas import RecheckChange, RecheckItem, RecheckReport, SubsidyRead
from pmh.reception import service as patients
from pmh.registry import asof
from pmh.registry.models import Certificate


def _changes(before: dict[str, Any], now: SubsidyRead | None, successors: list[Certificate]) -> list[RecheckChange]:
    if now is None:
        return [
            RecheckChange(
                kind="withdrawn",
                field="certificate",
                before=before["recipient_number"],
                message="自治体がこの受給者証の情報を取り下げました（確認中または削除）。",
            )
        ]
    after = now.model_dump(mode="json")
    changes = []
    if before.get("valid_to") != after["valid_to"] or (before["status"] != "expired" and now.status == "expired"):
        ended = after["valid_to"]
        message = f"有効期間の終了日が {ended} になりました。" if ended else "有効期間の終了日がなくなりました。"
        if now.status == "expired":
            message += "受付日には有効期間外です。"
        changes.append(
            RecheckChange(kind="ended", field="valid_to", before=before.get("valid_to"), after=ended, message=message)
        )
    for field in ("monthly_cap", "inpatient_cap"):
        if before.get(field) != after[field]:
            label = "自己負担上限額（月額）" if field == "monthly_cap" else "入院の自己負担上限額"
            message = f"{label}が {before.get(field)} 円から {after[field]} 円に変わりました。"
            changes.append(
                RecheckChange(
                    kind="new_cap", field=field, before=before.get(field), after=after[field], message=message
                )
            )
    if before.get("valid_from") != after["valid_from"]:
        message = f"有効期間の開始日が {after['valid_from']} に変わりました。"
        changes.append(
            RecheckChange(
                kind="changed",
                field="valid_from",
                before=before.get("valid_from"),
                after=after["valid_from"],
                message=message,
            )
        )
    for successor in successors:
        numbers = f"{successor.payer_number} / {successor.recipient_number}"
        changes.append(
            RecheckChange(
                kind="new_number",
                field="recipient_number",
                before=f"{before['payer_number']} / {before['recipient_number']}",
                after=numbers,
                message=(
                    f"同じ制度の新しい受給者証（公費負担者番号 / 受給者番号 {numbers}）が登録されています。"
                    "請求には新しい番号を使ってください。"
                ),
            )
        )
    return changes


@dataclass
class _Recheck:
    """The month's data, loaded in bulk once."""

    receptions: dict[int, Reception]
    shared: dict[int, list[ReceptionCertificate]]
    histories: asof.Histories
    others: dict[tuple[str, int], list[Certificate]]


def _shared_links(session: Session, reception_ids: Sequence[int]) -> dict[int, list[ReceptionCertificate]]:
    shared: dict[int, list[ReceptionCertificate]] = defaultdict(list)
    if reception_ids:
        query = select(ReceptionCertificate).where(
            in_values(session, ReceptionCertificate.__table__.c.reception_id, list(reception_ids))
        )
        for link in session.scalars(
            query.order_by(ReceptionCertificate.reception_id, ReceptionCertificate.offered_order)
        ):
            shared[link.reception_id].append(link)
    return shared


def _load_month(session: Session, caller: Caller, first: dt.date, last: dt.date) -> _Recheck:
    receptions = {
        r.id: r
        for r in session.scalars(
            select(Reception).where(
                Reception.institution_id == caller.organisation_id,
                Reception.received_on >= first,
                Reception.received_on <= last,
                Reception.subsidy_consent != "none",
                Reception.withdrawn_at.is_(None),
            )
        )
    }
    shared = _shared_links(session, list(receptions))
    linked = asof.linked_certificates(session, {r.person_digest for r in receptions.values()})
    others: dict[tuple[str, int], list[Certificate]] = defaultdict(list)
    for group in linked.values():
        for certificate in group:
            others[(certificate.person_digest, certificate.program_id)].append(certificate)
    ids = {link.certificate_id for links in shared.values() for link in links}
    ids |= {c.id for group in others.values() for c in group}
    return _Recheck(receptions=receptions, shared=shared, histories=asof.histories(session, ids), others=others)


def recheck(session: Session, caller: Caller, month: str) -> RecheckReport:
    """Re-check every reception of the month that still has consent: what changed since first read (一括照会).

    Each consented certificate is taken again as of the service date of its first read and compared
    with what the institution received then: ended, a new cap, a withdrawn certificate, and a new
    certificate of the same program for the same person (a new number at renewal). A new certificate
    the municipality marked not to disclose is never reported here: it reaches an institution only
    through the patient's own card session. Certificates never read are skipped (their first read
    will already be current).
    """
    first, last = month_bounds(month)
    data = _load_month(session, caller, first, last)
    items: list[RecheckItem] = []
    checked = 0
    for reception_id, links in sorted(data.shared.items()):
        reception = data.receptions[reception_id]
        consented = {link.certificate_id for link in links}
        for link in links:
            if link.first_read is None or link.first_read_at is None:
                continue
            before = json.loads(link.first_read)
            on = dt.date.fromisoformat(before["service_date"])
            known = data.histories.certificate(link.certificate_id)
            if known is None:
                continue  # certificates are never deleted; nothing to compare without one
            checked += 1
            certificate, program_code = known
            state = data.histories.on(certificate.id, on)  # None when every version was withdrawn (取消)
            linked = certificate.link_status == "linked"
            now = subsidy_of(state, 0, caller.organisation_code) if state is not None and linked else None
            successors = [
                other
                for other in data.others[(certificate.person_digest, certificate.program_id)]
                if other.id not in consented
                and _disclosed_and_valid(data, other, on)
                and (now is None or now.status == "expired" or other.created_at > link.first_read_at)
            ]
            changes = _changes(before, now, successors)
            if changes:
                items.append(
                    RecheckItem(
                        reception_id=reception_id,
                        received_on=reception.received_on,
                        patient_number=None,
                        program_code=program_code,
                        payer_number=certificate.payer_number,
                        recipient_number=certificate.recipient_number,
                        changes=changes,
                    )
                )
    numbers = patients.patients_by_id(session, (r.patient_id for r in data.receptions.values() if r.patient_id))
    for item in items:
        patient_id = data.receptions[item.reception_id].patient_id
        item.patient_number = numbers[patient_id].patient_number if patient_id in numbers else None
    audit.record(
        session,
        caller,
        "eligibility.recheck",
        "reception",
        [str(i) for i in sorted(data.shared)][:50],
        {"month": month, "receptions": len(data.shared), "certificates": checked, "changed": len(items)},
    )
    return RecheckReport(
        month=month, receptions_checked=len(data.shared), certificates_checked=checked, changed=len(items), items=items
    )


def _disclosed_and_valid(data: _Recheck, certificate: Certificate, on: dt.date) -> bool:
    state = data.histories.on(certificate.id, on)
    return state is not None and state.status == "valid" and not state.version.not_disclosed
