"""Fail when a TOML, YAML or JSON file given on the command line does not parse (a pre-commit hook)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path


def problem(path: Path) -> str | None:
    """Return why ``path`` does not parse, or None."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml  # PyYAML comes with pre-commit

            yaml.safe_load(text)
    except Exception as error:
        return f"{path}: {error}"
    return None


def main(paths: list[str]) -> int:
    problems = [p for p in (problem(Path(name)) for name in paths) if p]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
