"""``create_app(settings)``: builds the FastAPI application, mounts every domain's routers,
middleware and error handlers. Settings are injected, never read from a global."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from imdesk import __version__
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.db import make_engine, make_session_factory
from imdesk.core.discovery import domain_parts
from imdesk.core.errors import PROBLEM_JSON, ImdeskError, NotAuthenticated, problem
from imdesk.core.logging import configure_logging
from imdesk.core.security import Signer
from imdesk.core.settings import Settings
from imdesk.web.middleware import BodySizeLimitMiddleware, RequestContextMiddleware

log = logging.getLogger("imdesk.app")

def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/metrics"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _problem_response(status: int, body: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ImdeskError)
    async def imdesk_error(request: Request, exc: ImdeskError):
        if _wants_html(request):
            if isinstance(exc, NotAuthenticated) and request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            from imdesk.web.templating import render

            return render(request, "error.html", {"status": exc.status, "title": exc.title, "detail": exc.detail},
                          status_code=exc.status)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _problem_response(exc.status, exc.to_problem(request.url.path), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            errors.append({"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg", ""),
                           "type": err.get("type", "")})
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]) or "invalid request"
        return _problem_response(422, problem(422, "Invalid input", detail, "validation_failed", errors=errors,
                                              instance=request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if _wants_html(request):
            from imdesk.web.templating import render

            return render(request, "error.html", {"status": exc.status_code, "title": detail, "detail": detail},
                          status_code=exc.status_code)
        return _problem_response(exc.status_code, problem(exc.status_code, detail, detail, code,
                                                          instance=request.url.path), getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError):
        # The database refused a value (NUL bytes in text on PostgreSQL, numbers out of range...):
        # bad input, not a server fault. The request's session has been rolled back already.
        log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return _problem_response(422, problem(422, "Invalid input", "a value in the request cannot be stored "
                                              "(control characters such as NUL, or a number out of range)",
                                              "invalid_value", instance=request.url.path))

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError):
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return _problem_response(409, problem(409, "Conflict", "the change conflicts with data stored meanwhile; "
                                              "reload and try again", "conflict", instance=request.url.path))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # pragma: no cover - exercised by meta tests
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _problem_response(500, problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                                              "internal", instance=request.url.path))


def _mount_domains(app: FastAPI) -> None:
    for part in ("api", "views"):
        for module in domain_parts(part):
            router = getattr(module, "router", None)
            if router is not None:
                app.include_router(router)


def create_app(settings: Settings, *, session_factory: sessionmaker[Session] | None = None,
               clock: Clock | None = None, start_jobs: bool = False) -> FastAPI:
    configure_logging(json_logs=settings.log_json, level=settings.log_level)
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        consumer = None
        if start_jobs:
            from imdesk.core.jobs import start_consumer_thread

            consumer = start_consumer_thread()
        yield
        if consumer is not None:
            consumer.stop(graceful=True)

    app = FastAPI(title="imdesk", version=__version__, docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan)
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.clock = clock or SystemClock()
    app.state.signer = Signer(settings.secret_key)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)

    from imdesk.core.jobs import init_jobs

    init_jobs(settings, session_factory, clock=app.state.clock, immediate=settings.env == "test")

    app.add_middleware(BodySizeLimitMiddleware, json_limit=settings.max_json_body_bytes,
                       upload_limit=settings.max_upload_bytes)
    app.add_middleware(RequestContextMiddleware)
    _install_error_handlers(app)

    static_dir = Path(__file__).resolve().parent / "web" / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        try:
            with session_factory() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:  # database down: report, never crash
            log.warning("health check failed: %s", exc)
            return JSONResponse({"status": "fail", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _mount_domains(app)
    return app
