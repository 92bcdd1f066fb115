"""Read and write vectors in the word2vec text and binary formats.

Both formats start with a header line ``count dim``. In the text format each
following line is ``key v1 ... vdim``; the JoSE C program writes ``"%lf "``
after every value, so trailing spaces are common and accepted. In the binary
format each row is ``key`` + one space + ``dim`` little-endian float32 values,
optionally followed by ``\\n`` (the original C word2vec writes it, gensim does
not).

Files ending in ``.gz``, ``.bz2`` or ``.xz`` are (de)compressed transparently.
Every format error is a ``ValueError`` whose message names the file and the
line (text) or row (binary) at fault.
"""

import bz2
import gzip
import lzma
import os

import numpy as np

from . import _text
from .atomic import atomic_file
from .parallel import ordered_map

__all__ = ["read_word2vec", "write_word2vec"]

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}

_ASCII_WHITESPACE = frozenset(" \t\n\v\f\r")

# Rows converted from text to float32 in one numpy call (and formatted per
# write by the Python text writer).
_TEXT_CHUNK_ROWS = 512

# Rows formatted per call of the compiled writers (one task of a thread pool).
_WRITE_BLOCK_ROWS = 2048

# Bytes and rows after the header inspected to tell binary from text.
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 5

_BOM = b"\xef\xbb\xbf"

# Control bytes that never occur in a text file but almost always occur in
# float32 data (every value with a small low byte has one).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r") + b"\x7f"


def _open(path, mode):
    """Open ``path`` in binary ``mode``, (de)compressing by file extension."""
    opener = _OPENERS.get(os.path.splitext(os.fspath(path))[1].lower(), open)
    return opener(path, mode)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def read_word2vec(path, binary=None, limit=None):
    """Read a word2vec text or binary file.

    Parameters
    ----------
    path : str or os.PathLike
        The file; ``.gz``, ``.bz2`` and ``.xz`` files are decompressed.
    binary : bool or None
        ``True`` for the binary format, ``False`` for text, ``None`` to detect
        it from the bytes after the header.
    limit : int or None
        Read at most this many rows.

    Returns
    -------
    keys : list of str
        Row keys, decoded as UTF-8 (undecodable bytes become U+FFFD).
    vectors : numpy.ndarray
        C-contiguous float32 array of shape ``(len(keys), dim)``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If ``path`` is missing or is a directory.
    ValueError
        If the file is malformed; the message names the file and line or row.
    """
    path = os.fspath(path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    compressed = os.path.splitext(path)[1].lower() in _OPENERS
    try:
        with _open(path, "rb") as stream:
            count, dim = _read_header(stream, path)
            if binary is None:
                binary = _looks_binary(stream, dim, count)
        n_rows = count if limit is None else min(count, limit)
        with _open(path, "rb") as stream:
            stream.readline()
            if binary:
                return _read_binary_rows(stream, path, count, dim, n_rows, limit is None)
            return _read_text_rows(stream, path, count, dim, n_rows)
    except (EOFError, OSError, lzma.LZMAError) as exc:
        # Decompressors report corrupt or truncated data as EOFError/OSError.
        path_problem = (FileNotFoundError, IsADirectoryError, PermissionError)
        if not compressed or isinstance(exc, path_problem):
            raise
        raise ValueError(f"{path}: cannot decompress: {exc}") from exc


def _read_header(stream, path):
    """Parse the ``count dim`` header line; return ``(count, dim)``. A UTF-8
    byte-order mark before it (some editors and tools write one) is skipped."""
    raw = stream.readline()
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    fields = raw.split()
    try:
        count, dim = (int(field) for field in fields)
    except ValueError:
        count = dim = -1
    if count < 0 or dim < 1:
        shown = raw[:80].decode("utf-8", errors="replace").rstrip()
        raise ValueError(
            f"{path}: line 1: malformed header {shown!r}; expected 'count dim' "
            f"(two integers, count >= 0, dim >= 1)"
        )
    return count, dim


def _is_text_row(line, dim):
    fields = line.split()
    if len(fields) != dim + 1:
        return False
    try:
        [float(field) for field in fields[1:]]
    except ValueError:
        return False
    return True


def _looks_binary(stream, dim, count):
    """Guess the format from the rows that follow the header.

    Text when the first few lines (up to _SNIFF_ROWS) all parse as text rows.
    Otherwise binary when the sample holds control bytes, which float32 data
    almost always does, or when it is not UTF-8 and its first rows fit the
    binary layout (a key, a space, 4*dim bytes); else the file is treated as
    (malformed) text so that the text reader reports where it breaks. A binary file whose float bytes hold no
    control bytes, are UTF-8 and whose first row splits into a key and dim
    fields (never seen in practice) is taken for text: pass binary=True.
    """
    sample = stream.read(_SNIFF_BYTES)
    while len(sample) < 1 << 24 and b" " not in sample[-4 * dim - 1:]:
        more = stream.read(len(sample) or _SNIFF_BYTES)   # a long first key
        if not more:
            break
        sample += more
    rows = min(count, _SNIFF_ROWS)
    if not sample.strip() or rows == 0:
        return False
    lines = [line for line in sample.split(b"\n") if line.strip()]
    complete = lines[:rows] if len(lines) > rows or sample.endswith(b"\n") else lines[:-1]
    if (complete or len(lines) == 1) and all(_is_text_row(line, dim)
                                             for line in (complete or lines)):
        return False
    if any(b in _CONTROL_BYTES for b in sample):
        return True
    # no control bytes: binary only if the rows fit, and the first line is
    # not a text row with a bad value or the sample is not UTF-8 text
    if not _binary_rows_fit(sample, dim, rows):
        return False
    return len(lines[0].split()) != dim + 1 or not _is_utf8(sample)


def _is_utf8(sample):
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data"    # a character cut by the sample
    return True


def _binary_rows_fit(sample, dim, rows):
    """Whether `sample` starts with `rows` binary rows (or as many as it holds)."""
    pos = 0
    for row in range(rows):
        while pos < len(sample) and sample[pos] in b"\r\n":
            pos += 1
        if pos == len(sample):
            return row > 0
        space = sample.find(b" ", pos)
        if space < 0 or space == pos:
            return False
        pos = space + 1 + 4 * dim
        if pos > len(sample):
            return row > 0 or len(sample) < _SNIFF_BYTES
    return True


def _read_text_rows(stream, path, count, dim, n_rows):
    """Read ``n_rows`` text rows after the header (line 1)."""
    keys = []
    vectors = np.empty((n_rows, dim), dtype=np.float32)
    chunk, chunk_lines = [], []
    lineno = 1
    for lineno, raw in enumerate(stream, start=2):
        fields = raw.split()
        if not fields:
            continue
        if len(keys) == n_rows:
            if n_rows == count:
                raise ValueError(
                    f"{path}: line {lineno}: more rows than the {count} the header declares"
                )
            break
        if len(fields) != dim + 1:
            hint = (" (a key with a space in it? the word2vec format cannot hold one)"
                    if len(fields) > dim + 1 else "")
            raise ValueError(
                f"{path}: line {lineno}: expected a key and {dim} values, "
                f"found {len(fields)} fields{hint}"
            )
        keys.append(fields[0].decode("utf-8", errors="replace"))
        chunk.append(fields[1:])
        chunk_lines.append(lineno)
        if len(chunk) == _TEXT_CHUNK_ROWS:
            _convert_text_chunk(chunk, chunk_lines, vectors, len(keys) - len(chunk), path)
            chunk, chunk_lines = [], []
    if chunk:
        _convert_text_chunk(chunk, chunk_lines, vectors, len(keys) - len(chunk), path)
    if len(keys) < n_rows:
        raise ValueError(
            f"{path}: line {lineno}: file ends after {len(keys)} rows, "
            f"but the header declares {count}"
        )
    return keys, vectors


def _convert_text_chunk(chunk, chunk_lines, out, start, path):
    """Convert a list of rows of byte strings into ``out[start:]``."""
    try:
        out[start:start + len(chunk)] = np.array(chunk, dtype=np.float32)
    except ValueError:
        for values, lineno in zip(chunk, chunk_lines):
            for column, value in enumerate(values, start=1):
                try:
                    float(value)
                except ValueError:
                    shown = value[:40].decode("utf-8", errors="replace")
                    raise ValueError(
                        f"{path}: line {lineno}: value {column} ({shown!r}) is not a number"
                    ) from None
        raise ValueError(
            f"{path}: lines {chunk_lines[0]}-{chunk_lines[-1]}: values are not all numbers"
        ) from None


def _read_binary_rows(stream, path, count, dim, n_rows, whole=True):
    """Read ``n_rows`` binary rows that follow the header; with ``whole``,
    the data must end after them (trailing newlines aside)."""
    data = stream.read()
    row_bytes = 4 * dim
    keys = []
    vectors = np.empty((n_rows, dim), dtype=np.float32)
    pos = 0
    newlines = None      # whether rows end with "\n": decided by the first row
    for row in range(n_rows):
        # An optional newline ends the previous row; skip it.
        while pos < len(data) and data[pos] in b"\r\n":
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + row_bytes > len(data):
            raise ValueError(
                f"{path}: row {row + 1}: binary data truncated; the header declares "
                f"{count} rows of {dim} float32 values"
            )
        end = space + 1 + row_bytes
        if newlines is None:
            # Rows end with "\n" (word2vec's C tool, jose) or not (gensim): the
            # first row tells, read whole even if its key has a space in it.
            newlines = end < len(data) and data[end] == 10
            if not newlines:
                found = _first_row_space(data, space, row_bytes, pos + _MAX_KEY_SEARCH,
                                         n_rows == 1)
                if found is not None:
                    newlines, space = True, found
        elif newlines and not (end < len(data) and data[end] == 10
                               or end == len(data) and row == count - 1):
            # The key ends at the first space whose values are followed by a
            # newline, so a key with a space in it (from a tool that does not
            # refuse one) reads whole instead of shifting the values.
            found = _row_end_space(data, space, row_bytes, pos + _MAX_KEY_SEARCH,
                                   row == count - 1)
            if found is None:
                raise ValueError(
                    f"{path}: row {row + 1}: the row does not end with a newline as the "
                    f"earlier ones do (binary data misaligned or truncated)"
                )
            space = found
        keys.append(data[pos:space].decode("utf-8", errors="replace"))
        vectors[row] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + row_bytes
    if whole and data[pos:].strip(b"\r\n"):
        raise ValueError(
            f"{path}: {len(data) - pos} bytes after the {count} rows the header declares "
            f"(a wrong header, or a key with a space in it?)"
        )
    return keys, vectors


# Bytes of a binary row searched for the space that ends a key with spaces in it.
_MAX_KEY_SEARCH = 4096


def _row_end_space(data, space, row_bytes, limit, last):
    """The first space at or after `space` (and before `limit`) whose
    row_bytes of values are followed by a newline (or, for the `last` row,
    the end of the data), the bytes before it (from the row's start, `limit`
    - _MAX_KEY_SEARCH) being a plausible key: UTF-8 without control bytes."""
    start = limit - _MAX_KEY_SEARCH
    while 0 <= space < limit and space + 1 + row_bytes <= len(data):
        end = space + 1 + row_bytes
        if (end == len(data) and last or end < len(data) and data[end] == 10) \
                and _plausible_key(data[start:space]):
            return space
        space = data.find(b" ", space + 1)
    return None


def _plausible_key(key):
    if any(byte in _CONTROL_BYTES for byte in key):
        return False
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _first_row_space(data, space, row_bytes, limit, single):
    """For a first row whose key may hold spaces: a later space after which
    the row ends with a newline and so does the next row (or, for a file of
    a `single` row, the data ends)."""
    space = data.find(b" ", space + 1)
    while True:
        found = _row_end_space(data, space, row_bytes, limit, single)
        if found is None:
            return None
        end = found + 1 + row_bytes
        if not data[end:].strip(b"\r\n"):
            if single:
                return found
            return None
        following = data.find(b" ", end + 1)
        next_end = following + 1 + row_bytes
        if following > 0 and (next_end == len(data) or
                              next_end < len(data) and data[next_end] == 10):
            return found
        space = data.find(b" ", found + 1)


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def write_word2vec(path, keys, vectors, binary=False, precision=6, workers=1):
    """Write ``keys`` and ``vectors`` in the word2vec format, atomically.

    The data go to a temporary file in the target's directory, which is
    flushed, fsync'ed and then renamed over ``path``; if anything fails the
    temporary file is removed and an existing ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.gz``, ``.bz2`` or ``.xz`` compresses the output.
    keys : sequence
        One key per row, written as ``str(key)`` (integer tags become "0",
        "1", ...). Keys must be non-empty and contain no whitespace.
    vectors : array_like of shape (len(keys), dim)
        Row vectors; stored as float32 in the binary format.
    binary : bool
        Write the binary format instead of text.
    precision : int
        Significant digits per value in the text format (``%.{precision}g``).
    workers : int
        Threads formatting blocks of rows side by side (the file is the same
        whatever their number).

    Raises
    ------
    ValueError
        If shapes disagree or a key cannot round-trip.
    """
    path = os.fspath(path)
    keys = [str(key) for key in keys]
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] < 1:
        raise ValueError(f"vectors must be a 2-d array with dim >= 1, got shape {vectors.shape}")
    if len(keys) != vectors.shape[0]:
        raise ValueError(f"{len(keys)} keys but {vectors.shape[0]} vectors")
    _check_keys(keys)
    vectors = vectors.astype(np.float32, copy=False)

    with atomic_file(path) as f:
        _write_rows(f, path, keys, vectors, binary, precision, workers)


def _check_keys(keys):
    """Reject keys that would not survive a write/read round trip: the readers
    split on ASCII whitespace only, as jose.c and word2vec do."""
    for index, key in enumerate(keys):
        if not key or not _ASCII_WHITESPACE.isdisjoint(key):
            raise ValueError(
                f"key {index} ({key!r}) is empty or contains whitespace and cannot be "
                f"stored in the word2vec format"
            )
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"key {index} ({key!r}) is not valid Unicode (a lone surrogate) and "
                f"cannot be stored in UTF-8"
            ) from None


def _write_rows(raw_file, path, keys, vectors, binary, precision, workers=1):
    """Write header and rows to ``raw_file``, compressing by ``path``'s extension."""
    opener = _OPENERS.get(os.path.splitext(path)[1].lower())
    stream = opener(raw_file, "wb") if opener else raw_file
    try:
        n, dim = vectors.shape
        stream.write(f"{n} {dim}\n".encode("ascii"))
        if binary:
            _write_binary_rows(stream, keys, vectors, workers)
        else:
            _write_text_rows(stream, keys, vectors, precision, workers)
    finally:
        if stream is not raw_file:
            stream.close()


def _write_text_rows(stream, keys, vectors, precision, workers=1):
    """Write ``key v1 ... vd`` lines, each value as ``"%.{precision}g" % value``.

    float32 vectors are formatted by compiled code (jose/_format.h; the same
    bytes as the Python formatting below), a block of rows at a time, by up to
    ``workers`` threads; other dtypes and precisions go through Python.
    """
    vectors = np.asarray(vectors)
    if (_text.FAST_FORMAT and vectors.dtype == np.float32 and vectors.ndim == 2
            and 1 <= precision <= _text.MAX_FORMAT_PRECISION):
        vectors = np.ascontiguousarray(vectors)
        encoded = [str(key).encode("utf-8") for key in keys]

        def block(start):
            stop = start + _WRITE_BLOCK_ROWS
            return _text.format_text_rows(encoded[start:stop], vectors[start:stop],
                                          int(precision))
        for data in ordered_map(block, range(0, len(keys), _WRITE_BLOCK_ROWS), workers):
            stream.write(data)
        return
    _write_text_rows_python(stream, keys, vectors, precision)


def _write_text_rows_python(stream, keys, vectors, precision):
    """The Python text writer: one chunk of rows per write."""
    row_format = "%s" + f" %.{int(precision)}g" * vectors.shape[1] + "\n"
    for start in range(0, len(keys), _TEXT_CHUNK_ROWS):
        rows = vectors[start:start + _TEXT_CHUNK_ROWS].tolist()
        text = "".join(
            [row_format % (key, *row) for key, row in zip(keys[start:start + len(rows)], rows)]
        )
        stream.write(text.encode("utf-8"))


def _write_binary_rows(stream, keys, vectors, workers=1):
    """Write ``key<space>`` + little-endian float32 values + newline per row."""
    little_endian = np.ascontiguousarray(vectors, dtype="<f4")
    if little_endian.ndim != 2 or little_endian.shape[1] == 0:
        for key, row in zip(keys, little_endian):
            stream.write(key.encode("utf-8") + b" " + row.tobytes() + b"\n")
        return
    encoded = [str(key).encode("utf-8") for key in keys]
    values = little_endian.view(np.uint8)

    def block(start):
        stop = start + _WRITE_BLOCK_ROWS
        return _text.format_binary_rows(encoded[start:stop], values[start:stop])
    for data in ordered_map(block, range(0, len(keys), _WRITE_BLOCK_ROWS), workers):
        stream.write(data)
