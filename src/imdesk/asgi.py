"""ASGI entry point for ``imdesk serve`` / any ASGI server: ``uvicorn imdesk.asgi:app``.
Builds the app from IMDESK_* settings; runs an in-process job consumer in the embedded default."""

from __future__ import annotations

from imdesk.app import create_app
from imdesk.core.settings import load_settings
from imdesk.runtime import import_job_modules

settings = load_settings()
import_job_modules()
app = create_app(settings, start_jobs=settings.run_consumer)
