"""Applications for the institution modification subsidy: one per institution, in the application
period, amount by the year's rule, documents checked (a missing one makes it incomplete, not refused)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year
from pmh.errors import Conflict, FieldError, InvalidInput, NotFound, NotPermitted
from pmh.operator.models import SubsidyApplication
from pmh.operator.subsidy import rules

DOCUMENTS: dict[str, str] = {
    "receipt": "領収書",
    "itemised_receipt": "領収書内訳書",
    "checklist": "システム改修に係るチェックシート（ベンダー記入）",
}


@dataclass(frozen=True)
class ApplicationView:
    """An application as the institution and the operator see it."""

    application: SubsidyApplication
    institution_code: str
    institution_name: str

    @property
    def documents(self) -> list[str]:
        """The documents submitted so far."""
        return [d for d in self.application.documents.split(";") if d]

    @property
    def missing_documents(self) -> list[str]:
        """The required documents not yet submitted."""
        return [d for d in DOCUMENTS if d not in self.documents]

    def as_json(self) -> dict[str, object]:
        """Return the API shape of an application."""
        a = self.application
        return {
            "id": a.id,
            "institution_code": self.institution_code,
            "institution_name": self.institution_name,
            "fiscal_year": a.fiscal_year,
            "facility": a.facility,
            "option": a.option,
            "cost": a.cost,
            "reception_machine": a.reception_machine,
            "large_chain": a.large_chain,
            "completed_on": a.completed_on.isoformat(),
            "applied_on": a.applied_on.isoformat(),
            "amount": a.amount,
            "cost_ceiling": a.cost_ceiling,
            "rate": a.rate,
            "maximum": a.maximum,
            "rule": a.rule,
            "status": a.status,
            "documents": self.documents,
            "missing_documents": self.missing_documents,
        }


def _institution(session: Session, caller: Caller) -> Organisation:
    organisation = session.get_one(Organisation, caller.organisation_id)
    if organisation.kind != "institution" or organisation.institution_kind is None:
        raise NotPermitted("補助金の申請は医療機関・薬局のみが行えます。")
    return organisation


def _checked_documents(documents: list[str]) -> list[str]:
    unknown = [d for d in documents if d not in DOCUMENTS]
    if unknown:
        known = "、".join(f"{k}（{v}）" for k, v in DOCUMENTS.items())
        message = f"書類「{'、'.join(unknown)}」は分かりません（{known}）。"
        raise InvalidInput(message, [FieldError("documents", "unknown_document", message)])
    return [d for d in DOCUMENTS if d in documents]


def _status(documents: list[str]) -> str:
    return "complete" if all(d in documents for d in DOCUMENTS) else "incomplete"


def apply(
    session: Session,
    caller: Caller,
    option: int,
    cost: int,
    completed_on: dt.date,
    documents: list[str],
    applied_on: dt.date,
    reception_machine: bool = False,
) -> ApplicationView:
    """File the institution's one application; the facility kind and chain status come from its record.

    Refused outside the application period, when the modification is not finished yet, and when the
    institution has applied before (one application even when ① and the 診察券 part were done apart).
    Modifications finished before the period opened are eligible.
    """
    institution = _institution(session, caller)
    fy = fiscal_year(applied_on)
    period = rules.periods().get(fy)
    if period is None or not period.opens <= applied_on <= period.closes:
        window = f"（申請期間: {period.opens}〜{period.closes}）" if period else ""
        message = f"{applied_on} は補助金の申請期間外です{window}。"
        raise InvalidInput(message, [FieldError("applied_on", "outside_application_period", message)])
    if completed_on > applied_on:
        message = f"改修完了日 {completed_on} が申請日 {applied_on} より後です。改修が完了してから申請してください。"
        raise InvalidInput(message, [FieldError("completed_on", "not_completed", message)])
    existing = session.scalar(select(SubsidyApplication).where(SubsidyApplication.institution_id == institution.id))
    if existing is not None:
        raise Conflict(
            f"{institution.name}は {existing.applied_on} に申請済みです。補助金の申請は1医療機関・薬局につき1回です"
            "（①と診察券の改修を別々に行った場合も1回）。"
        )
    quote = rules.quote(
        institution.institution_kind or "",
        option,
        cost,
        reception_machine=reception_machine,
        large_chain=institution.large_chain,
        fiscal_year=fy,
    )
    submitted = _checked_documents(documents)
    application = SubsidyApplication(
        institution_id=institution.id,
        fiscal_year=fy,
        facility=quote.rule.facility,
        option=option,
        cost=cost,
        reception_machine=reception_machine,
        large_chain=institution.large_chain,
        completed_on=completed_on,
        applied_on=applied_on,
        amount=quote.amount,
        cost_ceiling=quote.rule.cost_ceiling,
        rate=quote.rule.rate_text,
        maximum=quote.rule.maximum,
        rule=quote.explanation[:300],
        documents=";".join(submitted),
        status=_status(submitted),
        actor=caller.actor,
    )
    session.add(application)
    session.flush()
    return ApplicationView(application, institution.code, institution.name)


def quote_for(
    session: Session, caller: Caller, option: int, cost: int, on: dt.date, reception_machine: bool = False
) -> rules.Quote:
    """Return the amount the institution would receive (試算), from its facility kind and chain status.

    Uses the table of the fiscal year of ``on`` when there is one, else the latest table. Nothing is
    stored: the application itself is :func:`apply`.
    """
    institution = _institution(session, caller)
    fy = fiscal_year(on)
    return rules.quote(
        institution.institution_kind or "",
        option,
        cost,
        reception_machine=reception_machine,
        large_chain=institution.large_chain,
        fiscal_year=fy if any(r.fiscal_year == fy for r in rules.rules()) else None,
    )


def own_application(session: Session, caller: Caller) -> ApplicationView | None:
    """Return the caller institution's application, if it has applied."""
    institution = _institution(session, caller)
    application = session.scalar(select(SubsidyApplication).where(SubsidyApplication.institution_id == institution.id))
    return None if application is None else ApplicationView(application, institution.code, institution.name)


def add_documents(session: Session, caller: Caller, documents: list[str]) -> ApplicationView:
    """Add documents to the caller's application; it becomes complete when none is missing."""
    view = own_application(session, caller)
    if view is None:
        raise NotFound("補助金の申請がありません。")
    submitted = _checked_documents(sorted(set(view.documents) | set(documents)))
    view.application.documents = ";".join(submitted)
    view.application.status = _status(submitted)
    session.flush()
    return view


def list_applications(session: Session) -> list[ApplicationView]:
    """Return every application with its institution, oldest first (for the operator)."""
    rows = session.execute(
        select(SubsidyApplication, Organisation)
        .join(Organisation, Organisation.id == SubsidyApplication.institution_id)
        .order_by(SubsidyApplication.id)
    ).all()
    return [ApplicationView(a, o.code, o.name) for a, o in rows]
