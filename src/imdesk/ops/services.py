"""Self-service diagnostics on the server side: thin, validated wrappers around the ``diag``
library for uploads from the portal and the API. Nothing here touches the database.

The network check is deliberately *not* offered online: run from the imdesk server it would test
the wrong network path (and let any user make the server connect anywhere). Customers run
``imdesk net check`` on their own machine instead.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import Any

from imdesk.core.errors import BadInput
from imdesk.diag.config_check import Facts, check_text, decode_config, environments
from imdesk.diag.readers import Limits
from imdesk.diag.version import check_versions
from imdesk.ops.errors import ToolInputInvalid, ToolInputTooLarge
from imdesk.profiles import ProfileError, load_profile

MAX_CONFIG_BYTES = 1 << 20
MAX_LOG_UPLOAD_BYTES = 50 << 20
# Online analysis is capped harder than the CLI: a portal upload must not tie up the server.
ONLINE_LIMITS = Limits(max_entries=5_000, max_total_bytes=512 << 20, max_depth=3)


def _profile(name: str | None):
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise ToolInputInvalid(str(exc)) from None


def config_environments(profile: str | None = None, *, lang: str = "en") -> dict[str, Any]:
    """``{"default", "choices": [(name, label), ...]}`` for the environment choice of the form."""
    try:
        envs = environments(_profile(profile))
    except BadInput as exc:
        raise ToolInputInvalid(exc.detail) from None
    return {"default": envs.default, "choices": [(name, envs.label(name, lang)) for name in envs.names]}


def check_config(content: bytes, *, filename: str = "im_config.yaml", profile: str | None = None,
                 cpu_count: int | None = None, open_file_limit: int | None = None,
                 environment: str | None = None) -> dict[str, Any]:
    """Findings for an uploaded ``im_config.yaml``. Facts of the customer's machine (cores,
    open-file limit) are what the customer tells us; the imdesk server's own are irrelevant.
    ``environment`` (production, staging, development; default production) is what the customer's
    server is for; the result names the one used."""
    if not content:
        raise ToolInputInvalid("the config file is empty")
    if len(content) > MAX_CONFIG_BYTES:
        raise ToolInputTooLarge(f"config files are limited to {MAX_CONFIG_BYTES // 1024} KB")
    facts = Facts()
    if cpu_count is not None:
        if not 1 <= cpu_count <= 4096:
            raise ToolInputInvalid("CPU cores must be between 1 and 4096")
        facts.values["cpu_count"] = cpu_count
    if open_file_limit is not None:
        if not 1 <= open_file_limit <= 1 << 31:
            raise ToolInputInvalid("the open-file limit must be a positive number")
        facts.values["open_file_limit"] = open_file_limit
    name = Path(filename or "im_config.yaml").name[:200] or "im_config.yaml"
    prof = _profile(profile)
    try:
        env = environments(prof).resolve(environment)
        text = decode_config(content, name)
        report = check_text(text, profile=prof, facts=facts, path=name, environment=env)
    except BadInput as exc:
        raise ToolInputInvalid(exc.detail) from None
    out = report.to_dict()
    out["environment_label"] = environments(prof).label(env, "en")
    out["environment_label_zh"] = environments(prof).label(env, "zh")
    out["worst"] = report.worst
    out["exit_code"] = report.exit_code()
    return out


def check_version(sdk: str, server: str, *, profile: str | None = None) -> dict[str, Any]:
    if not sdk or not server or len(sdk) > 100 or len(server) > 100:
        raise ToolInputInvalid("give the SDK as LANG:VERSION (e.g. java:4.3.0) and the server version (e.g. 4.2.1)")
    try:
        return check_versions(sdk, server, profile=_profile(profile)).to_dict()
    except BadInput as exc:
        raise ToolInputInvalid(exc.detail) from None


def analyze_upload(stream, *, filename: str, lang: str = "zh", profile: str | None = None,
                   max_bytes: int = MAX_LOG_UPLOAD_BYTES) -> dict[str, Any]:
    """Analyse an uploaded log file or bundle (read from ``stream`` in chunks, never all in memory).
    Returns ``analyze_for_ticket``'s dict: report, markdown, html, headline."""
    from imdesk.diag.analyze import AnalyzeOptions, analyze_for_ticket

    safe_name = Path(filename or "upload.log").name[:200] or "upload.log"
    if safe_name in (".", ".."):
        safe_name = "upload.log"
    with tempfile.TemporaryDirectory(prefix="imdesk-analyze-") as tmp:
        target = Path(tmp) / safe_name
        size = 0
        with target.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise ToolInputTooLarge(f"uploads for online analysis are limited to {max_bytes >> 20} MB; "
                                            "attach larger bundles to a ticket or run `imdesk diag analyze` locally")
                out.write(chunk)
        if size == 0:
            raise ToolInputInvalid("the uploaded file is empty")
        opts = AnalyzeOptions(profile=_profile(profile).name, limits=ONLINE_LIMITS)
        try:
            result = analyze_for_ticket([str(target)], lang="zh" if lang.startswith("zh") else "en", opts=opts)
        except BadInput as exc:
            raise ToolInputInvalid(exc.detail.replace(tmp + "/", "")) from None
        return _without_prefix(result, tmp + "/")


def _without_prefix(result: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Evidence names the uploaded file, never the server's temporary folder."""
    report = json.loads(json.dumps(result["report"], ensure_ascii=False).replace(json.dumps(prefix)[1:-1], ""))
    return {**result, "report": report, "markdown": result["markdown"].replace(prefix, ""),
            "html": result["html"].replace(html.escape(prefix), "").replace(prefix, "")}
