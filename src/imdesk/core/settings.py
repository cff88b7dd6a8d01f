"""Settings: built once (from ``IMDESK_*`` environment variables and an optional ``imdesk.toml``)
and injected (``create_app(settings)``); never imported as a global.

Every field is documented in docs/operations.md (a test keeps the two in step).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from imdesk.core.errors import ConfigurationError

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev-secret-change-me", "insecure"}
DEV_SECRET = "dev-secret-change-me"


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``imdesk.toml`` (path from IMDESK_CONFIG_FILE, default ./imdesk.toml) if present."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("IMDESK_CONFIG_FILE", "imdesk.toml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
            self._data = raw.get("imdesk", raw)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMDESK_", extra="ignore", validate_default=True)

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; placeholder secrets are refused outside development/test."
    )
    secret_key: str = Field(DEV_SECRET, description="Signs session cookies, CSRF tokens and rating links.")
    database_url: str = Field("sqlite:///var/imdesk.db", description="SQLAlchemy URL (sqlite:/// or postgresql+psycopg://).")
    queue_url: str = Field("", description="Huey storage: empty = SQLite file in data_dir, or redis://host:port/db.")
    data_dir: Path = Field(Path("var"), description="Where attachments, uploads, queue file and search data live.")
    base_url: str = Field("http://127.0.0.1:8000", description="Public URL of this instance (links in e-mails).")
    timezone: str = Field("Asia/Shanghai", description="Default display time zone.")
    default_locale: Literal["zh_CN", "en"] = Field("zh_CN", description="UI language when neither user nor browser chooses.")
    profile: str = Field("im_server", description="Default IM product profile.")
    max_json_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest JSON request body accepted (413 above).")
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1024, description="Largest file upload accepted.")
    session_max_age_s: int = Field(8 * 3600, ge=60, description="Web session lifetime in seconds.")
    cookie_secure: bool = Field(False, description="Mark cookies Secure (set true behind HTTPS).")
    login_max_attempts: int = Field(5, ge=1, description="Failed logins allowed per window, per account and per client address.")
    login_window_s: int = Field(300, ge=1, description="Login rate-limit window in seconds.")
    log_level: str = Field("INFO", description="Log level of the imdesk logger.")
    log_json: bool = Field(True, description="Structured JSON log lines (false: plain text).")
    run_consumer: bool = Field(True, description="`imdesk serve` runs an in-process job consumer (embedded mode).")
    smtp_host: str = Field("", description="SMTP server for outgoing mail (empty: mail stays queued in the outbox).")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_user: str = Field("", description="SMTP user (optional).")
    smtp_password: str = Field("", description="SMTP password (optional).")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    mail_from: str = Field("imdesk@localhost", description="Sender address of outgoing mail.")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v.removeprefix("postgresql://")
        return v

    @field_validator("queue_url")
    @classmethod
    def _check_queue_url(cls, v: str) -> str:
        if v and not v.startswith(("redis://", "rediss://")):
            raise ValueError("must be empty (SQLite queue) or a redis:// URL")
        return v

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.env != "development" and (self.secret_key in PLACEHOLDER_SECRETS or len(self.secret_key) < 32):
            raise ValueError(f"IMDESK_SECRET_KEY must be set to a random value of at least 32 characters "
                             f"(placeholder secrets are only accepted with IMDESK_ENV=development, not {self.env})")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation problems into one clear ConfigurationError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"IMDESK_{loc.upper()}" if loc != "settings" else "settings"
            parts.append(f"{env}: {err['msg']}")
        raise ConfigurationError("invalid settings: " + "; ".join(parts)) from None
