"""REST routes of the self-service diagnostics tools (any signed-in user)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile

from imdesk.accounts.services import Actor
from imdesk.ops import services
from imdesk.ops.schemas import ConfigCheckIn, VersionCheckIn
from imdesk.web.deps import require_actor

router = APIRouter(prefix="/api/v1/tools", tags=["tools"])


@router.post("/config-check")
def config_check(body: ConfigCheckIn, actor: Actor = Depends(require_actor)) -> dict[str, Any]:
    """`imdesk config check` online: `{"file", "environment", "findings": [...], "summary", "worst", "exit_code"}`."""
    return services.check_config(body.content.encode("utf-8"), filename=body.filename, profile=body.profile,
                                 cpu_count=body.cpu_count, open_file_limit=body.open_file_limit,
                                 environment=body.environment)


@router.post("/version-check")
def version_check(body: VersionCheckIn, actor: Actor = Depends(require_actor)) -> dict[str, Any]:
    """`imdesk version check` online: `{"status", "reason", "advice", ...}`."""
    return services.check_version(body.sdk, body.server, profile=body.profile)


@router.post("/log-analysis")
def log_analysis(file: UploadFile = File(...), lang: str = Query("zh", pattern="^(zh|en)$"),
                 actor: Actor = Depends(require_actor)) -> dict[str, Any]:
    """Analyse an uploaded log or bundle (≤ 50 MB): the `imdesk diag analyze --json` report plus a headline."""
    result = services.analyze_upload(file.file, filename=file.filename or "upload.log", lang=lang)
    return {"headline": result["headline"], "report": result["report"]}
