"""The downloadable error report of an upload (CSV, UTF-8 with BOM so that Excel opens it as is)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from fastapi.responses import StreamingResponse

from pmh import csvfiles
from pmh.privacy import mask_my_numbers
from pmh.registry.models import UploadProblem

ERROR_REPORT_COLUMNS = ("行", "ファイルの行", "列", "コード", "内容", "受信した値")
"""行 counts data rows from 1; ファイルの行 is the line as Excel numbers it (the header is line 1)."""


def error_report_csv(problems: Iterable[UploadProblem]) -> Iterator[str]:
    """Yield the report in chunks: one line per problem, rows counted from the first data row."""
    buffer = io.StringIO()
    writer = csvfiles.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(ERROR_REPORT_COLUMNS)
    for problem in problems:
        writer.writerow(
            [
                "" if problem.row is None else problem.row,
                "" if problem.line is None else problem.line,
                problem.column,
                problem.code,
                mask_my_numbers(problem.message),
                mask_my_numbers(problem.value),
            ]
        )
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def error_report_response(upload_id: int, problems: Iterable[UploadProblem]) -> StreamingResponse:
    """Return the report as a CSV download (the API's ``?format=csv`` and the page's link alike)."""
    headers = {"Content-Disposition": f'attachment; filename="upload-{upload_id}-errors.csv"'}
    return StreamingResponse(error_report_csv(problems), media_type="text/csv; charset=utf-8", headers=headers)
