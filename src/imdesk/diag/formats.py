"""Log formats: lines in, records out.

- the profile's formats (``profiles/<name>/log_format.yaml``): im_server text
  (``2026-03-15 10:23:45.123 ERROR [push] ERR_IM_3001 message key=value ...``) and JSON lines
  (``{"ts", "level", "module", "code", "msg", ...}``), recognised line by line so a file may mix them;
- any custom format given as a Loghub-style header template such as
  ``'<Date> <Time> <Level> <Component>: <Content>'``: ``<Name>`` is a field, text between fields is a
  regular expression (so ``\\[<Pid>\\]`` or ``(\\[<PID>\\])?`` work) and each run of spaces matches
  ``\\s+`` -- exactly as the Loghub benchmark writes its formats.

Multi-line records (stack traces) are folded: a line that starts with whitespace, ``at ``,
``Caused by:``, ``Traceback`` (the profile's continuation markers), or a line that does not match a
custom format, continues the previous record. Timestamps are normalised to epoch seconds (UTC) with
the profile's zone unless the line carries an offset.

    >>> parser = LineParser.for_profile(load_profile())           # or LineParser.from_template("<Date> ...")
    >>> for rec in parser.records(entry.lines(), source=entry.name, node=entry.node): ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from imdesk.core.errors import BadInput
from imdesk.diag.readers import decode_line

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
_LEVEL_ALIASES = {
    "TRACE": "DEBUG", "DEBUG": "DEBUG", "DBG": "DEBUG", "D": "DEBUG", "FINE": "DEBUG", "FINER": "DEBUG",
    "INFO": "INFO", "INF": "INFO", "I": "INFO", "NOTICE": "INFO", "NOTE": "INFO",
    "WARN": "WARN", "WARNING": "WARN", "WRN": "WARN", "W": "WARN",
    "ERROR": "ERROR", "ERR": "ERROR", "E": "ERROR", "SEVERE": "ERROR", "CRIT": "FATAL", "CRITICAL": "FATAL",
    "FATAL": "FATAL", "F": "FATAL", "PANIC": "FATAL", "EMERG": "FATAL", "ALERT": "FATAL",
}


def normalise_level(text: str | None) -> str | None:
    if not text:
        return None
    return _LEVEL_ALIASES.get(text.strip().upper())


class Record:
    """One log record (a line plus its folded continuation lines)."""

    __slots__ = ("ts", "level", "module", "code", "content", "source", "node", "line", "extra", "_fields", "raw",
                 "known")

    def __init__(self, ts, level, module, code, content, source, node, line, raw="", known=False):
        self.ts: float | None = ts  # epoch seconds, UTC
        self.level: str | None = level
        self.module: str | None = module
        self.code: str | None = code
        self.content: str = content  # message (and key=value fields), without the header
        self.source: str = source
        self.node: str = node
        self.line: int = line  # line number of the first line in its file
        self.extra: list[str] | None = None  # continuation lines
        self._fields: dict[str, str] | None = None
        self.raw: str = raw
        self.known: bool = known  # the line had the expected layout (text, JSON or the custom header)

    @property
    def fields(self) -> dict[str, str]:
        if self._fields is None:
            self._fields = parse_kv(self.content)
        return self._fields

    @property
    def text(self) -> str:
        """The content with its continuation lines (what rules match regexes against)."""
        if self.extra:
            return self.content + "\n" + "\n".join(self.extra)
        return self.content

    @property
    def evidence(self) -> str:
        return f"{self.source}:{self.line}"


_KV = re.compile(r'(?:(?<=\s)|^)([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(text: str) -> dict[str, str]:
    """``key=value`` pairs of an im_server message (double-quoted values may hold spaces)."""
    out: dict[str, str] = {}
    for m in _KV.finditer(text):
        v = m.group(2)
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1].replace('\\"', '"')
        out[m.group(1)] = v
    return out


# -- timestamps -----------------------------------------------------------------------------------
class TimeParser:
    """Fast local-time parsing with a per-second cache (logs repeat the same second many times)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._cache: dict[str, float | None] = {}

    def ymd_hms(self, date: str, clock: str) -> float | None:
        """``2026-03-15`` + ``10:23:45.123`` (or ``,123``) in the profile's zone."""
        if len(clock) < 8 or clock[2] != ":" or clock[5] != ":" or len(date) != 10 or date[4] != "-" or date[7] != "-":
            return None
        key = date + clock[:2]
        base = self._cache.get(key)
        if base is None:
            if key in self._cache:
                return None
            if len(self._cache) > 100_000:
                self._cache.clear()
            try:  # local hour start: DST changes fall on hour boundaries
                d = datetime(int(date[0:4]), int(date[5:7]), int(date[8:10]), int(clock[:2]), tzinfo=self.tz)
                base = d.timestamp()
            except ValueError:
                base = None
            self._cache[key] = base
            if base is None:
                return None
        try:
            mins, secs = int(clock[3:5]), int(clock[6:8])
        except ValueError:
            return None
        if mins > 59 or secs > 60:
            return None
        base = base + mins * 60 + secs
        frac = clock[9:] if len(clock) > 9 and clock[8] in ".," else ""
        if frac:
            try:
                return base + float("0." + frac)
            except ValueError:
                return base
        return base

    def iso(self, text: str) -> float | None:
        try:
            s = text.strip()
            if s.endswith(("Z", "z")):
                s = s[:-1] + "+00:00"
            d = datetime.fromisoformat(s)
        except ValueError:
            return None
        if d.tzinfo is None:
            d = d.replace(tzinfo=self.tz)
        return d.timestamp()

    _GENERIC = (
        "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%y/%m/%d %H:%M:%S", "%Y%m%d %H:%M:%S", "%d/%b/%Y:%H:%M:%S",
        "%b %d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%y%m%d %H%M%S", "%Y.%m.%d %H:%M:%S", "%Y-%m-%d-%H.%M.%S",
    )

    def generic(self, text: str) -> float | None:
        """Best effort for custom formats: ISO 8601 or a few common layouts (year-less -> this year)."""
        v = self.iso(text)
        if v is not None:
            return v
        s = re.sub(r"[.,]\d+$", "", text.strip())
        s = re.sub(r"\s+", " ", s)
        for fmt in self._GENERIC:
            try:
                d = datetime.strptime(s, fmt)
            except ValueError:
                continue
            if "%Y" not in fmt and "%y" not in fmt:
                d = d.replace(year=datetime.now(UTC).year)
            return d.replace(tzinfo=self.tz).timestamp()
        return None


# -- Loghub header templates ----------------------------------------------------------------------
def compile_header_template(fmt: str) -> tuple[re.Pattern[str], list[str]]:
    """A Loghub log format to ``(regex, headers)``, exactly as Loghub's parsers build it."""
    if not isinstance(fmt, str) or "<Content>" not in fmt:
        raise BadInput(f"invalid --log-format {fmt!r}: it needs a <Content> field, e.g. '<Date> <Time> <Level>: <Content>'")
    headers: list[str] = []
    parts = re.split(r"(<[^<>]+>)", fmt)
    regex = ""
    for k, part in enumerate(parts):
        if k % 2 == 0:
            regex += re.sub(" +", r"\\s+", part)
        else:
            name = part.strip("<>")
            if not re.fullmatch(r"[A-Za-z_]\w*", name) or name in headers:
                raise BadInput(f"invalid --log-format {fmt!r}: bad or repeated field <{name}>")
            regex += f"(?P<{name}>.*?)"
            headers.append(name)
    try:
        return re.compile("^" + regex + "$"), headers
    except re.error as exc:
        raise BadInput(f"invalid --log-format {fmt!r}: {exc}") from None


_CONT_DEFAULT = ("Caused by:", "Traceback", "at ", "...")
_TIME_FIELDS = frozenset(("Date", "Day", "Month", "Year", "Time", "Timestamp", "Datetime"))


class LineParser:
    """Turns ``(line_number, bytes)`` pairs into :class:`Record` objects, folding continuations."""

    def __init__(
        self,
        *,
        tz: tzinfo,
        header: str | None = None,
        continuation: Iterable[str] = _CONT_DEFAULT,
        text_regex: str | None = None,
        json_keys: dict[str, str] | None = None,
        code_regex: str | None = None,
    ) -> None:
        self.tz = tz
        self.times = TimeParser(tz)
        self.continuation = tuple(continuation)
        self.custom: re.Pattern[str] | None = None
        self.headers: list[str] = []
        if header:
            self.custom, self.headers = compile_header_template(header)
        self.text_re = re.compile(text_regex) if text_regex else None
        self.json_keys = json_keys or {}
        self.code_re = re.compile(code_regex) if code_regex else None

    @classmethod
    def for_profile(cls, profile, *, header: str | None = None, utc: bool | None = None) -> LineParser:
        fmt = profile.data("log_format") if profile.has("log_format") else {}
        tzname = "UTC" if utc or (utc is None and fmt.get("utc")) else (fmt.get("timezone") or "UTC")
        text = fmt.get("text") or {}
        js = fmt.get("json") or {}
        return cls(
            tz=ZoneInfo(tzname),
            header=header,
            continuation=fmt.get("continuation") or _CONT_DEFAULT,
            text_regex=text.get("regex"),
            json_keys=js.get("keys") or {},
            code_regex=fmt.get("code_regex"),
        )

    @classmethod
    def from_template(cls, header: str, tz: tzinfo | None = None) -> LineParser:
        return cls(tz=tz or ZoneInfo("UTC"), header=header)

    # -- one line ---------------------------------------------------------------------------------
    def is_continuation(self, line: str) -> bool:
        return bool(line) and (line[0] in " \t" or line.startswith(self.continuation))

    def parse_line(self, line: str, source: str, node: str, lineno: int) -> Record | None:
        """A record, or None when the line continues the previous record."""
        if self.custom is not None:
            m = self.custom.match(line)
            if m is None:
                if self.is_continuation(line):
                    return None
                return Record(None, None, None, None, line.strip(), source, node, lineno, line)
            g = m.groupdict()
            ts = None
            when = " ".join(g[k] for k in self.headers if k in _TIME_FIELDS and g.get(k))
            if when:
                ts = self.times.generic(when) if len(when) < 40 else None
            level = normalise_level(g.get("Level"))
            module = g.get("Component") or g.get("Module")
            code = g.get("Code") or None
            content = g.get("Content", "")
            if code == "-":
                code = None
            elif code is None and self.code_re is not None:
                cm = self.code_re.search(content)
                code = cm.group(0) if cm else None
            return Record(ts, level, module, code, content, source, node, lineno, line, True)
        if line[:1] == "{":
            rec = self._json(line, source, node, lineno)
            if rec is not None:
                return rec
        if self.text_re is not None:
            m = self.text_re.match(line)
            if m is not None:
                ts = self.times.ymd_hms(m.group("date"), m.group("time"))
                code = m.group("code")
                if code == "-":
                    code = None
                return Record(ts, normalise_level(m.group("level")), m.group("module"), code,
                              m.group("content") or "", source, node, lineno, line, True)
        if self.is_continuation(line):
            return None
        code = None
        if self.code_re is not None:
            cm = self.code_re.search(line)
            code = cm.group(0) if cm else None
        return Record(self._guess_ts(line), _guess_level(line), None, code, line.strip(), source, node, lineno, line)

    _LEAD_TS = re.compile(r"^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)")

    def _guess_ts(self, line: str) -> float | None:
        m = self._LEAD_TS.match(line)
        if m:
            return self.times.ymd_hms(m.group(1), m.group(2))
        return None

    def _json(self, line: str, source: str, node: str, lineno: int) -> Record | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        k = self.json_keys
        ts_raw = obj.get(k.get("ts", "ts"))
        ts = self.times.iso(str(ts_raw)) if ts_raw is not None else None
        code = obj.get(k.get("code", "code"))
        if code in ("-", "", None):
            code = None
        msg = str(obj.get(k.get("msg", "msg"), ""))
        skip = {k.get(x, x) for x in ("ts", "level", "module", "code", "msg")}
        pairs = []
        fields: dict[str, str] = {}
        for key, value in obj.items():
            if key in skip:
                continue
            sval = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            fields[key] = sval
            pairs.append(f'{key}="{sval}"' if " " in sval else f"{key}={sval}")
        content = msg + (" " + " ".join(pairs) if pairs else "")
        rec = Record(ts, normalise_level(str(obj.get(k.get("level", "level"), ""))),
                     obj.get(k.get("module", "module")) or None, str(code) if code else None,
                     content, source, node, lineno, line, True)
        rec._fields = fields
        return rec

    # -- a stream ---------------------------------------------------------------------------------
    def records(self, lines: Iterable[tuple[int, bytes]], *, source: str = "-", node: str = "",
                max_extra: int = 200) -> Iterator[Record]:
        """Records in input order with their continuation lines folded in."""
        pending: Record | None = None
        for lineno, raw in lines:
            line = decode_line(raw)
            if not line.strip():
                continue
            rec = self.parse_line(line, source, node, lineno)
            if rec is None:
                if pending is not None:
                    if pending.extra is None:
                        pending.extra = []
                    if len(pending.extra) < max_extra:
                        pending.extra.append(line.rstrip())
                    continue
                rec = Record(None, None, None, None, line.strip(), source, node, lineno, line)
            if pending is not None:
                yield pending
            pending = rec
        if pending is not None:
            yield pending


_GUESS_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|SEVERE|CRIT(?:ICAL)?|FATAL|PANIC)\b")


def _guess_level(line: str) -> str | None:
    m = _GUESS_LEVEL.search(line[:200])
    return normalise_level(m.group(1)) if m else None


def epoch_to_iso(ts: float | None, tz: tzinfo | None = None) -> str | None:
    if ts is None:
        return None
    d = datetime.fromtimestamp(ts, UTC)
    if tz is not None:
        d = d.astimezone(tz)
    return d.isoformat(timespec="milliseconds")


__all__ = [
    "LEVELS", "LEVEL_RANK", "LineParser", "Record", "TimeParser", "compile_header_template",
    "epoch_to_iso", "normalise_level", "parse_kv",
]
