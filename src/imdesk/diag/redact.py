"""Redaction of secrets (always on) and optional obfuscation for support bundles.

Patterns are data (the profile's ``redaction.yaml``): private-key blocks, JWTs, cloud access keys
(AWS, Aliyun, Tencent), tokens, passwords in URLs and in ``key=value`` / ``key: value`` pairs,
``Authorization`` headers. Secret values read from the config (``auth.jwt_secret``, the Redis
password, the DSN password) are also replaced wherever they appear, e.g. echoed in a log line.

Every secret becomes a stable placeholder ``[REDACTED-<kind>-<fingerprint>]``: the fingerprint
is an HMAC of the secret under a salt, so the same secret gives the same placeholder within a
bundle and "differs between nodes" stays visible. The salt is random per bundle unless the
operator passes the same ``--redaction-salt`` on every node, which makes placeholders comparable
across the nodes' bundles without ever revealing a secret.

``--obfuscate`` additionally replaces IP addresses, host names, e-mail addresses and phone
numbers by tokens (``ip4-3fa9c1``, ``host-…example.invalid``, ``user-…@example.invalid``, ``phone-…``, keyed by
the same salt); the mapping is returned to the caller, who keeps it on the customer's machine only.

The redactor works on bytes, block by block, so big logs are cheap to process: each pattern runs
only when one of its ``needles`` occurs in the block.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from imdesk.profiles import Profile, load_profile


@dataclass
class _Pattern:
    kind: str
    regex: re.Pattern[bytes]
    needles: tuple[bytes, ...]
    keep: frozenset[bytes] = frozenset()
    lowercase: bool = False  # match against the lower-cased text, replace in the original
    multiline: bool = False  # may span lines: runs on the whole block


def _compile(entries: list[dict[str, Any]]) -> list[_Pattern]:
    out = []
    for e in entries:
        out.append(_Pattern(
            kind=str(e["kind"]),
            regex=re.compile(str(e["regex"]).encode("utf-8")),
            needles=tuple(str(n).lower().encode("utf-8") for n in e.get("needles", [])),
            keep=frozenset(str(k).encode() for k in e.get("keep", [])),
            lowercase=bool(e.get("lowercase")),
            multiline=bool(e.get("multiline")),
        ))
    return out


_PLACEHOLDER = re.compile(rb"\[REDACTED-[a-z0-9-]+-[0-9a-f]{8}\]")


def _candidate_lines(lowered: bytes, needles: set[bytes]) -> list[tuple[int, int]]:
    """Sorted, distinct ``(start, end)`` spans of the lines that contain one of ``needles``."""
    starts: set[int] = set()
    find, rfind = lowered.find, lowered.rfind
    size = len(lowered)
    for needle in needles:
        i = find(needle)
        while i != -1:
            ls = rfind(b"\n", 0, i) + 1
            le = find(b"\n", i)
            le = size if le == -1 else le + 1
            starts.add(ls)
            i = find(needle, le)
    spans = []
    for ls in sorted(starts):
        le = find(b"\n", ls)
        spans.append((ls, size if le == -1 else le + 1))
    return spans


def _candidates(lowered: bytes, patterns: list[_Pattern], cache: dict[int, Any]
                ) -> tuple[list[tuple[int, int]], list[int]] | None:
    """Lines that may hold a match, with a bit mask of the patterns to run on each.

    Vectorised needle filter: the block is read as 16-bit words at even and at odd offsets (two
    zero-copy views), each word is looked up in a table of the needles' first two bytes, and the
    few hits are confirmed on their third byte. Costs about the same for 1 needle or 50. None
    when numpy is unavailable."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return None
    key = id(patterns[0]) ^ len(patterns)
    tables = cache.get(key)
    if tables is None:
        t2 = np.zeros(1 << 16, dtype=bool)
        t3: dict[int, int] = {}
        for bit, p in enumerate(patterns):
            for n in p.needles:
                t2[n[0] | n[1] << 8] = True
                code = n[0] | n[1] << 8 | n[2] << 16
                t3[code] = t3.get(code, 0) | 1 << bit
        codes = np.array(sorted(t3), dtype=np.uint32)
        bits = np.array([t3[c] for c in sorted(t3)], dtype=np.uint32)
        tables = (t2, codes, bits)
        cache[key] = tables
    t2, codes, bits = tables
    n = len(lowered)
    if n < 3:
        return ([(0, n)], [int(bits.sum())]) if n else ([], [])
    a = np.frombuffer(lowered, dtype=np.uint8)
    even = np.frombuffer(lowered, dtype="<u2", count=n // 2)
    odd = np.frombuffer(lowered[1:], dtype="<u2", count=(n - 1) // 2)  # aligned copy: faster
    pe = np.flatnonzero(np.take(t2, even)) * 2
    po = np.flatnonzero(np.take(t2, odd)) * 2 + 1
    pos = np.concatenate((pe, po))
    pos = pos[pos < n - 2]
    if not pos.size:
        return [], []
    pos.sort()
    tri = a[pos].astype(np.uint32) | a[pos + 1].astype(np.uint32) << 8 | a[pos + 2].astype(np.uint32) << 16
    idx = np.searchsorted(codes, tri)
    idx[idx >= codes.size] = 0
    ok = codes[idx] == tri
    pos = pos[ok]
    if not pos.size:
        return [], []
    hit = bits[idx[ok]]
    nl = np.flatnonzero(a == 10)
    line = np.searchsorted(nl, pos)  # index of the newline that ends the line holding pos
    uniq, first = np.unique(line, return_index=True)
    masks = np.bitwise_or.reduceat(hit, first)
    starts = np.zeros(uniq.size, dtype=np.int64)
    nz = uniq > 0
    starts[nz] = nl[uniq[nz] - 1] + 1
    ends = np.full(uniq.size, n, dtype=np.int64)
    inside = uniq < nl.size
    ends[inside] = nl[uniq[inside]] + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True)), masks.tolist()


def _as_array(masks: list[int]) -> Any:
    try:
        import numpy as np

        return np.asarray(masks, dtype=np.uint32)
    except ImportError:  # pragma: no cover
        return None


def _select(arr: Any, masks: list[int], bit: int) -> list[int]:
    if arr is not None:
        import numpy as np

        return np.flatnonzero(arr & (1 << bit)).tolist()
    return [i for i, m in enumerate(masks) if m >> bit & 1]


def _apply(p: _Pattern, data: bytes, repl: Any) -> bytes:
    if not p.lowercase:
        return p.regex.sub(repl, data)
    out = []
    prev = 0
    for m in p.regex.finditer(data.lower()):
        out.append(data[prev:m.start()])
        out.append(repl(m, data))
        prev = m.end()
    if not out:
        return data
    out.append(data[prev:])
    return b"".join(out)


@dataclass
class Redactor:
    """Stateful per bundle: remembers placeholders, counts and the obfuscation mapping."""

    patterns: list[_Pattern]
    obfuscations: list[_Pattern]
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    obfuscate: bool = False
    never_collect_names: tuple[str, ...] = ()
    never_collect_markers: tuple[bytes, ...] = ()
    secret_key_names: re.Pattern[str] | None = None
    counts: Counter[str] = field(default_factory=Counter)
    mapping: dict[str, dict[str, str]] = field(default_factory=dict)
    _literals: dict[bytes, str] = field(default_factory=dict)
    _obf_literals: dict[bytes, str] = field(default_factory=dict)
    _tokens: dict[tuple[str, bytes], bytes] = field(default_factory=dict)
    _tables: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def for_profile(cls, profile: Profile | None = None, *, salt: str | bytes | None = None,
                    obfuscate: bool = False) -> Redactor:
        profile = profile or load_profile()
        data = profile.data("redaction")
        if isinstance(salt, str):
            salt = salt.encode("utf-8")
        never = data.get("never_collect", {})
        names = data.get("secret_key_names")
        return cls(
            patterns=_compile(data.get("patterns", [])),
            obfuscations=_compile(data.get("obfuscate", [])),
            salt=salt or secrets.token_bytes(16),
            obfuscate=obfuscate,
            never_collect_names=tuple(never.get("names", [])),
            never_collect_markers=tuple(str(m).encode() for m in never.get("content_markers", [])),
            secret_key_names=re.compile(names) if names else None,
        )

    # ---- placeholders ---------------------------------------------------------------------

    def placeholder(self, kind: str, secret: bytes) -> bytes:
        digest = hmac.new(self.salt, secret, hashlib.sha256).hexdigest()[:8]
        return f"[REDACTED-{kind}-{digest}]".encode()

    def add_secret(self, value: str | bytes | None, kind: str = "config-secret") -> None:
        """A known secret (from the config): replaced wherever it appears. Values shorter than
        4 characters are left to the patterns (replacing them everywhere would shred the text)."""
        if value is None:
            return
        raw = value.encode("utf-8") if isinstance(value, str) else value
        if len(raw) >= 4 and not _PLACEHOLDER.fullmatch(raw):
            self._literals[raw] = kind

    def add_identifier(self, value: str | None, kind: str = "host") -> None:
        """A host name or address from the config, obfuscated wherever it appears."""
        if value and self.obfuscate and len(value) >= 3:
            self._obf_literals[value.encode("utf-8")] = kind

    def _token(self, kind: str, original: bytes) -> bytes:
        """A stable token for an identifier: keyed by the salt, so workers in other processes
        produce the same token for the same value."""
        key = (kind, original)
        tok = self._tokens.get(key)
        if tok is None:
            h = hmac.new(self.salt, kind.encode() + b"\0" + original, hashlib.sha256).hexdigest()[:6]
            text = {"email": f"user-{h}@example.invalid", "host": f"host-{h}.example.invalid",
                    "ipv4": f"ip4-{h}", "ipv6": f"ip6-{h}", "phone": f"phone-{h}"}.get(kind, f"{kind}-{h}")
            tok = text.encode()
            self._tokens[key] = tok
            self.mapping.setdefault(kind, {})[text] = original.decode("utf-8", "replace")
        return tok

    def redact_delta(self, data: bytes) -> tuple[bytes, dict[str, int], dict[str, dict[str, str]]]:
        """Redact a block and return what it added to the counts and the mapping (for workers in
        other processes, whose results the parent merges)."""
        before = Counter(self.counts)
        out = self.redact_bytes(data)
        delta = {k: v - before.get(k, 0) for k, v in self.counts.items() if v - before.get(k, 0)}
        return out, delta, self.mapping if self.obfuscate else {}

    def merge(self, counts: dict[str, int], mapping: dict[str, dict[str, str]]) -> None:
        self.counts.update(counts)
        for kind, entries in mapping.items():
            self.mapping.setdefault(kind, {}).update(entries)

    # ---- redaction ------------------------------------------------------------------------

    def redact_bytes(self, data: bytes) -> bytes:
        """Redact one block (callers split big inputs at line boundaries).

        Literal secrets are replaced everywhere; each pattern then runs only over the lines that
        contain one of its needles (all such lines joined, one regex pass), so a block without
        secrets costs a few ``bytes.find`` calls."""
        if not data:
            return data
        for literal, kind in sorted(self._literals.items(), key=lambda kv: -len(kv[0])):
            if literal in data:
                n = data.count(literal)
                data = data.replace(literal, self.placeholder(kind, literal))
                self.counts[kind] += n
        data = self._run(data, self.patterns, self._secret_sub)
        if self.obfuscate:
            data = self._obfuscate(data)
        return data

    def _run(self, data: bytes, patterns: list[_Pattern], make_repl: Any) -> bytes:
        """Apply ``patterns``: multi-line ones (and those with needles shorter than 3 bytes) to
        the whole block; the others only to the lines where one of their needles occurs."""
        lowered = data.lower()
        line_ps: list[_Pattern] = []
        for p in patterns:
            if p.multiline or not p.needles or min(len(n) for n in p.needles) < 3:
                if p.needles and not any(n in lowered for n in p.needles):
                    continue
                new = _apply(p, data, make_repl(p))
                if new is not data:
                    data = new
                    lowered = data.lower()
            else:
                line_ps.append(p)
        if not line_ps:
            return data
        found = _candidates(lowered, line_ps, self._tables)
        if found is None:  # no numpy: scan the needles one by one
            spans = _candidate_lines(lowered, {n for p in line_ps for n in p.needles})
            masks = [(1 << len(line_ps)) - 1] * len(spans)
        else:
            spans, masks = found
        if not spans:
            return data
        lines = [data[a:b] for a, b in spans]
        ends_nl = [ln.endswith(b"\n") for ln in lines]
        lines = [ln[:-1] if nl else ln for ln, nl in zip(lines, ends_nl, strict=True)]
        mask_arr = _as_array(masks)
        for bit, p in enumerate(line_ps):
            sel = _select(mask_arr, masks, bit)
            if not sel:
                continue
            repl = make_repl(p)
            joined = b"\n".join(lines[i] for i in sel)
            new = _apply(p, joined, repl)
            if new is joined:
                continue
            parts = new.split(b"\n")
            if len(parts) == len(sel):
                for i, part in zip(sel, parts, strict=True):
                    lines[i] = part
            else:  # a replacement changed the line structure: one line at a time
                for i in sel:
                    lines[i] = _apply(p, lines[i], repl)
        out = []
        prev = 0
        for (a, b), line, nl in zip(spans, lines, ends_nl, strict=True):
            out.append(data[prev:a])
            out.append(line)
            if nl:
                out.append(b"\n")
            prev = b
        out.append(data[prev:])
        return b"".join(out)

    def _secret_sub(self, p: _Pattern):
        kind = p.kind

        def repl(m: re.Match[bytes], original: bytes | None = None) -> bytes:
            src = original if original is not None else m.string
            for group in ("secret", "dq", "sq"):
                if group in m.re.groupindex and m.group(group) is not None:
                    start, end = m.span(group)
                    break
            else:
                start, end = m.span(0)
            secret = src[start:end]
            whole = src[m.start(0):m.end(0)]
            if not secret:
                return whole
            self.counts[kind] += 1
            base = m.start(0)
            return whole[: start - base] + self.placeholder(kind, secret) + whole[end - base:]

        return repl

    def _obfuscate(self, data: bytes) -> bytes:
        for literal, kind in sorted(self._obf_literals.items(), key=lambda kv: -len(kv[0])):
            if literal in data:
                self.counts[f"obfuscated-{kind}"] += data.count(literal)
                data = data.replace(literal, self._token(kind, literal))
        return self._run(data, self.obfuscations, self._obf_sub)

    def _obf_sub(self, p: _Pattern):
        def repl(m: re.Match[bytes], original: bytes | None = None) -> bytes:
            src = original if original is not None else m.string
            found = src[m.start(0):m.end(0)]
            if found in p.keep or found.startswith((b"ip4-", b"ip6-", b"host-", b"user-", b"phone-")) \
                    or found.endswith(b".example.invalid"):
                return found
            self.counts[f"obfuscated-{p.kind}"] += 1
            return self._token(p.kind, found)

        return repl

    def redact_text(self, text: str) -> str:
        return self.redact_bytes(text.encode("utf-8")).decode("utf-8", "replace")

    # ---- files ----------------------------------------------------------------------------

    def never_collect(self, name: str, head: bytes = b"") -> str | None:
        """The reason a file must not be collected (a private key), else None."""
        base = name.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(base, pat) for pat in self.never_collect_names):
            return "private-key file name: never collected"
        if any(m in head for m in self.never_collect_markers):
            return "contains a private key: never collected"
        return None

    def redact_config(self, text: str, profile: Profile | None = None) -> str:
        """A config with every secret replaced: the schema's secret keys (by position), keys
        whose name says secret, then the text patterns. Secret values are remembered so they are
        also redacted from the logs of the same bundle."""
        from ruamel.yaml.nodes import MappingNode, ScalarNode

        from imdesk.diag.config_check import Schema, parse_yaml, walk

        profile = profile or load_profile()
        schema = Schema.of(profile)
        root, _ = parse_yaml(text)
        spans: list[tuple[int, int, str, str]] = []
        if root is not None:
            values, _, _ = walk(root, schema)
            secret_keys = schema.secret_keys()

            def visit(node: MappingNode, prefix: str) -> None:
                for k, v in node.value:
                    path = f"{prefix}.{k.value}" if prefix else str(k.value)
                    if isinstance(v, MappingNode):
                        visit(v, path)
                        continue
                    if not isinstance(v, ScalarNode) or not v.value:
                        continue
                    name_says = self.secret_key_names is not None and self.secret_key_names.search(str(k.value))
                    if path in secret_keys or (path not in schema.keys and name_says):
                        spans.append((v.start_mark.index, v.end_mark.index, str(v.value), path))

            visit(root, "")
            # hosts named in the config, for obfuscation everywhere
            for key, entry in values.items():
                for item in entry.value if isinstance(entry.value, list) else [entry.value]:
                    spec = schema.keys.get(key, {})
                    if isinstance(item, str) and "hostport" in (spec.get("type"), spec.get("items")):
                        host = item.rpartition(":")[0] or item
                        if host and host not in ("0.0.0.0", "127.0.0.1", "localhost"):
                            self.add_identifier(host.strip("[]"), "host")
        for start, end, value, _path in sorted(spans, reverse=True):
            if _PLACEHOLDER.fullmatch(value.encode("utf-8")):
                continue
            if "://" in value:  # a DSN: redact the password only, keep scheme/user/host visible
                from imdesk.diag.config_check import split_dsn

                _, pw, host = split_dsn(value)
                if pw:
                    self.add_secret(pw, "url-password")
                if host:
                    self.add_identifier(host, "host")
                continue
            self.add_secret(value, "config-secret")
            placeholder = self.placeholder("config-secret", value.encode("utf-8")).decode()
            src = text[start:end]
            quote = src[0] if src[:1] in ("'", '"') else ""
            text = text[:start] + f"{quote}{placeholder}{quote}" + text[end:]
            self.counts["config-secret"] += 1
        return self.redact_text(text)

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
