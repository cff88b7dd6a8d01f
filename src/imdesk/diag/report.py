"""Rendering of an analysis report: rich text for people, JSON for machines, Markdown and HTML for
tickets. ``lang="zh"`` prefers the Chinese title and fix where the catalogue has them.

    >>> print(to_markdown(report))
    >>> render_text(report, Console())
"""

from __future__ import annotations

import html
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

SEV_STYLE = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "dim"}
SEV_ICON = {"critical": "🟥", "error": "🟧", "warning": "🟨", "info": "⬜"}

_L = {
    "en": {
        "title": "Diagnosis", "findings": "Findings", "none": "No findings.", "cause": "Root cause", "fix": "Fix",
        "keys": "Config keys", "evidence": "Evidence", "kb": "KB", "count": "count", "seen": "seen",
        "explained": "likely a consequence of", "spikes": "Spikes", "new": "New templates since the baseline",
        "problems": "Input problems", "stats": "Input", "records": "records", "files": "files", "nodes": "nodes",
        "window": "time range", "timeline": "Error rate per template",
    },
    "zh": {
        "title": "诊断报告", "findings": "发现的问题", "none": "未发现问题。", "cause": "根因", "fix": "处理建议",
        "keys": "相关配置项", "evidence": "证据", "kb": "知识库", "count": "次数", "seen": "时间",
        "explained": "可能由此引起：", "spikes": "突增", "new": "相对基线的新模板", "problems": "输入问题",
        "stats": "输入", "records": "条记录", "files": "个文件", "nodes": "节点", "window": "时间范围",
        "timeline": "各模板错误速率",
    },
}


def _t(lang: str, key: str) -> str:
    return _L.get(lang, _L["en"])[key]


def _title(f: dict[str, Any], lang: str) -> str:
    return (f.get("title_zh") if lang == "zh" else None) or f["title"]


def _fix(f: dict[str, Any], lang: str) -> str:
    return (f.get("fix_zh") if lang == "zh" else None) or f["fix"]


def _cause(f: dict[str, Any], lang: str) -> str:
    return (f.get("root_cause_zh") if lang == "zh" else None) or f["root_cause"]


def to_json(report: dict[str, Any]) -> str:
    """The JSON document: the DESIGN contract plus timeline, spikes, new templates and problems."""
    return json.dumps(report, ensure_ascii=False, indent=2)


def _seen(f: dict[str, Any]) -> str:
    a, b = f.get("first_seen"), f.get("last_seen")
    if not a:
        return "-"
    return a if a == b else f"{a} → {b}"


def render_text(report: dict[str, Any], console: Console, *, lang: str = "en", limit: int = 15) -> None:
    st = report["stats"]
    console.print(
        f"[bold]{_t(lang, 'title')}[/]  {st['files']} {_t(lang, 'files')}, {st['records']} {_t(lang, 'records')}, "
        f"{len(st['nodes'])} {_t(lang, 'nodes')}  {_t(lang, 'window')}: {st.get('first_record') or '-'} → "
        f"{st.get('last_record') or '-'}  ({st['seconds']}s)"
    )
    findings = report["findings"]
    if not findings:
        console.print(f"[green]{_t(lang, 'none')}[/]")
    for i, f in enumerate(findings[:limit], 1):
        sev = f["severity"]
        code = f" {f['code']}" if f.get("code") else ""
        console.print()
        console.print(
            f"[bold]{i}.[/] [{SEV_STYLE[sev]}] {sev.upper()} [/] [bold]{escape(_title(f, lang))}[/]{escape(code)}  "
            f"[dim]{f['rule_id']} · {_t(lang, 'count')} {f['count']} · {escape(_seen(f))}[/]"
        )
        if f.get("explained_by"):
            console.print(f"   [dim]↳ {_t(lang, 'explained')} {f['explained_by']}[/]")
        console.print(f"   [cyan]{_t(lang, 'cause')}:[/] {escape(_cause(f, lang))}")
        console.print(f"   [green]{_t(lang, 'fix')}:[/] {escape(_fix(f, lang))}")
        if f.get("config_keys"):
            console.print(f"   {_t(lang, 'keys')}: {escape(', '.join(f['config_keys']))}")
        if f.get("evidence"):
            console.print(f"   {_t(lang, 'evidence')}: {escape(', '.join(f['evidence'][:3]))}")
        if f.get("kb"):
            console.print(f"   {_t(lang, 'kb')}: {escape(', '.join(f['kb']))}")
    if len(findings) > limit:
        console.print(f"\n[dim]… {len(findings) - limit} more (use --json for all)[/]")
    if report.get("spikes"):
        table = Table(title=_t(lang, "spikes"), show_lines=False)
        for col in ("at", "count", "typical", "template"):
            table.add_column(col)
        for s in report["spikes"][:10]:
            table.add_row(s["at"], str(s["count"]), str(s["typical"]), escape(s["template"][:100]))
        console.print()
        console.print(table)
    if report.get("new_templates"):
        console.print(f"\n[bold]{_t(lang, 'new')}[/] ({len(report['new_templates'])})")
        for t in report["new_templates"][:10]:
            console.print(f"  {t['id']}  ×{t['count']}  {escape(t['template'][:120])}")
    if report.get("problems"):
        console.print(f"\n[bold yellow]{_t(lang, 'problems')}[/]")
        for p in report["problems"][:20]:
            console.print(f"  - {escape(p)}")


def to_markdown(report: dict[str, Any], *, lang: str = "en", limit: int = 15) -> str:
    st = report["stats"]
    out = [
        f"## {_t(lang, 'title')}",
        "",
        f"{st['files']} {_t(lang, 'files')}, {st['records']} {_t(lang, 'records')}, "
        f"{_t(lang, 'nodes')}: {', '.join(st['nodes']) or '-'}; {_t(lang, 'window')}: "
        f"{st.get('first_record') or '-'} → {st.get('last_record') or '-'}",
        "",
        f"### {_t(lang, 'findings')}",
        "",
    ]
    findings = report["findings"]
    if not findings:
        out.append(_t(lang, "none"))
    for i, f in enumerate(findings[:limit], 1):
        code = f" `{f['code']}`" if f.get("code") else ""
        out.append(f"{i}. {SEV_ICON[f['severity']]} **{f['severity'].upper()}** {_md(_title(f, lang))}{code} "
                   f"— {_t(lang, 'count')} {f['count']}, {_md(_seen(f))} (`{f['rule_id']}`)")
        if f.get("explained_by"):
            out.append(f"   - _{_t(lang, 'explained')} `{f['explained_by']}`_")
        out.append(f"   - **{_t(lang, 'cause')}:** {_md(_cause(f, lang))}")
        out.append(f"   - **{_t(lang, 'fix')}:** {_md(_fix(f, lang))}")
        if f.get("config_keys"):
            out.append(f"   - **{_t(lang, 'keys')}:** " + ", ".join(f"`{k}`" for k in f["config_keys"]))
        if f.get("evidence"):
            out.append(f"   - **{_t(lang, 'evidence')}:** " + ", ".join(f"`{_code(e)}`" for e in f["evidence"][:3]))
        if f.get("kb"):
            out.append(f"   - **{_t(lang, 'kb')}:** " + ", ".join(f"`{k}`" for k in f["kb"]))
    if report.get("spikes"):
        out += ["", f"### {_t(lang, 'spikes')}", "", "| at | count | typical | template |", "|---|---|---|---|"]
        for s in report["spikes"][:10]:
            out.append(f"| {s['at']} | {s['count']} | {s['typical']} | `{_code(s['template'][:100])}` |")
    if report.get("new_templates"):
        out += ["", f"### {_t(lang, 'new')}", ""]
        for t in report["new_templates"][:10]:
            out.append(f"- `{t['id']}` ×{t['count']}: `{_code(t['template'][:120])}`")
    if report.get("problems"):
        out += ["", f"### {_t(lang, 'problems')}", ""]
        out += [f"- {_md(p)}" for p in report["problems"][:20]]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def _code(text: str) -> str:
    return text.replace("`", "'")


def to_html(report: dict[str, Any], *, lang: str = "en", limit: int = 30) -> str:
    """A self-contained HTML fragment (every value escaped) to post on a ticket."""
    e = html.escape
    st = report["stats"]
    colors = {"critical": "#b00020", "error": "#d9480f", "warning": "#b08800", "info": "#666"}
    out = [
        '<section class="imdesk-diagnosis">',
        f"<h2>{e(_t(lang, 'title'))}</h2>",
        f"<p>{st['files']} {e(_t(lang, 'files'))}, {st['records']} {e(_t(lang, 'records'))}; "
        f"{e(_t(lang, 'window'))}: {e(st.get('first_record') or '-')} → {e(st.get('last_record') or '-')}</p>",
    ]
    if not report["findings"]:
        out.append(f"<p>{e(_t(lang, 'none'))}</p>")
    else:
        out.append("<ol>")
        for f in report["findings"][:limit]:
            sev = f["severity"]
            out.append(
                f'<li><strong style="color:{colors[sev]}">{e(sev.upper())}</strong> <strong>{e(_title(f, lang))}</strong>'
                f"{' <code>' + e(f['code']) + '</code>' if f.get('code') else ''} — {e(_t(lang, 'count'))} {f['count']}, "
                f"{e(_seen(f))} <small>({e(f['rule_id'])})</small><ul>"
            )
            if f.get("explained_by"):
                out.append(f"<li><em>{e(_t(lang, 'explained'))} {e(f['explained_by'])}</em></li>")
            out.append(f"<li><b>{e(_t(lang, 'cause'))}:</b> {e(_cause(f, lang))}</li>")
            out.append(f"<li><b>{e(_t(lang, 'fix'))}:</b> {e(_fix(f, lang))}</li>")
            if f.get("config_keys"):
                out.append(f"<li><b>{e(_t(lang, 'keys'))}:</b> " + ", ".join(f"<code>{e(k)}</code>" for k in f["config_keys"]) + "</li>")
            if f.get("evidence"):
                out.append(f"<li><b>{e(_t(lang, 'evidence'))}:</b> " + ", ".join(f"<code>{e(x)}</code>" for x in f["evidence"][:3]) + "</li>")
            if f.get("kb"):
                out.append(f"<li><b>{e(_t(lang, 'kb'))}:</b> " + ", ".join(f"<code>{e(k)}</code>" for k in f["kb"]) + "</li>")
            out.append("</ul></li>")
        out.append("</ol>")
    if report.get("spikes"):
        out.append(f"<h3>{e(_t(lang, 'spikes'))}</h3><table><tr><th>at</th><th>count</th><th>typical</th><th>template</th></tr>")
        for s in report["spikes"][:10]:
            out.append(f"<tr><td>{e(s['at'])}</td><td>{s['count']}</td><td>{s['typical']}</td><td><code>{e(s['template'][:100])}</code></td></tr>")
        out.append("</table>")
    if report.get("problems"):
        out.append(f"<h3>{e(_t(lang, 'problems'))}</h3><ul>" + "".join(f"<li>{e(p)}</li>" for p in report["problems"][:20]) + "</ul>")
    out.append("</section>")
    return "\n".join(out) + "\n"


def render(report: dict[str, Any], fmt: str, *, lang: str = "en") -> str:
    """``json``, ``markdown`` or ``html`` as a string (text goes through :func:`render_text`)."""
    if fmt == "json":
        return to_json(report) + "\n"
    if fmt == "markdown":
        return to_markdown(report, lang=lang)
    if fmt == "html":
        return to_html(report, lang=lang)
    console = Console(record=True, width=120, force_terminal=False)
    with console.capture():
        render_text(report, console, lang=lang)
    return console.export_text()
