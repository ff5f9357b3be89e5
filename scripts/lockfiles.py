"""Write or check the hash-locked requirement files in ``requirements/`` (stdlib only).

    python scripts/lockfiles.py write [--upgrade | --upgrade-package NAME ...]   # what scripts/lock runs
    python scripts/lockfiles.py check                                           # what CI runs

``requirements/runtime.txt`` pins everything ``pip install pmh`` needs, ``requirements/test.txt``
everything the ``test`` extra adds (it repeats the runtime pins, so one file installs a test
environment). Both are resolved by uv for Linux, macOS and Windows on Python >= 3.11
(``--universal``) with the sha256 of every file on PyPI (``--generate-hashes``); the test file is
resolved against the runtime pins, so both agree on every shared package.

Each file starts with ``# pyproject-sha256: <hex>``: the hash of the parts of ``pyproject.toml`` it
was resolved from (``requires-python``, ``dependencies``, the ``test`` extra). ``check`` recomputes it
and fails, naming the command to run, when ``pyproject.toml`` changed after the last lock; it needs
no network and takes milliseconds. Existing pins are kept when a lock is rewritten (uv prefers the
versions already in the output file) unless ``--upgrade`` or ``--upgrade-package`` asks otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REFRESH_COMMAND = "scripts/lock"
HASH_PREFIX = "# pyproject-sha256: "


def _project() -> dict[str, object]:
    with PYPROJECT.open("rb") as f:
        project: dict[str, object] = tomllib.load(f)["project"]
    return project


def _extras(project: dict[str, object]) -> dict[str, list[str]]:
    extras = project.get("optional-dependencies", {})
    assert isinstance(extras, dict)
    return extras


def locks() -> dict[str, dict[str, object]]:
    """Return, per lock file, the pyproject inputs it is resolved from."""
    project = _project()
    runtime = {"requires-python": project["requires-python"], "dependencies": project["dependencies"]}
    return {
        "runtime.txt": runtime,
        "test.txt": {**runtime, "test": _extras(project)["test"]},
    }


def digest(inputs: dict[str, object]) -> str:
    """Return the sha256 of the inputs, insensitive to pyproject's formatting but not to its order."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def write(upgrade: list[str]) -> None:
    """Resolve each lock file with uv and stamp it with the hash of its inputs."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        raise SystemExit(f"{uv} is missing: run scripts/bootstrap test first")
    out_dir = ROOT / "requirements"
    out_dir.mkdir(exist_ok=True)
    extra_args = {"runtime.txt": [], "test.txt": ["--extra", "test", "--constraint", "requirements/runtime.txt"]}
    env = {**os.environ, "UV_CUSTOM_COMPILE_COMMAND": REFRESH_COMMAND}
    for name, inputs in locks().items():
        path = out_dir / name
        command = [
            str(uv), "pip", "compile", "pyproject.toml", "--quiet", "--universal", "--python-version", "3.11",
            "--generate-hashes", "--no-strip-extras", "--output-file", f"requirements/{name}",
            *extra_args[name], *upgrade,
        ]  # fmt: skip
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        body = [line for line in path.read_text().splitlines() if not line.startswith(HASH_PREFIX)]
        path.write_text("\n".join([HASH_PREFIX + digest(inputs), *body]) + "\n")
        print(f"requirements/{name}: {sum(1 for line in body if '==' in line)} pins")


def check() -> int:
    """Return 0 when every lock file was made from the current pyproject.toml, else 1 with a message."""
    stale = []
    for name, inputs in locks().items():
        path = ROOT / "requirements" / name
        first = path.read_text().split("\n", 1)[0] if path.exists() else ""
        if first != HASH_PREFIX + digest(inputs):
            stale.append(f"requirements/{name}")
    if stale:
        print(
            f"依存関係のロックファイルが pyproject.toml と一致しません: {', '.join(stale)}\n"
            f"lock files are out of date with pyproject.toml; refresh them with: {REFRESH_COMMAND}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("action", choices=["write", "check"])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME", help="move one pin")
    args = parser.parse_args(argv)
    if args.action == "check":
        return check()
    upgrade = ["--upgrade"] if args.upgrade else []
    for package in args.upgrade_package:
        upgrade += ["--upgrade-package", package]
    write(upgrade)
    return check()


if __name__ == "__main__":
    sys.exit(main())
