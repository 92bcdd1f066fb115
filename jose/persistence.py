"""Saving and loading models: a directory of .npy arrays, doc_tags.json and
model.json.

The arrays load with numpy (mmap works, nothing is unpickled); model.json
holds the parameters, the words, a format version and a CRC-32 and size of
every other file, and ends with a CRC-32 of its own text, so a truncated,
bit-flipped or swapped file is refused with a message naming it instead of
loading as a wrong model.

The document tags, which can outnumber the words by orders of magnitude and
which inference never uses, are in doc_tags.json (format version 3), a JSON
array with one tag per line: JSON keeps ints and strings apart (1 is not
"1"), integers of any size exact and every string (newlines and other
control characters escaped), and a load with inference_only=True never
opens the file. Versions 1 and 2 kept the tags in model.json ("doc_tags");
they still load.

A save writes a new directory beside the target, fsyncs it and swaps it into
place (an atomic exchange on Linux, two renames elsewhere), so an interrupted
save never leaves a half-written model where a good one was. A load opens the
directory once and reads every file through that handle, so a reader racing a
saver gets the old model or the new one, never a mix.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from .atomic import current_umask

FORMAT = "jose-model"
#: 2: checksums; 3: document tags in their own file (doc_tags.json).
#: Versions 1 (no checksums) and 2 still load.
FORMAT_VERSION = 3
ARRAYS = {"wv": "wv.npy", "cv": "cv.npy", "dv": "dv.npy", "counts": "counts.npy"}
DTYPES = {"wv": np.dtype("<f4"), "cv": np.dtype("<f4"), "dv": np.dtype("<f4"),
          "counts": np.dtype("<i8")}
META = "model.json"
TAGS = "doc_tags.json"
#: the first format version whose tags are in TAGS rather than model.json
TAGS_IN_FILE = 3
_TAGS_PER_CHUNK = 1 << 16

_CHUNK = 1 << 20
# model.json ends with this, after the rest of the object; the CRC covers the
# text before it, with "}" in place of the comma.
_TAIL = re.compile(rb', "checksum": "crc32:([0-9a-f]{8})"\}\s*\Z')


class ModelFileError(ValueError):
    """A saved model is missing a file, or a file is damaged."""


# -- saving -------------------------------------------------------------------------

def save_model(model, path, extra=None) -> None:
    """Save `model` to directory `path` atomically; `extra` (JSON-able) is
    stored under the key "extra" of model.json (checkpoints use it)."""
    if model.vocab is None:
        raise RuntimeError("nothing to save: the model has no vocabulary yet")
    path = Path(path)
    if path.exists() and not (path.is_dir() and (path / META).is_file()):
        raise FileExistsError(f"{path} exists and is not a saved jose model; "
                              f"refusing to replace it")
    words, tags = list(model.vocab.words), list(model.dv.index_to_key)
    _check_keys("word", words, (str,))
    _check_keys("document tag", tags, (str, int))
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "params": model.params(),
        "words": words,
        "training_loss": model.training_loss,
        "epochs_trained": model.epochs_trained,
    }
    if extra is not None:
        meta["extra"] = extra
    parent = path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private (0700)
        arrays = {"wv": model.wv.vectors, "cv": model.cv.vectors,
                  "dv": model.dv.vectors, "counts": model.vocab.counts}
        meta["files"] = {}
        for name, filename in ARRAYS.items():
            array = np.ascontiguousarray(arrays[name], dtype=DTYPES[name])
            with open(tmp / filename, "wb") as f:
                out = _ChecksumWriter(f)
                np.save(out, array, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            meta["files"][filename] = {"bytes": out.size, "crc32": out.crc}
        with open(tmp / TAGS, "wb") as f:
            out = _ChecksumWriter(f)
            _write_tags(out, tags)
            f.flush()
            os.fsync(f.fileno())
        meta["files"][TAGS] = {"bytes": out.size, "crc32": out.crc}
        with open(tmp / META, "wb") as f:
            f.write(_meta_bytes(meta))
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        _replace_dir(tmp, path)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_keys(what, keys, types):
    for i, key in enumerate(keys):
        if isinstance(key, bool) or not isinstance(key, types):
            raise ValueError(f"cannot save {what} {i} ({key!r}): not a "
                             f"{' or '.join(t.__name__ for t in types)}")
        if isinstance(key, str):
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"cannot save {what} {i} ({key!r}): it is not valid "
                                 f"Unicode (a lone surrogate)") from None


class _ChecksumWriter:
    """A write-only file wrapper that keeps a CRC-32 and size of what passes."""

    def __init__(self, f):
        self.f, self.crc, self.size = f, 0, 0

    def write(self, data):
        data = memoryview(data).cast("B")
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return self.f.write(data)


def _write_tags(out, tags) -> None:
    """`tags` as a JSON array, one tag per line, written in chunks (no
    full-size string for millions of tags)."""
    out.write(b"[")
    for start in range(0, len(tags), _TAGS_PER_CHUNK):
        chunk = json.dumps(tags[start:start + _TAGS_PER_CHUNK], ensure_ascii=False,
                           separators=(",\n", ":"))
        out.write((b",\n" if start else b"\n") + chunk[1:-1].encode("utf-8"))
    out.write(b"\n]\n")


def _meta_bytes(meta: dict) -> bytes:
    body = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    crc = zlib.crc32(body)
    return body[:-1] + f', "checksum": "crc32:{crc:08x}"}}\n'.encode("ascii")


def _fsync_dir(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_dir(new: Path, path: Path):
    """Move `new` to `path`. An existing model there is exchanged with it in
    one step where the system can (Linux renameat2), else moved aside first;
    the old one is removed only once the new one is in place."""
    if not path.exists():
        os.replace(new, path)
        return
    if _exchange(new, path):
        shutil.rmtree(new, ignore_errors=True)    # `new` now holds the old model
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=new.parent))
    os.rmdir(old)
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


# -- loading --------------------------------------------------------------------------

class _Replaced(Exception):
    """The directory was replaced by a save while it was being read."""


_LOAD_ATTEMPTS = 20


class NotLoaded:
    """Stands for a table that a load with inference_only=True did not read;
    any use of it raises a RuntimeError saying so."""

    def __init__(self, name: str, path):
        self._message = (f"model.{name} was not loaded: {path} was loaded with "
                         f"inference_only=True (word vectors only); load it without "
                         f"inference_only to use {name}, train, save or add documents")

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise RuntimeError(self._message)

    def __len__(self):
        raise RuntimeError(self._message)

    def __contains__(self, key):
        raise RuntimeError(self._message)

    def __getitem__(self, key):
        raise RuntimeError(self._message)

    def __bool__(self):
        return False


def load_model(cls, path, mmap=None, verify=True, with_meta=False, inference_only=False):
    """Load a saved model (see JoSE.load). `verify=False` skips the checksums
    (for a model whose arrays were changed in place through mmap='r+');
    `with_meta=True` returns (model, model.json's dict); `inference_only`
    reads only what inference needs (words, counts, wv), not the context or
    document vectors nor the document tags (doc_tags.json is not opened)."""
    if mmap not in (None, "r", "r+", "c"):
        raise ValueError(f"mmap must be None, 'r', 'r+' or 'c', got {mmap!r}")
    if inference_only not in (True, False):
        raise ValueError(f"inference_only must be True or False, got {inference_only!r}")
    path = Path(path)
    for _ in range(_LOAD_ATTEMPTS):
        try:
            model, meta = _load_once(cls, path, mmap, verify, inference_only)
        except _Replaced:
            time.sleep(0.001)
            continue
        return (model, meta) if with_meta else model
    raise ModelFileError(f"{path} was replaced {_LOAD_ATTEMPTS} times while it was "
                         f"being read; try again")


def _open_dir(path: Path) -> int:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    for attempt in range(3):
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            # between the two renames of a save where no exchange is possible
            if attempt < 2 and any(path.parent.glob(f".{path.name}.*.old")):
                time.sleep(0.01)
                continue
            raise FileNotFoundError(f"no saved model at {path}") from None
        except NotADirectoryError:
            break
    raise ModelFileError(f"{path} is not a saved jose model (expected a directory "
                         f"holding model.json and .npy arrays)")


class _Dir:
    """Files of one directory, opened through a handle on it."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = _open_dir(path)
        self.relative = os.open in os.supports_dir_fd

    def close(self):
        os.close(self.fd)

    def open(self, name: str, mode: str = "rb"):
        flags = os.O_RDWR if "+" in mode else os.O_RDONLY
        try:
            if self.relative:
                fd = os.open(name, flags, dir_fd=self.fd)
            else:
                fd = os.open(self.path / name, flags)
        except FileNotFoundError:
            self.check_not_replaced()
            return None
        except IsADirectoryError:
            fd = None
        if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
            if fd is not None:
                os.close(fd)
            raise ModelFileError(f"{self.path / name} is damaged: not a regular file")
        return os.fdopen(fd, mode)

    def check_not_replaced(self):
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            raise _Replaced from None
        here = os.fstat(self.fd)
        if (now.st_ino, now.st_dev) != (here.st_ino, here.st_dev):
            raise _Replaced


def _load_once(cls, path: Path, mmap, verify, inference_only=False):
    from .keyedvectors import KeyedVectors
    from .vocab import Vocabulary

    directory = _Dir(path)
    try:
        meta = _read_meta(directory, verify)
        params, words, tags = _check_meta(path, meta)
        files = meta.get("files")
        # inference (either objective) needs the words, their counts and U
        # only: the context vectors, document tags and vectors are neither
        # checked nor read (doc_tags.json is not even opened)
        names = ("wv", "counts") if inference_only else tuple(ARRAYS)
        if tags is None and not inference_only:
            record = files.get(TAGS)
            if not _valid_record(record):
                raise ModelFileError(f"{path / META} is damaged: no valid size and "
                                     f"checksum for {TAGS}")
            tags = _load_tags(directory, record if verify else None)
        dim = params.get("vector_size")
        expected = {"wv": (len(words), dim), "cv": (len(words), dim),
                    "dv": (len(tags) if tags is not None else None, dim),
                    "counts": (len(words),)}
        why = {}
        if tags is not None:        # the tags and dv.npy are two files that must agree
            where = META if meta["format_version"] < TAGS_IN_FILE else TAGS
            why["dv"] = f" (one row per document tag; {where} lists {len(tags)})"
        arrays = {}
        for name, filename in ARRAYS.items():
            if name not in names:
                continue
            record = files.get(filename) if files is not None else None
            if files is not None and not _valid_record(record):
                raise ModelFileError(f"{path / META} is damaged: no valid size and "
                                     f"checksum for {filename}")
            arrays[name] = _load_array(directory, filename, mmap, DTYPES[name],
                                       expected[name], record if verify else None,
                                       why.get(name, ""))
    finally:
        directory.close()
    for name in [n for n in ("wv", "cv", "dv") if n in arrays]:
        if not _unit_rows(arrays[name]):
            raise ModelFileError(f"{path / ARRAYS[name]} is damaged: rows are not unit vectors")
    if len(arrays["counts"]) and np.asarray(arrays["counts"]).min() < 0:
        raise ModelFileError(f"{path / ARRAYS['counts']} is damaged: negative counts")

    # files written before the joint objective existed were trained with the
    # separate hinges, whatever today's default is
    params.setdefault("objective", "separate")
    try:
        model = cls(**params)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path / META} has invalid parameters: {e}") from None
    model.vocab = Vocabulary(words, np.asarray(arrays["counts"]))
    model.wv = KeyedVectors(words, arrays["wv"])
    model.cv = KeyedVectors(words, arrays["cv"]) if "cv" in arrays else NotLoaded("cv", path)
    if "dv" in arrays:
        try:
            model.dv = KeyedVectors(tags, arrays["dv"])
        except ValueError as e:         # the lengths agree: a tag is repeated
            where = META if meta["format_version"] < TAGS_IN_FILE else TAGS
            raise ModelFileError(f"{path / where} is damaged: a document tag is listed "
                                 f"twice ({e})") from None
    else:
        model.dv = NotLoaded("dv", path)
    model.training_loss = list(meta.get("training_loss", []))
    model.epochs_trained = meta.get("epochs_trained", 0)
    return model, meta


def _unit_rows(a: np.ndarray) -> bool:
    """Whether every row has norm 1 (to 1e-4), checked a few MB at a time: the
    squares of a whole table would be a temporary as large as the table."""
    rows = max(1, _CHUNK * 4 // max(1, a.shape[1] * a.itemsize))
    for start in range(0, len(a), rows):
        norms = np.linalg.norm(a[start:start + rows], axis=1)
        if not np.all(np.abs(norms - 1.0) < 1e-4):
            return False
    return True


def _load_tags(directory: _Dir, record) -> list:
    """The document tags of doc_tags.json, checked against its record (size,
    CRC-32) and for their types (repeats are found when dv's index is built)."""
    path = directory.path / TAGS
    f = directory.open(TAGS)
    if f is None:
        raise ModelFileError(f"{path} is missing: the saved model is incomplete (a load "
                             f"with inference_only=True does not need it)")
    with f:
        raw = f.read()
    if record is not None:
        if len(raw) != record["bytes"]:
            raise ModelFileError(f"{path} is damaged or truncated: {len(raw)} bytes, "
                                 f"model.json says {record['bytes']}")
        if zlib.crc32(raw) != record["crc32"]:
            raise ModelFileError(f"{path} is damaged: checksum mismatch")
    try:
        text = raw.decode("utf-8")
        del raw
        tags = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFileError(f"{path} is damaged (not valid JSON: {e})") from None
    _check_tags(tags, lambda what: ModelFileError(f"{path} is damaged: {what}"))
    return tags


def _check_tags(tags, damaged) -> None:
    """Types only: a repeated tag is found when dv's key index is built
    (building a set of millions of tags first would double that cost)."""
    # parsed JSON holds exact types (bool is not int here): 4x faster than
    # isinstance over every tag
    if not isinstance(tags, list) or not set(map(type, tags)) <= {int, str}:
        raise damaged("the document tags are not a list of strings and integers")


def _valid_record(record) -> bool:
    return (isinstance(record, dict)
            and all(isinstance(record.get(k), int) and not isinstance(record.get(k), bool)
                    and record[k] >= 0 for k in ("bytes", "crc32")))


def read_params(path) -> dict:
    """The saved model's parameters (model.json's "params", checked), without
    reading its arrays."""
    path = Path(path)
    directory = _Dir(path)
    try:
        meta = _read_meta(directory, True)
        params, _, _ = _check_meta(path, meta)
    finally:
        directory.close()
    return params


def _read_meta(directory: _Dir, verify: bool) -> dict:
    path = directory.path
    meta_path = path / META
    f = directory.open(META)
    if f is None:
        raise ModelFileError(f"{path} is not a saved jose model: it has no {META}")
    with f:
        raw = f.read()
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{meta_path} is damaged (not valid JSON: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path} is not a jose model description")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{meta_path} is damaged: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was saved in format version {version}, newer than "
                             f"this jose reads ({FORMAT_VERSION}); upgrade jose to load it")
    if version >= 2 or "checksum" in meta:
        tail = _TAIL.search(raw)
        if tail is None:
            raise ModelFileError(f"{meta_path} is damaged: its checksum is missing")
        if verify and zlib.crc32(raw[:tail.start()] + b"}") != int(tail.group(1), 16):
            raise ModelFileError(f"{meta_path} is damaged: checksum mismatch")
        if not isinstance(meta.get("files"), dict):
            raise ModelFileError(f"{meta_path} is damaged: no file checksums")
    return meta


def _check_meta(path: Path, meta: dict):
    """params, words and tags of model.json, or ModelFileError saying what is
    wrong. Tags are None from format version 3 on: they are in doc_tags.json."""
    meta_path = path / META

    def damaged(what):
        return ModelFileError(f"{meta_path} is damaged: {what}")

    inline_tags = meta["format_version"] < TAGS_IN_FILE
    for key in ("params", "words") + (("doc_tags",) if inline_tags else ()):
        if key not in meta:
            raise damaged(f"missing {key!r}")
    params, words = meta["params"], meta["words"]
    tags = meta["doc_tags"] if inline_tags else None
    if not isinstance(params, dict):
        raise damaged("'params' is not an object")
    dim = params.get("vector_size")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise damaged(f"bad vector_size {dim!r}")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise damaged("'words' is not a list of strings")
    if len(set(words)) != len(words):
        raise damaged("a word is listed twice")
    if inline_tags:
        _check_tags(tags, lambda what: damaged(f"'doc_tags': {what}"))
    loss = meta.get("training_loss", [])
    if not isinstance(loss, list) or not all(isinstance(x, dict) for x in loss):
        raise damaged("'training_loss' is not a list of objects")
    trained = meta.get("epochs_trained", 0)
    if isinstance(trained, bool) or not isinstance(trained, int) or trained < 0:
        raise damaged(f"bad epochs_trained {trained!r}")
    return dict(params), words, tags


def _load_array(directory: _Dir, filename: str, mmap, dtype, shape, record, why=""):
    """One .npy file, checked against its record (size, CRC-32), its dtype,
    shape and exact length, read or memory-mapped."""
    path = directory.path / filename
    f = directory.open(filename, "r+b" if mmap == "r+" else "rb")
    if f is None:
        raise ModelFileError(f"{path} is missing: the saved model is incomplete")
    with f:
        size = os.fstat(f.fileno()).st_size
        if record is not None:
            if size != record["bytes"]:
                raise ModelFileError(f"{path} is damaged or truncated: {size} bytes, "
                                     f"model.json says {record['bytes']}")
            crc = 0
            while True:
                block = f.read(_CHUNK)
                if not block:
                    break
                crc = zlib.crc32(block, crc)
            if crc != record["crc32"]:
                raise ModelFileError(f"{path} is damaged: checksum mismatch")
            f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except (ValueError, OSError, EOFError, SyntaxError, TypeError) as e:
            raise ModelFileError(f"{path} is damaged or truncated ({e})") from None
        if found_dtype != dtype:
            raise ModelFileError(f"{path} is damaged: dtype {found_dtype}, expected {dtype}")
        if fortran:
            raise ModelFileError(f"{path} is damaged: Fortran order, expected C order")
        if tuple(found_shape) != shape:
            raise ModelFileError(f"{path} is damaged: shape {tuple(found_shape)}, "
                                 f"expected {shape}{why}")
        offset = f.tell()
        n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size != offset + n_bytes:
            raise ModelFileError(f"{path} is damaged or truncated: {size} bytes, expected "
                                 f"{offset + n_bytes} for shape {shape}")
        if mmap is not None and n_bytes:
            return np.memmap(f, dtype=dtype, mode=mmap, offset=offset, shape=shape)
        array = np.empty(shape, dtype=dtype)
        if n_bytes and f.readinto(memoryview(array).cast("B")) != n_bytes:
            raise ModelFileError(f"{path} is truncated")
        if mmap == "r":
            array.flags.writeable = False
        return array
