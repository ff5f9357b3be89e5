"""Shapes of the resident's own view: sign-in, my certificates, my access log, my copay sheets, my consents."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from pmh.codes.fiscal import MONTH_PATTERN  # one month rule for the whole hub (1800-01 … 2999-12)

__all__ = ["MONTH_PATTERN"]


class ResidentSessionCreate(BaseModel):
    """The card's serial (as the card reader or the phone reads it) and its 4-digit PIN (暗証番号)."""

    card_serial: str = Field(min_length=1, max_length=32)
    pin: str = Field(min_length=1, max_length=8)


class ResidentSessionRead(BaseModel):
    """A short session for ``/api/v1/me/*``; the token is shown this once and stored only as a digest."""

    token: str
    expires_at: dt.datetime


class ContactWindowRead(BaseModel):
    """A municipality's contact window (とりまとめ窓口) for questions about its programs."""

    department: str
    phone: str | None = None
    email: str | None = None


class InstitutionRef(BaseModel):
    """A designated institution (指定医療機関) as the certificate names it."""

    code: str
    name: str | None


class MyCertificate(BaseModel):
    """One of the resident's certificates as of today (Japan's date).

    ``status`` is ``valid``, ``expired``, ``not_yet_valid`` or ``under_review`` (確認中: the municipality
    has not confirmed it; then only the program, the municipality and its contact window are given).
    """

    program_code: str
    program_name: str
    municipality_code: str
    municipality_name: str
    status: Literal["valid", "expired", "not_yet_valid", "under_review"]
    payer_number: str | None = None
    recipient_number: str | None = None
    certification_name: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    monthly_cap: int | None = None
    inpatient_cap: int | None = None
    copay_rate: int | None = None
    income_category: str | None = None
    cap_managed: bool = False
    diseases: list[str] = []
    designated_institutions: list[InstitutionRef] = []
    not_disclosed: bool = False
    """The municipality marked it 非開示: institutions learn of it only when the resident consents at the reader."""
    contact: ContactWindowRead | None = None


class AccessLogEntry(BaseModel):
    """One time an organisation touched the resident's subsidy data (from the audit log).

    ``at`` is Japan time with its offset; ``certificates`` names the resident's certificates concerned
    (program and municipality; numbers only for confirmed ones). Never a member of staff's name.
    """

    at: dt.datetime
    organisation_name: str
    organisation_kind: str
    organisation_kind_label: str
    action: str
    action_label: str
    certificates: list[str]
    reception_id: int | None = None


class CopayLine(BaseModel):
    """One line of a month's sheet: where, when, what was paid, and the running total."""

    service_date: dt.date
    institution_name: str
    inpatient: bool
    paid: int
    running_total: int | None
    cancelled: bool


class MyCopaySheet(BaseModel):
    """One cap-managed certificate's sheet for the month (上限額管理票)."""

    month: str
    program_name: str
    municipality_name: str
    payer_number: str
    recipient_number: str
    ledger: Literal["all", "outpatient", "inpatient"]
    cap: int
    month_total: int
    remaining: int
    lines: list[CopayLine]


class MyConsent(BaseModel):
    """A reception at an institution and what the resident agreed to share there."""

    reception_id: int
    received_at: dt.datetime
    institution_name: str
    subsidy_consent: str
    certificates: list[str]
    withdrawn_at: dt.datetime | None


class WithdrawalRead(BaseModel):
    """A withdrawn consent: that institution now finds no such reception."""

    reception_id: int
    institution_name: str
    withdrawn_at: dt.datetime
