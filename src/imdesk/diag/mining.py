"""Online template mining (Drain family) with a plain-JSON baseline.

    >>> miner = TemplateMiner()
    >>> c = miner.add("Accepted password for root from 10.0.0.7 port 52314 ssh2")
    >>> miner.template(c)                      # 'Accepted password for root from <*> port <*> <*>'
    >>> miner.save("baseline.json"); TemplateMiner.load("baseline.json")

How a record's content becomes a template:

1. **Masking.** Values are replaced by ``<*>``: quoted strings (an HTTP request line keeps its
   method: ``"GET <*>"``), URLs, e-mail addresses, absolute paths (POSIX and Windows), month and
   weekday names, ``true``/``false``/``null``, empty groups such as ``()``, and every token that
   holds a digit (numbers, hex, ids, UUIDs, IPs, sizes, durations, timestamps, host:port...);
   ``flag:true`` keeps its name (``flag:<*>``).
   ``key=value`` is split into ``key=`` and its value, so a key stays part of the template while
   its value may vary. A value keeps the brackets it is wholly inside (``[<*>]``) and a trailing
   comma or semicolon (``<*>,``): it is a field of its own.
2. **Collapsing.** A unit after a value belongs to it (``93.0 B`` and ``5.2 KB``), and a run of
   adjacent variables becomes one ``<*>``: clusters are grouped by token count, so a value of
   variable length (``6014 bytes (5.87 KB)`` next to ``733 bytes``, a list of block ids) would
   otherwise split its template.
3. **Candidates.** Clusters are grouped by token count; inside a count, by their first token
   (Drain's prefix tree, one level deep): the first word of a message is a constant, so ``boot
   (command <*>)`` and ``wait (command <*>)`` are two templates. When no cluster of that first word
   fits, the latest clusters of that count are tried: all of them when the first token is a
   variable, otherwise only those whose every other constant the record has, when there are at
   least ``tail_constants`` (a long message that differs only in its first word names its subject
   there: ``com.apple.X: scheduler ... Ignoring.``).
4. **Similarity.** ``key=`` tokens are structure: a record joins a cluster only with the same
   keys in the same places. On the other (message) tokens it joins the most similar cluster when
   at least ``sim_threshold`` of them agree (a constant equal to the template's, or a position the
   template already knows is variable) *and* at least half of the template's message constants
   agree, so a generalised template cannot swallow unrelated records, nor can boilerplate fields
   that every line carries. Otherwise it starts a new cluster.
5. **Merge.** Positions where the record differs become ``<*>`` in the template; at the end, a
   position that only ever held a few words splits its cluster (see ``categorical_below`` and
   ``enum_below``), and each part is split again by the same rule.

Speed: :meth:`TemplateMiner.add_batch` reduces a batch to its distinct shapes (digits as ``0``, then
:func:`cache_key`); only a shape never seen is masked (one decoding per batch, each new word masked
once per miner) and clustered (for crowded lengths the candidates come from a position index, see
:meth:`TemplateMiner._window`). The hot steps are compiled where the install could build
``imdesk.diag._fastmine`` (Cython: the shape table, the cache keys, the word masks, the masking loop
and the clustering on token ids); this module's Python code is the same rules, the reference the
tests hold the compiled steps to, and the fallback (``engine="python"`` or
``IMDESK_MINING_ENGINE=python``). Figures against ``drain3``:
``bench/diag/run_mining.py`` and docs/diag-logs.md. Cluster ids are stable: a hash of the template a
cluster was created with, kept in the baseline, so a later run that loads the baseline reports the
same ids and knows which templates are new. The baseline is plain JSON (never pickle: bundles come
from outside).
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from operator import eq
from pathlib import Path

from imdesk.core.errors import BadInput

try:  # the hot steps, compiled (setup.py); the Python code below is the same rules
    from imdesk.diag._fastmine import Engine as _CompiledEngine
    from imdesk.diag._fastmine import ShapeCache as _ShapeCache
    from imdesk.diag._fastmine import cache_keys0 as _cache_keys0
    from imdesk.diag._fastmine import mask_word as _mask_word
    from imdesk.diag._fastmine import masked_records as _masked_records
    from imdesk.diag._fastmine import set_words as _set_words
except ImportError:  # not built here: pure Python
    _CompiledEngine = _ShapeCache = _cache_keys0 = _masked_records = _mask_word = _set_words = None

WILDCARD = "<*>"
BASELINE_VERSION = 1

# The whole-content masks, as alternatives of one regex (the reference, :data:`_PRE`). An HTTP request
# line keeps its method: ``"GET <*>"``.
_PRE_PARTS = (
    ("http", r'(?:(?<="GET )|(?<="PUT )|(?<="POST )|(?<="HEAD )|(?<="PATCH )|(?<="DELETE )|(?<="OPTIONS ))[^"]*(?=")'),
    ("", r'"(?!(?:GET|PUT|POST|HEAD|PATCH|DELETE|OPTIONS) )[^"]*"'),  # quoted values
    ("", r"'[^'\s][^']*'"),
    ("://", r"\b[a-z][a-z0-9+.-]*://\S+"),  # URLs
    ("@", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),  # e-mail addresses
    ("", r"/(?<![\w/]/)(?:[\w.@~+-]+/)+[\w.@~+-]*"),  # absolute paths with at least two parts
    (":\\", r"\b[A-Za-z]:\\[^\s=\"']*"),  # Windows paths
)
_PRE = re.compile("|".join(rx for _, rx in _PRE_PARTS), re.IGNORECASE)
# what a line must hold for the HTTP alternative to match anywhere in it
_HTTP_QUOTE = re.compile(r'"(?:GET|PUT|POST|HEAD|PATCH|DELETE|OPTIONS) ', re.IGNORECASE)
_PRE_VARIANTS: dict[tuple[bool, ...], re.Pattern[str]] = {}


def _pre_sub(content: str) -> str:
    """``_PRE.sub(WILDCARD, content)``, 10-40 times as fast: the regex without the alternatives that
    cannot match in this content (each needs a literal the content lacks: ``://``, ``@``, ``:\\``, or
    a quote and an HTTP method). Leaving out an alternative that matches nowhere changes no match;
    the lookbehinds of the HTTP alternative, tried at every position, made the full regex slow.
    test_mining checks both agree."""
    sig = (
        '"' in content and _HTTP_QUOTE.search(content) is not None,
        "://" in content,
        "@" in content,
        ":\\" in content,
    )
    rx = _PRE_VARIANTS.get(sig)
    if rx is None:
        need = dict(zip(("http", "://", "@", ":\\"), sig, strict=True))
        rx = _PRE_VARIANTS[sig] = re.compile("|".join(r for lit, r in _PRE_PARTS if not lit or need[lit]), re.IGNORECASE)
    return rx.sub(WILDCARD, content)


_DIGIT = re.compile(r"\d")
# The cache key of a record: every run of characters that holds a digit (between separators:
# whitespace, "=", quotes) becomes "0". Records with the same key always mask to the same tokens: such
# a run only ever lies inside a token part that masking turns into <*> whatever its letters, and a key
# masks as its records do (test_mining checks both). Every byte that may belong to a character
# ``str.split`` breaks on (\x1c-\x1f, and all non-ASCII bytes: U+00A0, U+3000...) is a separator too,
# or "a\u3000b1" and "c1" would share the key "0" and not their tokens.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_SEP = rb"""\s=:"',;()\[\]{}\x1c-\x1f\x80-\xff"""
_RUNS = re.compile(rb"(?<![^" + _SEP + rb"])[^" + _SEP + rb"\d]*+\d[^" + _SEP + rb"]*")
# the same on digit-normalised bytes (every digit is "0"), faster
_RUNS0 = re.compile(rb"(?<![^" + _SEP + rb"])[^" + _SEP + rb"0]*+0[^" + _SEP + rb"]*")
# from a "0" to the end of its run: a pattern that starts with a literal, which the regex engine
# finds fast (see _runs0)
_FROM0 = re.compile(rb"0[^" + _SEP + rb"]*")


# A record holding a URL or a Windows path keeps its own shape (digits as 0, no runs collapsed): their
# masks run over separators (a URL's \S+; "C:\x1" is one path, not "C" ":" and a run), so collapsing
# "X://0" or "X:\0" to "X:0" would change how the record masks.
_OWN_SHAPE = re.compile(rb"://|:\\").search


def cache_key(raw: bytes) -> bytes:
    if _OWN_SHAPE(raw):  # see _OWN_SHAPE
        return raw.translate(_DIGITS_TO_ZERO)
    return _RUNS.sub(b"0", raw)


def _cache_key0(norm: bytes) -> bytes:
    """:func:`cache_key` of digit-normalised bytes."""
    return norm if _OWN_SHAPE(norm) else _RUNS0.sub(b"0", norm)


def _runs0(norm: bytes) -> bytes:
    """``_RUNS0.sub(b"0", norm)``, twice as fast: cut every run after its first "0", then, on the
    bytes reversed, what came before it (test_mining checks they agree)."""
    return _FROM0.sub(b"0", _FROM0.sub(b"0", norm)[::-1])[::-1]


_SECRET_KEYS = frozenset(
    ["password", "passwd", "pwd", "pass", "secret", "token", "access_token", "refresh_token", "api_key", "apikey", "app_secret", "authorization", "auth", "jwt", "jwt_secret", "private_key", "credential", "credentials"]
)
# words that are values: month and weekday names (parts of timestamps), and the literals true,
# false and null ("down=true" and "down=false" are one event with a flag)
_VALUE_WORDS = frozenset(
    w.lower() for w in ["true", "false", "null", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "January", "February", "March", "April", "June", "July", "August", "September", "October", "November", "December", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "AM", "PM", "UTC", "GMT", "CST"]
)


def _mask_token(tok: str) -> tuple[str, ...]:
    """One whitespace-separated token (after the whole-content masks): one or two tokens."""
    if tok.isalpha():  # most words: no digit, no "=", no <*>
        return (WILDCARD,) if tok.lower() in _VALUE_WORDS else (tok,)
    if "=" in tok and tok[0] != "=":
        key, _, value = tok.partition("=")
        if _DIGIT.search(key) or WILDCARD in key:
            return (WILDCARD,)
        if not value:
            return (key + "=", "")
        if key.lower().lstrip("-_") in _SECRET_KEYS:  # a secret is a value, never part of a template
            return (key + "=", WILDCARD)
        return (key + "=", *_mask_value(value))
    return _mask_value(tok)


# an empty group is an absent value: "connection from 1.2.3.4 ()" and "... (host.example.net)"
_EMPTY = frozenset(["()", "[]", "{}", "<>", '""', "''"])
_BRACKETS = frozenset(["()", "[]", "{}"])
_LITERALS = frozenset(["true", "false", "null"])
# an upper-case word (maybe after the quote of an HTTP request): an enum member, see enum_below
_ENUM = re.compile(r'"?[A-Z][A-Z_]+')
# the name of a "name:value" token: ASCII letters and underscores only (a host name or a time is no name)
_NAME = re.compile(r"[A-Za-z_]+")


def _mask_value(tok: str) -> tuple[str]:
    """A value becomes ``<*>``; it keeps what tells it apart from its neighbours: a trailing comma
    or semicolon (``a=1, b=2,`` is a list of fields) and the brackets it is wholly inside
    (``host [10.0.0.7]``): such a value is a field of its own, never merged with the variables
    next to it (see :func:`_collapse`)."""
    if not (_DIGIT.search(tok) or WILDCARD in tok or tok.lower() in _VALUE_WORDS or tok in _EMPTY):
        key, colon, value = tok.rpartition(":")
        if colon and key and value.rstrip(",;").lower() in _LITERALS:  # "isOverlap:true,"
            return (key + ":" + WILDCARD + value[len(value.rstrip(",;")) :],)
        return (tok,)
    name, colon, value = tok.partition(":")
    if colon and value and _NAME.fullmatch(name):  # "uid:1000" keeps its name, as "uid=1000" does
        return (name + ":" + _mask_value(value)[0],)
    suffix = ""
    if tok[-1] in ",;" and len(tok) > 1:
        tok, suffix = tok[:-1], tok[-1]
    if len(tok) > 1 and tok[0] + tok[-1] in _BRACKETS:
        return (tok[0] + WILDCARD + tok[-1] + suffix,)
    return (WILDCARD + suffix,)


if _set_words is not None:  # the compiled _mask_token uses the same word lists
    _set_words(WILDCARD, _VALUE_WORDS, _SECRET_KEYS, _EMPTY, _BRACKETS, _LITERALS)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is mined: mining allocates many small containers
    (which would trigger collections) and makes no reference cycles; the collector runs after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _TokenMasks(dict):
    """token -> its masked tokens, filled on demand (a miner's own: bounded, and cold per miner)."""

    limit = 100_000

    def __missing__(self, tok: str) -> tuple[str, ...]:
        if len(self) >= self.limit:
            self.clear()
        out = self[tok] = _mask_token(tok)
        return out


# units: a number and its unit are one value ("93.0 B" and "5.2 KB", "lifetime <1 sec")
_UNIT_WORDS = ["B", "KB", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "K", "M", "G", "bytes", "byte", "Bytes",
               "ms", "us", "\u00b5s", "ns", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes",
               "h", "hr", "hrs", "hour", "hours", "day", "days", "%"]
_UNITS = frozenset(u + p for u in _UNIT_WORDS for p in ("", ",", ".", ";", ")", "),", ");", "]", "],"))
_PAIR = WILDCARD + "\x1e" + WILDCARD  # "\x1e" is whitespace to str.split(), so in no token


def _collapse(toks: tuple[str, ...]) -> tuple[str, ...]:
    """Masked tokens with each run of adjacent variables made one, and a unit after a variable
    dropped: a Drain-family miner clusters by token count, so a value of variable length
    ("6014 bytes (5.87 KB)" next to "733 bytes", a list of block ids, "<1 sec" next to "00:12")
    would otherwise split its template."""
    if _PAIR not in "\x1e".join(toks) and _UNITS.isdisjoint(toks):
        return toks
    out: list[str] = []
    prev = ""
    for t in toks:
        if prev == WILDCARD and (t == WILDCARD or t in _UNITS):
            continue
        out.append(t)
        prev = t
    return tuple(out)


def mask_tokens(content: str, cache: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The content as tokens with its variables replaced by ``<*>``.

    Every token is masked on its own once the whole-content masks (quotes, URLs, paths...) ran, so
    a miner keeps the masks of the tokens it met (``cache``, a ``_TokenMasks``); then adjacent
    variables are made one (:func:`_collapse`)."""
    if '"' in content or "'" in content or "/" in content or "@" in content or "\\" in content:
        content = _pre_sub(content)
    if cache is None:
        return _collapse(tuple(chain.from_iterable(map(_mask_token, content.split()))))
    return _collapse(tuple(chain.from_iterable(map(cache.__getitem__, content.split()))))


_VARIABLE_AS_NONE = {WILDCARD: None}


class Cluster:
    """A template being mined. ``key=`` tokens (and the value after each) are its structure; the
    other positions are its message, kept apart (``msg``, and ``cmsg`` with ``None`` where the
    message is variable) so that scoring a record is a couple of C-speed comparisons."""

    __slots__ = ("id", "tokens", "count", "consts", "is_new", "keys", "keysig", "keypos", "keyvals", "msgpos", "msg", "cmsg", "mconsts", "ctoks", "pos")

    def __init__(self, cid: str, tokens: list[str], count: int = 0, is_new: bool = True, scored: bool = True) -> None:
        self.id = cid
        self.tokens = tokens
        self.count = count
        self.is_new = is_new
        self.keys: list[int] = []  # the distinct masked records (keys) that joined this cluster
        self.pos = -1  # its place among the miner's clusters of its length
        if not scored:  # the compiled engine scores it: nothing more to derive
            return
        if "=" not in "".join(tokens):  # no key: all message
            self.keysig = self.keypos = self.keyvals = ()
            self.msgpos = None
            self.consts = self.mconsts = len(tokens) - tokens.count(WILDCARD)
            self.msg = msg = tuple(tokens)
            self.cmsg = self.ctoks = tuple(map(_VARIABLE_AS_NONE.get, msg, msg))
            return
        keysig: list[tuple[int, str]] = []
        msgpos: list[int] = []
        value = False
        for i, t in enumerate(tokens):  # the structure never changes: merging keeps equal keys
            if value:  # the value after a key
                value = False
            elif len(t) > 1 and t[-1] == "=":
                keysig.append((i, t))
                value = True
            else:
                msgpos.append(i)
        self.keysig = tuple(keysig)
        # the same, for C-speed comparisons: the key positions and the keys there
        self.keypos = tuple([i for i, _ in keysig])
        self.keyvals = tuple([k for _, k in keysig])
        self.msgpos = tuple(msgpos) if keysig else None
        self.refresh()

    def refresh(self) -> None:
        """Recompute what derives from the tokens (after positions became variables)."""
        toks = self.tokens
        self.consts = len(toks) - toks.count(WILDCARD)
        msg = tuple(toks) if self.msgpos is None else tuple(map(toks.__getitem__, self.msgpos))
        self.msg = msg
        self.cmsg = tuple(map(_VARIABLE_AS_NONE.get, msg, msg))
        self.mconsts = len(msg) - msg.count(WILDCARD)
        # all the tokens so, for merging
        self.ctoks = self.cmsg if self.msgpos is None else tuple(map(_VARIABLE_AS_NONE.get, toks, toks))

    @property
    def template(self) -> str:
        return render(self.tokens)


def render(tokens: Iterable[str]) -> str:
    """Tokens back to text: a ``key=`` token and its value (maybe empty) are written together."""
    out: list[str] = []
    glue = False
    for t in tokens:
        if glue:
            out[-1] += t
            glue = False
        else:
            out.append(t)
            glue = len(t) > 1 and t.endswith("=")
    return " ".join(x for x in out if x)


def _cid(tokens: Iterable[str]) -> str:
    return "T" + hashlib.sha1(" ".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()[:10]


class Group:
    """A final template: a cluster, refined by the categorical positions it kept."""

    __slots__ = ("id", "tokens", "cluster", "count", "is_new")

    def __init__(self, gid: str, tokens: list[str], cluster: int, is_new: bool) -> None:
        self.id = gid
        self.tokens = tokens
        self.cluster = cluster
        self.count = 0
        self.is_new = is_new

    @property
    def template(self) -> str:
        return render(self.tokens)


class TemplateMiner:
    """Online Drain-family template miner; see the module docstring."""

    #: a generalised position whose words took fewer distinct values than this is categorical: its
    #: value is part of the template ("Failed password" vs "Accepted password"), not a variable.
    categorical_below = 3
    #: the same for a position that only held upper-case words (enum members: states such as NEW and
    #: RUNNING, HTTP methods, levels) while they took fewer values than this: "from NEW to
    #: SCHEDULED" and "from SCHEDULED to RUNNING" are two events (the Loghub figures are the same
    #: for any bound from 5 to 50)
    enum_below = 10
    #: a record whose first word is new joins a template of another first word only when it has all
    #: of that template's other constants, and there are at least this many
    tail_constants = 3
    #: how many clusters of the same length a record is compared with when its first word is new
    fallback_scan = 200
    #: clusters of one length from which candidates are looked up in a position index rather than
    #: all scored (a speed crossover only: both ways find the same cluster)
    index_from = 32
    #: entries of each raw-content cache (emptied when full: they only save work)
    cache_entries = 200_000

    def __init__(self, sim_threshold: float = 0.5, max_clusters: int = 50_000, max_keys: int = 2_000_000,
                 engine: str = "auto") -> None:
        """``engine``: ``"compiled"`` (``imdesk.diag._fastmine``, built by setup.py), ``"python"`` (the
        methods of this class), or ``"auto"``: what ``IMDESK_MINING_ENGINE`` says (``compiled``,
        ``python``), else compiled where built. Both give the same templates."""
        if not 0 < sim_threshold <= 1:
            raise BadInput("sim_threshold must be in (0, 1]")
        if engine == "auto":
            env = os.environ.get("IMDESK_MINING_ENGINE", "").strip().lower() or "auto"
            if env not in ("auto", "compiled", "python"):
                raise BadInput(f"IMDESK_MINING_ENGINE={env!r}: expected compiled, python or auto")
            engine = env if env != "auto" else ("python" if _CompiledEngine is None else "compiled")
        if engine not in ("compiled", "python"):
            raise BadInput(f"unknown mining engine {engine!r} (compiled, python or auto)")
        if engine == "compiled" and _CompiledEngine is None:
            raise BadInput("the compiled mining engine is not built here (imdesk.diag._fastmine)")
        self.engine = engine
        self._engine = None  # made at first use, with the settings of that time (see _compiled)
        self.sim_threshold = sim_threshold
        self.max_clusters = max_clusters
        self.max_keys = max_keys
        self.clusters: list[Cluster] = []
        self._by_len: dict[int, list[int]] = {}
        self._by_head: dict[tuple[int, str], list[int]] = {}
        # per length n, for the first span(n) positions: token -> clusters without keys holding it
        # there; a record can only join a cluster that agrees with it on one of those (see _match)
        self._at: dict[int, list[dict[str, set[int]]]] = {}
        self._keyed: dict[int, list[int]] = {}  # per length: the clusters with keys
        self._ids: dict[str, int] = {}
        self._keys: dict[tuple[str, ...], int] = {}  # masked record -> key
        self.key_tokens: list[tuple[str, ...]] = []
        self.key_cluster: list[int] = []
        self.key_count: list[int] = []
        self._groups: list[Group] | None = None
        self._key_group: list[int] = []
        self._fast: dict[bytes, int] = {}  # raw content with digits as 0 -> key
        # the same for add_batch, compiled where built
        self._shapes = _ShapeCache(self.cache_entries) if _ShapeCache is not None and engine == "compiled" else None
        self._runs: dict[bytes, int] = {}  # cache_key(raw content) -> key
        self._known_groups: set[str] = set()  # group ids of a loaded baseline
        self._tok = _TokenMasks()

    def add_batch(self, contents: list[str]) -> list[int]:
        """Keys of many records at once; the same as ``[add(c) for c in contents]``, only faster.

        Two caches answer records whose shape was seen before: one keyed by the bytes with every
        digit turned into ``0`` (a C-speed translation), one keyed by :func:`cache_key`. Records
        with equal keys always mask alike, so masking runs only for new shapes. A batch is first
        reduced to its distinct digit-normalised records (in order of first appearance, which is
        all that mining depends on), so a shape repeated inside the batch is looked at once.
        """
        if not contents:
            return []
        with _gc_paused():
            return self._add_batch(contents)

    def _add_batch(self, contents: list[str]) -> list[int]:
        shapes = self._shapes
        if shapes is not None:
            try:
                keys, new = shapes.lookup(contents)
            except UnicodeEncodeError:  # a lone surrogate: the bytes way below takes it
                pass
            else:
                if new:
                    shapes.settle(keys, self._new_shape_keys(new))
                self._count(keys)
                return keys
        block = "\n".join(contents).encode("utf-8", "surrogatepass")
        norm = block.translate(_DIGITS_TO_ZERO).split(b"\n")
        if len(norm) != len(contents):  # a content holding a line break: take the slow road
            return [self.add(c) for c in contents]
        return self._add_norm(norm)

    def add_fast(self, content: str) -> int:
        """:meth:`add` for one record, through the caches of :meth:`add_batch`."""
        norm = content.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)
        key = self._fast.get(norm)
        if key is None:
            key = self._shape_key(norm, _cache_key0(norm))
            if len(self._fast) >= self.cache_entries:
                self._fast.clear()
            self._fast[norm] = key
        self.key_count[key] += 1
        self.clusters[self.key_cluster[key]].count += 1
        return key

    def _shape_key(self, norm: bytes, runs: bytes) -> int:
        """The key of a digit-normalised record from the second cache, or by mining its cache key
        (which masks as the record does); uncounted."""
        key = self._runs.get(runs)
        if key is None:
            key = self._learn(runs.decode("utf-8", "surrogatepass"))
            if len(self._runs) >= self.cache_entries:
                self._runs.clear()
            self._runs[runs] = key
        return key

    def _add_norm(self, norm: list[bytes]) -> list[int]:
        fast = self._fast
        # the distinct records in order of first appearance (C speed), then those not cached yet
        first = dict.fromkeys(norm)
        if len(fast) + len(first) > self.cache_entries:  # bounded memory: the cache only saves work
            fast.clear()
        new = [r for r in first if r not in fast]
        if new:
            self._learn_new(new)
        keys = list(map(fast.__getitem__, norm))
        self._count(keys)
        return keys

    def _count(self, keys: list[int]) -> None:
        counts = self.key_count
        clusters = self.clusters
        key_cluster = self.key_cluster
        for k, c in Counter(keys).items():
            counts[k] += c
            clusters[key_cluster[k]].count += c

    def _new_shape_keys(self, new: list[bytes]) -> list[int]:
        """The keys of digit-normalised records never seen (for the compiled first cache)."""
        if any(b"\n" in r for r in new):  # one at a time: the batch way joins them with line breaks
            return [self._shape_key(r, _cache_key0(r)) for r in new]
        return self._norm_keys(new)

    def _learn_new(self, new: list[bytes]) -> None:
        """Put the keys of digit-normalised records not cached yet into the first cache.

        :func:`cache_key` runs once over all of them (:func:`_runs0`), so that only the records whose
        cache key is new are masked and mined (:meth:`_mask_new`); the first cache then learns all
        of them at C speed."""
        self._fast.update(zip(new, self._norm_keys(new), strict=True))

    def _norm_keys(self, new: list[bytes]) -> list[int]:
        """The keys of digit-normalised records (no line break in any), through the second cache."""
        if self._shapes is not None:  # compiled: the same keys
            runs = _cache_keys0(new)
        else:
            block = b"\n".join(new)
            runs = _runs0(block).split(b"\n")
            if _OWN_SHAPE(block):  # see _OWN_SHAPE
                runs = [r if _OWN_SHAPE(r) else rk for r, rk in zip(new, runs, strict=True)]
        known = self._runs
        if len(known) + len(runs) > self.cache_entries:  # bounded memory: it only saves work
            known.clear()
        todo = [rk for rk in dict.fromkeys(runs) if rk not in known]  # in order of first appearance
        if todo:
            self._mask_new(todo)
        return list(map(known.__getitem__, runs))

    def _mask_new(self, todo: list[bytes]) -> None:
        """Mask and mine the records of new cache keys, into the second cache: one decoding for
        all, the whole-content masks only where they may apply, each new word masked once."""
        known = self._runs
        lines = b"\n".join(todo).decode("utf-8", "surrogatepass").split("\n")
        for i, line in enumerate(lines):  # the whole-content masks, where they may apply
            if '"' in line or "'" in line or "/" in line or "@" in line or "\\" in line:
                lines[i] = _pre_sub(line)
        split = [line.split() for line in lines]
        tok = self._tok
        words = set(chain.from_iterable(split))
        words.difference_update(tok)
        if len(tok) + len(words) > tok.limit:
            tok.clear()
            words = set(chain.from_iterable(split))
        masker = _mask_word if self._shapes is not None else _mask_token  # the same, compiled or not
        for w in words:
            tok[w] = masker(w)
        keys = self._keys
        mine = self._mine
        if self._shapes is not None:  # compiled: the same tokens
            for rk, toks in zip(todo, _masked_records(split, tok, WILDCARD, _UNITS), strict=True):
                key = keys.get(toks)
                known[rk] = key if key is not None else mine(toks)
            return
        get = tok.__getitem__
        for rk, parts in zip(todo, split, strict=True):
            toks = _collapse(tuple(chain.from_iterable(map(get, parts))))
            key = keys.get(toks)
            known[rk] = key if key is not None else mine(toks)

    # -- mining -----------------------------------------------------------------------------------
    def add(self, content: str) -> int:
        """Learn one record; returns its key (see :meth:`group_of`, valid once all is added)."""
        key = self._learn(content)
        self.key_count[key] += 1
        self.clusters[self.key_cluster[key]].count += 1
        return key

    def _learn(self, content: str) -> int:
        """The key of a record, mining it when its masked form is new; nothing is counted."""
        toks = mask_tokens(content, self._tok)
        key = self._keys.get(toks)
        if key is not None:
            return key
        return self._mine(toks)

    def _compiled(self):  # type: ignore[no-untyped-def]
        """The compiled engine, or None for the Python methods."""
        if self._engine is None and self.engine == "compiled":
            self._engine = _CompiledEngine(self.sim_threshold, self.fallback_scan, self.index_from, self.tail_constants, self.max_clusters)
        return self._engine

    def _sync(self) -> None:
        """Copy the tokens the compiled engine changed (merges) into the clusters."""
        eng = self._engine
        if eng is not None:
            clusters = self.clusters
            for idx in eng.take_dirty():
                clusters[idx].tokens = eng.tokens(idx)

    def _mine(self, toks: tuple[str, ...]) -> int:
        """The key of a masked record not seen before: it joins or starts a cluster."""
        self._groups = None
        eng = self._engine if self._engine is not None else self._compiled()
        if eng is not None:
            idx = eng.mine(toks)
            if idx < 0:
                idx = self._overflow(len(toks))
            elif idx == len(self.clusters):  # the engine started a cluster
                cid = _cid(toks)
                self._add(Cluster(cid if cid not in self._ids else self._new_id(toks), list(toks), scored=False))
        else:
            idx = self._match(toks)
            if idx is None:
                idx = self._create(toks)
            else:
                self._merge(idx, toks)
        c = self.clusters[idx]
        if len(self.key_tokens) >= self.max_keys:  # bounded memory: join the cluster's own tokens
            self._sync()
            toks = tuple(c.tokens)
            key = self._keys.get(toks)
            if key is not None:
                return key
        key = len(self.key_tokens)
        self._keys[toks] = key
        self.key_tokens.append(toks)
        self.key_cluster.append(idx)
        self.key_count.append(0)
        c.keys.append(key)
        return key

    def _score(self, c: Cluster, toks: tuple[str, ...]) -> tuple[float, int] | None:
        """How well a record fits a cluster, or None when it does not.

        ``key=`` tokens are structure: they must all be equal, and their values are left out. The
        other tokens (the message) must agree on at least ``sim_threshold`` of their positions, and
        at least half of the template's message constants must be there, so boilerplate fields that
        every line carries (``host=... region=...``) cannot glue unrelated messages together.
        """
        if c.keysig:
            if tuple(map(toks.__getitem__, c.keypos)) != c.keyvals:
                return None
            toks = tuple(map(toks.__getitem__, c.msgpos))  # type: ignore[arg-type]
        n = len(toks)
        if n == 0:
            return (1.0, 0)
        agree = sum(map(eq, c.msg, toks))  # equal tokens, variables included
        if agree < self.sim_threshold * n:
            return None
        same = sum(map(eq, c.cmsg, toks))  # equal constants
        if same * 2 < c.mconsts:
            return None
        return (agree / n, same)

    def _match(self, toks: tuple[str, ...]) -> int | None:
        n = len(toks)
        if n == 0:  # every cluster of no tokens fits: the first one
            pool = self._by_head.get((0, ""), ())[-10 * self.fallback_scan :]
            return pool[0] if pool else None
        head = toks[0]
        first = self._by_head.get((n, head), ()) if head != WILDCARD else ()
        best = self._best(first[-10 * self.fallback_scan :], toks) if first else None
        if best is None:
            # the fallback (no cluster of that first word fits) looks at the latest clusters of that
            # length only, so a log of endless new shapes cannot make mining quadratic
            pool = self._window(toks, bool(first))
            if head != WILDCARD:
                pool = self._tail_matches(pool, toks)
            best = self._best(pool, toks)
        return best

    def _tail_matches(self, pool: list[int], toks: tuple[str, ...]) -> list[int]:
        """The clusters of the pool that a record of another first word may join: those whose every
        other constant it has, when there are at least ``tail_constants`` of them."""
        clusters = self.clusters
        out = []
        head = toks[0]
        least = self.tail_constants
        for idx in pool:
            c = clusters[idx]
            ct = c.ctoks
            first = ct[0] is not None
            need = c.consts - first
            # the constants it has, less the first word's (only ever equal in a cluster of its own
            # first word that did not fit)
            if need >= least and sum(map(eq, ct, toks)) - (first and ct[0] == head) == need:
                out.append(idx)
        return out

    def _best(self, pool: Iterable[int], toks: tuple[str, ...]) -> int | None:
        """The cluster of the pool the record fits best (the first of equals), or None."""
        n = len(toks)
        th = self.sim_threshold * n
        clusters = self.clusters
        best = None
        best_score: tuple[float, int] | None = None
        for idx in pool:
            c = clusters[idx]
            if c.keysig:  # structure: the slow road
                sc = self._score(c, toks)
                if sc is None:
                    continue
            else:  # _score inlined for the common case
                agree = sum(map(eq, c.msg, toks))
                if agree < th:
                    continue
                same = sum(map(eq, c.cmsg, toks))
                if same * 2 < c.mconsts:
                    continue
                sc = (agree / n, same)
            if best_score is None or sc > best_score:
                best, best_score = idx, sc
        return best

    def _window(self, toks: tuple[str, ...], scored_head: bool) -> list[int]:
        """The latest ``fallback_scan`` clusters of the record's length, in order; for a crowded
        length, only those that can pass the threshold: the ones that agree with the record on one
        of its first span(n) positions. Those of the record's first word are left out when they were
        scored already (``scored_head``)."""
        n = len(toks)
        same_len = self._by_len.get(n, ())
        at = self._at.get(n)
        if at is None:
            return same_len[-self.fallback_scan :]
        lo = len(same_len) - self.fallback_scan
        cand: set[int] = set()
        for col, t in zip(at[1:], toks[1:], strict=False) if scored_head else zip(at, toks, strict=False):  # span <= n
            s = col.get(t)
            if s:
                cand |= s
        cand.update(self._keyed.get(n, ()))
        if scored_head:
            cand -= at[0].get(toks[0], set())
        clusters = self.clusters
        return [idx for _, idx in sorted([(clusters[i].pos, i) for i in cand if clusters[i].pos >= lo])]

    def _create(self, toks: tuple[str, ...]) -> int:
        if len(self.clusters) >= self.max_clusters:  # bounded memory: the rest share one cluster
            return self._overflow(len(toks))
        return self._insert(Cluster(self._new_id(toks), list(toks)))

    def _new_id(self, toks: tuple[str, ...]) -> str:
        cid = _cid(toks)
        k = 1
        while cid in self._ids:
            k += 1
            cid = _cid((*toks, f"#{k}"))
        return cid

    def _overflow(self, n: int) -> int:
        toks = tuple([WILDCARD] * n)
        cid = _cid(("overflow", *toks))
        if cid in self._ids:
            return self._ids[cid]
        return self._insert(Cluster(cid, list(toks)))

    def _add(self, c: Cluster) -> int:
        """A cluster the compiled engine holds already: the miner's own records of it."""
        idx = len(self.clusters)
        self.clusters.append(c)
        self._ids[c.id] = idx
        return idx

    def _insert(self, c: Cluster) -> int:
        eng = self._engine if self._engine is not None else self._compiled()
        if eng is not None:
            eng.insert(c.tokens)
            return self._add(c)
        idx = len(self.clusters)
        self.clusters.append(c)
        self._ids[c.id] = idx
        n = len(c.tokens)
        same_len = self._by_len.setdefault(n, [])
        c.pos = len(same_len)
        same_len.append(idx)
        self._by_head.setdefault((n, c.tokens[0] if c.tokens else ""), []).append(idx)
        if c.keysig:
            self._keyed.setdefault(n, []).append(idx)
        elif n in self._at:
            self._index(self._at[n], idx)
        elif len(same_len) >= self.index_from and n:  # a crowded length: index it from now on
            at = self._at[n] = [{} for _ in range(self._span(n))]
            for i in same_len:
                if not self.clusters[i].keysig:
                    self._index(at, i)
        return idx

    def _index(self, at: list[dict[str, set[int]]], idx: int) -> None:
        for col, t in zip(at, self.clusters[idx].tokens, strict=False):  # the first span(n) positions
            s = col.get(t)
            if s is None:
                col[t] = {idx}
            else:
                s.add(idx)

    def _span(self, n: int) -> int:
        """How many leading positions of a record of n message tokens must hold one agreement with
        any cluster it joins: it needs ``ceil(sim_threshold * n)`` agreements, so it may disagree
        on ``n - ceil(...)`` positions at most (pigeonhole)."""
        return min(n, n - math.ceil(self.sim_threshold * n) + 1)

    def _merge(self, idx: int, toks: tuple[str, ...]) -> None:
        c = self.clusters[idx]
        if sum(map(eq, c.ctoks, toks)) == c.consts:  # every constant agrees: nothing to change
            return
        changed = False
        at = None if c.keysig else self._at.get(len(c.tokens))
        for i, (t, s) in enumerate(zip(c.tokens, toks, strict=True)):
            if t != s and t != WILDCARD:
                c.tokens[i] = WILDCARD
                changed = True
                if at is not None and i < len(at):
                    at[i][t].discard(idx)
                    at[i].setdefault(WILDCARD, set()).add(idx)
        if changed:
            c.refresh()

    # -- final templates ------------------------------------------------------------------------
    def groups(self) -> list[Group]:
        """The final templates; computed once all records are added (recomputed after more adds)."""
        if self._groups is None:
            with _gc_paused():
                self._sync()
                self._finalize()
        assert self._groups is not None
        return self._groups

    def group_of(self, key: int) -> Group:
        groups = self.groups()
        return groups[self._key_group[key]]

    def _finalize(self) -> None:
        groups: list[Group] = []
        by_id: dict[str, int] = {}
        key_tokens = self.key_tokens
        key_count = self.key_count
        known = self._known_groups
        key_group = [0] * len(key_tokens)
        for ci, c in enumerate(self.clusters):
            ckeys = c.keys
            # (_split_at's own first test, here: most clusters are not split)
            split = self._split_at(c.tokens, ckeys) if len(ckeys) > 1 and WILDCARD in c.tokens else None
            if not split:
                cid = c.id
                g = by_id.get(cid)  # type: ignore[assignment]
                if g is None:
                    g = by_id[cid] = len(groups)
                    groups.append(Group(cid, list(c.tokens), ci, c.is_new or bool(ckeys and known and cid not in known)))
                group = groups[g]
                for key in ckeys:
                    group.count += key_count[key]
                    key_group[key] = g
                continue
            for gt, keys in self._partitions(list(c.tokens), c.keys, split):
                gid = _cid((c.id, *gt))
                g = by_id.get(gid)  # type: ignore[assignment]
                if g is None:
                    g = by_id[gid] = len(groups)
                    groups.append(Group(gid, gt, ci, c.is_new or bool(known and gid not in known)))
                group = groups[g]
                for key in keys:
                    group.count += key_count[key]
                    key_group[key] = g
        self._groups = groups
        self._key_group = key_group

    def _partitions(self, tokens: list[str], keys: list[int], split: list[tuple[int, bool]]) -> list[tuple[list[str], list[int]]]:
        """The keys of a template split at its split positions, as (template tokens, keys); each
        part is a template of its own, so it is split again by the same rule ("Task" and
        "TaskAttempt" apart, the states after "Task" may take few enough values to be constants)."""
        key_tokens = self.key_tokens
        parts: dict[tuple[str, ...], list[int]] = {}  # the split positions' values -> keys
        for key in keys:
            toks = key_tokens[key]
            sig = tuple([toks[i] if by_value or toks[i] == "" else WILDCARD for i, by_value in split])
            parts.setdefault(sig, []).append(key)
        out = []
        for sig, part in parts.items():
            gt = list(tokens)
            for (i, _), v in zip(split, sig, strict=True):
                gt[i] = v
            sub = self._split_at(gt, part) if len(parts) > 1 else []
            out.extend(self._partitions(gt, part, sub) if sub else [(gt, part)])
        return out

    def _split_at(self, tokens: list[str], keys: list[int]) -> list[tuple[int, bool]]:
        """Generalised positions that still name different templates, as ``(position, by_value)``:

        - ``by_value``: the position only ever held a few words (fewer than ``categorical_below``,
          or fewer than ``enum_below`` upper-case words): "Failed password ..." and "Accepted
          password ..." are two templates, so are "GET" and "POST" requests;
        - otherwise, a variable that is sometimes empty (``rhost=`` vs ``rhost=<*>``): an absent
          value is another shape, so empty and present values are told apart.
        """
        if len(keys) < 2 or WILDCARD not in tokens:
            return []
        wild = [i for i, t in enumerate(tokens) if t == WILDCARD]
        key_tokens = self.key_tokens
        cols = list(zip(*[key_tokens[k] for k in keys], strict=False))  # all of length n
        out = []
        for i in wild:
            values = set(cols[i])
            if len(values) < 2:
                continue
            if not any(WILDCARD in v for v in values) and (
                len(values) < self.categorical_below or (len(values) < self.enum_below and all(map(_ENUM.fullmatch, values)))
            ):
                out.append((i, True))
            elif "" in values:
                out.append((i, False))
        return out

    # -- read-out -------------------------------------------------------------------------------
    def template(self, key: int) -> str:
        return self.group_of(key).template

    def template_id(self, key: int) -> str:
        return self.group_of(key).id

    def template_ids(self, keys: Iterable[int]) -> list[str]:
        """``[template_id(k) for k in keys]``, at C speed."""
        groups = self.groups()
        ids = [groups[g].id for g in self._key_group]
        return list(map(ids.__getitem__, keys))

    # -- baseline (plain JSON) --------------------------------------------------------------------
    def to_dict(self) -> dict:
        self._sync()
        return {
            "format": "imdesk-templates",
            "version": BASELINE_VERSION,
            "sim_threshold": self.sim_threshold,
            "templates": [{"id": c.id, "tokens": c.tokens, "count": c.count} for c in self.clusters],
            "groups": [{"id": g.id, "template": g.template, "count": g.count} for g in self.groups()],
        }

    @classmethod
    def from_dict(cls, data: object) -> TemplateMiner:
        if not isinstance(data, dict) or data.get("format") != "imdesk-templates":
            raise BadInput("not an imdesk template baseline (expected JSON with format 'imdesk-templates')")
        if data.get("version") != BASELINE_VERSION:
            raise BadInput(f"unsupported baseline version {data.get('version')!r}")
        th = data.get("sim_threshold", 0.5)
        miner = cls(sim_threshold=float(th) if isinstance(th, (int, float)) else 0.5)
        items = data.get("templates")
        if not isinstance(items, list):
            raise BadInput("baseline: 'templates' must be a list")
        for item in items:
            if not isinstance(item, dict):
                raise BadInput("baseline: every template must be an object")
            cid, toks, count = item.get("id"), item.get("tokens"), item.get("count", 0)
            if not isinstance(cid, str) or not isinstance(toks, list) or not all(isinstance(t, str) for t in toks):
                raise BadInput("baseline: a template needs a string 'id' and a list of string 'tokens'")
            if cid in miner._ids:
                continue
            miner._insert(Cluster(cid, list(toks), int(count) if isinstance(count, int) else 0, is_new=False))
        for g in data.get("groups") or []:
            if isinstance(g, dict) and isinstance(g.get("id"), str):
                miner._known_groups.add(g["id"])
        return miner

    def save(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, p)
        except OSError as exc:
            raise BadInput(f"cannot write baseline {path}: {exc.strerror or exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TemplateMiner:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot read baseline {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise BadInput(f"baseline {path} is not UTF-8 JSON") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInput(f"baseline {path} is not valid JSON ({exc})") from None
        return cls.from_dict(data)
