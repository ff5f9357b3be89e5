"""HTTP edge of the resident's own view: sign in with the card, then ``/api/v1/me/*`` with the session token.

The token is good here only: API keys and staff sessions are refused on these routes (401), and the
token is refused everywhere else (it is no API key).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pmh.auth.deps import public
from pmh.deps import SessionDep
from pmh.errors import NotAuthenticated
from pmh.operator.clock import TodayDep
from pmh.resident import service
from pmh.resident.schemas import (
    MONTH_PATTERN,
    AccessLogEntry,
    MyCertificate,
    MyConsent,
    MyCopaySheet,
    ResidentSessionCreate,
    ResidentSessionRead,
    WithdrawalRead,
)
from pmh.resident.service import Resident

router = APIRouter(tags=["resident"])
_resident_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ResidentToken",
    description="本人用トークン（`POST /api/v1/resident-sessions` でマイナンバーカードと暗証番号から発行、数分で失効）",
)


def resident_only() -> Any:
    """Return a dependency that admits only a resident session's token (role ``resident``)."""

    def current_resident(
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_resident_bearer)],
    ) -> Resident:
        if credentials is None or not credentials.credentials:
            message = "マイナンバーカードでログインし、Authorization: Bearer <本人用トークン> を指定してください。"
            raise NotAuthenticated(message)
        return service.resolve(session, credentials.credentials)

    current_resident.__pmh_roles__ = ("resident",)  # type: ignore[attr-defined]
    return Depends(current_resident)


ResidentDep = Annotated[Resident, resident_only()]
ReceptionId = Annotated[int, Path(ge=1, le=2**62, description="受付ID")]


@router.post(
    "/resident-sessions",
    response_model=ResidentSessionRead,
    status_code=201,
    summary="本人のログイン（マイナンバーカードと暗証番号）",
    dependencies=[public()],
)
def open_resident_session(body: ResidentSessionCreate, session: SessionDep) -> ResidentSessionRead:
    """Check the card's PIN with the card service and open a short session (three wrong PINs lock the card)."""
    return service.open_session(session, body)


@router.delete("/me/session", status_code=204, summary="本人のログアウト")
def end_resident_session(resident: ResidentDep, session: SessionDep) -> None:
    """End the resident's session; its token is refused from then on."""
    service.end_session(session, resident)


@router.get("/me/certificates", response_model=list[MyCertificate], summary="自分の受給者証")
def my_certificates(resident: ResidentDep, session: SessionDep, today: TodayDep) -> list[MyCertificate]:
    """Return every certificate linked to the card's holder as of today (Japan), held ones as 確認中."""
    return service.certificates(session, resident, today)


@router.get("/me/access-log", response_model=list[AccessLogEntry], summary="自分の情報を見た機関と日時")
def my_access_log(
    resident: ResidentDep,
    session: SessionDep,
    since: Annotated[dt.date | None, Query(alias="from", description="この日から（日本時間、含む）")] = None,
    until: Annotated[dt.date | None, Query(alias="to", description="この日まで（日本時間、含む）")] = None,
) -> list[AccessLogEntry]:
    """Return every time an organisation touched the holder's subsidy data, newest first, from the audit log."""
    return service.access_log(session, resident, since, until)


@router.get("/me/copay", response_model=list[MyCopaySheet], summary="今月の自己負担上限額の使い方")
def my_copay(
    resident: ResidentDep,
    session: SessionDep,
    today: TodayDep,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM（既定: 今月）")] = None,
) -> list[MyCopaySheet]:
    """Return each cap-managed certificate's sheet of the month (上限額管理票)."""
    return service.copay(session, resident, month or service.default_month(today))


@router.get("/me/consents", response_model=list[MyConsent], summary="同意した受付の一覧")
def my_consents(resident: ResidentDep, session: SessionDep) -> list[MyConsent]:
    """Return the holder's receptions with what was shared and whether the consent was withdrawn."""
    return service.consents(session, resident)


@router.delete("/me/consents/{reception_id}", response_model=WithdrawalRead, summary="同意の取り消し")
def withdraw_consent(reception_id: ReceptionId, resident: ResidentDep, session: SessionDep) -> WithdrawalRead:
    """Withdraw a consent: the institution then finds no such reception; what it already read stays in the log."""
    return service.withdraw_consent(session, resident, reception_id)
