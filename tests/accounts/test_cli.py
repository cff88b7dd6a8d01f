"""The accounts CLI as scripts use it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "IMDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "IMDESK_DATA_DIR": str(tmp_path),
           "IMDESK_CONFIG_FILE": str(tmp_path / "none.toml")}

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "imdesk.cli", *args], env=env, input=stdin, text=True,
                              capture_output=True, timeout=120)

    return _run


def test_org_user_token_lifecycle(run):
    r = run("org", "create", "华信科技", "--annual-fee", "1200000", "--verified")
    assert r.returncode == 0, r.stderr
    r = run("user", "create", "ops@huaxin.example", "--role", "customer", "--org", "华信科技", "--password-stdin",
            stdin="long-enough-pass\n")
    assert r.returncode == 0, r.stderr
    r = run("token", "create", "ops@huaxin.example")
    assert r.returncode == 0
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("imd_") and len(token) > 30
    listed = json.loads(run("token", "list", "--json").stdout)
    assert listed[0]["user"] == "ops@huaxin.example" and token not in json.dumps(listed)
    assert run("token", "revoke", str(listed[0]["id"])).returncode == 0
    assert json.loads(run("token", "list", "--json").stdout)[0]["revoked"] is True
    orgs = json.loads(run("org", "list", "--json").stdout)
    assert orgs[0]["name"] == "华信科技" and orgs[0]["verified"] is True


@pytest.mark.parametrize("args,needle", [
    (("user", "create", "x@example.com", "--role", "wizard"), "role must be one of"),
    (("user", "create", "x@example.com", "--role", "customer", "--org", "Nope"), "no organisation named"),
    (("user", "create", "not-an-email", "--role", "agent"), "invalid e-mail"),
    (("org", "create", "A", "--annual-fee", "-5"), "annual-fee"),
    (("token", "create", "ghost@example.com"), "no user"),
    (("token", "revoke", "abc"), "token_id"),
    (("nosuchcommand",), "No such command"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, needle):
    r = run(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_help_everywhere(run):
    for args in (("--help",), ("org", "--help"), ("user", "create", "--help"), ("db", "--help")):
        r = run(*args)
        assert r.returncode == 0 and "Usage" in r.stdout


def test_db_upgrade_and_check(run):
    assert run("db", "upgrade").returncode == 0
    r = run("db", "check")
    assert r.returncode == 0 and "agree" in r.stdout


def test_demo_load_is_idempotent_with_if_empty(run):
    r = run("demo", "load", "--if-empty")
    assert r.returncode == 0 and "demo loaded" in r.stdout
    r = run("demo", "load", "--if-empty")
    assert r.returncode == 0 and "not loaded" in r.stdout
    users = json.loads(run("user", "list", "--json").stdout)
    assert {u["role"] for u in users} == {"admin", "agent", "senior_engineer", "account_manager", "customer"}


def test_worker_process_runs_queued_jobs(run, tmp_path):
    """`imdesk worker` consumes the SQLite queue that `serve` (here: this test) writes to."""
    import signal
    import time

    from imdesk.accounts import jobs as account_jobs
    from imdesk.core import jobs
    from imdesk.core.db import make_engine, make_session_factory
    from imdesk.core.settings import Settings

    assert run("db", "upgrade").returncode == 0
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    engine = make_engine(settings.database_url)
    jobs.init_jobs(settings, make_session_factory(engine))
    result = account_jobs.prune_login_attempts.enqueue()
    env = {**os.environ, "IMDESK_DATABASE_URL": settings.database_url, "IMDESK_DATA_DIR": str(tmp_path),
           "IMDESK_CONFIG_FILE": str(tmp_path / "none.toml")}
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "imdesk.cli", "worker", "--workers", "1"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        assert result.get(blocking=True, timeout=60) == 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        engine.dispose()
        log.close()
        time.sleep(0.1)
