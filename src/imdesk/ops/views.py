"""HTML pages of the self-service diagnostics tools (portal and workspace)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from markupsafe import Markup

from imdesk.accounts.services import Actor
from imdesk.core.errors import ImdeskError
from imdesk.ops import services
from imdesk.web.deps import is_htmx_partial, require_actor
from imdesk.web.templating import register_nav, render, request_locale

router = APIRouter(include_in_schema=False)

register_nav("Diagnostics tools", "/tools", audience="all", order=60)


def _int_or_none(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return -1  # refused with a clear message by the service


def _environments(request: Request) -> dict:
    return services.config_environments(lang="zh" if request_locale(request) == "zh_CN" else "en")


def _page(request: Request, partial: str, ctx: dict, status: int = 200) -> Response:
    if is_htmx_partial(request):
        return render(request, partial, ctx, status_code=status)
    return render(request, "ops/tools.html", {"result_template": partial, "environments": _environments(request),
                                              **ctx}, status_code=status)


@router.get("/tools")
def tools(request: Request, actor: Actor = Depends(require_actor)) -> Response:
    return render(request, "ops/tools.html", {"result_template": None, "environments": _environments(request)})


@router.post("/tools/config-check")
async def tools_config_check(request: Request, file: UploadFile | None = File(None), content: str = Form(""),
                             cpu_count: str = Form(""), open_file_limit: str = Form(""),
                             environment: str = Form(""),
                             actor: Actor = Depends(require_actor)) -> Response:
    try:
        if file is not None and file.filename:
            data = await file.read(services.MAX_CONFIG_BYTES + 1)
            name = file.filename
        else:
            data, name = content.encode("utf-8"), "im_config.yaml"
        result = services.check_config(data, filename=name, cpu_count=_int_or_none(cpu_count),
                                       open_file_limit=_int_or_none(open_file_limit),
                                       environment=environment.strip() or None)
    except ImdeskError as exc:
        return _page(request, "ops/_error.html", {"error": exc.detail}, status=exc.status)
    return _page(request, "ops/_config_result.html", {"result": result, "zh": request_locale(request) == "zh_CN"})


@router.post("/tools/version-check")
def tools_version_check(request: Request, sdk: str = Form(""), server: str = Form(""),
                        actor: Actor = Depends(require_actor)) -> Response:
    try:
        verdict = services.check_version(sdk.strip(), server.strip())
    except ImdeskError as exc:
        return _page(request, "ops/_error.html", {"error": exc.detail}, status=exc.status)
    return _page(request, "ops/_version_result.html", {"v": verdict, "zh": request_locale(request) == "zh_CN"})


@router.post("/tools/log-analysis")
def tools_log_analysis(request: Request, file: UploadFile = File(...), actor: Actor = Depends(require_actor)) -> Response:
    lang = "zh" if request_locale(request) == "zh_CN" else "en"
    try:
        result = services.analyze_upload(file.file, filename=file.filename or "upload.log", lang=lang)
    except ImdeskError as exc:
        return _page(request, "ops/_error.html", {"error": exc.detail}, status=exc.status)
    # to_html escapes every value it renders (diag.report), so it is safe to embed.
    return _page(request, "ops/_analysis_result.html", {"headline": result["headline"],
                                                          "report_html": Markup(result["html"])})
