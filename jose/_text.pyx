# cython: language_level=3
"""Streaming whitespace tokenizer: the compiled core of jose.textcorpus.

Input is the JoSE C program's format: one document per line, tokens separated
by ASCII whitespace (space, \\t, \\r, \\v, \\f); '\\n' ends a document. Bytes
are fed in chunks of any size. A token cut by a chunk boundary is carried over
to the next chunk, and finish() ends a last line that has no newline.

Tokens stay raw bytes here; decoding to str happens once per distinct word
(Counter.export) or once per distinct undecodable token (Encoder), never per
token occurrence.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cython.operator cimport dereference as deref, preincrement as inc
from libc.stdint cimport int32_t, int64_t
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.vector cimport vector

import numpy as np


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


cdef class _Scanner:
    """Splits a byte stream into tokens and lines; subclasses act on them."""
    cdef string partial     # the token cut by the end of the previous chunk
    cdef bint line_open     # a byte was seen since the last '\n'
    cdef readonly int64_t n_docs
    cdef readonly int64_t n_tokens

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        return 0

    cdef int on_line_end(self) except -1 nogil:
        return 0

    def feed(self, const unsigned char[::1] chunk):
        """Scan the next chunk of the stream (any object with the buffer protocol)."""
        if chunk.shape[0] > 0:
            with nogil:
                self._scan(&chunk[0], chunk.shape[0])

    def finish(self):
        """End the stream: emit a carried-over token and end an unterminated last line."""
        with nogil:
            self._flush_partial()
            if self.line_open:
                self._end_line()

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


cdef class Counter(_Scanner):
    """Counts raw-byte tokens, documents (lines) and token occurrences."""
    cdef unordered_map[string, int64_t] counts
    cdef string key     # reused, so looking up a known word allocates nothing

    cdef int on_token(self, const char* p, size_t n) except -1 nogil:
        self.key.assign(p, n)
        inc(self.counts[self.key])    # `+= 1` would copy the key and look it up twice
        return 0

    def export(self):
        """Return (words, counts, valid): words decoded as UTF-8 with
        errors='replace' (so two entries may be equal), their int64 counts, and
        a bool array telling which words' bytes were valid UTF-8."""
        cdef Py_ssize_t n = self.counts.size(), j = 0
        cdef const string* key
        words = [None] * n
        counts = np.empty(n, dtype=np.int64)
        valid = np.empty(n, dtype=np.bool_)
        cdef int64_t[::1] cv = counts
        cdef unsigned char[::1] vv = valid.view(np.uint8)
        it = self.counts.begin()
        while it != self.counts.end():
            key = &deref(it).first
            words[j] = PyUnicode_DecodeUTF8(key.data(), key.size(), "replace")
            cv[j] = deref(it).second
            vv[j] = utf8_valid(<const unsigned char*>key.data(), key.size())
            j += 1
            inc(it)
        return words, counts, valid


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

    def __init__(self, key_to_index):
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

    def take(self):
        """Return (ids, offsets) buffered since the last call as native-endian
        int32 and int64 bytes; offsets are each finished document's end."""
        ids = PyBytes_FromStringAndSize(<const char*>self.tokens.data(),
                                        self.tokens.size() * sizeof(int32_t))
        ends = PyBytes_FromStringAndSize(<const char*>self.offsets.data(),
                                         self.offsets.size() * sizeof(int64_t))
        self.tokens.clear()
        self.offsets.clear()
        return ids, ends
