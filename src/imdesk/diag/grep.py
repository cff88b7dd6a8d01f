"""``diag grep``: the seed's ``grep "ERROR" … | awk '{print $1,$2,$5}'`` done right.

    >>> for rec in grep(["/var/log/im_server"], GrepQuery(level="ERROR", since=..., code="ERR_IM_5003")):
    ...     print(format_fields(rec, ["date", "time", "code"], tz))

Reads files, folders and bundles (rotated ``.gz`` included) through the safe readers, folds stack
traces into their record, and filters records by minimum level, module, code and time window. In
im_server text logs, blocks of lines wholly outside the time window are skipped without parsing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from itertools import compress
from operator import itemgetter

from imdesk.core.errors import BadInput
from imdesk.diag.formats import LEVEL_RANK, LineParser, Record, normalise_level
from imdesk.diag.readers import Walker, decode_line

FIELDS = ("date", "time", "level", "module", "code", "message", "file", "line", "node", "raw")


@dataclass
class GrepQuery:
    level: str | None = None  # minimum level
    module: str | None = None
    code: str | None = None
    since: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        if self.level is not None:
            lv = normalise_level(self.level)
            if lv is None:
                raise BadInput(f"unknown level {self.level!r}: use one of {', '.join(LEVEL_RANK)}")
            self.level = lv
        if self.code is not None:
            self.code = self.code.strip().upper()


def _ts_of(raw: bytes, parser: LineParser) -> float | None:
    """The time of an im_server text line (None for anything else)."""
    m = parser.text_re.match(decode_line(raw[:200])) if parser.text_re is not None else None
    return parser.times.ymd_hms(m.group("date"), m.group("time")) if m is not None else None


_LETTERS = {"DEBUG": b"DIWEF", "INFO": b"IWEF", "WARN": b"WEF", "ERROR": b"EF", "FATAL": b"F"}


def grep(paths: list[str], query: GrepQuery, parser: LineParser, walker: Walker) -> Iterator[Record]:
    min_rank = LEVEL_RANK[query.level] if query.level else None
    for entry in walker.walk(*paths):
        if entry.kind != "log":
            continue
        base = 0
        pending: Record | None = None
        level_at: itemgetter | None = None
        fast: bool | None = None
        for block in entry.blocks(prefetch=True):
            n = len(block)
            if fast is None:
                level_at = _text_layout(block, parser)
                fast = level_at is not None and (query.level not in (None, "DEBUG") or query.code is not None)
            if query.since is not None or query.until is not None:
                t0, t1 = _ts_of(block[0], parser), _ts_of(block[-1], parser)
                if t0 is not None and t1 is not None and (
                    (query.until is not None and t0 > query.until) or (query.since is not None and t1 < query.since)
                ):
                    if pending is not None and _keep(pending, query, min_rank):
                        yield pending
                    pending = None
                    base += n
                    continue
            if fast:
                yield from _fast_block(block, base, entry, query, min_rank, parser, level_at)
                base += n
                continue
            for i, raw in enumerate(block):
                line = decode_line(raw).rstrip("\r")
                if not line.strip():
                    continue
                rec = parser.parse_line(line, entry.name, entry.node, base + i + 1)
                if rec is None:
                    if pending is not None:
                        if pending.extra is None:
                            pending.extra = []
                        if len(pending.extra) < 200:
                            pending.extra.append(line)
                    continue
                if pending is not None and _keep(pending, query, min_rank):
                    yield pending
                pending = rec
            base += n
        if pending is not None and _keep(pending, query, min_rank):
            yield pending


def _text_layout(block: list[bytes], parser: LineParser) -> itemgetter | None:
    """A getter of the level's first byte when the block is im_server text with the level at one
    byte offset (the file's own time layout decides where), else None."""
    if parser.custom is not None or parser.text_re is None:
        return None
    head = [ln for ln in block[:40] if ln.strip()][:20]
    matches = [m for m in (parser.text_re.match(decode_line(ln)) for ln in head) if m is not None]
    offsets = {len(m.string[: m.start("level")].encode()) for m in matches}
    if not head or len(matches) < max(1, len(head) // 2) or len(offsets) != 1:
        return None
    off = offsets.pop()
    return itemgetter(slice(off, off + 1))


def _fast_block(block: list[bytes], base: int, entry, query: GrepQuery, min_rank: int | None,
                parser: LineParser, level_at: itemgetter) -> Iterator[Record]:
    """Only lines that can pass the level/code filter are parsed (im_server text layout)."""
    idx = range(len(block))
    sel: set[int] | None = None
    if query.level not in (None, "DEBUG"):
        allowed = frozenset(bytes([c]) for c in _LETTERS[query.level])
        sel = set(compress(idx, map(allowed.__contains__, map(level_at, block))))
    if query.code is not None:
        blob = b"\n".join(block)
        lit = query.code.encode("ascii", "replace")
        hits: set[int] = set()
        pos, line, last = blob.find(lit), 0, 0
        while pos >= 0:
            line += blob.count(b"\n", last, pos)
            last = pos
            hits.add(line)
            nl = blob.find(b"\n", pos)
            if nl < 0:
                break
            pos = blob.find(lit, nl)
        sel = hits if sel is None else sel & hits
    n = len(block)
    for i in sorted(sel or ()):
        raw = block[i]
        if raw[:1] in (b" ", b"\t"):
            continue
        rec = parser.parse_line(decode_line(raw).rstrip("\r"), entry.name, entry.node, base + i + 1)
        if rec is None:
            continue
        j = i + 1
        while j < n and j - i <= 200:
            nxt = decode_line(block[j]).rstrip("\r")
            if not nxt or not parser.is_continuation(nxt):
                break
            if rec.extra is None:
                rec.extra = []
            rec.extra.append(nxt)
            j += 1
        if _keep(rec, query, min_rank):
            yield rec


def _keep(rec: Record, q: GrepQuery, min_rank: int | None) -> bool:
    if min_rank is not None and LEVEL_RANK.get(rec.level or "", -1) < min_rank:
        return False
    if q.module is not None and (rec.module or "") != q.module:
        return False
    if q.code is not None and (rec.code or "") != q.code:
        return False
    if q.since is not None or q.until is not None:
        if rec.ts is None:
            return False
        if q.since is not None and rec.ts < q.since:
            return False
        if q.until is not None and rec.ts > q.until:
            return False
    return True


def parse_fields(spec: str | None) -> list[str] | None:
    if not spec:
        return None
    out = [f.strip() for f in spec.split(",") if f.strip()]
    if not out:
        raise BadInput("--fields is empty")
    return out


def format_fields(rec: Record, fields: list[str] | None, tz: tzinfo) -> str:
    """The record as its raw line (no ``fields``) or the chosen fields separated by spaces.

    Known names: date, time, level, module, code (``-`` when none), message, file, line, node, raw;
    any other name is looked up among the record's ``key=value`` fields (``-`` when absent)."""
    if not fields:
        text = rec.raw
        return text + ("\n" + "\n".join(rec.extra) if rec.extra else "")
    local = datetime.fromtimestamp(rec.ts, UTC).astimezone(tz) if rec.ts is not None else None
    out = []
    for f in fields:
        if f == "date":
            out.append(local.strftime("%Y-%m-%d") if local else "-")
        elif f == "time":
            out.append(local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}" if local else "-")
        elif f == "level":
            out.append(rec.level or "-")
        elif f == "module":
            out.append(rec.module or "-")
        elif f == "code":
            out.append(rec.code or "-")
        elif f == "message":
            out.append(rec.content)
        elif f == "file":
            out.append(rec.source)
        elif f == "line":
            out.append(str(rec.line))
        elif f == "node":
            out.append(rec.node or "-")
        elif f == "raw":
            out.append(rec.raw)
        else:
            out.append(rec.fields.get(f, "-"))
    return " ".join(out)
