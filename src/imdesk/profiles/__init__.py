"""Data per supported IM product.

A profile is a folder under ``imdesk/profiles/<name>/`` holding YAML, JSON and Markdown data
(config schema, log format, error catalogue, rules, version policy, support groups, ...). Code
never hard-codes product facts: it asks the profile for a named data file.

    >>> p = load_profile("im_server")
    >>> p.data("error_codes")          # parsed profiles/im_server/error_codes.yaml
    >>> p.path("example_config.yaml")  # a file shipped with the profile

This module is model-free and web-free so that ``diag`` can use it on a customer's server.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DEFAULT_PROFILE = "im_server"
_ROOT = Path(__file__).resolve().parent


class ProfileError(Exception):
    """An unknown profile or a missing/invalid data file in a profile."""


@dataclass(frozen=True)
class Profile:
    name: str
    root: Path

    def path(self, relative: str) -> Path:
        p = (self.root / relative).resolve()
        if self.root not in p.parents and p != self.root:
            raise ProfileError(f"{relative!r} is outside profile {self.name!r}")
        return p

    def has(self, name: str) -> bool:
        return any((self.root / f"{name}{ext}").is_file() for ext in (".yaml", ".yml", ".json"))

    def data(self, name: str) -> Any:
        """Parsed ``<name>.yaml`` / ``.yml`` / ``.json`` of this profile (cached)."""
        return _load_data(self.root, name)


@functools.lru_cache(maxsize=256)
def _load_data(root: Path, name: str) -> Any:
    for ext in (".yaml", ".yml", ".json"):
        f = root / f"{name}{ext}"
        if f.is_file():
            text = f.read_text(encoding="utf-8")
            if ext == ".json":
                return json.loads(text)
            return YAML(typ="safe", pure=True).load(text)
    raise ProfileError(f"profile at {root.name!r} has no data file {name!r}")


def available_profiles() -> list[str]:
    return sorted(p.name for p in _ROOT.iterdir() if p.is_dir() and (p / "profile.yaml").is_file())


def load_profile(name: str | None = None) -> Profile:
    name = name or DEFAULT_PROFILE
    root = _ROOT / name
    if not name.replace("_", "").replace("-", "").isalnum() or not (root / "profile.yaml").is_file():
        known = ", ".join(available_profiles()) or "none"
        raise ProfileError(f"unknown profile {name!r} (known: {known})")
    return Profile(name=name, root=root)
