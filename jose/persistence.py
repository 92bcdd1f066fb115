"""Saving and loading models: a directory of .npy arrays plus model.json.

The arrays load with numpy (mmap works, nothing is unpickled); model.json
holds the parameters, the keys and a format version. A save writes a new
directory beside the target and renames it into place, so an interrupted
save never leaves a half-written model where a good one was.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .atomic import current_umask

FORMAT = "jose-model"
FORMAT_VERSION = 1
ARRAYS = {"wv": "wv.npy", "cv": "cv.npy", "dv": "dv.npy", "counts": "counts.npy"}


def save_model(model, path) -> None:
    if model.vocab is None:
        raise RuntimeError("nothing to save: the model has no vocabulary yet")
    path = Path(path)
    if path.exists() and not (path.is_dir() and (path / "model.json").is_file()):
        raise FileExistsError(f"{path} exists and is not a saved jose model; "
                              f"refusing to replace it")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "params": model.params(),
        "words": model.vocab.words,
        "doc_tags": model.dv.index_to_key,
        "training_loss": model.training_loss,
        "epochs_trained": model.epochs_trained,
    }
    parent = path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private (0700)
        arrays = {"wv": model.wv.vectors, "cv": model.cv.vectors,
                  "dv": model.dv.vectors, "counts": model.vocab.counts}
        for name, filename in ARRAYS.items():
            with open(tmp / filename, "wb") as f:
                np.save(f, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        with open(tmp / "model.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(new: Path, path: Path):
    """Move `new` to `path`; an existing model there is moved aside first and
    removed only once the new one is in place."""
    if not path.exists():
        os.replace(new, path)
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


def load_model(cls, path, mmap=None):
    from .keyedvectors import KeyedVectors
    from .vocab import Vocabulary

    if mmap not in (None, "r", "r+", "c"):
        raise ValueError(f"mmap must be None, 'r', 'r+' or 'c', got {mmap!r}")
    path = Path(path)
    meta = _read_meta(path)
    try:
        params = dict(meta["params"])
        words, tags = meta["words"], meta["doc_tags"]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}/model.json is damaged: missing {e}") from None
    for what, keys in (("word", words), ("document tag", tags)):
        if len(set(keys)) != len(keys):
            raise ValueError(f"{path}/model.json is damaged: a {what} is listed twice")
    arrays = {name: _load_array(path / filename, mmap) for name, filename in ARRAYS.items()}
    dim = params.get("vector_size")
    expected = {"wv": (len(words), dim), "cv": (len(words), dim),
                "dv": (len(tags), dim), "counts": (len(words),)}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f"{path}/{ARRAYS[name]} is damaged: shape "
                             f"{arrays[name].shape}, expected {shape}")
    for name in ("wv", "cv", "dv"):
        a = arrays[name]
        if a.dtype != np.float32:
            raise ValueError(f"{path}/{ARRAYS[name]} is damaged: dtype {a.dtype}, expected float32")
        norms = np.linalg.norm(a, axis=1)
        if len(a) and not np.all(np.abs(norms - 1.0) < 1e-4):
            raise ValueError(f"{path}/{ARRAYS[name]} is damaged: rows are not unit vectors")

    # files written before the joint objective existed were trained with the
    # separate hinges, whatever today's default is
    params.setdefault("objective", "separate")
    try:
        model = cls(**params)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}/model.json has invalid parameters: {e}") from None
    model.vocab = Vocabulary(words, np.asarray(arrays["counts"]))
    model.wv = KeyedVectors(words, arrays["wv"])
    model.cv = KeyedVectors(words, arrays["cv"])
    model.dv = KeyedVectors(tags, arrays["dv"])
    model.training_loss = list(meta.get("training_loss", []))
    model.epochs_trained = int(meta.get("epochs_trained", 0))
    return model


def _read_meta(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"no saved model at {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a saved jose model (expected a directory "
                         f"holding model.json and .npy arrays)")
    meta_path = path / "model.json"
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a saved jose model: it has no model.json")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{meta_path} is damaged (not valid JSON: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is not a jose model description")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{meta_path} is damaged: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was saved in format version {version}, newer than this "
                         f"jose reads ({FORMAT_VERSION}); upgrade jose to load it")
    return meta


def _load_array(path: Path, mmap):
    if not path.is_file():
        raise ValueError(f"{path} is missing: the saved model is incomplete")
    try:
        return np.load(path, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is damaged or truncated ({e})") from None
