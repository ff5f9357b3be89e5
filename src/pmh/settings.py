"""Runtime settings: the one place that reads the environment (prefix ``PMH_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one pmh installation."""

    model_config = SettingsConfigDict(env_prefix="PMH_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    secret_key: str | None = None
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    resident_session_minutes: int = Field(default=15, ge=1, le=60)
    log_level: str = "INFO"
    log_json: bool = True
    cookie_secure: bool = False
    max_upload_mb: int = 100
    audit_chains: int = Field(default=16, ge=1, le=1024)
    """How many independent hash chains the audit log keeps on PostgreSQL (appenders of different
    chains never wait for each other; SQLite writes one chain)."""

    @property
    def effective_database_url(self) -> str:
        """Return the configured database URL, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'pmh.sqlite3').resolve()}"

    @property
    def effective_secret_key(self) -> bytes:
        """Return the server secret used for keyed hashes, generating and keeping one if none is set.

        The generated secret lives in the data directory with owner-only permissions so that
        keyed hashes of My Number stay stable across restarts of an embedded installation.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                # Created 0600 from the start (no moment when another user could read it); O_EXCL so
                # that two processes starting at once keep one secret.
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache to change them)."""
    return Settings()
