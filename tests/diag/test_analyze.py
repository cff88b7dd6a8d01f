import json

import pytest

from imdesk.diag.analyze import AnalyzeOptions, analyze
from imdesk.diag.crosscheck import check_configs, parse_config
from imdesk.diag.report import render, to_html, to_markdown
from imdesk.diag.rules import load_rules
from imdesk.profiles import load_profile

try:
    from tests.diag.bundlegen import EXPECTED, SECRET_A, SECRET_B, START, config_text, make_bundle, make_tarball
except ImportError:  # pragma: no cover - tests/diag on sys.path
    from bundlegen import EXPECTED, SECRET_A, SECRET_B, START, config_text, make_bundle, make_tarball

FINDING_KEYS = {"rule_id", "title", "severity", "code", "root_cause", "fix", "config_keys", "count", "first_seen",
                "last_seen", "evidence", "kb"}


@pytest.mark.parametrize("scenario", [s for s in EXPECTED if s != "healthy"])
def test_the_real_cause_ranks_first(tmp_path, scenario):
    root = make_bundle(tmp_path / scenario, scenario, minutes=40, per_minute=30, seed=11)
    report = analyze([str(root)])
    top = report["findings"][0]
    assert top["rule_id"] == EXPECTED[scenario], [f["rule_id"] for f in report["findings"][:4]]
    assert top["severity"] in ("critical", "error", "warning")
    assert set(top) >= FINDING_KEYS
    assert top["evidence"] and all(":" in e for e in top["evidence"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_healthy_bundle_has_no_error_or_critical_finding(tmp_path, seed):
    root = make_bundle(tmp_path / "h", "healthy", minutes=60, per_minute=40, seed=seed)
    report = analyze([str(root)])
    assert not [f["rule_id"] for f in report["findings"] if f["severity"] in ("critical", "error")]
    # the informational codes are there, in the thousands, and stay info
    dup = next(f for f in report["findings"] if f["rule_id"] == "IM-3003-DEVICE-TOKEN")
    assert dup["count"] > 1000 and dup["severity"] == "info"


def test_a_burst_of_a_critical_error_outranks_thousands_of_informational_ones(tmp_path):
    root = make_bundle(tmp_path / "b", "push_auth", minutes=40, per_minute=30, seed=5)
    report = analyze([str(root)])
    ids = [f["rule_id"] for f in report["findings"]]
    info = next(f for f in report["findings"] if f["rule_id"] == "IM-3003-DEVICE-TOKEN")
    first = report["findings"][0]
    assert first["count"] < info["count"] and ids.index("IM-3001-PUSH-AUTH") < ids.index("IM-3003-DEVICE-TOKEN")


def test_symptoms_say_what_explains_them(tmp_path):
    root = make_bundle(tmp_path / "b", "db_unreachable", minutes=40, per_minute=30, seed=2)
    report = analyze([str(root)])
    by = {f["rule_id"]: f for f in report["findings"]}
    assert by["IM-5003-DB-POOL-TIMEOUT"]["explained_by"] == "IM-5001-DB-UNREACHABLE"
    assert "10.0.3.5:3306" in by["RAW-CONNECTION-REFUSED"]["root_cause"]
    assert report["timeline"]["series"] and report["spikes"]
    assert any(s["template"].startswith("database unreachable") for s in report["spikes"])


def test_tarball_fast_path_and_full_path_agree(tmp_path):
    root = make_bundle(tmp_path / "b", "pool_too_small", minutes=40, per_minute=30, seed=4)
    tgz = make_tarball(root, tmp_path / "b.tar.gz")
    fast = analyze([str(tgz)])
    slow = analyze([str(tgz)], AnalyzeOptions(fast_path=False))
    assert fast["stats"]["fast_path_files"] > 0 and slow["stats"]["fast_path_files"] == 0
    assert [(f["rule_id"], f["count"]) for f in fast["findings"]] == [(f["rule_id"], f["count"]) for f in slow["findings"]]
    assert fast["stats"]["records"] == slow["stats"]["records"]
    assert fast["findings"][0]["config_keys"] == ["storage.database.pool_size", "server.workers"]
    assert any(e.endswith("im_config.yaml:23") for e in fast["findings"][0]["evidence"])


def test_time_window(tmp_path):
    root = make_bundle(tmp_path / "b", "db_unreachable", minutes=60, per_minute=20, seed=3)
    before_outage = (START.timestamp() - 8 * 3600, START.timestamp() - 8 * 3600 + 30 * 60)  # naive START is UTC+8
    for fast in (True, False):
        rep = analyze([str(root)], AnalyzeOptions(since=before_outage[0], until=before_outage[1], fast_path=fast))
        assert "IM-5001-DB-UNREACHABLE" not in {f["rule_id"] for f in rep["findings"]}
        assert rep["stats"]["skipped_outside_window"] > 0
    rep = analyze([str(root)], AnalyzeOptions(since=before_outage[1]))
    assert rep["findings"][0]["rule_id"] == "IM-5001-DB-UNREACHABLE"


def test_baseline_reports_new_templates(tmp_path):
    healthy = make_bundle(tmp_path / "h", "healthy", minutes=30, per_minute=30, seed=8)
    base = tmp_path / "base.json"
    analyze([str(healthy)], AnalyzeOptions(save_baseline=str(base)))
    json.loads(base.read_text())
    sick = make_bundle(tmp_path / "s", "disk_full", minutes=30, per_minute=30, seed=8)
    rep = analyze([str(sick)], AnalyzeOptions(baseline=str(base)))
    new = [t["template"] for t in rep["new_templates"]]
    assert any("no space left on device" in t for t in new)
    assert not any(t.startswith("token expired") for t in new)


def test_secrets_are_compared_never_shown(tmp_path):
    root = make_bundle(tmp_path / "b", "jwt_differs", minutes=30, per_minute=20, seed=1)
    rep = analyze([str(root)])
    for fmt in ("json", "markdown", "html", "text"):
        out = render(rep, fmt)
        assert SECRET_A not in out and SECRET_B not in out
        assert "Passw0rd" not in out
    assert "im-node-1" in rep["findings"][0]["root_cause"] and "im-node-2" in rep["findings"][0]["root_cause"]


def test_config_rules_directly():
    rs = load_rules(load_profile("im_server"))
    a = parse_config(config_text("a", pool_size=4, workers=8, election="2s", message_ttl="1h", group="g1"),
                     name="a/im_config.yaml", node="")
    b = parse_config(config_text("b", group="g2"), name="b/im_config.yaml", node="")
    out = {f.rule.id: f for f in check_configs(rs, [a, b], {})}
    assert set(out) == {"CFG-POOL-BELOW-WORKERS", "CFG-ELECTION-TIMEOUT", "CFG-TTL-BELOW-RETRY", "CFG-CONSUMER-GROUP-DIFFERS"}
    assert out["CFG-POOL-BELOW-WORKERS"].severity == "warning"  # latent: no pool timeouts in the logs
    assert out["CFG-POOL-BELOW-WORKERS"].nodes == ["a"]
    assert "'g1' on [a]" in out["CFG-CONSUMER-GROUP-DIFFERS"].root_cause
    bad = parse_config("server: [unclosed", name="x", node="x")
    assert bad.error and check_configs(rs, [bad], {}) == []


def test_reports_render_for_tickets(tmp_path):
    root = make_bundle(tmp_path / "b", "disk_full", minutes=20, per_minute=20, seed=1)
    rep = analyze([str(root)])
    md = to_markdown(rep, lang="zh")
    assert "文件存储已满" in md and "ERR_IM_5201" in md
    html = to_html(rep)
    assert "<section" in html and "<script" not in html
    rep["findings"][0]["root_cause"] = "<script>alert(1)</script>"
    assert "<script>" not in to_html(rep)


def test_what_a_ticket_gets(tmp_path):
    from imdesk.diag.analyze import analyze_for_ticket

    root = make_bundle(tmp_path / "b", "redis_unreachable", minutes=20, per_minute=20, seed=2)
    out = analyze_for_ticket([str(make_tarball(root, tmp_path / "b.tgz"))])
    assert out["headline"] == "CRITICAL ERR_IM_5002 Redis 不可达"
    assert "Redis" in out["markdown"] and out["html"].startswith("<section")
    assert out["report"]["findings"][0]["rule_id"] == "IM-5002-REDIS-UNREACHABLE"


def test_a_cause_explains_only_what_happens_around_it(tmp_path):
    """Pool timeouts hours after a short database outage are not its consequence."""
    log = tmp_path / "n1" / "logs"
    log.mkdir(parents=True)
    lines = [f"2026-03-15 10:00:{s:02d}.000 ERROR [storage] ERR_IM_5001 database unreachable" for s in range(10)]
    lines += [f"2026-03-15 16:{m:02d}:00.000 ERROR [storage] ERR_IM_5003 database pool timeout" for m in range(10)]
    lines += [f"2026-03-15 16:{m:02d}:30.000 ERROR [storage] ERR_IM_5003 database pool timeout" for m in range(10)]
    (log / "2026-03-15.log").write_text("\n".join(sorted(lines)) + "\n")
    by = {f["rule_id"]: f for f in analyze([str(tmp_path)])["findings"]}
    assert by["IM-5003-DB-POOL-TIMEOUT"]["explained_by"] is None
    lines += [f"2026-03-15 10:00:{s:02d}.500 ERROR [storage] ERR_IM_5003 database pool timeout" for s in range(10)]
    (log / "2026-03-15.log").write_text("\n".join(sorted(lines)) + "\n")
    by = {f["rule_id"]: f for f in analyze([str(tmp_path)])["findings"]}
    assert by["IM-5003-DB-POOL-TIMEOUT"]["explained_by"] == "IM-5001-DB-UNREACHABLE"


def test_template_rules_match_mined_templates(tmp_path):
    root = make_bundle(tmp_path / "b", "pool_too_small", minutes=40, per_minute=30, seed=4)
    by = {f["rule_id"]: f for f in analyze([str(root)])["findings"]}
    slow = by["TPL-SLOW-REQUESTS"]
    assert slow["count"] > 300 and slow["severity"] == "warning" and slow["evidence"]
    assert slow["explained_by"] in ("IM-5003-DB-POOL-TIMEOUT", "CFG-POOL-BELOW-WORKERS")
    healthy = make_bundle(tmp_path / "h", "healthy", minutes=40, per_minute=30, seed=4)
    by = {f["rule_id"]: f for f in analyze([str(healthy)])["findings"]}
    assert by["TPL-SLOW-REQUESTS"]["severity"] == "info"


def test_connections_near_the_limit_warn_before_they_are_rejected(tmp_path):
    d = tmp_path / "n1"
    (d / "logs").mkdir(parents=True)
    (d / "im_config.yaml").write_text(config_text("n1", max_concurrent=10000))
    (d / "logs" / "2026-03-15.log").write_text(
        "2026-03-15 10:00:00.000 INFO [gateway] - stats conns=8000 qps=10\n"
        "2026-03-15 10:01:00.000 INFO [gateway] - stats conns=9400 qps=10\n")
    f = analyze([str(tmp_path)])["findings"][0]
    assert (f["rule_id"], f["severity"]) == ("CFG-MAX-CONCURRENT-NEAR", "warning")
    assert "9400" in f["root_cause"] and f["config_keys"] == ["server.max_concurrent"]


def test_log_utc_in_a_node_config_shifts_its_timestamps(tmp_path):
    for node, utc in (("a", False), ("b", True)):
        d = tmp_path / node
        (d / "logs").mkdir(parents=True)
        (d / "im_config.yaml").write_text(config_text(node) + f"  utc: {'true' if utc else 'false'}\n")
        (d / "logs" / "2026-03-15.log").write_text("2026-03-15 10:00:00.000 ERROR [storage] ERR_IM_5001 db down\n")
    f = analyze([str(tmp_path)])["findings"][0]
    assert f["first_seen"] == "2026-03-15T10:00:00.000+08:00"  # node a, local time
    assert f["last_seen"] == "2026-03-15T18:00:00.000+08:00"  # node b wrote UTC


@pytest.mark.parametrize("scenario", ["db_unreachable", "pool_too_small", "internal_error", "healthy"])
def test_json_mode_logs_fast_and_full_path_agree(tmp_path, scenario):
    root = make_bundle(tmp_path / "b", scenario, minutes=30, per_minute=30, seed=6, json_logs=True)
    fast = analyze([str(root)])
    slow = analyze([str(root)], AnalyzeOptions(fast_path=False))
    assert fast["stats"]["fast_path_files"] == 4 and slow["stats"]["fast_path_files"] == 0
    assert [(f["rule_id"], f["count"]) for f in fast["findings"]] == [(f["rule_id"], f["count"]) for f in slow["findings"]]
    assert fast["stats"]["records"] == slow["stats"]["records"]
    if EXPECTED[scenario]:
        assert fast["findings"][0]["rule_id"] == EXPECTED[scenario]
    else:
        assert not [f for f in fast["findings"] if f["severity"] in ("critical", "error")]


def test_fast_path_follows_the_files_own_time_layout(tmp_path):
    """Timestamps without milliseconds put the level elsewhere: still found, fast or not."""
    d = tmp_path / "n1" / "logs"
    d.mkdir(parents=True)
    lines = [f"2026-03-15 10:{m:02d}:00 INFO [msg] - delivered n={m}" for m in range(40)]
    lines += [f"2026-03-15 10:{m:02d}:30 ERROR [storage] ERR_IM_5001 database unreachable" for m in range(20, 30)]
    (d / "2026-03-15.log").write_text("\n".join(sorted(lines)) + "\n")
    fast = analyze([str(tmp_path)])
    slow = analyze([str(tmp_path)], AnalyzeOptions(fast_path=False))
    assert fast["stats"]["fast_path_files"] == 1
    assert fast["findings"][0]["count"] == slow["findings"][0]["count"] == 10
    assert fast["stats"]["levels"] == slow["stats"]["levels"] == {"INFO": 40, "ERROR": 10}
