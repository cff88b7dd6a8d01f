"""config check: the environment switch (production / staging / development).

The rules condition on the environment through data in config_rules.yaml (`by_env` overrides and
the `{env: [...]}` condition); production stays the default and judges as before.
"""

from __future__ import annotations

import json

import pytest
from tests.diag.test_config_check import EXAMPLE, FACTS, replaced

from imdesk.cli import main
from imdesk.core.errors import BadInput
from imdesk.diag.config_check import (
    Schema,
    _Context,
    check_text,
    effective_values,
    environments,
    evaluate_rules,
    to_sarif,
)
from imdesk.profiles import load_profile

DEBUG = ("level: INFO", "level: DEBUG")
TLS_OFF = ("  enabled: true\n  # REQUIRED when", "  enabled: false\n  # REQUIRED when")
LONG_TTL = ("token_ttl: 24h", "token_ttl: 30d")
CORS_ANY = ("cors_origins: []", 'cors_origins: ["*"]')


def severity(report, rule_id: str) -> str | None:
    found = [f.severity for f in report.findings if f.rule_id == rule_id]
    return found[0] if found else None


def test_profile_names_its_environments_with_production_default():
    envs = environments()
    assert envs.default == "production"
    assert list(envs.names) == ["production", "staging", "development"]
    assert envs.label("development", "zh") == "开发环境"


@pytest.mark.parametrize("env", ["production", "staging", "development"])
def test_official_example_is_clean_in_every_environment(env):
    report = check_text(EXAMPLE, facts=FACTS, environment=env)
    assert [f for f in report.findings if f.severity in ("critical", "error", "warning")] == []
    assert report.exit_code() == 0 and report.environment == env


@pytest.mark.parametrize(("env", "debug", "tls_off", "long_ttl", "exit_code"), [
    (None, "warning", "critical", "warning", 1),          # no --env: production, judged as before
    ("production", "warning", "critical", "warning", 1),
    ("staging", "info", "warning", "warning", 1),
    ("development", "info", "info", "info", 0),
])
def test_severity_per_environment(env, debug, tls_off, long_ttl, exit_code):
    report = check_text(replaced(DEBUG, TLS_OFF, LONG_TTL), facts=FACTS, environment=env)
    assert report.environment == (env or "production")
    assert severity(report, "IMCFG-PERF-005") == debug
    assert severity(report, "IMCFG-SEC-001") == tls_off
    assert severity(report, "IMCFG-SEC-005") == long_ttl
    assert report.exit_code() == exit_code


def test_development_wording():
    report = check_text(replaced(DEBUG), facts=FACTS, environment="development")
    debug = next(f for f in report.findings if f.rule_id == "IMCFG-PERF-005")
    assert "development" in debug.message and "开发" in debug.message_zh
    assert "in production it slows" not in debug.message


def test_development_does_not_excuse_everything():
    text = replaced(TLS_OFF, CORS_ANY, ('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', "jwt_secret: changeme"))
    report = check_text(text, facts=FACTS, environment="development")
    assert severity(report, "IMCFG-SEC-003") == "critical"
    assert severity(report, "IMCFG-SEC-004") == "error"
    assert report.exit_code() == 1


def test_unknown_environment_is_bad_input():
    with pytest.raises(BadInput, match="environment 'prod'.*production, staging, development"):
        check_text(EXAMPLE, facts=FACTS, environment="prod")


def test_env_condition_and_overrides_are_data():
    """A rule written only in data can fire in some environments and change per environment."""
    report = check_text(EXAMPLE, facts=FACTS, environment="staging")
    rules = [{
        "id": "TEST-ENV-1", "severity": "error", "key": "log.level", "keys": ["log.level"],
        "when": {"all": [{"env": ["staging", "development"]}, {"eq": ["log.level", {"value": "INFO"}]}]},
        "message": {"en": "m", "zh": "m"}, "fix": {"en": "f", "zh": "f"},
        "by_env": {"development": {"severity": "info", "message": {"en": "dev m", "zh": "开发 m"}}},
    }]
    schema = Schema.of(load_profile())
    typed, display, _ = effective_values(schema, report.values, FACTS)

    def run(env):
        ctx = _Context(typed=typed, display=display, explicit=set(report.values), facts=FACTS, environment=env)
        return evaluate_rules(rules, ctx, {})

    assert run("production") == []
    staging = run("staging")
    assert [(f.severity, f.message) for f in staging] == [("error", "m")]
    dev = run("development")
    assert [(f.severity, f.message, f.message_zh, f.fix) for f in dev] == [("info", "dev m", "开发 m", "f")]


def test_json_and_sarif_name_the_environment():
    report = check_text(replaced(DEBUG), facts=FACTS, environment="development")
    assert report.to_dict()["environment"] == "development"
    sarif = to_sarif(report)
    run = sarif["runs"][0]
    assert run["properties"]["environment"] == "development"
    assert run["invocations"][0]["properties"]["environment"] == "development"
    level = {r["ruleId"]: r["level"] for r in run["results"]}
    assert level["IMCFG-PERF-005"] == "note"


# ---- CLI -------------------------------------------------------------------------------------


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def debug_tls_off(tmp_path):
    p = tmp_path / "im_config.yaml"
    p.write_text(replaced(DEBUG, TLS_OFF), encoding="utf-8")
    return p


def test_cli_env_development_exits_zero(capsys, debug_tls_off):
    code, out, _ = cli(capsys, "config", "check", str(debug_tls_off), "--env", "development", "--lang", "en")
    assert code == 0
    assert "info IMCFG-SEC-001" in out and "info IMCFG-PERF-005" in out
    assert "environment: development" in out.splitlines()[-1]


def test_cli_default_production_exits_one(capsys, debug_tls_off):
    code, out, _ = cli(capsys, "config", "check", str(debug_tls_off), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["environment"] == "production"
    assert {f["rule_id"]: f["severity"] for f in data["findings"]}["IMCFG-SEC-001"] == "critical"


def test_cli_sarif_names_the_environment(capsys, debug_tls_off):
    code, out, _ = cli(capsys, "config", "check", str(debug_tls_off), "--sarif", "--env", "staging")
    assert code == 1
    assert json.loads(out)["runs"][0]["properties"]["environment"] == "staging"


def test_cli_unknown_env_is_one_line_exit_2(capsys, debug_tls_off):
    code, _, err = cli(capsys, "config", "check", str(debug_tls_off), "--env", "qa")
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("imdesk: error: ") and "'qa'" in lines[0]
    assert "Traceback" not in err


def test_cli_help_documents_env(capsys):
    code, out, _ = cli(capsys, "config", "check", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "--env" in flat and "development" in flat and "production" in flat
