"""HTTP edge of the number rules: anyone may check a number before sending it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from pmh.auth.deps import public
from pmh.codes.checkdigits import check_number

router = APIRouter(tags=["codes"])

Kind = Literal["payer", "recipient", "insurer", "municipality", "mynumber", "institution"]


class CodeCheckRequest(BaseModel):
    """A number and the kind of number it should be.

    Sent in the body, not the URL, so that a My Number never lands in an access log.
    """

    value: Annotated[str, Field(max_length=64)]
    kind: Kind


class CodeCheckResult(BaseModel):
    """Whether the number is valid, and if not, why (the same keys as ``pmh codes check --json``)."""

    valid: bool
    kind: str
    value: str
    reason: str | None = None
    expected_check_digit: int | None = None


@router.post(
    "/codes/check",
    response_model=CodeCheckResult,
    response_model_exclude_none=True,
    dependencies=[public()],
    summary="番号の検証（検証番号・桁数）",
)
def check_code(body: CodeCheckRequest) -> CodeCheckResult:
    """Validate a payer, recipient, insurer, municipality, My Number or institution number."""
    result = check_number(body.value, body.kind)
    return CodeCheckResult(
        valid=result.valid,
        kind=result.kind,
        value="" if body.kind == "mynumber" else result.value,
        reason=result.reason,
        expected_check_digit=result.expected_check_digit,
    )
