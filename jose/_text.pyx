# cython: language_level=3
"""Streaming whitespace tokenizer: the compiled core of jose.textcorpus.

Input is the JoSE C program's format: one document per line, tokens separated
by ASCII whitespace (space, \\t, \\r, \\v, \\f); '\\n' ends a document. Bytes
are fed in chunks of any size. A token cut by a chunk boundary is carried over
to the next chunk, and finish() ends a last line that has no newline.

Tokens stay raw bytes here; decoding to str happens once per distinct word
(Counter.export) or once per distinct undecodable token (Encoder), never per
token occurrence.

With tokenize=True the scanner decodes UTF-8 itself and applies jose's
--tokenize rule instead (see tools/make_unicode_tables.py, which generates the
tables in _unicode_tables.h): word characters are what Python's str.isalnum()
accepts plus combining marks, each lower-cased by its simple lower-case
mapping; everything else -- '_', punctuation, symbols, spaces, invalid UTF-8
-- separates words, and '\\n' ends the document. Tokens are then valid UTF-8.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cython.operator cimport dereference as deref, preincrement as inc
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint32_t
from libc.string cimport memcpy
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair
from libcpp.vector cimport vector

import operator

import numpy as np


cdef extern from "_format.h" nogil:
    int JOSE_FORMAT_MAX
    int JOSE_FORMAT_FAST
    int JOSE_FORMAT_MAX_PRECISION
    int jose_format_g(char* out, float x, int P)

cdef extern from "_unicode.h" nogil:
    const char* JOSE_UNICODE_VERSION
    bint jose_is_word(uint32_t cp)
    uint32_t jose_lower(uint32_t cp)

#: The Unicode version of the --tokenize tables.
UNICODE_VERSION = JOSE_UNICODE_VERSION.decode("ascii")

# --tokenize's rule for ASCII: 0 separates, 10 is '\n', otherwise the lower-cased byte.
cdef unsigned char ASCII_WORD[128]
for _c in range(128):
    ASCII_WORD[_c] = (_c + 32 if 65 <= _c <= 90 else
                      _c if (48 <= _c <= 57 or 97 <= _c <= 122 or _c == 10) else 0)


cdef inline bint is_space(unsigned char c) noexcept nogil:
    # ' ' or one of \t \n \v \f \r (bytes 9..13).
    return c == 32 or <unsigned char>(c - 9) < 5


cdef bint utf8_valid(const unsigned char* s, size_t n) noexcept nogil:
    """Whether s[:n] is well-formed UTF-8, exactly as Python's strict decoder
    judges it: no overlong forms, no surrogates, nothing above U+10FFFF."""
    cdef size_t i = 0, k, tail
    cdef unsigned char c, lo, hi
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        if c < 0xC2 or c > 0xF4:
            return False
        tail = 1 if c < 0xE0 else (2 if c < 0xF0 else 3)
        if n - i <= tail:
            return False
        # The second byte's range rules out overlong forms (E0, F0),
        # surrogates (ED) and code points above U+10FFFF (F4).
        lo, hi = 0x80, 0xBF
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
        elif c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
        if s[i + 1] < lo or s[i + 1] > hi:
            return False
        for k in range(2, tail + 1):
            if (s[i + k] & 0xC0) != 0x80:
                return False
        i += tail + 1
    return True


cdef inline int utf8_decode(const unsigned char* s, Py_ssize_t n, uint32_t* cp) noexcept nogil:
    """Decode the UTF-8 sequence at s[0] (s[0] >= 0x80, n >= 1), judged as
    utf8_valid does: the number of bytes it takes, 0 if s[:n] is a valid but
    incomplete start, or -k when its first k bytes are an invalid (maximal)
    part, to be skipped as one separator."""
    cdef unsigned char c = s[0], lo = 0x80, hi = 0xBF
    cdef int tail, k
    if c < 0xC2 or c > 0xF4:
        return -1
    tail = 1 if c < 0xE0 else (2 if c < 0xF0 else 3)
    if c == 0xE0:
        lo = 0xA0
    elif c == 0xED:
        hi = 0x9F
    elif c == 0xF0:
        lo = 0x90
    elif c == 0xF4:
        hi = 0x8F
    if n < 2:
        return 0
    if s[1] < lo or s[1] > hi:
        return -1
    for k in range(2, tail + 1):
        if n <= k:
            return 0
        if (s[k] & 0xC0) != 0x80:
            return -k
    if tail == 1:
        cp[0] = ((c & 0x1F) << 6) | (s[1] & 0x3F)
    elif tail == 2:
        cp[0] = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F)
    else:
        cp[0] = (((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6)
                 | (s[3] & 0x3F))
    return tail + 1


cdef inline void utf8_append(string& out, uint32_t cp) noexcept nogil:
    if cp < 0x80:     # U+0130 and U+212A (Kelvin) lower-case to ASCII
        out.push_back(<char>cp)
        return
    if cp < 0x800:
        out.push_back(<char>(0xC0 | (cp >> 6)))
    elif cp < 0x10000:
        out.push_back(<char>(0xE0 | (cp >> 12)))
        out.push_back(<char>(0x80 | ((cp >> 6) & 0x3F)))
    else:
        out.push_back(<char>(0xF0 | (cp >> 18)))
        out.push_back(<char>(0x80 | ((cp >> 12) & 0x3F)))
        out.push_back(<char>(0x80 | ((cp >> 6) & 0x3F)))
    out.push_back(<char>(0x80 | (cp & 0x3F)))


def check_max_vocab_size(value):
    """`value` as a positive int, or ValueError naming max_vocab_size."""
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"max_vocab_size must be a positive integer or None, "
                         f"got {value!r}") from None
    if value < 1:
        raise ValueError(f"max_vocab_size must be a positive integer or None, got {value}")
    return value


cdef class _Scanner:
    """Splits a byte stream into tokens and lines; subclasses act on them."""
    cdef string partial     # the token cut by the end of the previous chunk
    cdef bint line_open     # a byte was seen since the last '\n'
    cdef readonly int64_t n_docs
    cdef readonly int64_t n_tokens
    cdef readonly bint tokenize
    cdef string pending     # tokenize: an incomplete UTF-8 sequence cut by the chunk's end

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        return 0

    cdef int on_line_end(self) except -1 nogil:
        return 0

    def feed(self, const unsigned char[::1] chunk):
        """Scan the next chunk of the stream (any object with the buffer protocol)."""
        if chunk.shape[0] > 0:
            with nogil:
                if self.tokenize:
                    self._scan_tokenize(&chunk[0], chunk.shape[0])
                else:
                    self._scan(&chunk[0], chunk.shape[0])

    def finish(self):
        """End the stream: emit a carried-over token and end an unterminated last line."""
        with nogil:
            if self.tokenize and not self.pending.empty():
                self._scan_words(<const unsigned char*>self.pending.data(),
                                 self.pending.size(), True)
                self.pending.clear()
            self._flush_partial()
            if self.line_open:
                self._end_line()

    cdef int _scan_tokenize(self, const unsigned char* p, Py_ssize_t n) except -1 nogil:
        # A UTF-8 sequence cut by the previous chunk's end is completed from
        # this chunk's first (at most 3) bytes, which are then skipped.
        cdef Py_ssize_t used, held = self.pending.size(), take
        cdef string joined
        if held:
            take = n if n < 3 else 3
            joined = self.pending
            joined.append(<const char*>p, take)
            used = self._scan_words(<const unsigned char*>joined.data(), joined.size(), False)
            if used < held:    # still incomplete: this chunk was shorter than 3 bytes
                self.pending = joined.substr(used)
                return 0
            self.pending.clear()
            p += used - held
            n -= used - held
        used = self._scan_words(p, n, False)
        self.pending.assign(<const char*>p + used, n - used)
        return 0

    cdef Py_ssize_t _scan_words(self, const unsigned char* p, Py_ssize_t n,
                                bint final) except -1 nogil:
        """Apply the --tokenize rule to p[:n], building tokens in `partial`.
        Returns how many bytes were used: all of them, or (unless `final`) up
        to an incomplete UTF-8 sequence at the end."""
        cdef Py_ssize_t i = 0
        cdef int r
        cdef unsigned char c
        cdef uint32_t cp = 0
        while i < n:
            c = p[i]
            if c < 0x80:
                c = ASCII_WORD[c]
                if c > 10:
                    self.partial.push_back(<char>c)
                    self.line_open = True
                elif c == 10:
                    self._flush_partial()
                    self._end_line()
                else:
                    self._flush_partial()
                    self.line_open = True
                i += 1
                continue
            self.line_open = True
            r = utf8_decode(p + i, n - i, &cp)
            if r == 0:
                if not final:
                    return i
                r = <int>(i - n)     # a truncated sequence at the very end: invalid
            if r < 0:
                self._flush_partial()
                i -= r
            else:
                if jose_is_word(cp):
                    utf8_append(self.partial, jose_lower(cp))
                else:
                    self._flush_partial()
                i += r
        return n

    cdef int _token(self, const char* p, size_t n) except -1 nogil:
        self.n_tokens += 1
        return self.on_token(p, n)

    cdef int _flush_partial(self) except -1 nogil:
        if not self.partial.empty():
            self._token(self.partial.data(), self.partial.size())
            self.partial.clear()
        return 0

    cdef int _end_line(self) except -1 nogil:
        self.n_docs += 1
        self.line_open = False
        return self.on_line_end()

    cdef int _scan(self, const unsigned char* p, Py_ssize_t n) except -1 nogil:
        cdef Py_ssize_t i = 0, start
        while i < n:
            if is_space(p[i]):
                self._flush_partial()
                if p[i] == 10:
                    self._end_line()
                else:
                    self.line_open = True
                i += 1
                continue
            self.line_open = True
            start = i
            while i < n and not is_space(p[i]):
                i += 1
            # Only the first run of a chunk can continue a carried token, and
            # only the last can be cut by the chunk's end: both go via `partial`.
            if i == n or not self.partial.empty():
                self.partial.append(<const char*>p + start, i - start)
                if i < n:
                    self._flush_partial()
            else:
                self._token(<const char*>p + start, i - start)
        return 0


cdef struct Word:
    int64_t count
    int32_t id


@cython.final       # so that _entry is called directly (and inlined), not through a vtable
cdef class Counter(_Scanner):
    """Counts raw-byte tokens, documents (lines) and token occurrences.

    Each distinct word gets an id, in order of first occurrence. With
    record=True the counter also buffers each token's id and each finished
    document's end (counted in tokens since the counter started), for take():
    a file is then counted and encoded in one pass, the ids mapped to the
    vocabulary's once it is known (jose.textcorpus.count_and_encode).

    max_vocab_size (0: no limit) bounds the table as gensim does: whenever a
    new word makes it hold more than max_vocab_size words, every word counted
    `min_reduce` times or fewer is dropped and min_reduce goes up by one
    (starting at 1). Counts are then lower bounds: a dropped word that comes
    back starts again from zero. Dropping renumbers the ids, so a counter
    that prunes cannot record.
    """
    cdef unordered_map[string, Word] index      # word -> its id and count
    cdef vector[const string*] words            # id -> word (a key of `index`)
    cdef vector[Word*] entries                  # id -> its id and count (in `index`)
    cdef string key     # reused, so looking up a known word allocates nothing
    cdef readonly bint record
    cdef vector[int32_t] tokens                 # record: ids since the last take()
    cdef vector[int64_t] offsets                # record: document ends since then
    cdef readonly size_t max_vocab_size
    cdef readonly int64_t min_reduce
    cdef readonly int64_t n_prunes
    cdef readonly int64_t pruned_words     # table entries dropped, in all prunes
    cdef readonly int64_t pruned_tokens    # occurrences those entries had counted

    def __init__(self, *, bint tokenize=False, max_vocab_size=None, bint record=False):
        self.tokenize = tokenize
        if max_vocab_size is not None:
            self.max_vocab_size = check_max_vocab_size(max_vocab_size)
        if record and self.max_vocab_size:
            raise ValueError("a counter with a max_vocab_size cannot record ids")
        self.record = record
        self.min_reduce = 1

    cdef inline Word* _entry(self, const string& word) except NULL nogil:
        """The id and count of `word`, added to the table (count 0) if new.
        (The count lives in the table's node, so counting a known word
        touches one node and nothing else.)"""
        it = self.index.find(word)
        if it != self.index.end():
            return &deref(it).second
        return self._add(word)

    cdef Word* _add(self, const string& word) except NULL nogil:
        """Add a new word (count 0) to the table."""
        if self.words.size() >= <size_t>INT32_MAX:
            with gil:
                raise OverflowError(f"more than {INT32_MAX:,} distinct words")
        cdef Word new
        new.count = 0
        new.id = <int32_t>self.words.size()
        added = self.index.insert(pair[string, Word](word, new)).first
        self.words.push_back(&deref(added).first)
        self.entries.push_back(&deref(added).second)
        return &deref(added).second

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        cdef size_t before = self.words.size()
        self.key.assign(p, n)
        cdef Word* w = self._entry(self.key)
        w.count += 1
        if self.record:
            self.tokens.push_back(w.id)
        elif self.max_vocab_size and self.words.size() > before \
                and self.words.size() > self.max_vocab_size:
            self._prune()
        return 0

    cdef int on_line_end(self) except -1 nogil:
        if self.record:
            self.offsets.push_back(self.n_tokens)
        return 0

    cdef int _prune(self) except -1 nogil:
        """Drop the words counted min_reduce times or fewer; the others keep
        their order of first occurrence and are numbered again from 0."""
        cdef int32_t i, kept = 0
        cdef Word* w
        for i in range(<int32_t>self.words.size()):
            w = self.entries[i]
            if w.count <= self.min_reduce:
                self.pruned_words += 1
                self.pruned_tokens += w.count
            else:
                w.id = kept                         # its node stays
                self.words[kept] = self.words[i]
                self.entries[kept] = w
                kept += 1
        self.words.resize(kept)
        self.entries.resize(kept)
        it = self.index.begin()
        while it != self.index.end():
            if deref(it).second.count <= self.min_reduce:
                it = self.index.erase(it)
            else:
                inc(it)
        self.min_reduce += 1
        self.n_prunes += 1
        return 0

    @property
    def n_kept(self):
        """Ids recorded so far (record=True: one per token), as Encoder.n_kept."""
        return self.n_tokens if self.record else 0

    def __len__(self):
        return self.words.size()

    def merge(self, Counter other):
        """Add `other`'s counts, documents and tokens to this counter's: for
        counters of consecutive parts of one stream, each part ending after a
        '\\n' (the last one may end the stream anywhere), the result is what
        one counter of the whole stream gives (the ids aside). Returns an
        int32 array giving, for each of `other`'s ids, the word's id here.
        Counters that prune (max_vocab_size) cannot be merged: pruning
        depends on the order."""
        if self.max_vocab_size or other.max_vocab_size:
            raise ValueError("counters with a max_vocab_size cannot be merged")
        if other is self:
            raise ValueError("a counter cannot be merged into itself")
        cdef Py_ssize_t n = other.words.size(), i
        where = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] wv = where
        cdef Word* w
        with nogil:
            for i in range(n):
                w = self._entry(deref(other.words[i]))
                w.count += other.entries[i].count
                wv[i] = w.id
        self.n_docs += other.n_docs
        self.n_tokens += other.n_tokens
        return where

    def export(self):
        """Return (words, counts, valid) in id order: words decoded as UTF-8
        with errors='replace' (so two entries may be equal), their int64
        counts, and a bool array telling which words' bytes were valid UTF-8."""
        cdef Py_ssize_t n = self.words.size(), j
        cdef const string* key
        words = [None] * n
        counts = np.empty(n, dtype=np.int64)
        valid = np.empty(n, dtype=np.bool_)
        cdef int64_t[::1] cv = counts
        cdef unsigned char[::1] vv = valid.view(np.uint8)
        for j in range(n):
            key = self.words[j]
            words[j] = PyUnicode_DecodeUTF8(key.data(), key.size(), "replace")
            cv[j] = self.entries[j].count
            vv[j] = utf8_valid(<const unsigned char*>key.data(), key.size())
        return words, counts, valid

    def take(self):
        """record: return (ids, ends) buffered since the last call as
        native-endian int32 and int64 bytes, and clear them; ends are the
        finished documents' ends, in tokens since the counter started."""
        if not self.record:
            raise ValueError("this counter does not record ids (record=False)")
        return _take(self.tokens, self.offsets)


cdef object _take(vector[int32_t]& tokens, vector[int64_t]& offsets):
    """(tokens, offsets) as bytes; both vectors are cleared."""
    ids = PyBytes_FromStringAndSize(<const char*>tokens.data(),
                                    tokens.size() * sizeof(int32_t))
    ends = PyBytes_FromStringAndSize(<const char*>offsets.data(),
                                     offsets.size() * sizeof(int64_t))
    tokens.clear()
    offsets.clear()
    return ids, ends


cdef class Encoder(_Scanner):
    """Maps tokens to int32 ids and buffers the ids and document offsets.

    `key_to_index` maps str words to ids; a negative id or a missing word means
    out of vocabulary, and the token is dropped. A token whose bytes are not
    valid UTF-8 is looked up by its errors='replace' decoding, as Counter.export
    reports it. take() hands over (and clears) what was buffered so far.
    """
    cdef object key_to_index
    cdef unordered_map[string, int32_t] ids
    cdef string key
    cdef vector[int32_t] tokens
    cdef vector[int64_t] offsets
    cdef readonly int64_t n_kept     # in-vocabulary tokens so far

    def __init__(self, key_to_index, *, bint tokenize=False):
        self.tokenize = tokenize
        self.key_to_index = key_to_index
        self.ids.reserve(len(key_to_index))
        for word, index in key_to_index.items():
            self.ids[word.encode("utf-8")] = index

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        cdef int32_t index
        self.key.assign(p, n)
        it = self.ids.find(self.key)
        if it != self.ids.end():
            index = deref(it).second
        elif utf8_valid(<const unsigned char*>p, n):
            return 0
        else:
            # Rare: resolve through Python once, then cache the answer.
            with gil:
                index = self.key_to_index.get(PyUnicode_DecodeUTF8(p, n, "replace"), -1)
            self.ids[self.key] = index
        if index >= 0:
            self.tokens.push_back(index)
            self.n_kept += 1
        return 0

    cdef int on_line_end(self) except -1 nogil:
        self.offsets.push_back(self.n_kept)
        return 0

    def clone(self):
        """A new Encoder of the same words (its table copied, not rebuilt
        from key_to_index), with nothing scanned or buffered."""
        cdef Encoder copy = Encoder.__new__(Encoder)
        copy.tokenize = self.tokenize
        copy.key_to_index = self.key_to_index
        with nogil:
            copy.ids = self.ids
        return copy

    def take(self):
        """Return (ids, offsets) buffered since the last call as native-endian
        int32 and int64 bytes; offsets are each finished document's end."""
        return _take(self.tokens, self.offsets)


cdef class Retokenizer(_Scanner):
    """Rewrites a byte stream by the --tokenize rule: each token followed by
    a space, each line's end as '\\n' (an unterminated last line gets one).
    take() hands over (and clears) the text produced so far."""
    cdef string out

    def __init__(self):
        self.tokenize = True

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        self.out.append(p, n)
        self.out.push_back(32)
        return 0

    cdef int on_line_end(self) except -1 nogil:
        self.out.push_back(10)
        return 0

    def take(self):
        text = PyBytes_FromStringAndSize(self.out.data(), self.out.size())
        self.out.clear()
        return text


# -- word2vec writers -------------------------------------------------------------

#: Whether format_text_rows has its exact integer path (a 128-bit integer type);
#: without it jose.w2v_format formats in Python.
FAST_FORMAT = bool(JOSE_FORMAT_FAST)
#: The largest precision format_text_rows takes.
MAX_FORMAT_PRECISION = JOSE_FORMAT_MAX_PRECISION


def format_g(float value, int precision=6):
    """`value` (a float32) as Python's "%.<precision>g" % float(value) prints it."""
    cdef char buf[64]
    if not 1 <= precision <= JOSE_FORMAT_MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{JOSE_FORMAT_MAX_PRECISION}, got {precision}")
    cdef int n = jose_format_g(buf, value, precision)
    return buf[:n].decode("ascii")


cdef int _key_pointers(list keys, Py_ssize_t n_rows, vector[const char*]& ptrs,
                       vector[Py_ssize_t]& lens) except -1:
    if len(keys) != n_rows:
        raise ValueError(f"{len(keys)} keys for {n_rows} rows")
    ptrs.resize(n_rows)
    lens.resize(n_rows)
    cdef Py_ssize_t i
    cdef bytes key
    for i in range(n_rows):
        key = keys[i]
        ptrs[i] = key
        lens[i] = len(key)
    return 0


def format_text_rows(list keys, const float[:, ::1] vectors, int precision=6):
    """The word2vec text rows "key v1 ... vdim\n" of `vectors` (float32) and
    `keys` (bytes, one per row), each value as "%.<precision>g" % value --
    byte for byte what jose.w2v_format's Python writer gives. The formatting
    releases the GIL, so threads can format blocks of rows side by side."""
    if not 1 <= precision <= JOSE_FORMAT_MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{JOSE_FORMAT_MAX_PRECISION}, got {precision}")
    cdef Py_ssize_t n_rows = vectors.shape[0], dim = vectors.shape[1], i, j, used
    cdef vector[const char*] ptrs
    cdef vector[Py_ssize_t] lens
    _key_pointers(keys, n_rows, ptrs, lens)
    cdef string out
    cdef vector[char] row
    with nogil:
        row.resize(dim * (JOSE_FORMAT_MAX + 1) + 1)
        out.reserve(n_rows * (dim * 10 + 16))
        for i in range(n_rows):
            out.append(ptrs[i], lens[i])
            used = 0
            for j in range(dim):
                row[used] = 32
                used += 1 + jose_format_g(&row[used + 1], vectors[i, j], precision)
            row[used] = 10
            out.append(&row[0], used + 1)
    return PyBytes_FromStringAndSize(out.data(), out.size())


def format_binary_rows(list keys, const unsigned char[:, ::1] values):
    """The word2vec binary rows "key " + values + "\n": `values` holds each
    row's little-endian float32 bytes (an array's .view(np.uint8))."""
    cdef Py_ssize_t n_rows = values.shape[0], width = values.shape[1], i, total = 0
    cdef vector[const char*] ptrs
    cdef vector[Py_ssize_t] lens
    _key_pointers(keys, n_rows, ptrs, lens)
    for i in range(n_rows):
        total += lens[i] + width + 2
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* p = out
    with nogil:
        for i in range(n_rows):
            memcpy(p, ptrs[i], lens[i])
            p += lens[i]
            p[0] = 32
            if width:
                memcpy(p + 1, &values[i, 0], width)
            p[width + 1] = 10
            p += width + 2
    return out
