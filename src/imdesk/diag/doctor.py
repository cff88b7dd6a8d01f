"""``imdesk diag doctor``: the five troubleshooting steps in one report to attach to a ticket.

1. **Reproduction** — steps, parameters and the error as the operator saw it (an ``ERR_IM_`` code
   in the error is looked up in the profile's error catalogue);
2. **Logs around the incident** — the log-analysis engine over ``--at ± --window``;
3. **Network** — the net check of the server's URL (given, or derived from the config);
4. **Config** — health check and key-by-key diff against the official example;
5. **Versions** — SDK against server (``im_server --version`` when ``--server`` is not given).

Each step reports ``ok``, ``problem`` or ``skipped`` (with the reason). The report is Markdown
(English or Chinese) plus JSON; everything written goes through the redactor, so a secret pasted
into the error text does not leave the machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from imdesk import __version__
from imdesk.core.errors import BadInput
from imdesk.profiles import Profile, ProfileError, load_profile

_CODE_RE = re.compile(r"ERR_IM_\d{4}")


@dataclass
class DoctorInput:
    steps: str = ""
    params: str = ""
    error: str = ""
    at: datetime | None = None
    window: timedelta = timedelta(minutes=30)
    log_dir: Path | None = None
    config: Path | None = None
    url: str | None = None
    token: str | None = None
    sdk: str | None = None
    server: str | None = None
    net_timeout: float = 5.0
    environment: str | None = None  # production (default), staging, development: see config_rules.yaml


def _step(n: int, name: str, status: str, summary: str, summary_zh: str, **details: Any) -> dict[str, Any]:
    return {"step": n, "name": name, "status": status, "summary": summary, "summary_zh": summary_zh,
            "details": details}


def _catalogue(profile: Profile) -> dict[str, dict[str, Any]]:
    try:
        data = profile.data("error_codes")
    except ProfileError:
        return {}
    return {str(c.get("code")): c for c in (data or {}).get("codes", []) if isinstance(c, dict)}


def step_reproduction(inp: DoctorInput, profile: Profile) -> dict[str, Any]:
    codes = sorted(set(_CODE_RE.findall(f"{inp.error} {inp.steps} {inp.params}")))
    cat = _catalogue(profile)
    known = []
    for code in codes:
        entry = cat.get(code)
        if entry:
            known.append({"code": code, "title": entry.get("title"), "fix": entry.get("fix"),
                          "config_keys": entry.get("config_keys", [])})
    captured = bool(inp.steps or inp.error)
    status = "ok" if captured else "skipped"
    summary = ("Reproduction captured" if captured else "No reproduction given (--steps/--error)")
    summary_zh = ("已记录复现步骤" if captured else "未提供复现信息（--steps/--error）")
    if known:
        summary += f"; error code(s) {', '.join(codes)} recognised"
        summary_zh += f"；识别到错误码 {', '.join(codes)}"
    return _step(1, "reproduction", status, summary, summary_zh, steps=inp.steps, params=inp.params,
                 error=inp.error, incident_at=inp.at.isoformat() if inp.at else None, codes=known)


def step_logs(inp: DoctorInput, profile: Profile, at: datetime) -> dict[str, Any]:
    log_dir = inp.log_dir
    if log_dir is None or not log_dir.is_dir():
        return _step(2, "logs", "skipped", f"No log folder ({log_dir or 'not given'})",
                     f"没有日志目录（{log_dir or '未指定'}）")
    since, until = at - inp.window, at + inp.window
    try:
        from imdesk.diag.analyze import AnalyzeOptions, analyze

        report = analyze([str(log_dir)], AnalyzeOptions(profile=profile.name, since=since.timestamp(),
                                                        until=until.timestamp()))
    except BadInput as exc:
        return _step(2, "logs", "skipped", f"Logs unreadable: {exc.detail}", f"日志无法读取：{exc.detail}")
    findings = report.get("findings", [])
    top = [{k: f.get(k) for k in ("rule_id", "title", "severity", "code", "count", "first_seen", "last_seen",
                                  "root_cause", "fix", "config_keys")} for f in findings[:5]]
    serious = [f for f in findings if f.get("severity") in ("critical", "error")]
    records = report.get("stats", {}).get("records", 0)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    if serious:
        title = serious[0].get("title")
        title_en = title.get("en") if isinstance(title, dict) else title
        title_zh = title.get("zh") if isinstance(title, dict) else title
        return _step(2, "logs", "problem", f"{len(findings)} finding(s) in {records} records; first: {title_en}",
                     f"在 {records} 条记录中发现 {len(findings)} 个问题；首要：{title_zh}", window=window, findings=top)
    return _step(2, "logs", "ok", f"No error findings in {records} records around the incident",
                 f"故障时间附近的 {records} 条记录中没有错误级问题", window=window, findings=top)


def _server_url(config_values: dict[str, Any]) -> str | None:
    from imdesk.diag.bundle import endpoints

    for ep in endpoints(config_values):
        if ep["name"] == "server":
            return ep["url"]
    return None


def step_network(inp: DoctorInput, config_values: dict[str, Any]) -> dict[str, Any]:
    from imdesk.diag.netcheck import check_url

    url = inp.url or (_server_url(config_values) if config_values else None)
    if not url:
        return _step(3, "network", "skipped", "No URL (--url) and no config to derive it from",
                     "没有 URL（--url），也没有可推导的配置")
    result = check_url(url, token=inp.token, timeout=inp.net_timeout)
    d = result.to_dict()
    if result.ok:
        t = result.timings_ms
        return _step(3, "network", "ok", f"{url} answered {result.http['status']} in {t['total']} ms",
                     f"{url} 在 {t['total']} 毫秒内返回 {result.http['status']}", result=d)
    return _step(3, "network", "problem", f"{url} failed at {result.phase}: {result.error}",
                 f"{url} 在 {result.phase} 阶段失败：{result.error}", result=d)


def step_config(inp: DoctorInput, profile: Profile) -> dict[str, Any]:
    from imdesk.diag.config_check import SEVERITY_RANK, check_file, environments
    from imdesk.diag.config_diff import diff_files

    cfg = inp.config
    if cfg is None or not cfg.is_file():
        return _step(4, "config", "skipped", f"No config file ({cfg or 'not given'})", f"没有配置文件（{cfg or '未指定'}）")
    report = check_file(cfg, profile=profile, environment=inp.environment)
    envs = environments(profile)
    env_en, env_zh = envs.label(report.environment, "en"), envs.label(report.environment, "zh")
    diff = diff_files(cfg, profile=profile)
    worse = [f.to_dict() for f in report.findings if SEVERITY_RANK[f.severity] <= SEVERITY_RANK["warning"]]
    diffs = [{"key": e.key, "file": e.left, "example": e.right} for e in diff.differences]
    details = {"environment": report.environment, "findings": worse,
               "info": sum(1 for f in report.findings if f.severity == "info"),
               "differences_from_example": diffs, "unknown_keys": diff.unknown_left}
    if worse:
        return _step(4, "config", "problem", f"{len(worse)} finding(s) of severity warning or worse for {env_en}; "
                                             f"{len(diffs)} key(s) differ from the official example",
                     f"按{env_zh}判断有 {len(worse)} 个警告及以上的问题；{len(diffs)} 个键与官方示例不同", **details)
    return _step(4, "config", "ok", f"No finding of severity warning or worse for {env_en}; {len(diffs)} key(s) "
                                    f"differ from the official example",
                 f"按{env_zh}判断没有警告及以上的问题；{len(diffs)} 个键与官方示例不同", **details)


def step_versions(inp: DoctorInput, profile: Profile) -> dict[str, Any]:
    from imdesk.diag.sysfacts import server_version
    from imdesk.diag.version import check_versions

    server = inp.server or server_version(profile)
    if not inp.sdk or not server:
        missing = " and ".join(x for x, v in (("--sdk", inp.sdk), ("--server", server)) if not v)
        return _step(5, "versions", "skipped", f"Not checked: {missing} not given", f"未检查：缺少 {missing}",
                     server=server)
    verdict = check_versions(inp.sdk, server, profile=profile)
    status = "ok" if verdict.status == "compatible" else "problem"
    return _step(5, "versions", status, f"{verdict.status}: {verdict.reason}", f"{verdict.status}：{verdict.reason_zh}",
                 verdict=verdict.to_dict())


def run_doctor(inp: DoctorInput, *, profile: Profile | None = None, now: datetime | None = None) -> dict[str, Any]:
    profile = profile or load_profile()
    now = now or datetime.now(UTC)
    at = inp.at or now
    config_values: dict[str, Any] = {}
    if inp.config is not None and inp.config.is_file():
        from imdesk.diag.bundle import _config_values

        config_values = _config_values(inp.config, profile)
        if inp.log_dir is None and isinstance(config_values.get("log.dir"), str):
            inp.log_dir = Path(config_values["log.dir"])
    steps = [
        step_reproduction(inp, profile),
        step_logs(inp, profile, at),
        step_network(inp, config_values),
        step_config(inp, profile),
        step_versions(inp, profile),
    ]
    return {
        "tool": f"imdesk {__version__} diag doctor",
        "profile": profile.name,
        "created_at": now.isoformat(),
        "incident_at": at.isoformat(),
        "window": str(inp.window),
        "steps": steps,
        "problems": [s["step"] for s in steps if s["status"] == "problem"],
    }


_HEAD = {
    "en": {"title": "imdesk doctor report", "reproduction": "1. Reproduction", "logs": "2. Logs around the incident",
           "network": "3. Network", "config": "4. Config", "versions": "5. Versions", "ok": "OK",
           "problem": "PROBLEM", "skipped": "skipped", "next": "Next steps"},
    "zh": {"title": "imdesk 诊断报告", "reproduction": "1. 复现信息", "logs": "2. 故障时间附近的日志",
           "network": "3. 网络", "config": "4. 配置", "versions": "5. 版本", "ok": "正常",
           "problem": "有问题", "skipped": "已跳过", "next": "后续建议"},
}


def _t(value: Any, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or "")
    if isinstance(value, list):
        return "; ".join(_t(v, lang) for v in value)
    return "" if value is None else str(value)


def render_markdown(report: dict[str, Any], lang: str = "en") -> str:
    lang = "zh" if lang.startswith("zh") else "en"
    h = _HEAD[lang]
    out = [f"# {h['title']}", "", f"- profile: {report['profile']}", f"- created: {report['created_at']}",
           f"- incident: {report['incident_at']} (± {report['window']})", ""]
    for s in report["steps"]:
        out.append(f"## {h[s['name']]} — {h[s['status']]}")
        out.append("")
        out.append(s["summary_zh"] if lang == "zh" else s["summary"])
        out.append("")
        d = s["details"]
        if s["name"] == "reproduction":
            for label, key in (("steps", "steps"), ("parameters", "params"), ("error", "error")):
                if d.get(key):
                    out += [f"**{label}**", "", "```", d[key], "```", ""]
            for c in d.get("codes", []):
                out.append(f"- `{c['code']}` {_t(c['title'], lang)} — {_t(c['fix'], lang)}")
        elif s["name"] == "logs":
            for f in d.get("findings", []):
                out.append(f"- **{f.get('severity')}** `{f.get('code') or f.get('rule_id')}` {_t(f.get('title'), lang)}"
                           f" ×{f.get('count')} ({f.get('first_seen')} … {f.get('last_seen')})")
                if f.get("root_cause"):
                    out.append(f"  - {_t(f['root_cause'], lang)}")
                if f.get("fix"):
                    out.append(f"  - fix: {_t(f['fix'], lang)}")
        elif s["name"] == "network" and d.get("result"):
            r = d["result"]
            out.append("| phase | ms |\n|---|---|")
            out += [f"| {k} | {v if v is not None else '-'} |" for k, v in r["timings_ms"].items()]
            out.append("")
            for c in (r.get("causes_zh") if lang == "zh" else r.get("causes")) or []:
                out.append(f"- {c}")
        elif s["name"] == "config":
            for f in d.get("findings", []):
                msg = f["message_zh"] if lang == "zh" and f.get("message_zh") else f["message"]
                fix = f["fix_zh"] if lang == "zh" and f.get("fix_zh") else f["fix"]
                out.append(f"- **{f['severity']}** `{f['rule_id']}` line {f['line']}: {msg} — {fix}")
            if d.get("differences_from_example"):
                out.append("")
                out.append("| key | this file | official example |\n|---|---|---|")
                out += [f"| {e['key']} | {e['file']} | {e['example']} |" for e in d["differences_from_example"]]
        elif s["name"] == "versions" and d.get("verdict"):
            v = d["verdict"]
            out.append(f"- {v['advice_zh'] if lang == 'zh' else v['advice']}")
        out.append("")
    out.append(f"## {h['next']}")
    out.append("")
    if report["problems"]:
        for n in report["problems"]:
            s = report["steps"][n - 1]
            out.append(f"- {h[s['name']]}: {s['summary_zh'] if lang == 'zh' else s['summary']}")
    else:
        out.append("- " + ("五个步骤均未发现问题；请附上支持包（imdesk bundle collect）以便进一步分析。" if lang == "zh"
                           else "No step found a problem; attach a support bundle (imdesk bundle collect) for a deeper look."))
    return "\n".join(out) + "\n"


def redact_report(report: dict[str, Any], text: str, profile: Profile | None = None) -> tuple[dict[str, Any], str]:
    """The report and its Markdown with secrets replaced (the operator may paste one)."""
    import json

    from imdesk.diag.redact import Redactor

    r = Redactor.for_profile(profile)
    return json.loads(r.redact_text(json.dumps(report, ensure_ascii=False, default=str))), r.redact_text(text)
