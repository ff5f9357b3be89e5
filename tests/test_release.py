"""Release hygiene: one version everywhere, the committed OpenAPI documents, the lock check, NOTICE."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

import pmh
from pmh.cli import app as cli_app
from pmh.openapi import openapi_document, openapi_text

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_DIR = ROOT / "docs" / "openapi"
REGENERATE = "scripts/export-openapi"


def _is_release(version: str) -> bool:
    return re.fullmatch(r"\d+\.\d+\.\d+", version) is not None


def test_cli_version_is_the_package_version() -> None:
    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"pmh {pmh.__version__}"


def test_installed_metadata_carries_the_same_version() -> None:
    # pyproject.toml reads the version from pmh/__init__.py; a stale install means a bump without reinstall.
    assert importlib.metadata.version("pmh") == pmh.__version__, "re-run scripts/bootstrap test"


def test_openapi_info_version_is_the_package_version() -> None:
    assert openapi_document()["info"]["version"] == pmh.__version__


def test_committed_openapi_document_matches_the_app() -> None:
    committed = OPENAPI_DIR / "current.json"
    assert committed.exists(), f"docs/openapi/current.json is missing: run {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == openapi_text(), (
        f"the API changed: run {REGENERATE}, commit docs/openapi/current.json, "
        "and list the change in CHANGELOG.md (under Breaking if it breaks a caller)"
    )


def test_every_release_keeps_its_openapi_document() -> None:
    released = {p.stem: p for p in OPENAPI_DIR.glob("*.json") if p.stem != "current"}
    assert "0.1.0" in released
    for version, path in released.items():
        assert _is_release(version), f"{path.name}: only released versions are kept"
        assert json.loads(path.read_text(encoding="utf-8"))["info"]["version"] == version
    if _is_release(pmh.__version__):
        assert pmh.__version__ in released, f"release {pmh.__version__}: run {REGENERATE} --release"
        assert released[pmh.__version__].read_text(encoding="utf-8") == openapi_text()


def test_changelog_has_a_section_for_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    heading = f"## [{pmh.__version__}]" if _is_release(pmh.__version__) else "## [Unreleased]"
    assert heading in changelog
    for version in (p.stem for p in OPENAPI_DIR.glob("*.json") if p.stem != "current"):
        assert f"## [{version}]" in changelog


def test_notice_names_the_vendored_htmx_version() -> None:
    htmx = (ROOT / "src" / "pmh" / "web" / "static" / "htmx.min.js").read_text(encoding="utf-8")
    match = re.search(r'version:"([^"]+)"', htmx)
    assert match is not None
    assert f"htmx {match.group(1)}" in (ROOT / "NOTICE").read_text(encoding="utf-8")


def _lockfiles(tmp_path: Path) -> ModuleType:
    """Load scripts/lockfiles.py pointed at a copy of pyproject.toml and requirements/ in tmp_path."""
    spec = importlib.util.spec_from_file_location("lockfiles", ROOT / "scripts" / "lockfiles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    module.ROOT = tmp_path
    module.PYPROJECT = tmp_path / "pyproject.toml"
    return module


def test_lock_files_are_up_to_date(tmp_path: Path) -> None:
    assert _lockfiles(tmp_path).check() == 0, "run scripts/lock"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"fastapi>=0.115",', '"fastapi>=0.115",\n    "cryptography>=43",'),  # a new runtime dependency
        ('"pytest>=8",', '"pytest>=9",'),  # a test dependency's range
        ('requires-python = ">=3.11"', 'requires-python = ">=3.12"'),
    ],
)
def test_lock_check_fails_when_pyproject_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str
) -> None:
    lockfiles = _lockfiles(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "pyproject.toml").write_text(text.replace(old, new), encoding="utf-8")
    assert lockfiles.check() == 1
    assert "scripts/lock" in capsys.readouterr().err


def test_lock_check_ignores_changes_outside_the_dependencies(tmp_path: Path) -> None:
    lockfiles = _lockfiles(tmp_path)
    with (tmp_path / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n# a comment\n[tool.example]\nsetting = 1\n")
    assert lockfiles.check() == 0
