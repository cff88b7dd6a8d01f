"""Health check of an IM server config file (``imdesk config check``).

Three layers, each producing :class:`Finding` objects with a rule id, a severity, the dotted key,
the line and a fix:

1. **YAML** problems with line and column: tabs, duplicate keys, bad indentation, syntax errors
   (ruamel.yaml's composer keeps the position of every node);
2. **schema** from the profile's ``config_schema.yaml``: types, ranges, enums, required keys,
   durations, ``host:port``, DSN URLs, list lengths, and unknown keys with "did you mean …?";
3. **semantic rules** from the profile's ``config_rules.yaml`` (performance, security, data),
   evaluated by a small declarative condition language (see the header of that file). The
   environment the server is for (``production``, ``staging``, ``development`` — names and the
   default are data too) is an input: rules condition on it (``{env: [..]}``) and override their
   severity and wording per environment (``by_env``).

Nothing here knows a key of the product: a new release or another product adds data, not code.

    >>> report = check_text(Path("im_config.yaml").read_text(), profile=load_profile("im_server"))
    >>> [f.rule_id for f in report.findings]
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from imdesk.core.errors import BadInput
from imdesk.profiles import Profile, ProfileError, load_profile

SEVERITIES = ("critical", "error", "warning", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
MAX_CONFIG_BYTES = 4 * 1024 * 1024

_DURATION_RE = re.compile(r"^(?:\d+(?:ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_DURATION_UNIT = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_HOST_RE = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)$")

# Messages of the generic (schema and YAML) checks; the product-specific ones live in profile data.
_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "IMCFG-YAML-TAB": {
        "en": ("Tab character used for indentation: YAML allows only spaces.", "Replace the tab by spaces."),
        "zh": ("缩进中使用了制表符：YAML 只允许空格缩进。", "把制表符替换为空格。"),
    },
    "IMCFG-YAML-DUPKEY": {
        "en": ("Duplicate key {key}: first defined on line {first}; the server keeps only one of them.",
               "Keep one definition of {key} and delete the other."),
        "zh": ("重复的键 {key}：第 {first} 行已定义；服务器只会保留其中一个。", "保留一处 {key}，删除另一处。"),
    },
    "IMCFG-YAML-INDENT": {
        "en": ("Bad indentation: {problem}.", "Align keys of one section at the same indentation, with spaces."),
        "zh": ("缩进错误：{problem}。", "同一段落下的键使用相同数量的空格缩进。"),
    },
    "IMCFG-YAML-SYNTAX": {
        "en": ("YAML syntax error: {problem}.", "Fix the YAML syntax at this position (quotes, brackets, ':')."),
        "zh": ("YAML 语法错误：{problem}。", "修正该位置的 YAML 语法（引号、括号、冒号）。"),
    },
    "IMCFG-YAML-ROOT": {
        "en": ("The file is not a mapping of sections (found {found}).", "Start from `imdesk config example`."),
        "zh": ("文件不是按段落组织的映射（实际为 {found}）。", "以 `imdesk config example` 为模板重新编写。"),
    },
    "IMCFG-UNKNOWN-KEY": {
        "en": ("Unknown key {key}{hint}: the server ignores it and keeps the default.",
               "{fix}"),
        "zh": ("未知的键 {key}{hint_zh}：服务器会忽略它并沿用默认值。", "{fix_zh}"),
    },
    "IMCFG-SCHEMA-REQUIRED": {
        "en": ("Required key {key} is missing{cond}: the server does not start.", "Add {key} ({desc})."),
        "zh": ("缺少必填键 {key}{cond_zh}：服务器无法启动。", "添加 {key}（{desc_zh}）。"),
    },
    "IMCFG-SCHEMA-TYPE": {
        "en": ("{key} must be {expected}, found {found}.", "Set {key} to {expected}{default_hint}."),
        "zh": ("{key} 应为{expected_zh}，实际为 {found}。", "将 {key} 设为{expected_zh}{default_hint_zh}。"),
    },
    "IMCFG-SCHEMA-RANGE": {
        "en": ("{key} = {value} is outside the allowed range {range}.", "Use a value within {range}."),
        "zh": ("{key} = {value} 超出允许范围 {range}。", "使用 {range} 范围内的值。"),
    },
    "IMCFG-SCHEMA-ENUM": {
        "en": ("{key} = {value} is not one of {allowed}.", "Use one of {allowed}{suggest}."),
        "zh": ("{key} = {value} 不在可选值 {allowed} 中。", "使用 {allowed} 之一{suggest_zh}。"),
    },
    "IMCFG-SCHEMA-PATTERN": {
        "en": ("{key} = {value} does not match {pattern}.", "Use a value matching {pattern}."),
        "zh": ("{key} = {value} 不符合格式 {pattern}。", "使用符合 {pattern} 的值。"),
    },
    "IMCFG-SCHEMA-DURATION": {
        "en": ("{key} = {value} is not a duration.", "Write a duration such as 500ms, 30s, 15m, 24h or 7d."),
        "zh": ("{key} = {value} 不是有效的时长。", "使用 500ms、30s、15m、24h、7d 这样的时长。"),
    },
    "IMCFG-SCHEMA-HOSTPORT": {
        "en": ("{key} = {value} is not host:port with a port 1–65535.", "Write host:port, e.g. 10.0.0.5:6379."),
        "zh": ("{key} = {value} 不是端口在 1–65535 之间的 host:port。", "写成 host:port，例如 10.0.0.5:6379。"),
    },
    "IMCFG-SCHEMA-DSN": {
        "en": ("{key} is not a valid {schemes} URL ({problem}).",
               "Write it as {scheme0}://user:password@host:port/database."),
        "zh": ("{key} 不是有效的 {schemes} URL（{problem}）。", "写成 {scheme0}://用户:密码@主机:端口/数据库。"),
    },
    "IMCFG-SCHEMA-LIST": {
        "en": ("{key} needs at least {min_items} item(s), found {count}.", "Add at least {min_items} item(s)."),
        "zh": ("{key} 至少需要 {min_items} 项，实际 {count} 项。", "至少填写 {min_items} 项。"),
    },
    "IMCFG-SCHEMA-LENGTH": {
        "en": ("{key} is shorter than {min_length} characters.", "Use at least {min_length} characters."),
        "zh": ("{key} 短于 {min_length} 个字符。", "至少使用 {min_length} 个字符。"),
    },
}

_INDENT_PROBLEMS = (
    "expected <block end>",
    "mapping values are not allowed here",
    "did not find expected key",
    "could not find expected ':'",
    "while parsing a block mapping",
)

_TYPE_WORDS = {
    "string": ("a string", "字符串"),
    "int": ("an integer", "整数"),
    "bool": ("true or false", "true 或 false"),
    "duration": ("a duration (e.g. 30s)", "时长（如 30s）"),
    "hostport": ("host:port", "host:port"),
    "dsn": ("a database URL", "数据库 URL"),
    "path": ("a path", "路径"),
    "path_or_url": ("a path or URL", "路径或 URL"),
    "enum": ("one of the allowed values", "允许的取值之一"),
    "list": ("a list", "列表"),
    "mapping": ("a section (mapping)", "段落（映射）"),
}


@dataclass
class Finding:
    rule_id: str
    severity: str
    key: str | None
    line: int | None
    message: str
    fix: str
    column: int | None = None
    category: str = "schema"
    message_zh: str = ""
    fix_zh: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, lang: str = "en") -> tuple[str, str]:
        if lang.startswith("zh") and self.message_zh:
            return self.message_zh, self.fix_zh or self.fix
        return self.message, self.fix


@dataclass
class Entry:
    """One value of the file: Python value, position and the composed node."""

    value: Any
    line: int
    column: int
    tag: str


@dataclass
class Report:
    path: str
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, Entry] = field(default_factory=dict)
    parsed: bool = True
    environment: str = "production"

    @property
    def worst(self) -> str | None:
        if not self.findings:
            return None
        return min((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)

    def exit_code(self) -> int:
        """0 clean (or info only), 1 when something of severity warning or worse was found."""
        return 1 if any(SEVERITY_RANK[f.severity] <= SEVERITY_RANK["warning"] for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}
        return {
            "file": self.path,
            "environment": self.environment,
            "findings": [f.to_dict() for f in self.findings],
            "summary": counts,
        }


@dataclass
class Environments:
    """The environments a profile's rules know (``environments`` in ``config_rules.yaml``)."""

    default: str
    names: dict[str, dict[str, str]]

    def label(self, name: str, lang: str = "en") -> str:
        labels = self.names.get(name) or {}
        return labels.get("zh" if lang.startswith("zh") else "en") or labels.get("en") or name

    def resolve(self, name: str | None) -> str:
        """``name`` (default: the profile's default) checked against the known names."""
        if name is None or not str(name).strip():
            return self.default
        value = str(name).strip().lower()
        if value not in self.names:
            raise BadInput(f"unknown environment {name!r}: use one of {', '.join(self.names)}")
        return value


def environments(profile: Profile | None = None) -> Environments:
    """The profile's environments; a profile without any has just ``production``."""
    profile = profile or load_profile()
    data = profile.data("config_rules").get("environments") if profile.has("config_rules") else None
    if not data:
        return Environments("production", {"production": {"en": "production", "zh": "生产环境"}})
    names = {str(k): dict(v or {}) for k, v in (data.get("names") or {}).items()}
    default = str(data.get("default") or next(iter(names), "production"))
    if default not in names:
        raise BadInput(f"profile {profile.name!r}: default environment {default!r} is not among {', '.join(names)}")
    return Environments(default, names)


@dataclass
class Facts:
    """Facts of the machine the rules may compare against; ``estimated`` names facts measured in
    the checking shell rather than read from the running server process."""

    values: dict[str, Any] = field(default_factory=dict)
    estimated: set[str] = field(default_factory=set)


def local_facts() -> Facts:
    """CPU cores of this machine and the open-file limit of the running im_server (if any), else
    of this shell (then marked estimated)."""
    facts = Facts()
    facts.values["cpu_count"] = os.cpu_count() or 1
    limit = None
    try:
        import psutil

        for proc in psutil.process_iter(["name"]):
            if proc.info.get("name") == "im_server":
                try:
                    limit = proc.rlimit(psutil.RLIMIT_NOFILE)[0]
                except (psutil.Error, AttributeError, OSError):
                    limit = None
                break
    except Exception:  # psutil missing or the process table unreadable: fall back to the shell
        limit = None
    if limit is None or limit < 0:
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft != resource.RLIM_INFINITY:
                limit = soft
                facts.estimated.add("open_file_limit")
        except (ImportError, OSError, ValueError):
            limit = None
    if limit is not None and limit >= 0:
        facts.values["open_file_limit"] = int(limit)
    return facts


# --------------------------------------------------------------------------------------------
# Reading


def read_config_file(path: str | os.PathLike[str]) -> str:
    """The text of a config file; :class:`BadInput` for missing, unreadable or binary files."""
    p = Path(path)
    try:
        if p.is_dir():
            raise BadInput(f"{p}: is a directory, not a config file")
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise BadInput(f"{p}: {size} bytes is too large for a config file")
        data = p.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{p}: no such file") from None
    except PermissionError:
        raise BadInput(f"{p}: permission denied (run as a user who can read it)") from None
    except OSError as exc:
        raise BadInput(f"{p}: cannot read ({exc.strerror or exc})") from None
    return decode_config(data, str(p))


def decode_config(data: bytes, name: str = "<config>") -> str:
    if b"\x00" in data[:8192]:
        raise BadInput(f"{name}: binary file, not a YAML config")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name}: not UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8") from None


# --------------------------------------------------------------------------------------------
# Small helpers


def parse_duration(text: Any) -> timedelta | None:
    """``500ms``, ``30s``, ``15m``, ``24h``, ``7d`` (or a sum like ``1h30m``); None if not one."""
    if not isinstance(text, str) or not _DURATION_RE.match(text.strip()):
        return None
    total = timedelta()
    for number, unit in _DURATION_PART.findall(text.strip()):
        total += int(number) * _DURATION_UNIT[unit]
    return total


def parse_hostport(text: Any) -> tuple[str, int] | None:
    if not isinstance(text, str) or ":" not in text:
        return None
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not _HOST_RE.match(host):
        return None
    number = int(port)
    if not 1 <= number <= 65535:
        return None
    return host.strip("[]"), number


def split_dsn(text: Any) -> tuple[str, str, str]:
    """``(user, password, host)`` of a URL, tolerant of unescaped ``#``, ``/`` or ``@`` in the
    password (operators write them raw; :func:`urllib.parse.urlsplit` would cut there)."""
    if not isinstance(text, str) or "://" not in text:
        return "", "", ""
    rest = text.split("://", 1)[1].split()[0] if text.split("://", 1)[1].strip() else ""
    at = rest.rfind("@")
    userinfo, hostpart = (rest[:at], rest[at + 1:]) if at >= 0 else ("", rest)
    user, _, password = userinfo.partition(":")
    if hostpart.startswith("["):
        return user, password, hostpart[1:].split("]", 1)[0]
    return user, password, re.split(r"[:/?#]", hostpart, maxsplit=1)[0]


def dsn_password(text: Any) -> str:
    return split_dsn(text)[1]


def _fmt(template: str, values: dict[str, Any]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return str(values[name]) if name in values else m.group(0)

    return re.sub(r"\{([A-Za-z0-9_.:]+)\}", repl, template)


def _generic(rule_id: str, severity: str, key: str | None, line: int | None, column: int | None,
             **values: Any) -> Finding:
    en = _TEXT[rule_id]["en"]
    zh = _TEXT[rule_id]["zh"]
    values.setdefault("key", key)
    return Finding(
        rule_id=rule_id,
        severity=severity,
        key=key,
        line=line,
        column=column,
        message=_fmt(en[0], values),
        fix=_fmt(en[1], values),
        message_zh=_fmt(zh[0], values),
        fix_zh=_fmt(zh[1], values),
        category="yaml" if rule_id.startswith("IMCFG-YAML") else "schema",
    )


# --------------------------------------------------------------------------------------------
# YAML layer


def _scalar_value(node: ScalarNode) -> Any:
    tag = str(node.tag)
    raw = node.value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return raw.lower() == "true"
    if tag.endswith(":int"):
        try:
            return int(raw.replace("_", ""), 0)
        except ValueError:
            try:
                return int(raw.replace("_", ""))
            except ValueError:
                return raw
    if tag.endswith(":float"):
        try:
            return float(raw.replace("_", ""))
        except ValueError:
            return raw
    return raw


def _node_value(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar_value(node)
    if isinstance(node, SequenceNode):
        return [_node_value(n) for n in node.value]
    if isinstance(node, MappingNode):
        return {str(k.value): _node_value(v) for k, v in node.value}
    return None


def _tabs(text: str) -> list[Finding]:
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        lead = line[: len(line) - len(stripped)]
        if stripped.startswith("\t") or "\t" in lead:
            col = len(lead) + 1
            key = stripped.strip().split(":", 1)[0] or None
            out.append(_generic("IMCFG-YAML-TAB", "error", key, i, col))
    return out


def parse_yaml(text: str) -> tuple[MappingNode | None, list[Finding]]:
    """Compose ``text``; YAML problems as findings (with 1-based line and column)."""
    findings = _tabs(text)
    yaml = YAML(typ="rt")
    try:
        root = yaml.compose(text.replace("\t", "  ") if findings else text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "invalid YAML").strip()
        everything = f"{exc.context or ''} {exc.problem or ''}"
        rule = "IMCFG-YAML-INDENT" if any(p in everything for p in _INDENT_PROBLEMS) else "IMCFG-YAML-SYNTAX"
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        key = None
        if line is not None:
            src = text.splitlines()[line - 1] if line - 1 < len(text.splitlines()) else ""
            key = src.strip().split(":", 1)[0].strip() or None
        findings.append(_generic(rule, "critical", key, line, col, problem=problem))
        return None, findings
    except YAMLError as exc:
        findings.append(_generic("IMCFG-YAML-SYNTAX", "critical", None, None, None, problem=str(exc).splitlines()[0]))
        return None, findings
    if root is None:
        return MappingNode(tag="tag:yaml.org,2002:map", value=[]), findings
    if not isinstance(root, MappingNode):
        found = "a list" if isinstance(root, SequenceNode) else f"the scalar {str(getattr(root, 'value', ''))[:40]!r}"
        findings.append(_generic("IMCFG-YAML-ROOT", "critical", None, root.start_mark.line + 1, 1, found=found))
        return None, findings
    return root, findings


# --------------------------------------------------------------------------------------------
# Schema layer


class Schema:
    """The profile's ``config_schema.yaml`` with derived lookups."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.keys: dict[str, dict[str, Any]] = data.get("keys") or {}
        self.sections: set[str] = set()
        for key in self.keys:
            parts = key.split(".")
            for i in range(1, len(parts)):
                self.sections.add(".".join(parts[:i]))

    @classmethod
    def of(cls, profile: Profile) -> Schema:
        try:
            return cls(profile.data("config_schema"))
        except ProfileError as exc:
            raise BadInput(str(exc)) from None

    def secret_keys(self) -> set[str]:
        return {k for k, spec in self.keys.items() if spec.get("secret")}

    def suggest(self, path: str) -> str | None:
        """The closest known key for an unknown dotted ``path``."""
        parent, _, leaf = path.rpartition(".")
        siblings = {k.rpartition(".")[2]: k for k in self.keys if k.rpartition(".")[0] == parent}
        siblings.update({s.rpartition(".")[2]: s for s in self.sections if s.rpartition(".")[0] == parent})
        match = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.75)
        if match:
            return siblings[match[0]]
        leaves: dict[str, str] = {}
        for k in self.keys:
            leaves.setdefault(k.rpartition(".")[2], k)
        if leaf in leaves:  # right name in the wrong section (usually an indentation slip)
            return leaves[leaf]
        match = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.8)
        if match:
            return leaves[match[0]]
        match = difflib.get_close_matches(path, list(self.keys) + sorted(self.sections), n=1, cutoff=0.75)
        return match[0] if match else None


def walk(root: MappingNode, schema: Schema) -> tuple[dict[str, Entry], dict[str, int], list[Finding]]:
    """Flatten the composed document to ``{dotted.key: Entry}`` (known keys only), the line of
    every section, and findings for duplicate and unknown keys and misplaced sections."""
    values: dict[str, Entry] = {}
    section_lines: dict[str, int] = {}
    findings: list[Finding] = []

    def visit(node: MappingNode, prefix: str) -> None:
        seen: dict[str, int] = {}
        for knode, vnode in node.value:
            name = str(knode.value)
            path = f"{prefix}.{name}" if prefix else name
            line = knode.start_mark.line + 1
            col = knode.start_mark.column + 1
            if name in seen:
                findings.append(_generic("IMCFG-YAML-DUPKEY", "error", path, line, col, first=seen[name]))
                continue
            seen[name] = line
            if path in schema.keys:
                if isinstance(vnode, MappingNode):
                    findings.append(_type_finding(path, schema.keys[path], "a section (mapping)", line, col))
                    continue
                values[path] = Entry(_node_value(vnode), vnode.start_mark.line + 1,
                                     vnode.start_mark.column + 1, str(vnode.tag))
            elif path in schema.sections:
                section_lines[path] = line
                if isinstance(vnode, MappingNode):
                    visit(vnode, path)
                elif isinstance(vnode, ScalarNode) and _scalar_value(vnode) is None:
                    continue  # an empty section: every key keeps its default
                else:
                    findings.append(_generic(
                        "IMCFG-SCHEMA-TYPE", "error", path, line, col,
                        expected="a section (mapping)", expected_zh="段落（映射）",
                        found=_describe(_node_value(vnode)), default_hint="", default_hint_zh="",
                    ))
            else:
                hit = schema.suggest(path)
                if hit:
                    hint = f" (did you mean {hit}?)"
                    hint_zh = f"（是否应为 {hit}？）"
                    fix = f"Rename it to {hit} (check spelling and indentation)."
                    fix_zh = f"改为 {hit}（检查拼写和缩进）。"
                else:
                    hint = hint_zh = ""
                    fix = "Delete it, or compare with `imdesk config example`."
                    fix_zh = "删除该键，或对照 `imdesk config example`。"
                findings.append(_generic("IMCFG-UNKNOWN-KEY", "warning", path, line, col,
                                         hint=hint, hint_zh=hint_zh, fix=fix, fix_zh=fix_zh))

    visit(root, "")
    return values, section_lines, findings


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a section (mapping)"
    return f"the string {str(value)[:60]!r}"


def _type_finding(key: str, spec: dict[str, Any], found: str, line: int | None, col: int | None) -> Finding:
    typ = spec.get("type", "string")
    en, zh = _TYPE_WORDS.get(typ, (typ, typ))
    default = spec.get("default")
    has_default = "default" in spec and not spec.get("secret")
    return _generic(
        "IMCFG-SCHEMA-TYPE", "error", key, line, col, expected=en, expected_zh=zh, found=found,
        default_hint=f" (default: {_show(default)})" if has_default else "",
        default_hint_zh=f"（默认：{_show(default)}）" if has_default else "",
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if value == "":
        return '""'
    return str(value)


def _check_value(key: str, spec: dict[str, Any], entry: Entry) -> tuple[list[Finding], Any]:
    """Findings for one value and its typed form (None when invalid)."""
    typ = spec.get("type", "string")
    value = entry.value
    line, col = entry.line, entry.column
    shown = _show(value) if not spec.get("secret") else "(secret)"
    out: list[Finding] = []

    def bad_type() -> tuple[list[Finding], Any]:
        return [_type_finding(key, spec, _describe(value) if not spec.get("secret") else "another type", line, col)], None

    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return bad_type()
        lo, hi = spec.get("min"), spec.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            out.append(_generic("IMCFG-SCHEMA-RANGE", "error", key, line, col, value=shown, range=f"{lo}–{hi}"))
            return out, None
        return out, value
    if typ == "bool":
        if not isinstance(value, bool):
            return bad_type()
        return out, value
    if typ == "duration":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return bad_type()
        d = parse_duration(value) if isinstance(value, str) else None
        if d is None:
            out.append(_generic("IMCFG-SCHEMA-DURATION", "error", key, line, col, value=shown))
            return out, None
        lo = parse_duration(spec["min"]) if "min" in spec else None
        hi = parse_duration(spec["max"]) if "max" in spec else None
        if (lo is not None and d < lo) or (hi is not None and d > hi):
            out.append(_generic("IMCFG-SCHEMA-RANGE", "error", key, line, col, value=shown,
                                range=f"{spec.get('min')}–{spec.get('max')}"))
            return out, None
        return out, d
    if typ == "hostport":
        if not isinstance(value, str) or parse_hostport(value) is None:
            out.append(_generic("IMCFG-SCHEMA-HOSTPORT", "error", key, line, col, value=shown))
            return out, None
        return out, value
    if typ == "enum":
        allowed = [str(a) for a in spec.get("allowed", [])]
        if isinstance(value, bool) or value is None or str(value) not in allowed:
            near = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
            if value is not None and not isinstance(value, bool):
                near = near or [a for a in allowed if a.lower() == str(value).lower()]
            sug = f" (did you mean {near[0]}?)" if near else ""
            sug_zh = f"（是否应为 {near[0]}？）" if near else ""
            out.append(_generic("IMCFG-SCHEMA-ENUM", "error", key, line, col, value=shown,
                                allowed=", ".join(allowed), suggest=sug, suggest_zh=sug_zh))
            return out, None
        return out, str(value)
    if typ == "list":
        if not isinstance(value, list):
            return bad_type()
        items = spec.get("items", "string")
        typed = []
        for item in value:
            if items == "hostport" and parse_hostport(item) is None:
                out.append(_generic("IMCFG-SCHEMA-HOSTPORT", "error", key, line, col, value=_show(item)))
                continue
            if items == "string" and not isinstance(item, str):
                out.append(_type_finding(key, {"type": "string"}, _describe(item), line, col))
                continue
            allowed = spec.get("allowed")
            if allowed and str(item) not in [str(a) for a in allowed]:
                near = difflib.get_close_matches(str(item), [str(a) for a in allowed], n=1, cutoff=0.5)
                sug = f" (did you mean {near[0]}?)" if near else ""
                sug_zh = f"（是否应为 {near[0]}？）" if near else ""
                out.append(_generic("IMCFG-SCHEMA-ENUM", "error", key, line, col, value=_show(item),
                                    allowed=", ".join(map(str, allowed)), suggest=sug, suggest_zh=sug_zh))
                continue
            typed.append(item)
        min_items = spec.get("min_items")
        if min_items is not None and len(value) < min_items:
            out.append(_generic("IMCFG-SCHEMA-LIST", "error", key, line, col, min_items=min_items, count=len(value)))
        return out, (typed if not out else None)
    if typ == "dsn":
        schemes = [str(s) for s in spec.get("schemes", [])]
        if not isinstance(value, str):
            return bad_type()
        problem = _dsn_problem(value, schemes)
        if problem:
            out.append(_generic("IMCFG-SCHEMA-DSN", "error", key, line, col, schemes="/".join(schemes),
                                scheme0=schemes[0] if schemes else "scheme", problem=problem))
            return out, None
        return out, value
    if typ == "path_or_url":
        if not isinstance(value, str) or not value:
            return bad_type()
        if "://" in value:
            scheme = value.split("://", 1)[0]
            if scheme not in spec.get("schemes", []):
                out.append(_generic("IMCFG-SCHEMA-DSN", "error", key, line, col,
                                    schemes="/".join(spec.get("schemes", [])) + " or a path",
                                    scheme0=(spec.get("schemes") or ["s3"])[0],
                                    problem=f"unsupported scheme {scheme}://"))
                return out, None
        elif not value.startswith("/"):
            out.append(_type_finding(key, spec, f"the relative path {value!r}", line, col))
            return out, None
        return out, value
    # string, path
    if value is None or isinstance(value, (list, dict, bool)):
        return bad_type()
    if not isinstance(value, str):
        value = str(value)  # an unquoted number where a string is expected is still a string
    pattern = spec.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        out.append(_generic("IMCFG-SCHEMA-PATTERN", "error", key, line, col, value=shown, pattern=pattern))
        return out, None
    min_length = spec.get("min_length")
    if min_length and len(value) < min_length and not spec.get("secret"):
        out.append(_generic("IMCFG-SCHEMA-LENGTH", "error", key, line, col, min_length=min_length))
    return out, value


def _dsn_problem(value: str, schemes: list[str]) -> str | None:
    if "://" not in value:
        return "no scheme://"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return str(exc)
    scheme = parts.scheme
    if scheme == "postgresql":
        scheme = "postgres"
    if schemes and scheme not in schemes:
        return f"unsupported scheme {parts.scheme}://"
    if not parts.hostname:
        return "no host"
    if port is not None and not 1 <= port <= 65535:
        return "port out of range"
    if not parts.path.strip("/"):
        return "no database name"
    return None


# --------------------------------------------------------------------------------------------
# Semantic rules


class _Skip(Exception):
    """An operand is unknown (invalid value or missing fact): the rule is not evaluated."""


@dataclass
class _Context:
    typed: dict[str, Any]
    display: dict[str, str]
    explicit: set[str]
    facts: Facts
    used_facts: set[str] = field(default_factory=set)
    environment: str = "production"
    env_label: dict[str, str] = field(default_factory=dict)  # lang -> label of the environment


def _operand(spec: Any, ctx: _Context) -> Any:
    if isinstance(spec, str):
        if spec not in ctx.typed:
            raise _Skip(spec)
        return ctx.typed[spec]
    if isinstance(spec, dict) and len(spec) == 1:
        (op, arg), = spec.items()
        if op == "value":
            return arg
        if op == "duration":
            d = parse_duration(arg)
            if d is None:
                raise BadInput(f"profile rule: bad duration literal {arg!r}")
            return d
        if op == "fact":
            if arg not in ctx.facts.values:
                raise _Skip(arg)
            ctx.used_facts.add(arg)
            return ctx.facts.values[arg]
        if op == "mul":
            a, n = _operand(arg[0], ctx), _operand(arg[1], ctx) if not isinstance(arg[1], (int, float)) else arg[1]
            return a * n
        if op == "sub":
            a = _operand(arg[0], ctx)
            b = arg[1] if isinstance(arg[1], (int, float)) else _operand(arg[1], ctx)
            return a - b
        if op == "len":
            v = _operand(arg, ctx)
            return len(v) if v is not None else 0
        if op == "lower":
            v = _operand(arg, ctx)
            return str(v).lower() if v is not None else ""
        if op == "dsn_password":
            return dsn_password(_operand(arg, ctx))
    if isinstance(spec, (int, float, bool)) or spec is None:
        return spec
    raise BadInput(f"profile rule: unknown operand {spec!r}")


def _condition(spec: dict[str, Any], ctx: _Context) -> bool:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise BadInput(f"profile rule: a condition needs exactly one operator, got {spec!r}")
    (op, arg), = spec.items()
    if op in ("all", "any"):
        results = [_condition(c, ctx) for c in arg]
        return all(results) if op == "all" else any(results)
    if op == "not":
        return not _condition(arg, ctx)
    if op == "is_set":
        return arg in ctx.explicit
    if op == "env":
        names = [arg] if isinstance(arg, str) else list(arg or [])
        return ctx.environment in names
    if op in ("lt", "le", "gt", "ge", "eq", "ne"):
        a = _operand(arg[0], ctx)
        b = _operand(arg[1], ctx) if not isinstance(arg[1], (int, float)) or isinstance(arg[1], bool) else arg[1]
        try:
            return {
                "lt": lambda: a < b, "le": lambda: a <= b, "gt": lambda: a > b,
                "ge": lambda: a >= b, "eq": lambda: a == b, "ne": lambda: a != b,
            }[op]()
        except TypeError:
            raise _Skip(op) from None
    if op == "in":
        a = _operand(arg[0], ctx)
        return a in list(arg[1])
    if op == "contains":
        a = _operand(arg[0], ctx)
        return isinstance(a, list) and arg[1] in a
    if op == "matches":
        a = _operand(arg[0], ctx)
        return isinstance(a, str) and re.fullmatch(arg[1], a) is not None
    raise BadInput(f"profile rule: unknown operator {op!r}")


def evaluate_rules(rules: list[dict[str, Any]], ctx: _Context, lines: dict[str, int | None]) -> list[Finding]:
    out: list[Finding] = []
    for rule in rules:
        ctx.used_facts = set()
        try:
            hit = _condition(rule["when"], ctx)
        except _Skip:
            continue
        if not hit:
            continue
        override = (rule.get("by_env") or {}).get(ctx.environment) or {}
        severity = override.get("severity") or rule.get("severity", "warning")
        if severity not in SEVERITY_RANK:
            raise BadInput(f"profile rule {rule.get('id')}: unknown severity {severity!r}")
        if rule.get("estimated_fact_severity") and ctx.used_facts & ctx.facts.estimated:
            estimated = rule["estimated_fact_severity"]
            if SEVERITY_RANK[estimated] > SEVERITY_RANK[severity]:  # never raises the severity
                severity = estimated
        values = dict(ctx.display)
        values.update({f"fact:{k}": v for k, v in ctx.facts.values.items()})
        msg = override.get("message") or rule.get("message", {})
        fix = override.get("fix") or rule.get("fix", {})
        note_en = note_zh = ""
        if ctx.used_facts & ctx.facts.estimated:
            note_en = " (limit measured in this shell; the server's own limit may differ)"
            note_zh = "（该上限在当前 shell 中测得，服务进程的上限可能不同）"
        key = rule.get("key") or (rule.get("keys") or [None])[0]
        en = {**values, "env": ctx.env_label.get("en", ctx.environment)}
        zh = {**values, "env": ctx.env_label.get("zh", ctx.environment)}
        out.append(Finding(
            rule_id=rule["id"],
            severity=severity,
            key=key,
            line=lines.get(key),
            message=_fmt(msg.get("en", ""), en) + note_en,
            fix=_fmt(fix.get("en", ""), en),
            message_zh=_fmt(msg.get("zh", ""), zh) + note_zh,
            fix_zh=_fmt(fix.get("zh", ""), zh),
            category=rule.get("category", "semantic"),
        ))
    return out


# --------------------------------------------------------------------------------------------
# Entry points


def effective_values(schema: Schema, values: dict[str, Entry], facts: Facts | None = None
                     ) -> tuple[dict[str, Any], dict[str, str], list[Finding]]:
    """Typed effective config (valid file values, else defaults), display strings, and the
    schema findings for the file's values."""
    findings: list[Finding] = []
    typed: dict[str, Any] = {}
    display: dict[str, str] = {}
    for key, spec in schema.keys.items():
        entry = values.get(key)
        if entry is not None:
            problems, value = _check_value(key, spec, entry)
            findings.extend(problems)
            if value is not None:
                typed[key] = value
                display[key] = _show(entry.value)
            continue  # an invalid value is not replaced by the default: rules on it are skipped
        if "default" in spec:
            _, value = _check_value(key, spec, Entry(spec["default"], 0, 0, "default"))
            if value is not None:
                typed[key] = value
                display[key] = _show(spec["default"])
    if "server.workers" in schema.keys and "server.workers" not in typed and facts and "cpu_count" in facts.values:
        # the server's default for workers is the number of cores
        typed["server.workers"] = facts.values["cpu_count"]
        display["server.workers"] = f"{facts.values['cpu_count']} (default: CPU cores)"
    for key, spec in schema.keys.items():
        if spec.get("secret"):
            display[key] = "(secret)"
    return typed, display, findings


def check_text(text: str, *, profile: Profile | None = None, facts: Facts | None = None,
               path: str = "<config>", environment: str | None = None) -> Report:
    """Check ``text`` for ``environment`` (a name of the profile's ``environments``; default the
    profile's default, production). :class:`BadInput` for an unknown environment."""
    profile = profile or load_profile()
    schema = Schema.of(profile)
    envs = environments(profile)
    env = envs.resolve(environment)
    facts = facts if facts is not None else local_facts()
    report = Report(path=path, environment=env)
    root, yaml_findings = parse_yaml(text)
    report.findings.extend(yaml_findings)
    if root is None:
        report.parsed = False
        return _sorted(report)
    values, section_lines, walk_findings = walk(root, schema)
    report.values = values
    report.findings.extend(walk_findings)
    typed, display, value_findings = effective_values(schema, values, facts)
    report.findings.extend(value_findings)

    # required keys
    for key, spec in schema.keys.items():
        if key in values:
            continue
        cond_en = cond_zh = ""
        needed = bool(spec.get("required"))
        for other, want in (spec.get("required_if") or {}).items():
            if typed.get(other) == want:
                needed = True
                cond_en = f" (needed because {other} is {_show(want)})"
                cond_zh = f"（因为 {other} 为 {_show(want)}）"
        if needed:
            section = key.rpartition(".")[0]
            line = None
            while section and line is None:
                line = section_lines.get(section)
                section = section.rpartition(".")[0]
            desc = spec.get("description", {})
            report.findings.append(_generic(
                "IMCFG-SCHEMA-REQUIRED", "critical", key, line, None, cond=cond_en, cond_zh=cond_zh,
                desc=desc.get("en", "").rstrip("."), desc_zh=desc.get("zh", "").rstrip("。"),
            ))
    # secrets shorter than their minimum are reported by the rules (with the product's wording)
    rules = profile.data("config_rules").get("rules", []) if profile.has("config_rules") else []
    for rule in rules:
        unknown = set(rule.get("by_env") or {}) - set(envs.names)
        if unknown:
            raise BadInput(f"profile rule {rule.get('id')}: by_env names unknown environment(s) {', '.join(sorted(unknown))}")
    ctx = _Context(typed=typed, display=display, explicit=set(values), facts=facts, environment=env,
                   env_label={"en": envs.label(env, "en"), "zh": envs.label(env, "zh")})
    lines = {k: e.line for k, e in values.items()}
    for key in schema.keys:
        if key not in lines:
            section = key.rpartition(".")[0]
            lines[key] = section_lines.get(section)
    report.findings.extend(evaluate_rules(rules, ctx, lines))
    return _sorted(report)


def _sorted(report: Report) -> Report:
    report.findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.line or 10**9, f.rule_id))
    return report


def check_file(path: str | os.PathLike[str], *, profile: Profile | None = None,
               facts: Facts | None = None, environment: str | None = None) -> Report:
    if environment is not None:
        environments(profile).resolve(environment)  # a bad --env before reading the file
    return check_text(read_config_file(path), profile=profile, facts=facts, path=str(path),
                      environment=environment)


def load_values(path: str | os.PathLike[str], profile: Profile | None = None
                ) -> tuple[dict[str, Entry], list[Finding]]:
    """The known keys of a config file (used by diff and the bundle collector)."""
    profile = profile or load_profile()
    schema = Schema.of(profile)
    root, findings = parse_yaml(read_config_file(path))
    if root is None:
        return {}, findings
    values, _, more = walk(root, schema)
    return values, findings + more


def example_text(profile: Profile | None = None) -> str:
    profile = profile or load_profile()
    try:
        return profile.path("example_config.yaml").read_text(encoding="utf-8")
    except (ProfileError, OSError):
        raise BadInput(f"profile {profile.name!r} ships no example config") from None


def to_sarif(report: Report, *, lang: str = "en") -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning tools (one result per finding)."""
    level = {"critical": "error", "error": "error", "warning": "warning", "info": "note"}
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        message, fix = f.text(lang)
        rules.setdefault(f.rule_id, {"id": f.rule_id, "properties": {"category": f.category}})
        region: dict[str, Any] = {}
        if f.line:
            region["startLine"] = f.line
            if f.column:
                region["startColumn"] = f.column
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": report.path}}}
        if region:
            location["physicalLocation"]["region"] = region
        if f.key:
            location["logicalLocations"] = [{"fullyQualifiedName": f.key}]
        results.append({
            "ruleId": f.rule_id,
            "level": level[f.severity],
            "message": {"text": f"{message} Fix: {fix}"},
            "locations": [location],
            "properties": {"severity": f.severity, "key": f.key},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "imdesk config check", "rules": list(rules.values())}},
            "invocations": [{"executionSuccessful": True, "properties": {"environment": report.environment}}],
            "properties": {"environment": report.environment},
            "results": results,
        }],
    }
