"""Jinja2 environment shared by every area's pages, plus the start-page menu each area contributes to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pmh import clock
from pmh.auth.schemas import ROLE_LABELS

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    """Return every area's ``templates`` folder; templates are named ``<area>/<page>.html``."""
    return sorted(str(p) for p in _PACKAGE_DIR.glob("*/templates") if p.is_dir())


environment = Environment(loader=FileSystemLoader(_template_dirs()), autoescape=select_autoescape(["html"]))
environment.globals["role_labels"] = ROLE_LABELS
environment.globals["jst"] = clock.JST  # pages show times as in Japan
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
