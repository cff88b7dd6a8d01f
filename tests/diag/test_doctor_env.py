"""diag doctor judges the config for the environment given with --env (default production)."""

from __future__ import annotations

import json

import pytest

from imdesk.cli import main
from imdesk.diag.config_check import example_text
from imdesk.diag.doctor import DoctorInput, run_doctor

DEV = example_text().replace("level: INFO", "level: DEBUG", 1).replace(
    "  enabled: true\n  # REQUIRED when", "  enabled: false\n  # REQUIRED when", 1)


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "im_config.yaml"
    p.write_text(DEV, encoding="utf-8")
    return p


def config_step(report):
    return next(s for s in report["steps"] if s["name"] == "config")


def test_production_by_default(cfg):
    step = config_step(run_doctor(DoctorInput(config=cfg)))
    assert step["status"] == "problem" and step["details"]["environment"] == "production"
    assert {f["rule_id"] for f in step["details"]["findings"]} >= {"IMCFG-SEC-001", "IMCFG-PERF-005"}


def test_development_config_is_ok(cfg):
    step = config_step(run_doctor(DoctorInput(config=cfg, environment="development")))
    assert step["status"] == "ok" and step["details"]["environment"] == "development"
    assert step["details"]["findings"] == [] and step["details"]["info"] >= 2
    assert "development" in step["summary"]


def test_cli_env(capsys, cfg):
    with pytest.raises(SystemExit) as exc:
        main(["diag", "doctor", "--config", str(cfg), "--env", "development", "--no-input", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert config_step(report)["details"]["environment"] == "development"
    assert config_step(report)["status"] == "ok"
    with pytest.raises(SystemExit) as exc:
        main(["diag", "doctor", "--config", str(cfg), "--env", "live", "--no-input"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.strip().startswith("imdesk: error: ") and "'live'" in err
