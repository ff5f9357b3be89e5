"""Reading participation-list files and naming the map, shared by the statistics' edges."""

from __future__ import annotations

from pmh.codes.fiscal import format_fiscal_year
from pmh.errors import FieldError, InvalidInput


def decode_list(data: bytes) -> str:
    """Decode a participation list: UTF-8 (BOM optional) or Shift_JIS/CP932."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    message = "文字コードを判別できません（UTF-8 または Shift_JIS で保存してください）。"
    raise InvalidInput(message, [FieldError("file", "encoding", message)])


def map_title(fiscal_year: int | None) -> str:
    """Return the map's title, naming the fiscal year when there is one."""
    suffix = f"（{format_fiscal_year(fiscal_year)}末）" if fiscal_year else ""
    return f"医療費助成のオンライン資格確認 都道府県別の市区町村の参加状況{suffix}"
