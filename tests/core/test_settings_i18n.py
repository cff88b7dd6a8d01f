from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imdesk.core import i18n
from imdesk.core.db import UTCDateTime
from imdesk.core.errors import ConfigurationError
from imdesk.core.logging import redact_text
from imdesk.core.settings import load_settings


@pytest.mark.parametrize("env", ["production", "test"])
def test_placeholder_secret_refused_outside_development(env):
    with pytest.raises(ConfigurationError, match="IMDESK_SECRET_KEY"):
        load_settings(env=env)
    with pytest.raises(ConfigurationError, match="IMDESK_SECRET_KEY"):
        load_settings(env=env, secret_key="changeme")
    assert load_settings(env="development").secret_key  # the placeholder is fine for a laptop
    assert load_settings(env="production", secret_key="x" * 40).env == "production"


@pytest.mark.parametrize("field,value", [("database_url", "mysql://x"), ("queue_url", "amqp://x"),
                                         ("timezone", "Mars/Base"), ("max_json_body_bytes", 1)])
def test_bad_settings_name_the_variable(field, value):
    with pytest.raises(ConfigurationError, match=f"IMDESK_{field.upper()}"):
        load_settings(**{field: value})


def test_settings_from_toml(tmp_path, monkeypatch):
    f = tmp_path / "imdesk.toml"
    f.write_text('[imdesk]\ntimezone = "UTC"\nlogin_max_attempts = 9\n', encoding="utf-8")
    monkeypatch.setenv("IMDESK_CONFIG_FILE", str(f))
    monkeypatch.setenv("IMDESK_LOGIN_MAX_ATTEMPTS", "7")
    s = load_settings()
    assert s.timezone == "UTC" and s.login_max_attempts == 7  # env wins over the file


def test_broken_toml_is_one_clear_error(tmp_path, monkeypatch):
    f = tmp_path / "imdesk.toml"
    f.write_text("timezone = [", encoding="utf-8")
    monkeypatch.setenv("IMDESK_CONFIG_FILE", str(f))
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings()


@given(st.text(max_size=200))
def test_negotiate_never_fails_and_returns_supported(header):
    assert i18n.negotiate(header, None, "zh_CN") in i18n.SUPPORTED_LOCALES


def test_negotiate_weights():
    assert i18n.negotiate("en;q=0.3, zh-CN;q=0.9", None, "en") == "zh_CN"
    assert i18n.negotiate("fr, en;q=0.5", None, "zh_CN") == "en"
    assert i18n.negotiate("fr", None, "zh_CN") == "zh_CN"
    assert i18n.negotiate("zh", "en", "zh_CN") == "en"


def test_utc_type_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)


@pytest.mark.parametrize("line", [
    "connecting with password=hunter2 now", "Authorization: Bearer abc.def.ghi",
    "dsn postgres://im:s3cr3t@db:5432/im", "token='xyz123'"])
def test_log_redaction(line):
    out = redact_text(line)
    for secret in ("hunter2", "abc.def.ghi", "s3cr3t", "xyz123"):
        assert secret not in out
