"""The house rules of DESIGN.md, checked on the source: core imports no domain; diag imports no
web or database code; no domain imports another domain's models; no star imports; no
logging.basicConfig at import time; services raise domain errors, never HTTPException."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "imdesk"
DOMAINS = ("accounts", "desk", "channels", "kb", "diag", "ops")
WEB_OR_DB = ("fastapi", "starlette", "sqlalchemy", "alembic", "jinja2", "uvicorn", "psycopg", "huey",
             "imdesk.web", "imdesk.core.db", "imdesk.core.jobs", "imdesk.app", "imdesk.migrations", "imdesk.cli",
             "imdesk.demo", "imdesk.runtime", "imdesk.asgi")


def _py_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_core_imports_no_domain():
    bad = [f"{p.relative_to(SRC)}:{ln} imports {name}"
           for p in _py_files(SRC / "core") for ln, name in _imports(p)
           if _matches(name, tuple(f"imdesk.{d}" for d in DOMAINS) + ("imdesk.web", "imdesk.app"))]
    assert not bad, "\n".join(bad)


def test_diag_imports_no_web_or_database_code():
    others = tuple(f"imdesk.{d}" for d in DOMAINS if d != "diag")
    bad = [f"{p.relative_to(SRC)}:{ln} imports {name}"
           for p in _py_files(SRC / "diag") for ln, name in _imports(p)
           if _matches(name, WEB_OR_DB + others)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("domain", DOMAINS)
def test_no_domain_imports_another_domains_models(domain):
    folder = SRC / domain
    if not folder.is_dir():
        pytest.skip(f"{domain} not present")
    forbidden = tuple(f"imdesk.{d}.models" for d in DOMAINS if d != domain)
    bad = [f"{p.relative_to(SRC)}:{ln} imports {name}"
           for p in _py_files(folder) for ln, name in _imports(p) if _matches(name, forbidden)]
    assert not bad, "\n".join(bad)


def test_no_star_imports_and_no_basicconfig():
    bad = []
    for p in _py_files(SRC):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                bad.append(f"{p.relative_to(SRC)}:{node.lineno} star import")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "basicConfig"):
                bad.append(f"{p.relative_to(SRC)}:{node.lineno} logging.basicConfig")
    assert not bad, "\n".join(bad)


def test_services_never_raise_http_exceptions():
    bad = []
    for p in _py_files(SRC):
        if p.name not in ("services.py", "queries.py") and "services" not in p.parts:
            continue
        for ln, name in _imports(p):
            if name.endswith("HTTPException") or _matches(name, ("fastapi", "starlette")):
                bad.append(f"{p.relative_to(SRC)}:{ln} imports {name}")
    assert not bad, "\n".join(bad)


def test_models_modules_hold_tables_only():
    """models.py: SQLAlchemy declarations, no service logic importing web or other domains."""
    bad = []
    for d in DOMAINS:
        p = SRC / d / "models.py"
        if not p.exists():
            continue
        for ln, name in _imports(p):
            if _matches(name, ("fastapi", "starlette", "imdesk.web")):
                bad.append(f"{p.relative_to(SRC)}:{ln} imports {name}")
    assert not bad, "\n".join(bad)
