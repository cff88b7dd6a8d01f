"""Root-cause analysis of logs and support bundles.

    >>> report = analyze(["bundle.tar.gz"], AnalyzeOptions(since=..., until=...))
    >>> report["findings"][0]["rule_id"]         # the most important finding first

What happens:

1. :mod:`readers` walks the input safely (archives, nesting, caps); ``im_config.yaml`` files are
   kept for the config cross-check, everything else that looks like a log is read.
2. Each log is read in blocks. An im_server text or JSON log takes the **fast path**: only records
   that can matter are parsed, the others (DEBUG/INFO lines) are only counted. A record can matter
   when its level is above INFO, when it is not a normal record (panics, raw messages), when it
   reports connection counts, or -- at any level -- when one of its lines holds a literal that some
   rule needs (:meth:`RuleSet.line_literals`: the literals derived from every rule regex, and the
   codes). Those literals are searched for in the lower-cased block in one pass by an Aho-Corasick
   automaton (``ahocorasick_rs``), however many there are. A hit on a continuation line (stack trace) selects
   the record it belongs to; a record is folded with its continuation lines exactly as on the full
   path, also across blocks.
   So the fast path finds what the full path finds (tests/diag/test_analyze_prefilter.py checks
   it); when a rule regex has no usable literal (``RuleSet.unfiltered``) every file takes the full
   path. Other formats take the full path where every record is parsed. The time window
   (``--since/--until``) applies to records; whole blocks outside it are skipped unparsed.
3. Records are matched against the profile's rules (codes, regexes) and mined into templates.
4. Findings are ranked by importance, not by count: severity first (of the problem, not the level
   it was logged at), then intensity (the peak rate in the rule's window, logarithmically), and a
   cause always ranks above what it explains (``explains`` in rules.yaml; a config problem found by
   the cross-check ranks above the log findings it confirms).
5. Also: a timeline of error rates per template, spikes, templates new since a baseline, and stats.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import tzinfo
from itertools import compress
from operator import and_, itemgetter, not_
from typing import Any
from zoneinfo import ZoneInfo

import ahocorasick_rs

from imdesk.core.logging import redact_text
from imdesk.diag.crosscheck import NodeConfig, check_configs, parse_config
from imdesk.diag.formats import LEVEL_RANK, LineParser, Record, epoch_to_iso
from imdesk.diag.mining import TemplateMiner
from imdesk.diag.readers import Entry, Limits, Walker, decode_line
from imdesk.diag.rules import SEVERITY_RANK, Rule, RuleSet, load_rules
from imdesk.profiles import load_profile

_WARN = LEVEL_RANK["WARN"]
_QUIET = {b"D": "DEBUG", b"I": "INFO"}  # level letters of the lines the fast path only counts
_PEAK_FIELDS = ("conns", "connections", "active_conns", "current_conns")
MAX_TEMPLATES = 500  # in the report; stats["templates"] has the total
MAX_CARRY = 1000  # lines of a record held back for the next block (head, trace, blank lines)
def _matcher(forms: set[bytes]) -> ahocorasick_rs.BytesAhoCorasick:
    """One automaton for every literal a line may hold (Aho-Corasick with SIMD prefilters): a block
    is searched for all of them in a single pass, whatever their number."""
    return ahocorasick_rs.BytesAhoCorasick(sorted(forms))


def _byte_forms(literals: tuple[str, ...], *, json_mode: bool) -> set[bytes]:
    r"""The lower-cased byte strings a raw line holds when a record's text holds one of ``literals``.

    UTF-8 and GB18030 (lines are decoded per line with either). In JSON lines also the escaped
    forms (``\"``, ``\\``, ``\/``, control characters), and ``\u00`` (``\u`` for a non-ASCII
    literal): a line with such an escape is looked at too, as the escape may spell a literal.
    """
    out: set[bytes] = set()
    unicode_esc = False
    for lit in literals:
        forms = {lit}
        if json_mode:
            esc = json.dumps(lit, ensure_ascii=False)[1:-1]
            forms.add(esc)
            slashes = esc.count("/")
            if 0 < slashes <= 3:
                variants = [""]
                for part in esc.split("/")[:-1]:
                    variants = [v + part + sep for v in variants for sep in ("/", "\\/")]
                forms.update(v + esc.split("/")[-1] for v in variants)
            elif slashes:
                out.add(b"\\/")
            unicode_esc = unicode_esc or not lit.isascii()
        for f in forms:
            out.add(f.encode("utf-8", "surrogatepass").lower())
            if not f.isascii():
                with suppress(UnicodeEncodeError):  # a lone surrogate (from a JSON escape)
                    out.add(f.encode("gb18030").lower())
    if json_mode:
        out.add(b"\\u" if unicode_esc else b"\\u00")
    return out


@dataclass
class AnalyzeOptions:
    profile: str | None = None
    since: float | None = None  # epoch seconds
    until: float | None = None
    baseline: str | None = None  # a template baseline (JSON) to compare with
    save_baseline: str | None = None
    limits: Limits = field(default_factory=Limits)
    log_format: str | None = None  # a Loghub-style header template for non-profile logs
    progress: Callable[[int, str], None] | None = None  # (bytes read so far, current member)
    fast_path: bool = True
    utc: bool | None = None  # read naive timestamps as UTC (log.utc: true); None: the profile's zone
    block_bytes: int | None = None  # about how much of a log is read and scanned at once (default 4 MiB)


class _RuleAcc:
    __slots__ = ("rule", "count", "first", "last", "evidence", "nodes", "targets", "buckets", "no_ts", "sample",
                 "half")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.evidence: list[str] = []
        self.nodes: set[str] = set()
        self.targets: Counter[str] = Counter()
        self.buckets: Counter[int] = Counter()
        self.no_ts = 0
        self.sample: str | None = None
        self.half = max(rule.threshold_window / 2, 1.0)

    def add(self, rec: Record, target: str | None) -> None:
        self.count += 1
        ts = rec.ts
        if ts is None:
            self.no_ts += 1
        else:
            if self.first is None or ts < self.first:
                self.first = ts
            if self.last is None or ts > self.last:
                self.last = ts
            self.buckets[int(ts // self.half)] += 1
        if len(self.evidence) < 5:
            self.evidence.append(rec.evidence)
        if rec.node:
            self.nodes.add(rec.node)
        if target:
            self.targets[target.strip("[]")] += 1
        if self.sample is None:
            text = redact_text(rec.content)
            self.sample = (text[:300] + "…") if len(text) > 300 else text

    def add_template(self, stats: list[Any], template: str) -> None:
        """A whole template's records at once (template rules, evaluated once mining is done)."""
        count, first, last, evidence, _rank, minutes = stats
        self.count += count
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last
        timed = 0
        for minute, c in minutes.items():
            self.buckets[int(minute * 60 // self.half)] += c
            timed += c
        self.no_ts += count - timed
        if len(self.evidence) < 5:
            self.evidence.append(evidence)
        if self.sample is None:
            self.sample = template

    def peak(self) -> tuple[int, float | None]:
        """Most matches in any window of the rule (two adjacent half-windows), and when."""
        if not self.buckets:
            return self.no_ts, None
        b = self.buckets
        k = max(b, key=lambda k: (b[k] + b.get(k + 1, 0), -k))
        return b[k] + b.get(k + 1, 0), k * self.half


class Analyzer:
    """Feed it entries (or records); ask it for the report."""

    def __init__(self, opts: AnalyzeOptions | None = None) -> None:
        self.opts = opts or AnalyzeOptions()
        self.profile = load_profile(self.opts.profile)
        self.rules: RuleSet = load_rules(self.profile)
        self.local_parser = LineParser.for_profile(self.profile, header=self.opts.log_format, utc=self.opts.utc)
        self.utc_parser: LineParser | None = None
        self.utc_nodes: set[str] = set()  # nodes whose config says log.utc: true
        self.parser = self.local_parser  # the parser of the entry being read
        fmt = self.profile.data("log_format") if self.profile.has("log_format") else {}
        self.tz: tzinfo = ZoneInfo(fmt.get("timezone") or "UTC")  # reports show the profile's zone
        self.miner = TemplateMiner.load(self.opts.baseline) if self.opts.baseline else TemplateMiner()
        self.accs: dict[str, _RuleAcc] = {}
        self.key_stats: dict[int, list[Any]] = {}  # key -> [count, first, last, evidence, level, minutes]
        self.configs: list[NodeConfig] = []
        self.peaks: dict[str, tuple[float, str]] = {}
        self.levels: Counter[str] = Counter()
        self.records = 0
        self.lines = 0
        self.skipped_window = 0
        self.files: list[str] = []
        self.nodes: set[str] = set()
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.started = time.perf_counter()
        self.walker: Walker | None = None
        self.fast_files = 0
        self.unknown_format: list[str] = []
        self._recognised = 0
        # what a line must hold to matter at level DEBUG/INFO: a rule literal or a connection count
        # (`conns=` / `connections=` in a text line, the field names in JSON)
        lits = self.rules.line_literals()
        self._forms = {"text": _byte_forms(lits, json_mode=False) | {b"conns=", b"connections="},
                       "json": _byte_forms(lits, json_mode=True) | {b'conns"', b'connections"'}}
        self._matchers = {layout: _matcher(forms) for layout, forms in self._forms.items()}
        self._cont_b = tuple(c.encode() for c in self.local_parser.continuation)
        self._carry: list[bytes] = []

    # -- input ------------------------------------------------------------------------------------
    def run(self, paths: list[str]) -> dict[str, Any]:
        with Walker(self.opts.limits) as walker:
            self.walker = walker
            for entry in walker.walk(*paths):
                if entry.kind == "config":
                    raw = entry.read_all(walker.limits.max_config_bytes)
                    if raw is not None:
                        cfg = parse_config(decode_line(raw), name=entry.name, node=entry.node)
                        if cfg.error:
                            walker.problem(entry.name, cfg.error)
                        elif cfg.values.get("log.utc") is True:
                            self.utc_nodes.update({entry.node, cfg.node})
                        self.configs.append(cfg)
                    continue
                try:
                    self.feed_entry(entry)
                except Exception as exc:  # noqa: BLE001 - one unreadable member must not stop the analysis
                    walker.problem(entry.name, f"could not be analysed ({type(exc).__name__}: {exc})")
            report = self.report()
        if self.opts.save_baseline:
            self.miner.save(self.opts.save_baseline)
        return report

    def feed_entry(self, entry: Entry) -> None:
        self.parser = self.local_parser
        if entry.node and entry.node in self.utc_nodes:  # log.utc: true in this node's config
            if self.utc_parser is None:
                self.utc_parser = LineParser.for_profile(self.profile, header=self.opts.log_format, utc=True)
            self.parser = self.utc_parser
        self.files.append(entry.name)
        if entry.node:
            self.nodes.add(entry.node)
        blocks = entry.blocks(self.opts.block_bytes, prefetch=True) if self.opts.block_bytes else \
            entry.blocks(prefetch=True)
        first = next(blocks, None)
        if first is None:
            return
        layout = self._layout(first) if self.opts.fast_path and not self.rules.unfiltered else None
        fast = layout is not None
        if fast:
            self.fast_files += 1
        self._recognised = 0
        self._carry = []
        base = 0
        block: list[bytes] | None = first
        pending: Record | None = None
        while block is not None:
            self.lines += len(block)
            size = len(block)
            nxt = next(blocks, None)
            if fast:
                # the last record of a block may go on in the next one: hold it back
                start = base - len(self._carry)
                if self._carry:
                    block = self._carry + block
                cut = self._tail(block, entry) if nxt is not None else len(block)
                self._carry = block[cut:]
                block = block[:cut]
                if layout == "text":
                    self._fast_block(block, start, entry)
                else:
                    self._fast_json_block(block, start, entry)
            else:
                pending = self._slow_block(block, base, entry, pending)
            base += size
            if self.opts.progress is not None and self.walker is not None:
                self.opts.progress(self.walker.total_bytes, entry.name)
            block = nxt
        if pending is not None:
            self._record(pending)
        if not fast and self._recognised == 0 and base > 0:
            self.unknown_format.append(entry.name)
            if self.walker is not None:
                self.walker.problem(entry.name, "unknown log format: no line has the profile's text or JSON layout "
                                    "(raw messages were still checked; give --log-format for another layout)")

    def _layout(self, first: list[bytes]) -> str | None:
        """``text`` or ``json`` when most of the first lines have the profile's layout, else None."""
        p = self.parser
        if p.custom is not None:
            return None
        head = [ln for ln in first[:40] if ln.strip()][:20]
        if not head:
            return None
        need = max(1, len(head) // 2)
        if p.text_re is not None:
            matches = [m for m in (p.text_re.match(decode_line(ln)) for ln in head) if m is not None]
            offsets = {len(m.string[: m.start("level")].encode()) for m in matches}
            if len(matches) >= need and len(offsets) == 1:  # the level sits at one byte offset
                off = offsets.pop()
                self._level_at = itemgetter(slice(off, off + 1))
                return "text"
        level_key = p.json_keys.get("level", "level")
        ok = 0
        for ln in head:
            if ln[:1] == b"{":
                try:
                    obj = json.loads(ln)
                except ValueError:
                    continue
                ok += isinstance(obj, dict) and level_key in obj
        return "json" if ok >= need else None

    def _fast_json_block(self, block: list[bytes], base: int, entry: Entry) -> None:
        """JSON lines: the INFO/DEBUG ones without a code or a connection count are only counted."""
        since, until = self.opts.since, self.opts.until
        if since is not None or until is not None:
            t0, t1 = self._json_ts(block[0]), self._json_ts(block[-1])
            if t0 is not None and t1 is not None and (
                (until is not None and t0 > until) or (since is not None and t1 < since)
            ):
                self.skipped_window += len(block)
                return
        if not block:
            return
        key = self.parser.json_keys.get("level", "level").encode()
        blob = b"\n".join(block)
        quiet = []
        for level in (b"INFO", b"DEBUG"):
            pats = [b'"' + key + b'"' + sep + b'"' + level + b'"' for sep in (b":", b": ")]
            quiet += pats
            n = sum(blob.count(pat) for pat in pats)
            if n:
                self.levels[level.decode()] += n
                self.records += n
        q0, q1, q2, q3 = quiet
        loud = [i for i, ln in enumerate(block) if not (q0 in ln or q1 in ln or q2 in ln or q3 in ln)]
        hits = self._hits(blob, "json")
        del blob
        self._parse_selected(block, base, entry, loud, hits, None)

    def _hits(self, blob: bytes, layout: str) -> set[int]:
        """Indexes of the lines of ``blob`` (a block's lines joined by ``\\n``) holding a literal.

        The block is lower-cased (ASCII, one C pass) and searched once for all the literals; a
        match's line is the number of line ends before it, counted between consecutive matches,
        so the whole block is counted once. Matches do not overlap, which never loses a line: an
        overlapped literal lies on the line of the match that covers it.
        """
        out: set[int] = set()
        line = last = 0
        for _, start, _ in self._matchers[layout].find_matches_as_indexes(blob.lower()):
            line += blob.count(b"\n", last, start)
            last = start
            out.add(line)
        return out

    def _plain(self, raw: bytes) -> bool:
        """Cheap and sure: the line is neither blank nor a continuation line (else ask :meth:`_cont`)."""
        c = raw[:1]
        return bool(c) and b" " < c < b"\x7f" and not raw.startswith(self._cont_b)

    def _cont(self, raw: bytes, entry: Entry) -> bool:
        """The line is blank or continues the previous record (exactly as the full path decides)."""
        line = decode_line(raw).rstrip("\r")
        if not line.strip():
            return True
        return self.parser.is_continuation(line) and self.parser.parse_line(line, entry.name, entry.node, 0) is None

    def _tail(self, block: list[bytes], entry: Entry) -> int:
        """Where the block's last record starts (its lines are carried to the next block)."""
        j = len(block) - 1
        while j >= 0 and not self._plain(block[j]) and self._cont(block[j], entry):
            j -= 1
        if j < 0 or len(block) - j > MAX_CARRY:
            return len(block)
        return j

    def _parse_selected(self, block: list[bytes], base: int, entry: Entry, loud: list[int], hits: set[int],
                        quiet: list[bool] | None) -> None:
        """Parse the records at ``loud`` (lines that are not quiet) and those holding ``hits``.

        A continuation line selects the record it belongs to (when it holds a hit) or nothing.
        ``quiet[i]`` (text logs) says line i was counted already by its level letter.
        """
        heads: set[int] = set()
        plain = self._plain
        for i in sorted(hits.union(loud)):
            raw = block[i]
            if plain(raw):
                heads.add(i)
                continue
            if not self._cont(raw, entry):
                heads.add(i)
                continue
            if i not in hits:
                continue
            j = i - 1
            while j >= 0 and not plain(block[j]) and self._cont(block[j], entry):
                j -= 1
            if j >= 0:  # else the record began before this file's first line
                heads.add(j)
        parser = self.parser
        n = len(block)
        for i in sorted(heads):
            line = decode_line(block[i]).rstrip("\r")
            rec = parser.parse_line(line, entry.name, entry.node, base + i + 1)
            if rec is None:
                continue
            if quiet is None:
                if rec.level in ("DEBUG", "INFO") and rec.raw[:1] == "{":  # counted above already
                    self.levels[rec.level] -= 1
                    self.records -= 1
            elif quiet[i]:
                self.levels[_QUIET[self._level_at(block[i])]] -= 1
                self.records -= 1
            j = i + 1
            while j < n:
                nxt = block[j]
                if plain(nxt):
                    break
                text = decode_line(nxt).rstrip("\r")
                if text.strip():
                    if not (parser.is_continuation(text)
                            and parser.parse_line(text, entry.name, entry.node, 0) is None):
                        break
                    if rec.extra is None:
                        rec.extra = []
                    if len(rec.extra) < 200:
                        rec.extra.append(text.rstrip())
                j += 1
            self._record(rec)

    def _slow_block(self, block: list[bytes], base: int, entry: Entry, pending: Record | None) -> Record | None:
        parser = self.parser
        for i, raw in enumerate(block):
            line = decode_line(raw).rstrip("\r")
            if not line.strip():
                continue
            rec = parser.parse_line(line, entry.name, entry.node, base + i + 1)
            if rec is not None and rec.known:
                self._recognised += 1
            if rec is None:
                if pending is not None:
                    if pending.extra is None:
                        pending.extra = []
                    if len(pending.extra) < 200:
                        pending.extra.append(line.rstrip())
                continue
            if pending is not None:
                self._record(pending)
            pending = rec
        return pending

    _level_at = itemgetter(slice(24, 25))  # set by _layout from the file's first lines
    _HEAD = itemgetter(slice(0, 2))

    def _fast_block(self, block: list[bytes], base: int, entry: Entry) -> None:
        since, until = self.opts.since, self.opts.until
        if since is not None or until is not None:
            t0 = self._line_ts(block[0])
            t1 = self._line_ts(block[-1])
            if t0 is not None and t1 is not None and (
                (until is not None and t0 > until) or (since is not None and t1 < since)
            ):
                self.skipped_window += len(block)
                return
        if not block:
            return
        # normal records (starting with the year) of level DEBUG/INFO are only counted ...
        levels = list(map(self._level_at, block))
        quiet = list(map(and_, map(b"20".__eq__, map(self._HEAD, block)), map(_QUIET.__contains__, levels)))
        counts = Counter(compress(levels, quiet))
        for letter, name in _QUIET.items():
            n = counts.get(letter)
            if n:
                self.levels[name] += n
                self.records += n
        # ... unless a line of theirs holds a rule literal or a connection count (found at C speed);
        # every other line is parsed: levels above INFO, raw messages, panics
        loud = list(compress(range(len(block)), map(not_, quiet)))
        hits = self._hits(b"\n".join(block), "text")
        self._parse_selected(block, base, entry, loud, hits, quiet)

    def _json_ts(self, raw: bytes) -> float | None:
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
        ts = obj.get(self.parser.json_keys.get("ts", "ts")) if isinstance(obj, dict) else None
        return self.parser.times.iso(str(ts)) if ts is not None else None

    def _line_ts(self, raw: bytes) -> float | None:
        m = self.parser.text_re.match(decode_line(raw[:200])) if self.parser.text_re is not None else None
        if m is None:
            m = self.parser.text_re.match(decode_line(raw)) if self.parser.text_re is not None else None
        return self.parser.times.ymd_hms(m.group("date"), m.group("time")) if m is not None else None

    # -- records ----------------------------------------------------------------------------------
    def _record(self, rec: Record) -> None:
        ts = rec.ts
        if ts is not None:
            if (self.opts.since is not None and ts < self.opts.since) or (
                self.opts.until is not None and ts > self.opts.until
            ):
                self.skipped_window += 1
                return
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts
        self.records += 1
        level = rec.level
        if level:
            self.levels[level] += 1
        if rec.node:
            self.nodes.add(rec.node)
        hits = self.rules.match(rec)
        if rec.content and ("conns=" in rec.content or "connections=" in rec.content):
            self._peak(rec)
        rank = LEVEL_RANK.get(level, -1) if level else -1
        if not hits and rank < _WARN:
            return
        key = self.miner.add_fast(rec.content)
        st = self.key_stats.get(key)
        minute = int(ts // 60) if ts is not None else None
        if st is None:
            st = self.key_stats[key] = [0, ts, ts, rec.evidence, rank, Counter()]
        st[0] += 1
        if ts is not None:
            if st[1] is None or ts < st[1]:
                st[1] = ts
            if st[2] is None or ts > st[2]:
                st[2] = ts
            st[5][minute] += 1
        if rank > st[4]:
            st[4] = rank
        for rule, target in hits:
            acc = self.accs.get(rule.id)
            if acc is None:
                acc = self.accs[rule.id] = _RuleAcc(rule)
            acc.add(rec, target)

    def _peak(self, rec: Record) -> None:
        f = rec.fields
        for name in _PEAK_FIELDS:
            v = f.get(name)
            if v is None:
                continue
            try:
                n = float(v)
            except ValueError:
                continue
            node = rec.node or ""
            cur = self.peaks.get(node)
            if cur is None or n > cur[0]:
                self.peaks[node] = (n, rec.evidence)

    # -- the report -------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        W = self.rules.weights
        for rule in self.rules.template_rules:
            for key, st in self.key_stats.items():
                g = self.miner.group_of(key)
                if rule.template is not None and rule.template.search(g.template):
                    acc = self.accs.get(rule.id)
                    if acc is None:
                        acc = self.accs[rule.id] = _RuleAcc(rule)
                    acc.add_template(st, g.template)
        findings: list[dict[str, Any]] = []
        by_rule: dict[str, dict[str, Any]] = {}
        fired: dict[str, set[str]] = {}
        for rid, acc in self.accs.items():
            r = acc.rule
            peak, peak_at = acc.peak()
            isolated = peak < r.threshold_count
            sev = r.severity
            if isolated and SEVERITY_RANK[r.isolated] > SEVERITY_RANK[sev]:
                sev = r.isolated
            score = W[sev] * (1 + math.log10(1 + peak) / 10)
            f = {
                "rule_id": rid,
                "title": r.title,
                "title_zh": r.title_zh,
                "severity": sev,
                "code": sorted(r.codes)[0] if r.codes else None,
                "root_cause": r.root_cause,
                "root_cause_zh": r.root_cause_zh,
                "fix": r.fix,
                "fix_zh": r.fix_zh,
                "config_keys": list(r.config_keys),
                "count": acc.count,
                "first_seen": epoch_to_iso(acc.first, self.tz),
                "last_seen": epoch_to_iso(acc.last, self.tz),
                "evidence": list(acc.evidence),
                "kb": list(r.kb),
                "nodes": sorted(acc.nodes),
                "peak": peak,
                "window": r.threshold_window,
                "isolated": isolated,
                "targets": [t for t, _ in acc.targets.most_common(5)],
                "sample": acc.sample,
                "explained_by": None,
                "score": score,
                "_score0": score,
                "_first": acc.first,
                "_last": acc.last,
                "_peak_at": peak_at,
            }
            if f["targets"]:
                f["root_cause"] += " Targets: " + ", ".join(f["targets"]) + "."
                if f["root_cause_zh"]:
                    f["root_cause_zh"] += "目标地址：" + "、".join(f["targets"]) + "。"
            findings.append(f)
            by_rule[rid] = f
            if not isolated or not r.threshold_count > 1:
                fired[rid] = set(acc.nodes) or {""}
        # causes rank above what they explain, and are at least as severe
        for _ in range(4):
            changed = False
            for f in sorted(findings, key=lambda x: -x["score"]):
                if f["rule_id"] not in fired:
                    continue
                for e in self.rules.by_id[f["rule_id"]].explains:
                    g = by_rule.get(e)
                    if g is None or g is f or not _overlaps(f, g, self.rules.by_id[f["rule_id"]].explains_within):
                        continue
                    if g["explained_by"] not in (None, f["rule_id"]):
                        other = by_rule.get(g["explained_by"])
                        if other is not None and other["score"] >= f["score"]:
                            continue
                    if g["rule_id"] in fired and SEVERITY_RANK[g["severity"]] < SEVERITY_RANK[f["severity"]]:
                        f["severity"] = g["severity"]
                        changed = True
                    if g["rule_id"] in fired and g["_score0"] * 1.05 > f["score"]:
                        f["score"] = g["_score0"] * 1.05
                        changed = True
                    if g["explained_by"] != f["rule_id"] or g["score"] > f["score"] * 0.9:
                        g["explained_by"] = f["rule_id"]
                        g["score"] = min(g["score"], f["score"] * 0.9)
                        changed = True
            if not changed:
                break
        # the config cross-check
        for cf in check_configs(self.rules, self.configs, fired, peaks=self.peaks):
            rule = cf.rule
            logs = [by_rule[c] for c in rule.confirms if c in by_rule]
            score = W[cf.severity] * 1.05
            if cf.confirmed and logs:
                score = max(score, max(g["score"] for g in logs) * 1.1 + 1)
            count = sum(g["count"] for g in logs)
            firsts = [g["_first"] for g in logs if g["_first"] is not None]
            lasts = [g["last_seen"] for g in logs if g["last_seen"]]
            f = {
                "rule_id": rule.id,
                "title": rule.title,
                "title_zh": rule.title_zh,
                "severity": cf.severity,
                "code": rule.code,
                "root_cause": cf.root_cause,
                "root_cause_zh": cf.root_cause_zh,
                "fix": cf.fix,
                "fix_zh": cf.fix_zh,
                "config_keys": list(rule.config_keys),
                "count": count,
                "first_seen": epoch_to_iso(min(firsts), self.tz) if firsts else None,
                "last_seen": max(lasts) if lasts else None,
                "evidence": cf.evidence + [e for g in logs for e in g["evidence"][:2]],
                "kb": list(rule.kb),
                "nodes": sorted(set(cf.nodes)),
                "peak": max((g["peak"] for g in logs), default=0),
                "window": None,
                "isolated": False,
                "targets": [],
                "sample": None,
                "explained_by": None,
                "score": score,
                "_first": min(firsts) if firsts else None,
            }
            findings.append(f)
            for g in logs:
                if cf.confirmed:
                    g["explained_by"] = rule.id
                    g["score"] = min(g["score"], score * 0.9)
                for k in rule.config_keys:
                    if k not in g["config_keys"]:
                        g["config_keys"].append(k)
        findings.sort(key=lambda f: (-f["score"], f["_first"] if f["_first"] is not None else math.inf, f["rule_id"]))
        for f in findings:
            f["score"] = round(f["score"], 2)
            f.pop("_first", None)
            f.pop("_last", None)
            f.pop("_peak_at", None)
            f.pop("_score0", None)

        groups = self.miner.groups()
        templates = self._templates()
        timeline, spikes = self._timeline(templates)
        new_templates = [t for t in templates if t["new"]] if self.opts.baseline else []
        stats = {
            "files": len(self.files),
            "fast_path_files": self.fast_files,
            "unknown_format_files": len(self.unknown_format),
            "nodes": sorted(self.nodes),
            "configs": [c.name for c in self.configs],
            "lines": self.lines,
            "records": self.records,
            "levels": {k: v for k, v in sorted(self.levels.items(), key=lambda kv: LEVEL_RANK.get(kv[0], 9))},
            "skipped_outside_window": self.skipped_window,
            "bytes": self.walker.total_bytes if self.walker else 0,
            "first_record": epoch_to_iso(self.first_ts, self.tz),
            "last_record": epoch_to_iso(self.last_ts, self.tz),
            "templates": len(groups),
            "seconds": round(time.perf_counter() - self.started, 3),
            "profile": self.profile.name,
            "timezone": str(self.tz),
        }
        return {
            "findings": findings,
            "templates": templates[:MAX_TEMPLATES],
            "timeline": timeline,
            "spikes": spikes,
            "new_templates": new_templates,
            "stats": stats,
            "problems": [str(p) for p in (self.walker.problems if self.walker else [])],
        }

    def _templates(self) -> list[dict[str, Any]]:
        per_group: dict[str, dict[str, Any]] = {}
        for key, (count, first, last, evidence, rank, minutes) in self.key_stats.items():
            g = self.miner.group_of(key)
            t = per_group.get(g.id)
            if t is None:
                t = per_group[g.id] = {
                    "id": g.id, "template": g.template, "count": 0, "level": None, "_rank": -1,
                    "first_seen": None, "last_seen": None, "_first": None, "_last": None,
                    "evidence": evidence, "new": g.is_new, "_minutes": Counter(),
                }
            t["count"] += count
            if rank > t["_rank"]:
                t["_rank"] = rank
                t["level"] = next((k for k, v in LEVEL_RANK.items() if v == rank), None)
            if first is not None and (t["_first"] is None or first < t["_first"]):
                t["_first"] = first
            if last is not None and (t["_last"] is None or last > t["_last"]):
                t["_last"] = last
            t["_minutes"].update(minutes)
        out = sorted(per_group.values(), key=lambda t: (-t["_rank"], -t["count"]))
        for t in out:
            t["first_seen"] = epoch_to_iso(t["_first"], self.tz)
            t["last_seen"] = epoch_to_iso(t["_last"], self.tz)
        return out

    def _timeline(self, templates: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self.first_ts is None or self.last_ts is None:
            for t in templates:
                for k in ("_rank", "_first", "_last", "_minutes"):
                    t.pop(k, None)
            return {"bucket_seconds": None, "start": None, "series": []}, []
        start_min = int(self.first_ts // 60)
        end_min = int(self.last_ts // 60)
        span = end_min - start_min + 1
        bucket = 1
        for b in (1, 5, 15, 60, 360, 1440, 10080):
            bucket = b
            if span / b <= 120:
                break
        nb = span // bucket + 1
        series = []
        spikes = []
        for t in templates:
            minutes = t.pop("_minutes")
            t.pop("_first"), t.pop("_last")
            rank = t.pop("_rank")
            if rank < _WARN or not minutes:
                continue
            counts = [0] * nb
            for m, c in minutes.items():
                idx = (m - start_min) // bucket
                if 0 <= idx < nb:
                    counts[idx] += c
            series.append({"template_id": t["id"], "template": t["template"], "level": t["level"], "counts": counts})
            spikes += _spikes(t, counts, start_min, bucket, self.tz)
        series.sort(key=lambda s: -sum(s["counts"]))
        spikes.sort(key=lambda s: -s["count"])
        return (
            {"bucket_seconds": bucket * 60, "start": epoch_to_iso(start_min * 60.0, self.tz), "series": series[:20]},
            spikes[:20],
        )


def _lines_with(blob: bytes, lit: bytes) -> Iterator[int]:
    """Indexes of the lines of ``blob`` that contain ``lit`` (C-speed search, one pass)."""
    pos = blob.find(lit)
    line = last = 0
    while pos >= 0:
        line += blob.count(b"\n", last, pos)
        last = pos
        yield line
        nl = blob.find(b"\n", pos)
        if nl < 0:
            return
        pos = blob.find(lit, nl)


def _overlaps(cause: dict[str, Any], symptom: dict[str, Any], within: float) -> bool:
    """True when the symptom's peak lies within ``within`` seconds of the cause's span (or times are
    unknown): an unrelated blip hours earlier does not break the link, a separate episode does."""
    a0, a1, b0 = cause.get("_first"), cause.get("_last"), symptom.get("_peak_at")
    if a0 is None or a1 is None or b0 is None:
        return True
    return a0 - within <= b0 <= a1 + within


def _spikes(t: dict[str, Any], counts: list[int], start_min: int, bucket: int, tz: tzinfo) -> list[dict[str, Any]]:
    """Buckets far above the template's typical rate (median + 5 x MAD, at least 10 and 3 x typical)."""
    if len(counts) < 4 or sum(counts) < 10:
        return []
    s = sorted(counts)
    med = s[len(s) // 2]
    mad = sorted(abs(c - med) for c in counts)[len(counts) // 2]
    limit = max(10, med + 5 * max(mad, 1), 3 * med)
    out = []
    for i, c in enumerate(counts):
        if c >= limit:
            out.append({
                "template_id": t["id"], "template": t["template"], "level": t["level"],
                "at": epoch_to_iso((start_min + i * bucket) * 60.0, tz), "count": c, "typical": med,
                "bucket_seconds": bucket * 60,
            })
    return out


def analyze(paths: list[str], opts: AnalyzeOptions | None = None) -> dict[str, Any]:
    """The report of :class:`Analyzer` over files, folders or bundles."""
    return Analyzer(opts).run(paths)


def analyze_for_ticket(paths: list[str], *, lang: str = "zh", opts: AnalyzeOptions | None = None) -> dict[str, Any]:
    """What a background job posts on a ticket for an attached log or bundle.

    ``{"report": <the JSON report>, "markdown": ..., "html": ..., "headline": "CRITICAL ERR_IM_5001 ..."}``;
    ``headline`` is None when nothing of severity warning or above was found. Raises
    :class:`imdesk.core.errors.BadInput` for unusable input, like the CLI.
    """
    from imdesk.diag.report import to_html, to_markdown

    report = analyze(paths, opts)
    top = next((f for f in report["findings"] if f["severity"] != "info"), None)
    headline = None
    if top is not None:
        title = (top.get("title_zh") if lang == "zh" else None) or top["title"]
        headline = " ".join(x for x in (top["severity"].upper(), top.get("code") or "", title) if x)
    return {"report": report, "markdown": to_markdown(report, lang=lang), "html": to_html(report, lang=lang),
            "headline": headline}
