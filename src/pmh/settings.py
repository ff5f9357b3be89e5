"""Runtime settings: the one place that reads the environment (prefix ``PMH_``)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

AUDIT_KEY_LABEL = b"pmh audit chain HMAC key v1"
"""Domain-separation label of the audit key derived from the server secret (never change it)."""


class Settings(BaseSettings):
    """Settings of one pmh installation."""

    model_config = SettingsConfigDict(env_prefix="PMH_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    migration_database_url: str | None = None
    """The database owner's URL for migrations (``pmh db upgrade``, ``pmh serve`` at start-up,
    ``pmh db create-app-role``); defaults to ``database_url``. In production the hub itself runs as an
    application role that cannot change or delete audit entries nor drop their triggers."""
    database_read_url: str | None = None
    """A read-only URL (a replica, e.g. HAProxy's read-only port) for reports that write nothing: the
    operator's statistics, the fees preview, the directory, a municipality's certificate listings.
    Unset: everything reads from the primary (docs/deployment.md, "Reads on a replica")."""
    read_max_lag_seconds: float = Field(default=5.0, ge=0)
    """The most replication lag a report read on ``database_read_url`` may see; a replica further
    behind (or unreachable) is skipped for the primary."""
    database_connect_timeout_seconds: int = Field(default=3, ge=1, le=60)
    """How long one connection attempt to PostgreSQL may take before the request answers 503."""
    database_statement_timeout_seconds: int = Field(default=120, ge=0)
    """PostgreSQL ``statement_timeout`` of the hub's connections (0: none). Bounds a statement that
    waits on a lock or a dying server; set it on the role instead behind PgBouncer."""
    database_pgbouncer: bool = False
    """True when the URL reaches PgBouncer in transaction mode: no startup options, no prepared statements."""
    trusted_proxies: str = ""
    """Comma-separated addresses of the load balancers in front of the hub nodes (e.g. HAProxy). Only
    from these is ``X-Forwarded-For`` believed, so that the rate limits count each client, not the
    proxy all clients come through (docs/deployment.md). Empty: the peer address is the client."""
    secret_key: str | None = None
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    resident_session_minutes: int = Field(default=15, ge=1, le=60)
    kiosk_return_seconds: int = Field(default=15, ge=2, le=600)
    """How long the kiosk's done screen stays before it returns to the start screen by itself."""
    kiosk_idle_seconds: int = Field(default=120, ge=10, le=600)
    """How long the kiosk waits on the consent question before it returns to the start screen."""
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
    read_pool_size: int = Field(default=8, ge=0, le=200)
    """Connections per process of the async pool the eligibility read uses on PostgreSQL (0: the read
    takes the general path in a worker thread)."""
    api_key_cache_seconds: float = Field(default=30, ge=0, le=300)
    """How long a process keeps a verified API key before looking it up again (0: never kept). On
    PostgreSQL a revocation drops every process's cached keys when it commits (LISTEN/NOTIFY); on
    SQLite keys are never cached."""
    audit_chains: int = Field(default=16, ge=1, le=1024)
    """How many independent hash chains the audit log keeps on PostgreSQL (appenders of different
    chains never wait for each other; SQLite writes one chain)."""
    audit_key: str | None = Field(default=None, min_length=32)
    """The key of the audit chain's HMAC links, held outside the database. Without it, a key derived
    from the server secret under its own label (``AUDIT_KEY_LABEL``) is used."""
    audit_checkpoint_dir: Path | None = None
    """Where ``pmh audit checkpoint`` writes signed checkpoints (default ``<data_dir>/audit-checkpoints``)."""
    audit_signing_key_file: Path | None = None
    """The Ed25519 private key that signs checkpoints (default ``<data_dir>/audit-signing.key``,
    generated 0600 on first use, its public key beside it as ``.pub``)."""
    audit_checkpoint_minutes: int = Field(default=0, ge=0)
    """When above 0, ``pmh serve`` writes a checkpoint every so many minutes (0: only by the command)."""
    audit_seal_ms: int = Field(default=200, ge=10, le=60_000)
    """The bound on how long an appended audit entry waits to be sealed into its chain on PostgreSQL
    (milliseconds): each sealer looks for unsealed entries every half of it. SQLite seals at append."""
    audit_sealer: bool = True
    """Whether each server process runs a sealer thread (PostgreSQL). Switch it off only when
    ``pmh audit seal --follow`` runs as a process of its own."""
    audit_seal_overdue_s: float | None = Field(default=None, gt=0)
    """How old an unsealed entry may be before ``pmh audit verify`` reports it as a problem (a stopped
    sealer); default 10 × ``audit_seal_ms``."""

    @cached_property
    def trusted_proxy_set(self) -> frozenset[str]:
        """Return the addresses of :attr:`trusted_proxies` as a set."""
        return frozenset(a.strip() for a in self.trusted_proxies.split(",") if a.strip())

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

    @cached_property
    def effective_audit_key(self) -> bytes:
        """Return the audit chain's HMAC key: ``PMH_AUDIT_KEY``, or one derived from the server secret.

        The derivation is an HMAC of a fixed label under the server secret, so the chain's key is
        never the very key that hashes My Numbers, and neither is stored in the database.
        """
        if self.audit_key:
            return self.audit_key.encode()
        return hmac.new(self.effective_secret_key, AUDIT_KEY_LABEL, hashlib.sha256).digest()

    @property
    def effective_migration_database_url(self) -> str:
        """Return the URL migrations run with: the owner's, or the hub's own when none is set."""
        return self.migration_database_url or self.effective_database_url

    @property
    def effective_audit_seal_overdue_s(self) -> float:
        """Return the age after which an unsealed audit entry is a problem (default 10 × the seal delay)."""
        return self.audit_seal_overdue_s or 10 * self.audit_seal_ms / 1000

    @property
    def effective_audit_checkpoint_dir(self) -> Path:
        """Return the directory checkpoints are written to and read from by default."""
        return self.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"

    @property
    def effective_audit_signing_key_file(self) -> Path:
        """Return the path of the checkpoints' Ed25519 private key (its public key: same name + ``.pub``)."""
        return self.audit_signing_key_file or self.data_dir / "audit-signing.key"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache to change them)."""
    return Settings()
