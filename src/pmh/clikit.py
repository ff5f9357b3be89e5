"""Small helpers shared by every area's Typer commands: JSON output, errors, the unit of work."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from pmh.errors import PmhError

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout (machine-readable ``--json`` output)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a Japanese error message on stderr and exit (1 = rejected input)."""
    stderr.print(f"[red]エラー:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def fail_with(error: PmhError, as_json: bool = False) -> NoReturn:
    """Report an expected failure the same way for every command, as text or as JSON."""
    if as_json:
        print_json({"error": error.code, "message": error.message, "errors": [e.as_dict() for e in error.errors]})
        raise typer.Exit(1)
    fail(error.message)
