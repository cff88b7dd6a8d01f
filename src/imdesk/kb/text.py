"""Text processing for knowledge-base search: one tokeniser for indexing and for queries.

Pure (no database, no web). The same functions feed the SQLite FTS5 index and the PostgreSQL
``to_tsvector('simple', ...)`` column, so both backends see identical tokens:

- ``normalize`` — NFKC (full-width → half-width), lower case.
- ``tokenize`` — error codes are pulled out first (``ERR_IM_1002`` → ``errim1002`` + ``1002``),
  then jieba *search mode* segments the rest; every token is either a run of ``[0-9a-z]`` or a run
  of CJK characters, so it can be quoted safely in FTS5 and is one lexeme for PostgreSQL's parser.
- ``query_terms`` — tokens of a query without stop words, deduplicated in order.
- ``Synonyms`` — the maintained synonym dictionary (``profiles/<name>/synonyms.yaml``).
- ``TypoCorrector`` — edit-distance correction of Latin words and codes against a vocabulary.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jieba

# Codes: ERR_IM_1002, ERR_SDK_NOT_INITIALIZED, E_TIMEOUT... (letters/digits joined by underscores,
# at least one underscore, starting with a letter). Case-insensitive.
CODE_RE = re.compile(r"(?<![0-9A-Za-z_])([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)(?![0-9A-Za-z_])")
NUMBER_RE = re.compile(r"(?<![0-9A-Za-z_.])(\d{3,6})(?![0-9A-Za-z_]|\.\d)")
_TOKEN_RE = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_RE = re.compile(r"^[a-z][a-z0-9]*$")

STOPWORDS_ZH = frozenset(
    ["的", "了", "是", "在", "我", "我们", "你", "你们", "他", "她", "它", "吗", "呢", "吧", "啊", "呀", "和", "与", "及", "或", "就", "都", "也", "还", "又", "很", "把", "被", "让", "给", "这", "那", "这个", "那个", "什么", "怎么", "怎么办", "怎样", "如何", "为什么", "为何", "一下", "一直", "已经", "可以", "能", "会", "要", "想", "有", "没有", "没", "不", "请问", "请", "问题", "一个", "时候", "出现", "显示", "提示", "说", "意思", "什么", "是否", "么", "个", "之后", "以后", "后", "时", "中", "上", "下", "里", "哪里", "哪些", "谁"]
)
STOPWORDS_EN = frozenset(
    ["a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "have", "has", "had", "i", "me", "my", "we", "our", "you", "your", "it", "its", "they", "them", "their", "this", "that", "these", "those", "to", "of", "in", "on", "at", "by", "for", "with", "from", "as", "and", "or", "but", "if", "then", "so", "not", "no", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "how", "what", "why", "when", "where", "which", "who", "whom", "whose", "please", "help", "get", "got", "getting", "keep", "keeps", "kept", "there", "here", "all", "any", "some", "just", "also", "only", "very", "too", "again", "after", "before", "about", "into", "over", "under", "up", "down", "out", "off", "than"]
)
STOPWORDS = STOPWORDS_ZH | STOPWORDS_EN

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

_tokenizer_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_user_words: set[str] = set()


def _jieba() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                tk = jieba.Tokenizer()
                tk.initialize()
                _tokenizer = tk
    return _tokenizer


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter product words (synonyms, module names) so they stay one token."""
    tk = _jieba()
    for w in words:
        w = normalize(w).strip()
        if w and w not in _user_words and re.search(r"[\u3400-\u9fff]", w):
            tk.add_word(w, freq=2000)
            _user_words.add(w)
            _ascii_blocks.clear()  # a new word changes the dictionary's total, so any route may change


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def code_token(code: str) -> str:
    """The index token of a code: ``ERR_IM_1002`` → ``errim1002`` (letters and digits only)."""
    return re.sub(r"[^0-9a-z]", "", normalize(code))


def extract_codes(text: str) -> list[str]:
    """Code-like words (``ERR_IM_1002``, ``ERR_SDK_NOT_INITIALIZED``) in ``text``, upper case, in order."""
    seen: dict[str, None] = {}
    for m in CODE_RE.finditer(unicodedata.normalize("NFKC", text or "")):
        seen.setdefault(m.group(1).upper(), None)
    return list(seen)


def extract_numbers(text: str) -> list[str]:
    """Standalone numbers of 3 to 6 digits (bare error codes like ``6013`` or ``10007``)."""
    seen: dict[str, None] = {}
    for m in NUMBER_RE.finditer(unicodedata.normalize("NFKC", text or "")):
        seen.setdefault(m.group(1), None)
    return list(seen)


def _split_token(tok: str) -> list[str]:
    return _TOKEN_RE.findall(tok)


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for the index (jieba search mode), codes first-class."""
    norm = normalize(text)
    out: list[str] = []
    pos = 0
    for m in CODE_RE.finditer(norm):
        _cut_into(norm[pos : m.start()], out)
        code = m.group(1)
        out.append(code_token(code))
        out.extend(t for p in code.split("_") if p for t in _split_token(p))
        pos = m.end()
    _cut_into(norm[pos:], out)
    return out


# jieba cuts a text block by block (runs of this pattern; everything between them is passed through
# character by character), and a block's words depend on nothing but the block. So the tokens of a
# block can be remembered. Only ASCII blocks are (English words, numbers, config keys such as
# ``server.max_concurrent``): every corpus repeats them, and they are most of jieba's time on mixed
# zh/en text because jieba builds its word graph character by character. The memo is emptied when
# the dictionary changes (``add_words``) and when it is full.
_JIEBA_BLOCK_RE = jieba.re_han_default
_ascii_blocks: dict[str, list[str]] = {}
ASCII_BLOCK_MEMO = 100_000


def _cut_block(tk: jieba.Tokenizer, block: str) -> list[str]:
    return [t for piece in tk.cut_for_search(block) for t in _split_token(piece)]


def _cut_into(text: str, out: list[str]) -> None:
    """Append the search-mode tokens of ``text``: exactly ``cut_for_search(text)`` split into
    tokens, computed block by block."""
    if not text.strip():
        return
    tk = _jieba()
    for block in _JIEBA_BLOCK_RE.split(text):
        if not block or not _TOKEN_RE.search(block):
            continue  # spaces and punctuation: jieba yields them, they hold no token
        if block.isascii():
            toks = _ascii_blocks.get(block)
            if toks is None:
                toks = _cut_block(tk, block)
                if len(_ascii_blocks) >= ASCII_BLOCK_MEMO:
                    _ascii_blocks.clear()
                _ascii_blocks[block] = toks
            out.extend(toks)
        else:
            out.extend(_cut_block(tk, block))


def index_text(text: str) -> str:
    """Space-joined tokens: what the FTS5 table / the tsvector source column stores."""
    return " ".join(tokenize(text))


def is_stopword(token: str) -> bool:
    return token in STOPWORDS or (len(token) == 1 and token.isascii() and not token.isdigit())


def query_terms(text: str) -> list[str]:
    """Distinct tokens of a query, stop words and single Latin letters removed, in order."""
    seen: dict[str, None] = {}
    for t in tokenize(text):
        if not is_stopword(t):
            seen.setdefault(t, None)
    return list(seen)


def is_latin(token: str) -> bool:
    return bool(_LATIN_RE.match(token))


# --------------------------------------------------------------------------------------------
# Synonyms
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synonyms:
    """Groups of interchangeable terms. Each member is kept as its token tuple (a phrase)."""

    groups: tuple[tuple[str, ...], ...] = ()
    _by_token: dict[tuple[str, ...], int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_groups(cls, groups: Sequence[Sequence[str]]) -> Synonyms:
        words = [w for g in groups for w in g]
        add_words(words)
        norm_groups: list[tuple[str, ...]] = []
        index: dict[tuple[str, ...], int] = {}
        for g in groups:
            members: list[str] = []
            for w in g:
                w = normalize(str(w)).strip()
                if w and w not in members:
                    members.append(w)
            if len(members) < 2:
                continue
            gi = len(norm_groups)
            norm_groups.append(tuple(members))
            for w in members:
                key = tuple(_phrase_tokens(w))
                if key:
                    index.setdefault(key, gi)
        return cls(groups=tuple(norm_groups), _by_token=index)

    @classmethod
    def from_data(cls, data: Any) -> Synonyms:
        """From the parsed ``synonyms.yaml`` (``{"groups": [[...], ...]}``)."""
        if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
            raise ValueError("synonyms data must be a mapping with a 'groups' list")
        groups = []
        for i, g in enumerate(data["groups"]):
            if not isinstance(g, list) or not all(isinstance(w, (str, int)) for w in g):
                raise ValueError(f"synonym group {i + 1} must be a list of words")
            groups.append([str(w) for w in g])
        return cls.from_groups(groups)

    def expand(self, terms: Sequence[str]) -> list[tuple[str, list[tuple[str, ...]]]]:
        """For each query term, the alternative phrases (token tuples) from its synonym group.

        Multi-token synonyms (``超过 限制``) are recognised when the query contains the tokens
        consecutively; the result then has one entry for the whole phrase.
        """
        result: list[tuple[str, list[tuple[str, ...]]]] = []
        i = 0
        terms = list(terms)
        while i < len(terms):
            matched = False
            for n in (4, 3, 2, 1):
                key = tuple(terms[i : i + n])
                if len(key) == n and key in self._by_token:
                    gi = self._by_token[key]
                    alts = [tuple(_phrase_tokens(w)) for w in self.groups[gi]]
                    alts = [a for a in alts if a and a != key]
                    result.append((" ".join(key), _dedup(alts)))
                    i += n
                    matched = True
                    break
            if not matched:
                result.append((terms[i], []))
                i += 1
        return result


def _dedup(items: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    seen: dict[tuple[str, ...], None] = {}
    for it in items:
        seen.setdefault(it, None)
    return list(seen)


def _phrase_tokens(word: str) -> list[str]:
    """Tokens of a synonym as a phrase: codes as their code token, otherwise precise jieba cut."""
    norm = normalize(word)
    if CODE_RE.fullmatch(norm):
        return [code_token(norm)]
    out: list[str] = []
    for piece in _jieba().cut(norm, HMM=False):
        out.extend(_split_token(piece))
    return out


# --------------------------------------------------------------------------------------------
# Typo tolerance
# --------------------------------------------------------------------------------------------


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit + 1``."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        row_min = cur[0]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            row_min = min(row_min, v)
        if row_min > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def max_typos(word: str) -> int:
    """How many edits a word of this length may carry: none below 4, 1 up to 7, else 2."""
    n = len(word)
    if n < 4:
        return 0
    return 1 if n < 8 else 2


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1 :])
        out |= nxt
        frontier = nxt
    return out


class TypoCorrector:
    """Symmetric-delete index over a vocabulary of Latin words/codes (SymSpell style).

    ``correct(word)`` returns the word itself when known, else the closest vocabulary words within
    ``max_typos(word)`` edits, most frequent first (empty when nothing is close).
    """

    def __init__(self, vocabulary: Iterable[str] | dict[str, int], max_depth: int = 2) -> None:
        freq: dict[str, int] = dict(vocabulary) if isinstance(vocabulary, dict) else {}
        if not isinstance(vocabulary, dict):
            for w in vocabulary:
                freq[w] = freq.get(w, 0) + 1
        self.freq = {w: f for w, f in freq.items() if is_latin(w) and len(w) >= 4}
        self.max_depth = max_depth
        self._index: dict[str, list[str]] = {}
        for w in self.freq:
            for d in _deletes(w, min(max_depth, max_typos(w))):
                self._index.setdefault(d, []).append(w)

    def __contains__(self, word: str) -> bool:
        return word in self.freq

    def correct(self, word: str, limit: int = 3) -> list[str]:
        if word in self.freq or not is_latin(word):
            return [word] if word in self.freq else []
        k = min(self.max_depth, max_typos(word))
        if k == 0:
            return []
        cands: set[str] = set()
        for d in _deletes(word, k):
            cands.update(self._index.get(d, ()))
        scored = []
        for c in cands:
            dist = edit_distance(word, c, limit=k)
            if dist <= min(k, max_typos(c)):
                scored.append((dist, -self.freq[c], c))
        scored.sort()
        return [c for _, _, c in scored[:limit]]
