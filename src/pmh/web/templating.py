"""Jinja2 environment shared by every area's pages, plus the start-page menu each area contributes to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pmh import clock
from pmh.audit.labels import action_label, subject_label
from pmh.auth.schemas import ROLE_LABELS
from pmh.codes.wareki import format_wareki

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    """Return every area's ``templates`` folder; templates are named ``<area>/<page>.html``."""
    return sorted(str(p) for p in _PACKAGE_DIR.glob("*/templates") if p.is_dir())


environment = Environment(loader=FileSystemLoader(_template_dirs()), autoescape=select_autoescape(["html"]))
environment.globals["role_labels"] = ROLE_LABELS
environment.globals["jst"] = clock.JST  # pages show times as in Japan


def age_on(birth: dt.date, day: dt.date | None = None) -> int:
    """Return the age in full years on ``day`` (today in Japan by default)."""
    day = day or clock.today()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birth_text(birth: dt.date | None) -> str:
    """Write a birth date as a desk reads it: 和暦 with the age (平成27年6月1日（11歳）)."""
    if birth is None:
        return "—"
    try:
        return f"{format_wareki(birth)}（{age_on(birth)}歳）"
    except ValueError:  # before 明治: no era to write it in
        return f"{birth.isoformat()}（{age_on(birth)}歳）"


environment.globals["birth_text"] = birth_text


def jst_text(instant: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Write an instant as people read it: in Japan's time, the zone marked (2026-12-02 14:05 JST)."""
    if instant is None:
        return ""
    return instant.astimezone(clock.JST).strftime(fmt) + " JST"


environment.filters["jst"] = jst_text


def number_text(value: int | None) -> str:
    """Write a count with thousands separators (1741 → 1,741); nothing as an em dash."""
    return "—" if value is None else f"{value:,}"


environment.filters["num"] = number_text


def program_name(code: str) -> str:
    """Return a program's name for pages (never its romaji code)."""
    from pmh.reference import catalogue

    try:
        return catalogue.program(code).name
    except catalogue.UnknownProgram:
        return code


def prefecture_name(code: str) -> str:
    """Return a prefecture's name from its two-digit code (13 → 東京都)."""
    from pmh.reference import catalogue

    return next((p.name for p in catalogue.prefectures() if p.prefecture_code == code), code)


environment.globals["program_name"] = program_name
environment.globals["prefecture_name"] = prefecture_name
environment.globals["wareki"] = format_wareki
environment.globals["action_label"] = action_label
environment.globals["subject_label"] = subject_label
environment.globals["sex_text"] = lambda sex: {1: "男", 2: "女"}.get(sex, "—")
templates = Jinja2Templates(env=environment)


@dataclass(frozen=True)
class MenuItem:
    """A link on a role's start page."""

    label: str
    href: str
    description: str


_MENU: dict[str, list[MenuItem]] = {}


def add_menu_item(role: str, label: str, href: str, description: str) -> None:
    """Add a link to the start page of staff in one role (each area calls this for its pages)."""
    items = _MENU.setdefault(role, [])
    if all(item.href != href for item in items):
        items.append(MenuItem(label, href, description))


def menu_for(role: str) -> list[MenuItem]:
    """Return the start-page links for a role."""
    return list(_MENU.get(role, []))
