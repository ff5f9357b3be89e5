"""Runtime settings: the one place that reads the environment (prefix ``PMH_``)."""

from __future__ import annotations

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
    log_level: str = "INFO"
    log_json: bool = True
    cookie_secure: bool = False
    max_upload_mb: int = Field(default=100, ge=1)
    """Largest request body of an upload route (certificate files, the JSON batch, patient lists)."""
    max_body_kb: int = Field(default=1024, ge=1)
    """Largest request body of every other route (1 MB)."""
    limit_window_seconds: int = Field(default=900, ge=1)
    """Length of the fixed window the rate limits below count in (15 minutes)."""
    limit_sign_in_per_login: int = Field(default=10, ge=1)
    """Failed staff sign-ins per login ID and window before 429."""
    limit_sign_in_per_client: int = Field(default=30, ge=1)
    """Failed staff sign-ins per client address and window before 429."""
    limit_card_per_serial: int = Field(default=10, ge=1)
    """Refused card authentications per card serial and window before 429."""
    limit_card_per_reader: int = Field(default=30, ge=1)
    """Refused card authentications per card reader and window before 429."""
    limit_api_key_per_client: int = Field(default=20, ge=1)
    """Wrong API keys per client address and window before 429."""
    audit_chains: int = Field(default=16, ge=1, le=1024)
    """How many independent hash chains the audit log keeps on PostgreSQL (appenders of different
    chains never wait for each other; SQLite writes one chain)."""

    @property
    def effective_database_url(self) -> str:
        """Return the configured database URL, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
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
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache to change them)."""
    return Settings()
