"""The app's OpenAPI document as committed text (``docs/openapi/``, written by ``scripts/export-openapi``)."""

from __future__ import annotations

import json
from typing import Any


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document of a freshly created app."""
    from pmh.app import create_app

    return create_app().openapi()


def openapi_text() -> str:
    """Return the document as stable text: two-space indent, UTF-8 as is, a final newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
