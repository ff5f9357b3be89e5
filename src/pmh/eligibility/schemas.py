"""Shapes of the reader flow and of the eligibility result (docs/eligibility.md).

The field names of :class:`EligibilityResult` and its parts are a contract that レセコン vendors
code against: keep them exactly, add freely.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from pmh.codes.fiscal import MONTH_PATTERN

AuthMethod = Literal["face", "pin"]
SubsidyConsent = Literal["all", "select", "none"]
SubsidyStatus = Literal["valid", "expired", "not_yet_valid"]
EligibilityFormat = Literal["json", "xml", "fhir", "orca"]


class CardSessionCreate(BaseModel):
    """What the card reader sends when a card is placed: the card, and how the holder proved themself."""

    card_serial: Annotated[str, Field(min_length=1, max_length=32, description="カードのシリアル番号")]
    auth: AuthMethod = Field(description="本人確認の方法: face（顔認証）または pin（暗証番号）")
    pin: Annotated[str | None, Field(max_length=8, description="暗証番号（数字4桁、auth=pin のとき）")] = None
    face_matched: bool = Field(
        default=False,
        description="顔認証の照合結果（auth=face のとき、読み取り機の判定）。"
        "顔認証付きカードリーダーとして登録した端末"
        "（`pmh institutions readers add --face`）の専用キーからのみ受け付けます",
    )


class OfferedCertificate(BaseModel):
    """A certificate as the reader shows it: names only, never numbers (画面には番号を出さない)."""

    key: str = Field(description="このカードセッションの中での選択キー（個別に提供で使う）")
    program_code: str
    program_name: str
    municipality_name: str
    status: Literal["valid", "not_yet_valid"]
    valid_from: dt.date


class CardSessionRead(BaseModel):
    """An authenticated card session: the question to show and the certificates to offer."""

    id: str
    expires_at: dt.datetime
    question: str
    certificates: list[OfferedCertificate]


class ConsentCreate(BaseModel):
    """The patient's answer: すべて提供 (all), 個別に提供 (select, with the chosen keys) or 提供しない (none)."""

    subsidy: SubsidyConsent
    selected: Annotated[list[str], Field(max_length=50)] = []


class ConsentRead(BaseModel):
    """The reception the consent created."""

    reception_id: int
    shared: int = Field(description="提供に同意した受給者証の件数")
    reception_number: int | None = Field(default=None, description="受付番号（医療機関ごと・日ごとに 1 から）")


class PersonRead(BaseModel):
    """The patient as the insurance record names them."""

    name: str = Field(description="氏名（記録のとおり。IVS・MJ文字を含むことがあります）")
    name_kana: str
    birth_date: dt.date
    sex: int = Field(description="1 男、2 女")
    name_jisx0213: str | None = Field(
        None, description="氏名の JIS X 0213 形（IVS のセレクタを除き、MJ縮退マップで縮退。対応のない文字は〓）"
    )


class InsuranceRead(BaseModel):
    """The health-insurance result (資格確認結果) of the simulated eligibility service."""

    insurer_number: str
    symbol: str
    number: str
    branch: str | None
    copay_rate: int | None = Field(description="一部負担金の割合（%）")
    valid_from: dt.date | None
    valid_to: dt.date | None
    relationship: Literal[1, 2] | None = Field(
        default=None,
        description="被保険者区分（JP Core）: 1 被保険者（本人）、2 被扶養者（家族）。不明のときは null",
    )


class SubsidyRead(BaseModel):
    """One consented certificate as of the service date (one element of ``subsidies``)."""

    program_code: str
    program_name: str
    payer_number: str = Field(description="公費負担者番号")
    recipient_number: str = Field(description="公費受給者番号")
    municipality_code: str
    municipality_name: str
    valid_from: dt.date
    valid_to: dt.date | None
    status: SubsidyStatus
    monthly_cap: int | None = Field(description="自己負担上限額（月額、円）")
    inpatient_cap: int | None = Field(description="入院の自己負担上限額（月額、円）")
    copay_rate: int | None = Field(description="自己負担の割合（%）")
    income_category: str | None
    cap_managed: bool = Field(description="上限額管理の対象か")
    cap_used_this_month: int | None = Field(description="診療月にすでに記録された自己負担額（円）")
    cap_remaining_this_month: int | None = Field(description="診療月の上限額までの残り（円）")
    diseases: list[str]
    designated_institution: bool | None = Field(description="この医療機関が指定医療機関か（指定のない制度は null）")
    always_reimbursement: bool = Field(description="常に償還払いか")
    additional_conditions: dict[str, Any]
    priority: int = Field(description="請求の公費の順位（1 = 第1公費）")
    suggested_copay: int | None = Field(description="total_cost を指定したときの窓口負担額の目安（円）")
    certification_name: str | None = None


class EligibilityResult(BaseModel):
    """What an institution's レセコン receives for one reception: insurance plus consented subsidies."""

    reception_id: int
    institution_code: str
    received_at: dt.datetime
    service_date: dt.date
    person: PersonRead
    insurance: InsuranceRead | None = Field(description="保険資格（見つからないときは null）")
    subsidies: list[SubsidyRead] = Field(description="同意を得た受給者証（請求の順位の順）")


class PatientCandidate(BaseModel):
    """A registered patient who may be the person of a reception (same kana and birth date)."""

    patient_number: str
    name: str
    name_kana: str
    birth_date: dt.date
    sex: int | None = Field(default=None, description="1: 男, 2: 女")


class ReceptionRow(BaseModel):
    """One row of the 顔認証付きCR利用者リスト: who came when, their insurance, and the patient-number link."""

    id: int
    number: int | None = Field(default=None, description="受付番号（医療機関ごと・日ごとに 1 から）")
    received_at: dt.datetime
    name: str
    name_kana: str
    birth_date: dt.date | None
    sex: int | None
    insurance: InsuranceRead | None
    insurance_status: Literal["valid", "expired", "unconfirmed"] = Field(
        default="unconfirmed",
        description="受付日の保険資格: valid 有効、expired 期限切れ、unconfirmed 要確認（資格情報なし・開始前）",
    )
    subsidy_consent: SubsidyConsent = Field(
        description="all: 受給者証を1件以上提供、none: 提供なし（患者が個別に選んだかどうかは示しません）"
    )
    shared_certificates: int = Field(description="提供された受給者証の件数")
    patient_number: str | None = Field(description="紐づいた患者番号（未紐づけは null）")
    link_method: Literal["auto", "staff", "new"] | None = Field(
        description="auto: 以前の紐づけから自動、staff: 職員が選択、new: 新規登録"
    )
    candidates: list[PatientCandidate] = Field(description="未紐づけのとき、カナ氏名と生年月日が一致する患者")
    patient: PatientCandidate | None = Field(
        default=None, description="紐づいた患者受付登録一覧の患者（氏名・カナ・生年月日・性別）"
    )


class PatientLink(BaseModel):
    """Link a reception to a patient number; ``register_new`` registers that number for this person first."""

    patient_number: Annotated[str, Field(min_length=1, max_length=20)]
    register_new: bool = False
    confirm: bool = Field(
        default=False,
        description="受付の方と氏名・生年月日・性別が異なる患者へ確認のうえ紐づける（409 patient_mismatch の後）",
    )


class RecheckCreate(BaseModel):
    """The month to re-check before the claim (YYYY-MM)."""

    month: Annotated[str, Field(pattern=MONTH_PATTERN, examples=["2026-11"])]


class RecheckChange(BaseModel):
    """One thing that changed since the certificate was first read."""

    kind: Literal["ended", "new_number", "new_cap", "changed", "withdrawn"]
    field: str
    before: Any = None
    after: Any = None
    message: str


class RecheckItem(BaseModel):
    """A consented certificate of one reception whose data changed since it was first read."""

    reception_id: int
    received_on: dt.date
    patient_number: str | None
    program_code: str
    payer_number: str
    recipient_number: str
    changes: list[RecheckChange]


class RecheckReport(BaseModel):
    """The 一括照会 of a month: what was checked and what changed."""

    month: str
    receptions_checked: int
    certificates_checked: int
    changed: int
    items: list[RecheckItem]
