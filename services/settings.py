"""Settings from `PORTAL_` environment variables, optionally a `.env`-style file."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.errors import quoted

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
    cookie_key_file: Path | None = None  # outside the data folder, so backups of data/ omit it
    cookie_name: str = "practice_portal_auth"
    session_expiry_days: float = Field(default=1.0, gt=0, le=30)  # absolute session lifetime
    session_idle_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    outbox_key: SecretStr | None = None
    outbox_key_file: Path | None = None
    pin_pepper: SecretStr | None = None  # keys the PIN and answer hashes; never in the database
    pin_pepper_file: Path | None = None
    login_max_failures: int = Field(default=5, ge=1)  # per username, then a growing pause
    login_lock_minutes: int = Field(default=15, ge=1)  # the first pause; doubles after each miss
    login_client_limit: int = Field(default=30, ge=1)  # failed sign-ins per address per window
    login_client_window_minutes: int = Field(default=15, ge=1)
    # Proxies whose X-Forwarded-For is believed: addresses or networks, comma-separated.
    trusted_proxies: str = ""

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
    worker_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
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
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """PORTAL_TRUSTED_PROXIES as networks (a bare address is a network of one)."""
        return [ipaddress.ip_network(part.strip(), strict=False)
                for part in self.trusted_proxies.split(",") if part.strip()]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError as error:
                    raise ValueError(
                        f"PORTAL_TRUSTED_PROXIES: {quoted(part)} is not an address or network"
                    ) from error
        return value

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


class UploadLimitMismatch(ValueError):
    """Streamlit's server.maxUploadSize and PORTAL_MAX_UPLOAD_MB say different things."""


def check_upload_limit(streamlit_mb: float, settings: Settings | None = None) -> None:
    """Refuse to start when Streamlit's upload limit is not PORTAL_MAX_UPLOAD_MB (one number
    for nginx, Streamlit and the import page)."""
    settings = settings or get_settings()
    if int(streamlit_mb) != settings.max_upload_mb:
        raise UploadLimitMismatch(
            f"PORTAL_MAX_UPLOAD_MB is {settings.max_upload_mb} but Streamlit's "
            f"server.maxUploadSize is {int(streamlit_mb)}: start the app with "
            f"--server.maxUploadSize {settings.max_upload_mb} (or set both to one value)")


class StartUpProblem(ValueError):
    """Something the operator must fix before the app can start; the message says what."""


class KeyProblem(StartUpProblem):
    """A secret key cannot be used as configured; the message says what to set."""


class WeakKeyError(KeyProblem):
    """A configured secret key is too short to be safe."""


class KeyWouldChange(KeyProblem):
    """Making a new key now would lose what the old one sealed."""


class DataFolderError(StartUpProblem):
    """The data folder is missing and cannot be made, or cannot be written."""


def data_folder_problem(folder: Path, error: OSError) -> DataFolderError:
    """The one-line message for a data folder the app cannot use."""
    reason = error.strerror or type(error).__name__
    return DataFolderError(
        f"The data folder {folder} cannot be used ({reason.lower()}): create it, make it "
        "writable by the user running Practice Portal, or point PORTAL_DATA_DIR elsewhere."
    )


# Called before a new key is written; raises KeyWouldChange when the new key would orphan rows.
KeyGuard = Callable[[Settings], None]

_GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _read_key(path: Path) -> str | None:
    if not path.exists():
        return None
    key = path.read_text(encoding="utf-8").strip()
    return key if len(key.encode()) >= MIN_KEY_BYTES else None


def _private_file(near: Path, content: str) -> Path:
    """A new file beside `near`, created exclusively and owner-only before any byte is written."""
    tmp = near.with_name(f".{near.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def _key_from_file_or_new(path: Path, *, guard: KeyGuard | None, settings: Settings) -> str:
    key = _read_key(path)
    if key:
        return key
    if guard is not None:
        guard(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _private_file(path, secrets.token_urlsafe(48))  # 48 random bytes
        try:
            if path.exists():
                key = _read_key(path)  # another process may have just put a strong key there
                if key:
                    return key
                os.replace(tmp, path)  # an empty or short file (the operator's) is replaced
            else:
                # link() fails if the name exists: of many processes or threads starting at
                # once, exactly one key is put in place, whole, and everyone reads that one.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        key = _read_key(path)
    except OSError as error:
        raise data_folder_problem(path.parent, error) from None
    if not key:
        raise DataFolderError(f"The key file {path} could not be written; check the data folder.")
    return key


def _resolve_key(settings: Settings, name: str, *, guard: KeyGuard | None = None) -> str:
    """A key by value (PORTAL_<NAME>), else from PORTAL_<NAME>_FILE, else data/<name>.key;
    a file is created only when missing and `guard` allows it."""
    value: SecretStr | None = getattr(settings, name)
    variable = f"PORTAL_{name.upper()}"
    if value is not None:
        key = value.get_secret_value()
        if len(key.encode()) < MIN_KEY_BYTES:
            raise WeakKeyError(
                f"{variable} must be at least {MIN_KEY_BYTES} bytes; {_GENERATE_HINT}")
        return key
    path: Path | None = getattr(settings, f"{name}_file")
    if path is not None:
        if path.is_dir():
            raise KeyProblem(f"{variable}_FILE names a folder ({path}); name a file instead")
        if path.exists() and _read_key(path) is None:
            raise WeakKeyError(
                f"{variable}_FILE ({path}) holds fewer than {MIN_KEY_BYTES} bytes; "
                f"{_GENERATE_HINT}")
    else:
        path = settings.data_dir / f"{name}.key"
    return _key_from_file_or_new(path, guard=guard, settings=settings)


def cookie_key(settings: Settings | None = None) -> str:
    """The cookie signing key: PORTAL_COOKIE_KEY, PORTAL_COOKIE_KEY_FILE, or generated once into
    the data folder. A new one only signs everybody out, so it may be made at any time."""
    settings = settings or get_settings()
    return _resolve_key(settings, "cookie_key")


def outbox_key(settings: Settings | None = None) -> str:
    """The key that seals PINs waiting in the outbox; same sources as the cookie key, but a new
    one is refused while sealed messages wait (it could not open them)."""
    from services.key_guard import refuse_new_outbox_key  # the guard reads the database

    settings = settings or get_settings()
    return _resolve_key(settings, "outbox_key", guard=refuse_new_outbox_key)


def pin_pepper(settings: Settings | None = None) -> str:
    """The pepper for PIN and answer hashes: PORTAL_PIN_PEPPER, PORTAL_PIN_PEPPER_FILE, or
    generated once into the data folder.

    Losing it makes every PIN and answer still waiting unusable (the parents need new ones), so
    a new one is refused while such hashes wait; keep it with the other keys, outside the
    database and its backups.
    """
    from services.key_guard import refuse_new_pin_pepper  # the guard reads the database

    settings = settings or get_settings()
    return _resolve_key(settings, "pin_pepper", guard=refuse_new_pin_pepper)
