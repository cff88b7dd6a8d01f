"""Finding the optional parts of domains by name (``imdesk.<domain>.<part>``): routers, CLIs,
models, jobs, demo hooks. A domain or a part that does not exist is skipped; an import error
*inside* an existing module is raised, never hidden."""

from __future__ import annotations

import importlib
from types import ModuleType

# Every domain of the application, in mounting order (see docs/development/adding-a-domain.md).
DOMAINS = ("accounts", "desk", "channels", "kb", "diag", "ops", "web")


def import_domain_part(domain: str, part: str) -> ModuleType | None:
    name = f"imdesk.{domain}.{part}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, f"imdesk.{domain}"):
            return None
        raise


def domain_parts(part: str, domains: tuple[str, ...] = DOMAINS) -> list[ModuleType]:
    """The ``part`` modules of every domain that has one, in domain order."""
    return [m for d in domains if (m := import_domain_part(d, part)) is not None]
