# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The hot steps of :class:`imdesk.diag.mining.TemplateMiner`, compiled (built by setup.py).

- :class:`ShapeCache`: the first cache of ``add_batch`` (a record's bytes with every digit as ``0``
  -> its key), looked up for a whole batch in one C loop;
- :func:`cache_keys0`: the second cache's keys of new shapes (``mining._cache_key0``);
- :func:`mask_word` and :func:`masked_records`: masking a new word (``mining._mask_token``) and the
  masked, collapsed tokens of new records (``mining._collapse``);
- :class:`Engine`: the clustering step (``_match``, ``_best``, ``_window``, ``_tail_matches``,
  ``_merge``, ``_insert``) on token ids instead of strings: a record joins the cluster it fits best
  or starts one.

Each follows the same rules as the Python code of mining.py, which stays the reference and the
fallback where this module is not built; test_mining and test_mining_engine check that both give the
same results.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, Py_UNICODE_ISDECIMAL
from libc.math cimport ceil
from libc.stdint cimport uint64_t
from libc.string cimport memcmp, memcpy

cdef enum:
    WILD = 0  # the id of "<*>"


cdef struct CC:
    int n           # tokens
    int *tok        # the current tokens (WILD where variable)
    int nkeys       # "key=" tokens: structure
    int *keypos
    int *keyval
    int nmsg        # the other tokens: the message (all of them when there is no key)
    int *msgpos
    int consts      # constant tokens, all positions
    int mconsts     # constant tokens of the message
    int pos         # place among the clusters of its length


cdef class Engine:
    cdef CC *cl
    cdef Py_ssize_t ncl, cap
    cdef double sim
    cdef int fallback_scan, index_from, tail_constants
    cdef Py_ssize_t max_clusters
    cdef dict ids           # token -> id
    cdef list toks          # id -> token
    cdef dict by_len        # n -> [cluster]
    cdef dict by_head       # (n, first token id) -> [cluster]
    cdef dict at            # n -> [ {token id: {cluster}} per leading position ]
    cdef dict keyed         # n -> [cluster with keys]
    cdef list dirty         # clusters whose tokens changed since take_dirty()
    cdef unsigned char *is_dirty
    cdef int *stamp         # per cluster: the query that last saw it (dedup in _window)
    cdef int query
    cdef int *rec           # the record being mined, as ids
    cdef Py_ssize_t rec_cap

    def __cinit__(self):
        self.cl = NULL
        self.is_dirty = NULL
        self.stamp = NULL
        self.rec = NULL

    def __init__(self, double sim_threshold, int fallback_scan, int index_from, int tail_constants, Py_ssize_t max_clusters):
        self.sim = sim_threshold
        self.fallback_scan = fallback_scan
        self.index_from = index_from
        self.tail_constants = tail_constants
        self.max_clusters = max_clusters
        self.ids = {"<*>": WILD}
        self.toks = ["<*>"]
        self.by_len = {}
        self.by_head = {}
        self.at = {}
        self.keyed = {}
        self.dirty = []
        self.ncl = 0
        self.cap = 0
        self.query = 0
        self.rec_cap = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.cl != NULL:
            for i in range(self.ncl):
                PyMem_Free(self.cl[i].tok)
                PyMem_Free(self.cl[i].keypos)
                PyMem_Free(self.cl[i].keyval)
                PyMem_Free(self.cl[i].msgpos)
            PyMem_Free(self.cl)
        PyMem_Free(self.is_dirty)
        PyMem_Free(self.stamp)
        PyMem_Free(self.rec)

    # -- public -----------------------------------------------------------------------------------
    def __len__(self):
        return self.ncl

    def mine(self, tuple toks):
        """The cluster a masked record joins (merging it in), or a new one; -1 when a new one is
        needed and there are ``max_clusters`` already (the caller makes the overflow cluster)."""
        cdef int n = len(toks)
        self._load(toks)
        cdef Py_ssize_t idx = self._match(n)
        if idx < 0:
            if self.ncl >= self.max_clusters:
                return -1
            return self._insert(n)
        self._merge(idx, n)
        return idx

    def insert(self, tokens):
        """A cluster with these tokens, as the miner's ``_insert`` (baseline, overflow)."""
        cdef tuple t = tuple(tokens)
        self._load(t)
        return self._insert(len(t))

    def tokens(self, Py_ssize_t idx):
        if not 0 <= idx < self.ncl:
            raise IndexError("no such cluster")
        cdef CC *c = &self.cl[idx]
        cdef list toks = self.toks
        return [toks[c.tok[i]] for i in range(c.n)]

    def take_dirty(self):
        """The clusters whose tokens changed since the last call."""
        cdef list out = self.dirty
        cdef Py_ssize_t i
        for i in out:
            self.is_dirty[i] = 0
        self.dirty = []
        return out

    # -- internals --------------------------------------------------------------------------------
    cdef void _load(self, tuple toks) except *:
        """The record's tokens as ids, into self.rec."""
        cdef Py_ssize_t n = len(toks), i
        cdef dict ids = self.ids
        cdef object t, v
        if n > self.rec_cap:
            self.rec = <int *>PyMem_Realloc(self.rec, (n + 16) * sizeof(int))
            if self.rec == NULL:
                raise MemoryError()
            self.rec_cap = n + 16
        for i in range(n):
            t = toks[i]
            v = ids.get(t)
            if v is None:
                v = len(self.toks)
                ids[t] = v
                self.toks.append(t)
            self.rec[i] = <int>v

    cdef inline int _span(self, int n):
        cdef int s = n - <int>ceil(self.sim * n) + 1
        return n if n < s else s

    cdef Py_ssize_t _match(self, int n) except -2:
        cdef int *r = self.rec
        cdef list first, pool
        cdef Py_ssize_t best, lo
        if n == 0:
            first = self.by_head.get((0, -1))
            if not first:
                return -1
            lo = len(first) - 10 * self.fallback_scan
            return first[lo if lo > 0 else 0]
        cdef int head = r[0]
        first = None
        if head != WILD:
            first = self.by_head.get((n, head))
        best = -1
        if first:
            lo = len(first) - 10 * self.fallback_scan
            best = self._best(first, lo if lo > 0 else 0, n)
        if best < 0:
            pool = self._window(n, bool(first))
            if head != WILD:
                pool = self._tail_matches(pool, n)
            best = self._best(pool, 0, n)
        return best

    cdef Py_ssize_t _best(self, list pool, Py_ssize_t start, int n) except -2:
        cdef int *r = self.rec
        cdef double th = self.sim * n
        cdef double score, best_score = -1.0
        cdef int best_same = 0, agree, same, nm, i, k, t
        cdef Py_ssize_t best = -1, j, idx, m = len(pool)
        cdef CC *c
        cdef bint ok
        for j in range(start, m):
            idx = pool[j]
            c = &self.cl[idx]
            if c.nkeys:
                ok = True
                for i in range(c.nkeys):
                    if r[c.keypos[i]] != c.keyval[i]:
                        ok = False
                        break
                if not ok:
                    continue
                nm = c.nmsg
                if nm == 0:
                    score = 1.0
                    same = 0
                else:
                    agree = 0
                    same = 0
                    for i in range(nm):
                        k = c.msgpos[i]
                        t = c.tok[k]
                        if t == r[k]:
                            agree += 1
                            if t != WILD:
                                same += 1
                    if agree < self.sim * nm:
                        continue
                    if same * 2 < c.mconsts:
                        continue
                    score = <double>agree / nm
            else:
                agree = 0
                same = 0
                for i in range(n):
                    t = c.tok[i]
                    if t == r[i]:
                        agree += 1
                        if t != WILD:
                            same += 1
                if agree < th:
                    continue
                if same * 2 < c.mconsts:
                    continue
                score = <double>agree / n
            if best < 0 or score > best_score or (score == best_score and same > best_same):
                best = idx
                best_score = score
                best_same = same
        return best

    cdef list _window(self, int n, bint scored_head):
        cdef list same_len = self.by_len.get(n)
        if same_len is None:
            return []
        cdef list at = self.at.get(n)
        cdef Py_ssize_t lo
        if at is None:
            lo = len(same_len) - self.fallback_scan
            return same_len[lo if lo > 0 else 0:]
        lo = len(same_len) - self.fallback_scan
        cdef Py_ssize_t z
        if self.query >= 2000000000:  # the stamps start over
            for z in range(self.ncl):
                self.stamp[z] = 0
            self.query = 0
        self.query += 1
        cdef int q = self.query
        cdef int *r = self.rec
        cdef int *stamp = self.stamp
        cdef list cand = []
        cdef set s
        cdef list ks
        cdef dict col
        cdef Py_ssize_t idx
        cdef int i, ncol = len(at)
        if scored_head:  # the clusters now holding the record's first word there were scored
            s = (<dict>at[0]).get(r[0])
            if s:
                for idx in s:
                    stamp[idx] = q
        for i in range(1 if scored_head else 0, ncol):
            col = at[i]
            s = col.get(r[i])
            if s:
                self._gather(s, q, lo, cand)
        ks = self.keyed.get(n)
        if ks:
            self._gather(ks, q, lo, cand)
        # in order of place among the clusters of length n: clusters of one length are made in
        # the order of their ids, so the ids sort the same
        cand.sort()
        return cand

    cdef int _gather(self, object clusters, int q, Py_ssize_t lo, list cand) except -1:
        """Append to ``cand`` the clusters not seen yet by query ``q`` whose place is ``lo`` or later."""
        cdef Py_ssize_t idx
        for idx in clusters:
            if self.stamp[idx] != q:
                self.stamp[idx] = q
                if self.cl[idx].pos >= lo:
                    cand.append(idx)
        return 0

    cdef list _tail_matches(self, list pool, int n):
        cdef int *r = self.rec
        cdef int head = r[0], least = self.tail_constants, need, same, i, t
        cdef list out = []
        cdef Py_ssize_t idx
        cdef CC *c
        cdef bint first
        for idx in pool:
            c = &self.cl[idx]
            first = c.tok[0] != WILD
            need = c.consts - first
            if need < least:
                continue
            same = 0
            for i in range(n):
                t = c.tok[i]
                if t != WILD and t == r[i]:
                    same += 1
            if first and c.tok[0] == head:
                same -= 1
            if same == need:
                out.append(idx)
        return out

    cdef int _merge(self, Py_ssize_t idx, int n) except -1:
        cdef CC *c = &self.cl[idx]
        cdef int *r = self.rec
        cdef int i, t, same = 0
        for i in range(n):
            t = c.tok[i]
            if t != WILD and t == r[i]:
                same += 1
        if same == c.consts:  # every constant agrees: nothing to change
            return 0
        cdef list at = None if c.nkeys else self.at.get(n)
        cdef int ncol = len(at) if at is not None else 0
        cdef dict col
        cdef set st
        for i in range(n):
            t = c.tok[i]
            if t != WILD and t != r[i]:
                c.tok[i] = WILD
                if i < ncol:
                    col = at[i]
                    st = col.get(t)
                    if st is not None:
                        st.discard(idx)
                    st = col.get(WILD)
                    if st is None:
                        col[WILD] = {idx}
                    else:
                        st.add(idx)
        self._refresh(c)
        if not self.is_dirty[idx]:
            self.is_dirty[idx] = 1
            self.dirty.append(idx)
        return 0

    cdef void _refresh(self, CC *c):
        cdef int i, k = 0, m = 0
        for i in range(c.n):
            if c.tok[i] != WILD:
                k += 1
        c.consts = k
        if c.nkeys:
            for i in range(c.nmsg):
                if c.tok[c.msgpos[i]] != WILD:
                    m += 1
            c.mconsts = m
        else:
            c.mconsts = k

    cdef Py_ssize_t _insert(self, int n) except -1:
        cdef Py_ssize_t idx = self.ncl, newcap, i
        cdef int *r = self.rec
        cdef CC *c
        cdef list toks = self.toks
        cdef str s
        cdef bint value
        cdef int nk = 0, nm = 0
        if idx >= self.cap:
            newcap = self.cap * 2 + 64
            self.cl = <CC *>PyMem_Realloc(self.cl, newcap * sizeof(CC))
            self.is_dirty = <unsigned char *>PyMem_Realloc(self.is_dirty, newcap * sizeof(unsigned char))
            self.stamp = <int *>PyMem_Realloc(self.stamp, newcap * sizeof(int))
            if self.cl == NULL or self.is_dirty == NULL or self.stamp == NULL:
                raise MemoryError()
            self.cap = newcap
        c = &self.cl[idx]
        c.n = n
        c.tok = <int *>PyMem_Malloc((n if n else 1) * sizeof(int))
        c.keypos = NULL
        c.keyval = NULL
        c.msgpos = NULL
        c.nkeys = 0
        c.nmsg = n
        if c.tok == NULL:
            raise MemoryError()
        for i in range(n):
            c.tok[i] = r[i]
        # the structure: "key=" tokens and the value after each (see Cluster.__init__), in one pass
        # into arrays of n; dropped when there is no key (then the message is every token)
        c.keypos = <int *>PyMem_Malloc((n if n else 1) * sizeof(int))
        c.keyval = <int *>PyMem_Malloc((n if n else 1) * sizeof(int))
        c.msgpos = <int *>PyMem_Malloc((n if n else 1) * sizeof(int))
        if c.keypos == NULL or c.keyval == NULL or c.msgpos == NULL:
            raise MemoryError()
        value = False
        for i in range(n):
            s = toks[r[i]]
            if value:
                value = False
            elif len(s) > 1 and s[len(s) - 1] == "=":
                c.keypos[nk] = <int>i
                c.keyval[nk] = r[i]
                nk += 1
                value = True
            else:
                c.msgpos[nm] = <int>i
                nm += 1
        if nk:
            c.nkeys = nk
            c.nmsg = nm
        else:
            PyMem_Free(c.keypos)
            PyMem_Free(c.keyval)
            PyMem_Free(c.msgpos)
            c.keypos = c.keyval = c.msgpos = NULL
        self._refresh(c)
        self.is_dirty[idx] = 0
        self.stamp[idx] = 0
        self.ncl = idx + 1
        cdef list same_len = self.by_len.get(n)
        if same_len is None:
            same_len = self.by_len[n] = []
        c.pos = len(same_len)
        same_len.append(idx)
        cdef tuple hk
        if n:
            hk = (n, r[0])
        else:
            hk = (0, -1)
        cdef list lst = self.by_head.get(hk)
        if lst is None:
            self.by_head[hk] = [idx]
        else:
            lst.append(idx)
        cdef list at
        cdef object j
        if c.nkeys:
            lst = self.keyed.get(n)
            if lst is None:
                self.keyed[n] = [idx]
            else:
                lst.append(idx)
        elif n in self.at:
            self._index(self.at[n], idx)
        elif len(same_len) >= self.index_from and n:  # a crowded length: index it from now on
            at = [{} for _ in range(self._span(n))]
            self.at[n] = at
            for j in same_len:
                if not self.cl[<Py_ssize_t>j].nkeys:
                    self._index(at, j)
        return idx

    cdef int _index(self, list at, Py_ssize_t idx) except -1:
        cdef CC *c = &self.cl[idx]
        cdef int i, ncol = len(at)
        cdef dict col
        cdef set st
        for i in range(ncol if ncol < c.n else c.n):
            col = at[i]
            st = col.get(c.tok[i])
            if st is None:
                col[c.tok[i]] = {idx}
            else:
                st.add(idx)
        return 0


cdef inline uint64_t _hash(const char *b, Py_ssize_t size):
    """A 64-bit hash of bytes, 8 at a time (multiply-xorshift; only for the table)."""
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>size, w = 0
    cdef Py_ssize_t i = 0
    while i + 8 <= size:
        memcpy(&w, b + i, 8)
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
        i += 8
    w = 0
    if i < size:
        memcpy(&w, b + i, size - i)
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL
    h ^= h >> 29
    h *= 0x9E3779B97F4A7C15ULL
    h ^= h >> 32
    return h


cdef class ShapeCache:
    """Digit-normalised record bytes -> key, for whole batches (``TemplateMiner.add_batch``).

    :meth:`lookup` turns each record into its UTF-8 bytes with every ASCII digit as ``0`` (as
    ``bytes.translate`` with ``_DIGITS_TO_ZERO``), finds its key, and lists the shapes not seen
    before; :meth:`settle` gives those their keys. Only saves work: a cleared cache gives the same
    keys, later."""

    cdef uint64_t *hashes
    cdef Py_ssize_t *offs
    cdef Py_ssize_t *lens
    cdef Py_ssize_t *vals      # the key, or -1 - j for the j-th new shape of the batch being looked up
    cdef Py_ssize_t cap, count
    cdef public Py_ssize_t limit
    cdef char *arena
    cdef Py_ssize_t arena_len, arena_cap
    cdef char *buf
    cdef Py_ssize_t buf_cap
    cdef list pending           # slots of the new shapes of the last lookup
    cdef list holes             # the records of the last lookup that got a placeholder

    def __cinit__(self):
        self.hashes = NULL
        self.offs = NULL
        self.lens = NULL
        self.vals = NULL
        self.arena = NULL
        self.buf = NULL

    def __init__(self, Py_ssize_t limit):
        self.limit = limit
        self.pending = []
        self.holes = []
        self._alloc(1024)
        self.arena_cap = 0
        self.arena_len = 0
        self.buf_cap = 0

    def __dealloc__(self):
        PyMem_Free(self.hashes)
        PyMem_Free(self.offs)
        PyMem_Free(self.lens)
        PyMem_Free(self.vals)
        PyMem_Free(self.arena)
        PyMem_Free(self.buf)

    def __len__(self):
        return self.count

    cdef int _alloc(self, Py_ssize_t cap) except -1:
        PyMem_Free(self.hashes)
        PyMem_Free(self.offs)
        PyMem_Free(self.lens)
        PyMem_Free(self.vals)
        self.hashes = <uint64_t *>PyMem_Malloc(cap * sizeof(uint64_t))
        self.offs = <Py_ssize_t *>PyMem_Malloc(cap * sizeof(Py_ssize_t))
        self.lens = <Py_ssize_t *>PyMem_Malloc(cap * sizeof(Py_ssize_t))
        self.vals = <Py_ssize_t *>PyMem_Malloc(cap * sizeof(Py_ssize_t))
        if self.hashes == NULL or self.offs == NULL or self.lens == NULL or self.vals == NULL:
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(cap):
            self.lens[i] = -1  # empty slot
        self.cap = cap
        self.count = 0
        return 0

    def clear(self):
        self._alloc(1024)
        self.arena_len = 0
        self.pending = []

    cdef int _grow(self) except -1:
        cdef Py_ssize_t oldcap = self.cap, i, j, mask
        cdef uint64_t *h = self.hashes
        cdef Py_ssize_t *o = self.offs
        cdef Py_ssize_t *l = self.lens
        cdef Py_ssize_t *v = self.vals
        self.hashes = NULL
        self.offs = NULL
        self.lens = NULL
        self.vals = NULL
        try:
            self._alloc(oldcap * 2)
            mask = self.cap - 1
            for i in range(oldcap):
                if l[i] >= 0:
                    j = <Py_ssize_t>(h[i] & mask)
                    while self.lens[j] >= 0:
                        j = (j + 1) & mask
                    self.hashes[j] = h[i]
                    self.offs[j] = o[i]
                    self.lens[j] = l[i]
                    self.vals[j] = v[i]
                    self.count += 1
        finally:
            PyMem_Free(h)
            PyMem_Free(o)
            PyMem_Free(l)
            PyMem_Free(v)
        # the slots of pending new shapes moved: find them again by their placeholders
        cdef list pend = self.pending
        cdef Py_ssize_t k
        for i in range(self.cap):
            if self.lens[i] >= 0 and self.vals[i] < 0:
                k = -1 - self.vals[i]
                pend[k] = i
        return 0

    def lookup(self, list contents):
        """(keys, new): per record its key, or ``-1 - j`` for the j-th shape not seen before; and the
        new shapes as digit-normalised bytes, in order of first appearance. Raises
        UnicodeEncodeError for a record that has no UTF-8 form (lone surrogates)."""
        cdef Py_ssize_t n = len(contents)
        cdef list keys = [None] * n
        cdef list new = []
        if self.count + n > self.limit:
            self.clear()
        self.pending = []
        self.holes = []
        try:
            self._lookup(contents, keys, new)
        except BaseException:  # placeholders without keys must not stay
            self.clear()
            raise
        return keys, new

    cdef int _lookup(self, list contents, list keys, list new) except -1:
        cdef Py_ssize_t n = len(contents), i, size = 0, j, mask, slot
        cdef const char *src
        cdef char *b
        cdef unsigned char ch
        cdef uint64_t h
        cdef object content
        for i in range(n):
            content = contents[i]
            src = PyUnicode_AsUTF8AndSize(content, &size)
            if size > self.buf_cap:
                self.buf = <char *>PyMem_Realloc(self.buf, size + 64)
                if self.buf == NULL:
                    raise MemoryError()
                self.buf_cap = size + 64
            b = self.buf
            for j in range(size):
                ch = <unsigned char>src[j]
                b[j] = <char>(48 if 49 <= ch <= 57 else ch)  # "1".."9" -> "0"
            h = _hash(b, size)
            if (self.count + 1) * 2 > self.cap:
                self._grow()
            mask = self.cap - 1
            slot = <Py_ssize_t>(h & mask)
            while True:
                if self.lens[slot] < 0:  # a new shape
                    self._store(slot, h, b, size, -1 - len(new))
                    self.pending.append(slot)
                    keys[i] = -1 - len(new)
                    self.holes.append(i)
                    new.append(PyBytes_FromStringAndSize(b, size))
                    break
                if self.hashes[slot] == h and self.lens[slot] == size and memcmp(self.arena + self.offs[slot], b, size) == 0:
                    keys[i] = self.vals[slot]
                    if self.vals[slot] < 0:
                        self.holes.append(i)
                    break
                slot = (slot + 1) & mask
        return 0

    cdef int _store(self, Py_ssize_t slot, uint64_t h, char *b, Py_ssize_t size, Py_ssize_t val) except -1:
        if self.arena_len + size > self.arena_cap:
            self.arena_cap = (self.arena_len + size) * 2 + 4096
            self.arena = <char *>PyMem_Realloc(self.arena, self.arena_cap)
            if self.arena == NULL:
                raise MemoryError()
        memcpy(self.arena + self.arena_len, b, size)
        self.hashes[slot] = h
        self.offs[slot] = self.arena_len
        self.lens[slot] = size
        self.vals[slot] = val
        self.arena_len += size
        self.count += 1
        return 0

    def settle(self, list keys, list new_keys):
        """The keys of the last lookup's new shapes: stored, and put in place of the placeholders of
        ``keys`` (changed in place, and returned)."""
        cdef list pend = self.pending
        cdef Py_ssize_t i, m = len(new_keys)
        if m != len(pend):
            raise ValueError("settle: one key per new shape")
        for i in range(m):
            self.vals[<Py_ssize_t>pend[i]] = new_keys[i]
        self.pending = []
        cdef Py_ssize_t j
        for i in self.holes:
            j = keys[i]
            keys[i] = new_keys[-1 - j]
        self.holes = []
        return keys


# bytes that end a run of the cache key (mining._SEP): ASCII whitespace, = : " ' , ; ( ) [ ] { },
# \x1c-\x1f and every non-ASCII byte
cdef unsigned char _IS_SEP[256]
cdef int _b
for _b in range(256):
    _IS_SEP[_b] = 1 if (_b in (32, 9, 10, 11, 12, 13) or chr(_b) in "=:\"',;()[]{}" or 0x1c <= _b <= 0x1f or _b >= 0x80) else 0


def cache_keys0(list norms):
    """``mining._cache_key0`` of each digit-normalised record: every run of non-separator bytes that
    holds a ``0`` becomes ``0``; a record holding ``://`` or ``:\\`` is its own key."""
    cdef list out = []
    cdef bytes r
    cdef const unsigned char *p
    cdef Py_ssize_t n, i, j, k
    cdef unsigned char *b = NULL
    cdef Py_ssize_t cap = 0
    cdef bint zero
    try:
        for r in norms:
            p = <const unsigned char *>r
            n = len(r)
            i = 0
            while i + 1 < n and not (p[i] == 58 and (p[i + 1] == 92 or (p[i + 1] == 47 and i + 2 < n and p[i + 2] == 47))):
                i += 1  # up to the first "://" or ":\\" (mining._OWN_SHAPE)
            if i + 1 < n:
                out.append(r)
                continue
            if n > cap:
                PyMem_Free(b)
                b = <unsigned char *>PyMem_Malloc(n + 16)
                if b == NULL:
                    raise MemoryError()
                cap = n + 16
            i = 0
            k = 0
            while i < n:
                if _IS_SEP[p[i]]:
                    b[k] = p[i]
                    k += 1
                    i += 1
                    continue
                j = i
                zero = False
                while j < n and not _IS_SEP[p[j]]:
                    if p[j] == 48:
                        zero = True
                    j += 1
                if zero:
                    b[k] = 48
                    k += 1
                else:
                    memcpy(b + k, p + i, j - i)
                    k += j - i
                i = j
            out.append(PyBytes_FromStringAndSize(<char *>b, k))
    finally:
        PyMem_Free(b)
    return out


def masked_records(list split, object tok, str wildcard, frozenset units):
    """Each record's words, masked through ``tok`` (word -> masked tokens) and collapsed as
    ``mining._collapse`` does: after a variable, another variable or a unit is dropped."""
    cdef list out = []
    cdef list parts, toks
    cdef object w, t
    cdef tuple m
    cdef bint after_var
    for parts in split:
        toks = []
        after_var = False
        for w in parts:
            m = tok[w]
            for t in m:
                if after_var and (t == wildcard or t in units):
                    continue
                toks.append(t)
                after_var = t == wildcard
        out.append(tuple(toks))
    return out


# -- masking one word (mining._mask_token, compiled) ------------------------------------------------
cdef str _WILD = "<*>"
cdef frozenset _VALUE_WORDS = frozenset()
cdef frozenset _SECRET_KEYS = frozenset()
cdef frozenset _EMPTY = frozenset()
cdef frozenset _BRACKETS = frozenset()
cdef frozenset _LITERALS = frozenset()


def set_words(str wildcard, frozenset value_words, frozenset secret_keys, frozenset empty, frozenset brackets,
              frozenset literals):
    """The word lists of mining.py, which owns them."""
    global _WILD, _VALUE_WORDS, _SECRET_KEYS, _EMPTY, _BRACKETS, _LITERALS
    _WILD, _VALUE_WORDS, _SECRET_KEYS, _EMPTY, _BRACKETS, _LITERALS = wildcard, value_words, secret_keys, empty, brackets, literals


cdef inline bint _has_digit(str s):
    """``re.search(r"\\d", s)``: a Unicode decimal digit (what the regex engine tests)."""
    cdef Py_UCS4 ch
    for ch in s:
        if Py_UNICODE_ISDECIMAL(ch):
            return True
    return False


cdef inline bint _is_name(str s, Py_ssize_t end):
    """``s[:end]`` is ASCII letters and underscores only (mining._NAME)."""
    cdef Py_ssize_t i
    cdef Py_UCS4 ch
    for i in range(end):
        ch = s[i]
        if not (65 <= ch <= 90 or 97 <= ch <= 122 or ch == 95):
            return False
    return True


def mask_word(str tok):
    """``mining._mask_token``: one whitespace-separated token -> one or two tokens."""
    cdef str key, value
    if tok.isalpha():
        return (_WILD,) if tok.lower() in _VALUE_WORDS else (tok,)
    cdef Py_ssize_t eq = tok.find("=")
    if eq > 0:
        key = tok[:eq]
        value = tok[eq + 1:]
        if _has_digit(key) or _WILD in key:
            return (_WILD,)
        if not value:
            return (key + "=", "")
        if key.lower().lstrip("-_") in _SECRET_KEYS:
            return (key + "=", _WILD)
        return (key + "=",) + _mask_value(value)
    return _mask_value(tok)


cdef tuple _mask_value(str tok):
    cdef str key, colon, value, bare, suffix
    cdef Py_ssize_t n
    if not (_has_digit(tok) or _WILD in tok or tok.lower() in _VALUE_WORDS or tok in _EMPTY):
        key, colon, value = tok.rpartition(":")
        if colon and key:
            bare = value.rstrip(",;")
            if bare.lower() in _LITERALS:
                return (key + ":" + _WILD + value[len(bare):],)
        return (tok,)
    cdef Py_ssize_t c = tok.find(":")
    if 0 < c < len(tok) - 1 and _is_name(tok, c):  # "uid:1000" keeps its name
        return (tok[:c + 1] + _mask_value(tok[c + 1:])[0],)
    suffix = ""
    n = len(tok)
    if n > 1 and (tok[n - 1] == "," or tok[n - 1] == ";"):
        suffix = tok[n - 1]
        tok = tok[:n - 1]
        n -= 1
    if n > 1 and (tok[0] + tok[n - 1]) in _BRACKETS:
        return (tok[0] + _WILD + tok[n - 1] + suffix,)
    return (_WILD + suffix,)
