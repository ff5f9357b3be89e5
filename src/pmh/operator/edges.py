"""Small helpers the operator area's edges share: the CLI's operator caller, CSV and year parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from pmh.auth import service as auth
from pmh.auth.schemas import Caller
from pmh.db import unit_of_work

FiscalYearQuery = Annotated[
    int, Query(ge=2027, le=2100, description="年度（西暦、例: 2027 = 令和9年度）。運営負担金・委託契約は令和9年度から")
]


def cli_operator() -> Caller:
    """Return the caller the command line acts as: the operator (運営主体)."""
    with unit_of_work() as session:
        organisation = auth.ensure_organisation(session, auth.OPERATOR_CODE)
        return Caller(organisation.id, organisation.code, organisation.name, "operator", "operator", "cli")


def csv_response(text: str, filename: str) -> Response:
    """Return CSV text as a download, UTF-8 with a BOM so that Excel reads the Japanese correctly."""
    return Response(
        content="\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
