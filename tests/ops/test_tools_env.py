"""The environment switch of the online config check (API and portal form)."""

from __future__ import annotations

import re

import pytest

from imdesk.diag.config_check import example_text
from tests.factories import PASSWORD, auth, make_token, make_user

DEV_CONFIG = example_text().replace("level: INFO", "level: DEBUG", 1).replace(
    "  enabled: true\n  # REQUIRED when", "  enabled: false\n  # REQUIRED when", 1)


@pytest.fixture
def token(session):
    t = make_token(session, make_user(session, "customer"))
    session.commit()
    return t


def _severities(body) -> dict[str, str]:
    return {f["rule_id"]: f["severity"] for f in body["findings"]}


def test_api_defaults_to_production(client, token):
    r = client.post("/api/v1/tools/config-check", json={"content": DEV_CONFIG}, headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["environment"] == "production"
    assert _severities(body)["IMCFG-SEC-001"] == "critical" and body["exit_code"] == 1


def test_api_development_makes_debug_and_tls_off_info(client, token):
    r = client.post("/api/v1/tools/config-check", json={"content": DEV_CONFIG, "environment": "development"},
                    headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["environment"] == "development"
    sev = _severities(body)
    assert sev["IMCFG-SEC-001"] == "info" and sev["IMCFG-PERF-005"] == "info"
    assert body["exit_code"] == 0 and body["worst"] == "info"


@pytest.mark.parametrize("env", ["prod", "DEV ELOPMENT", ""])
def test_api_unknown_environment_is_problem_json(client, token, env):
    r = client.post("/api/v1/tools/config-check", json={"content": DEV_CONFIG, "environment": env},
                    headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def _login(client, session, locale):
    user = make_user(session, "customer", locale=locale)
    session.commit()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf})
    page = client.get("/tools")
    assert page.status_code == 200
    return page, re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)


def test_form_offers_the_environments_and_uses_the_choice(client, session):
    page, csrf = _login(client, session, "en")
    select = re.search(r'<select name="environment"[^>]*>(.*?)</select>', page.text, re.S)
    assert select, "the config form has an environment choice"
    values = re.findall(r'<option value="([^"]+)"', select.group(1))
    assert values == ["production", "staging", "development"]
    assert re.search(r'<option value="production"[^>]*selected', select.group(1))
    r = client.post("/tools/config-check", data={"content": DEV_CONFIG, "environment": "development",
                                                 "csrf_token": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'data-worst="info"' in r.text and 'data-environment="development"' in r.text
    assert "Environment: development" in r.text
    r = client.post("/tools/config-check", data={"content": DEV_CONFIG, "environment": "nope", "csrf_token": csrf},
                    headers={"HX-Request": "true"})
    assert r.status_code == 422 and "nope" in r.text


def test_form_in_chinese(client, session):
    page, csrf = _login(client, session, "zh_CN")
    assert "运行环境" in page.text and "开发环境" in page.text
    r = client.post("/tools/config-check", data={"content": DEV_CONFIG, "environment": "development",
                                                 "csrf_token": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "运行环境：开发环境" in r.text
