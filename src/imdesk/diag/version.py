"""SDK/server compatibility (``imdesk version check``), from the profile's ``versions.yaml``.

    >>> check_versions("android:4.3.0", "4.1.2")
    VersionVerdict(status='warning', ...)   # SDK two minors ahead

Rules (SPEC §5, kept as data): each server major serves some API versions (some deprecated); each
SDK major speaks one API version; an API the server does not serve is *incompatible*, a deprecated
one is a *warning*; within one major an SDK more than ``max_minor_ahead`` minors ahead of the
server is a *warning*.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from imdesk.core.errors import BadInput
from imdesk.profiles import Profile, ProfileError, load_profile

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]+)?$")
_SERVER_OUTPUT_RE = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class VersionVerdict:
    status: str  # compatible | warning | incompatible
    reason: str
    advice: str
    reason_zh: str = ""
    advice_zh: str = ""
    sdk: str = ""
    server: str = ""
    api: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def exit_code(self) -> int:
        return 0 if self.status == "compatible" else 1


def parse_version(text: str, what: str = "version") -> Version:
    m = _VERSION_RE.match((text or "").strip())
    if not m:
        raise BadInput(f"invalid {what} {text!r}: expected X.Y.Z, e.g. 4.2.1")
    major, minor, patch = (int(g) if g is not None else 0 for g in m.groups())
    return Version(major, minor, patch, text.strip().lstrip("v"))


def parse_server_output(output: str) -> Version | None:
    """The version in ``im_server --version`` output (``im_server 4.2.1 (api v1,v2)``)."""
    m = _SERVER_OUTPUT_RE.search(output or "")
    return parse_version(m.group(1)) if m else None


def parse_sdk(spec: str, languages: list[str]) -> tuple[str, Version]:
    lang, sep, ver = (spec or "").partition(":")
    lang = lang.strip().lower()
    if not sep or not lang or not ver.strip():
        raise BadInput(f"invalid --sdk {spec!r}: expected LANG:VERSION, e.g. android:4.2.0")
    if languages and lang not in languages:
        raise BadInput(f"unknown SDK language {lang!r}: expected one of {', '.join(languages)}")
    return lang, parse_version(ver, "SDK version")


def _policy(profile: Profile) -> dict[str, Any]:
    try:
        return profile.data("versions")
    except ProfileError as exc:
        raise BadInput(str(exc)) from None


def _msg(policy: dict[str, Any], name: str, **values: Any) -> tuple[str, str]:
    m = policy.get("messages", {}).get(name, {})
    return m.get("en", name).format(**values), m.get("zh", m.get("en", name)).format(**values)


def check_versions(sdk: str, server: str, *, profile: Profile | None = None) -> VersionVerdict:
    profile = profile or load_profile()
    policy = _policy(profile)
    lang, sv = parse_sdk(sdk, [str(x) for x in policy.get("sdk_languages", [])])
    srv = parse_version(server, "server version")
    majors = {int(k): v for k, v in (policy.get("server_majors") or {}).items()}
    sdk_api = {int(k): str(v) for k, v in (policy.get("sdk_majors") or {}).items()}
    label = f"{lang} {sv}"
    common = {"sdk": label, "server": str(srv)}

    def verdict(status: str, reason: str, advice: str, api: str | None = None) -> VersionVerdict:
        r_en, r_zh = _msg(policy, reason, **values)
        a_en, a_zh = _msg(policy, advice, **values)
        return VersionVerdict(status, r_en, a_en, r_zh, a_zh, sdk=f"{lang}:{sv}", server=str(srv), api=api)

    if srv.major not in majors:
        values = common | {"major": srv.major}
        return verdict("warning", "unknown_server", "unknown_server_advice")
    if sv.major not in sdk_api:
        values = common | {"major": sv.major}
        return verdict("warning", "unknown_sdk", "unknown_server_advice")
    api = sdk_api[sv.major]
    serves = [str(a) for a in majors[srv.major].get("serves", [])]
    deprecated = [str(a) for a in majors[srv.major].get("deprecated", [])]
    values = common | {"api": api, "serves": ", ".join(serves) or "none"}
    if api not in serves:
        speaking = [m for m, a in sorted(sdk_api.items()) if a in serves and a not in deprecated]
        speaking = speaking or [m for m, a in sorted(sdk_api.items()) if a in serves]
        values["want_sdk"] = " or ".join(str(m) for m in speaking) or "?"
        return verdict("incompatible", "incompatible_api", "incompatible_advice", api)
    if api in deprecated:
        newest = [a for a in serves if a not in deprecated]
        values["newest"] = newest[-1] if newest else "a newer api"
        return verdict("warning", "deprecated_api", "deprecated_advice", api)
    limit = int(policy.get("max_minor_ahead", 1))
    if sv.major == srv.major and sv.minor - srv.minor > limit:
        values |= {"ahead": sv.minor - srv.minor, "sdk_minor": f"{sv.major}.{sv.minor}",
                   "max_sdk_minor": f"{srv.major}.{srv.minor + limit}"}
        return verdict("warning", "minor_ahead", "minor_ahead_advice", api)
    return verdict("compatible", "compatible", "compatible_advice", api)
