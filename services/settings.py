"""Settings from `PORTAL_` environment variables, optionally a `.env`-style file."""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_KEY_BYTES = 32


class Settings(BaseSettings):
    """Every knob of the app; each one is documented in the README."""

    model_config = SettingsConfigDict(
        env_prefix="PORTAL_",
        env_file=os.environ.get("PORTAL_SETTINGS_FILE"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    database_url: str | None = None
    cookie_key: SecretStr | None = None
    cookie_name: str = "practice_portal_auth"
    session_expiry_days: float = Field(default=1.0, gt=0, le=30)
    outbox_key: SecretStr | None = None
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, ssl or none
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Practice Portal <no-reply@localhost>"
    smtp_timeout: float = 10.0

    sms_api_url: str | None = None  # Twilio-compatible Messages endpoint
    sms_api_account: str | None = None
    sms_api_token: SecretStr | None = None
    sms_from: str | None = None
    phone_region: str = "US"

    activation_max_attempts: int = Field(default=5, ge=1)
    activation_client_limit: int = Field(default=20, ge=1)  # tries per client per window
    activation_client_window_minutes: int = Field(default=15, ge=1)
    max_upload_mb: int = Field(default=50, ge=1)
    # gc.freeze() once the server's modules are imported (ui/startup.py; bench/concurrency.py)
    gc_freeze: bool = True

    @field_validator("smtp_security")
    @classmethod
    def _known_security(cls, value: str) -> str:
        value = value.lower()
        if value not in {"starttls", "ssl", "none"}:
            raise ValueError("PORTAL_SMTP_SECURITY must be starttls, ssl or none")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'portal.db').as_posix()}"

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_api_configured(self) -> bool:
        return bool(self.sms_api_url and self.sms_api_account and self.sms_api_token)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()`)."""
    return Settings()


class WeakKeyError(ValueError):
    """A configured secret key is too short to be safe."""


def _read_key(path: Path) -> str | None:
    if not path.exists():
        return None
    key = path.read_text(encoding="utf-8").strip()
    return key if len(key.encode()) >= MIN_KEY_BYTES else None


def _key_from_file_or_new(path: Path) -> str:
    key = _read_key(path)
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    new_key = secrets.token_urlsafe(48)  # 48 random bytes, 64 characters
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(new_key, encoding="utf-8")
    tmp.chmod(0o600)
    # A strong key another process wrote meanwhile wins; a missing, empty or short file is
    # replaced (atomically, so nobody ever reads half a key).
    key = _read_key(path)
    if key:
        tmp.unlink()
        return key
    tmp.replace(path)
    return new_key


def _configured_or_generated(value: SecretStr | None, name: str, settings: Settings) -> str:
    if value is not None:
        key = value.get_secret_value()
        if len(key.encode()) < MIN_KEY_BYTES:
            raise WeakKeyError(
                f"PORTAL_{name.upper()} must be at least {MIN_KEY_BYTES} bytes; "
                f"generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return key
    return _key_from_file_or_new(settings.data_dir / f"{name}.key")


def cookie_key(settings: Settings | None = None) -> str:
    """The cookie signing key: from settings (≥ 32 bytes) or generated once into the data folder."""
    settings = settings or get_settings()
    return _configured_or_generated(settings.cookie_key, "cookie_key", settings)


def outbox_key(settings: Settings | None = None) -> str:
    """The key that seals PINs waiting in the outbox; same rules as the cookie key."""
    settings = settings or get_settings()
    return _configured_or_generated(settings.outbox_key, "outbox_key", settings)
