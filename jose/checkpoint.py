"""Checkpoints of a training run: the model and the schedule's position,
saved atomically as a model directory, so a killed run resumes where it was.

`JoSE.train(checkpoint=DIR)` saves after every epoch (and, with
`checkpoint_every=N`, after the first batch that ends N minutes or more after
the last save); `train(checkpoint=DIR, resume=True)` loads the last one and
continues. A checkpoint is a saved model (JoSE.load reads it) whose model.json
also holds, under extra.checkpoint:

- the schedule of the interrupted call of train(): its number of epochs, the
  model's epochs_trained when it began (which seeds the call's random
  streams), the epochs done and, within the next epoch, the batches and
  tokens done and the loss sums so far;
- what must not change for the continuation to be the same run: the
  parameters (all but workers), the batch size, the vocabulary and document
  tags (a CRC-32 of them) and the training data (documents, tokens and a
  CRC-32 of the encoded corpus).

Learning rate and random draws depend only on (seed, call start, epoch,
position), so with workers=1 a resumed run gives bit-identical vectors.
Resuming also removes the temporary directory a save killed midway left
beside the checkpoint.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

CHECKPOINT_VERSION = 1
#: Parameters that may differ between a checkpoint and the run resuming it.
MAY_DIFFER = ("workers",)
_CHUNK = 1 << 22


class CheckpointError(ValueError):
    """A checkpoint cannot continue this run; the message says what differs."""


def data_fingerprint(data) -> dict:
    """Documents, tokens and a CRC-32 of an encoded corpus (MemoryCorpus,
    DiskCorpus or anything with offsets and tokens or their files)."""
    crc = 0
    parts = []
    if getattr(data, "tokens_path", None) and getattr(data, "offsets_path", None):
        for name in (data.tokens_path, data.offsets_path):
            with open(name, "rb") as f:
                while True:
                    block = f.read(_CHUNK)
                    if not block:
                        break
                    crc = zlib.crc32(block, crc)
    else:
        for name in ("tokens", "offsets", "tag_ptr", "tag_rows"):
            value = getattr(data, name, None)
            if value is not None:
                parts.append(np.ascontiguousarray(value))
        for part in parts:
            crc = zlib.crc32(memoryview(part).cast("B"), crc)
    return {"n_docs": int(data.n_docs), "n_tokens": int(data.n_tokens), "crc32": crc}


def vocab_fingerprint(model) -> dict:
    words = json.dumps(model.vocab.words, ensure_ascii=False).encode("utf-8", "surrogatepass")
    tags = json.dumps(model.dv.index_to_key, ensure_ascii=False).encode("utf-8",
                                                                        "surrogatepass")
    counts = np.ascontiguousarray(model.vocab.counts, dtype=np.int64)
    return {"n_words": len(model.vocab.words), "n_tags": len(model.dv.index_to_key),
            "crc32": zlib.crc32(counts.tobytes(), zlib.crc32(tags, zlib.crc32(words)))}


class Checkpointer:
    """Saves and restores one call of train() in directory `path`."""

    def __init__(self, model, path, every_minutes: Optional[float], data, epochs: int):
        if every_minutes is not None:
            if isinstance(every_minutes, bool) or not isinstance(
                    every_minutes, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(every_minutes) or every_minutes <= 0:
                raise ValueError(f"checkpoint_every must be a positive number of minutes "
                                 f"or None, got {every_minutes!r}")
        self.model = model
        self.path = Path(path)
        self.every = None if every_minutes is None else float(every_minutes) * 60.0
        self.epochs = epochs
        self.data = data
        self.fixed = {
            "params": {k: v for k, v in model.params().items() if k not in MAY_DIFFER},
            "batch_tokens": int(model.batch_tokens),
            "vocabulary": vocab_fingerprint(model),
            "data": data_fingerprint(data),
            "epochs": int(epochs),
        }
        self.call_start = model.epochs_trained
        self.last_save = time.monotonic()

    # -- saving ---------------------------------------------------------------------

    def state(self, epochs_done, batches_done=0, tokens_done=0, stats=None) -> dict:
        return {"version": CHECKPOINT_VERSION, **self.fixed,
                "call_start": int(self.call_start), "epochs_done": int(epochs_done),
                "batches_done": int(batches_done), "tokens_done": int(tokens_done),
                "stats": stats}

    def save(self, epochs_done, batches_done=0, tokens_done=0, stats=None) -> None:
        from .persistence import save_model
        if self.path.exists() and not (self.path / "model.json").is_file():
            raise FileExistsError(f"checkpoint {self.path} exists and is not a jose "
                                  f"checkpoint; refusing to replace it")
        save_model(self.model, self.path,
                   extra={"checkpoint": self.state(epochs_done, batches_done, tokens_done,
                                                   stats)})
        self.last_save = time.monotonic()

    def due(self) -> bool:
        return self.every is not None and time.monotonic() - self.last_save >= self.every

    # -- resuming ---------------------------------------------------------------------

    def resume(self) -> Optional[dict]:
        """Load the checkpoint into the model and return its state, or None
        when there is none yet (a fresh start). Raises CheckpointError when it
        belongs to another run."""
        from .persistence import load_model
        self._remove_stale_temporaries()
        if not self.path.exists():
            return None
        saved, meta = load_model(type(self.model), self.path, with_meta=True)
        state = (meta.get("extra") or {}).get("checkpoint")
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{self.path} is a saved model, not a checkpoint of "
                                  f"this jose (no checkpoint state in model.json)")
        self._compare(state)
        try:
            epochs_done = int(state["epochs_done"])
            batches_done = int(state["batches_done"])
            tokens_done = int(state["tokens_done"])
            call_start = int(state["call_start"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{self.path}/model.json: damaged checkpoint state") from None
        if not (0 <= epochs_done <= self.epochs and batches_done >= 0 and tokens_done >= 0
                and call_start + epochs_done == saved.epochs_trained):
            raise CheckpointError(f"{self.path}/model.json: inconsistent checkpoint state")
        m = self.model
        for mine, theirs in ((m.wv, saved.wv), (m.cv, saved.cv), (m.dv, saved.dv)):
            mine.vectors[...] = theirs.vectors
        m.training_loss = list(saved.training_loss)
        m.epochs_trained = saved.epochs_trained
        self.call_start = call_start
        return {"epochs_done": epochs_done, "batches_done": batches_done,
                "tokens_done": tokens_done, "stats": state.get("stats")}

    def _remove_stale_temporaries(self) -> None:
        """Remove what a save killed midway (SIGKILL, power loss) left beside
        the checkpoint: resuming means its writer is gone."""
        parent = self.path.parent if str(self.path.parent) else Path(".")
        pattern = re.compile(r"\." + re.escape(self.path.name) + r"\.[A-Za-z0-9_]{8}\.(tmp|old)\Z")
        for entry in parent.iterdir() if parent.is_dir() else ():
            if pattern.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    def _compare(self, state: dict) -> None:
        where = f"checkpoint {self.path}"
        theirs, mine = state.get("params") or {}, self.fixed["params"]
        differ = [k for k in sorted(set(theirs) | set(mine)) if theirs.get(k) != mine.get(k)]
        if differ:
            shown = ", ".join(f"{k}={theirs.get(k)!r} there, {mine.get(k)!r} here"
                              for k in differ[:4])
            raise CheckpointError(f"{where} was made with other parameters: {shown}")
        if state.get("epochs") != self.fixed["epochs"]:
            raise CheckpointError(f"{where} is of a call of train() with epochs="
                                  f"{state.get('epochs')}, this one has epochs={self.epochs}")
        if state.get("batch_tokens") != self.fixed["batch_tokens"]:
            raise CheckpointError(f"{where} was made with batch_tokens="
                                  f"{state.get('batch_tokens')}, this run has "
                                  f"{self.fixed['batch_tokens']}")
        v, w = state.get("vocabulary") or {}, self.fixed["vocabulary"]
        if v != w:
            if (v.get("n_words"), v.get("n_tags")) != (w["n_words"], w["n_tags"]):
                raise CheckpointError(
                    f"{where} has another vocabulary: {v.get('n_words')} words and "
                    f"{v.get('n_tags')} document tags there, {w['n_words']} and "
                    f"{w['n_tags']} here")
            raise CheckpointError(f"{where} has another vocabulary: same sizes, other "
                                  f"words, counts or document tags")
        d, e = state.get("data") or {}, self.fixed["data"]
        if d != e:
            if (d.get("n_docs"), d.get("n_tokens")) != (e["n_docs"], e["n_tokens"]):
                raise CheckpointError(
                    f"{where} was made on other data: {d.get('n_docs')} documents and "
                    f"{d.get('n_tokens')} tokens there, {e['n_docs']} and {e['n_tokens']} "
                    f"here")
            raise CheckpointError(f"{where} was made on other data: same numbers of "
                                  f"documents and tokens, other content")
