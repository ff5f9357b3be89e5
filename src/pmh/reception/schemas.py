"""Shapes of the patient registry (患者受付登録一覧)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

PATIENT_COLUMNS = ("patient_number", "name", "name_kana", "birth_date", "sex")
"""Columns of the patient-registry CSV, in this order (a header row is required)."""

PATIENT_COLUMN_LABELS = {
    "patient_number": "患者番号",
    "name": "氏名",
    "name_kana": "カナ氏名",
    "birth_date": "生年月日",
    "sex": "性別",
}
"""The Japanese headings of the same columns; a file may use either."""


class PatientRead(BaseModel):
    """A registered patient under the institution's own patient number."""

    patient_number: str
    name: str
    name_kana: str
    birth_date: dt.date
    sex: int = Field(description="1 男、2 女")
    linked: bool = Field(description="マイナンバーカードの受付と紐づいたことがあるか")


class PatientImportResult(BaseModel):
    """What a patient-registry import did (all or nothing: on any error nothing is written)."""

    added: int
    updated: int
