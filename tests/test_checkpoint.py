"""Checkpoint and resume: a run interrupted (an exception, SIGKILL) and
resumed gives, with workers=1, vectors bit-identical to an uninterrupted run;
a checkpoint of other data or parameters is refused, saying what differs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jose import JoSE, TaggedDocument
from jose.checkpoint import CheckpointError
from jose.cli import main

PARAMS = dict(vector_size=8, window=3, negative=2, min_count=1, epochs=4, workers=1, seed=5,
              sample=0.0)


def corpus(n_docs=60, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    return [TaggedDocument(list(rng.choice(words, size=20)), [i]) for i in range(n_docs)]


def model(docs=None, **kw):
    m = JoSE(docs if docs is not None else corpus(), **{**PARAMS, **kw})
    m.batch_tokens = 160          # several batches per epoch
    return m


def tables(m):
    return [m.wv.vectors, m.cv.vectors, m.dv.vectors]


def assert_identical(a, b):
    for x, y in zip(tables(a), tables(b)):
        assert x.tobytes() == y.tobytes()
    assert a.epochs_trained == b.epochs_trained
    assert len(a.training_loss) == len(b.training_loss)
    for p, q in zip(a.training_loss, b.training_loss):
        assert p.keys() == q.keys()
        for k in p:
            assert p[k] == pytest.approx(q[k], rel=1e-12), k


class Crash(Exception):
    pass


class CrashAfter:
    """A progress hook that raises after `n` batches."""

    def __init__(self, n):
        self.n = n

    def __call__(self, progress):
        self.n -= 1
        if self.n == 0:
            raise Crash


@pytest.fixture(scope="module")
def uninterrupted():
    return model().train()


@pytest.mark.parametrize("crash_after", [2, 5, 11, 16])
def test_resume_after_a_crash_mid_epoch_is_bit_identical(tmp_path, uninterrupted, crash_after):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Crash):
        model().train(checkpoint=ckpt, checkpoint_every=1e-9, progress=CrashAfter(crash_after))
    state = json.loads((ckpt / "model.json").read_text())["extra"]["checkpoint"]
    assert state["batches_done"] > 0 or state["epochs_done"] > 0
    resumed = model().train(checkpoint=ckpt, resume=True)
    assert_identical(resumed, uninterrupted)


def test_resume_at_epoch_boundaries(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt"

    class StopAfterEpoch2:
        def on_epoch_end(self, m):
            if m.epochs_trained == 2:
                raise Crash

    with pytest.raises(Crash):
        model().train(checkpoint=ckpt, callbacks=[StopAfterEpoch2()])
    assert JoSE.load(ckpt).epochs_trained == 2          # a checkpoint is a model
    resumed = model().train(checkpoint=ckpt, resume=True)
    assert_identical(resumed, uninterrupted)
    # resuming a finished run trains nothing more
    again = model().train(checkpoint=ckpt, resume=True)
    assert_identical(again, uninterrupted)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, uninterrupted):
    resumed = model().train(checkpoint=tmp_path / "none-yet", resume=True)
    assert_identical(resumed, uninterrupted)
    assert (tmp_path / "none-yet" / "model.json").is_file()


def test_second_call_of_train_resumes_its_own_schedule(tmp_path):
    # the random streams of a call come from (seed, epochs_trained at its start)
    ckpt = tmp_path / "ckpt"
    straight = model().train().train(epochs=3)
    first = model().train()
    with pytest.raises(Crash):
        first.train(epochs=3, checkpoint=ckpt, checkpoint_every=1e-9, progress=CrashAfter(9))
    again = model().train()
    again.train(epochs=3, checkpoint=ckpt, resume=True)
    assert_identical(again, straight)


@pytest.mark.parametrize("change, words", [
    (dict(window=4), ["window=3 there, 4 here"]),
    (dict(seed=6), ["seed"]),
    (dict(epochs=5), ["epochs"]),
    (dict(docs=[TaggedDocument(d.words[::-1], d.tags) for d in corpus()]), ["other data"]),
    (dict(docs=corpus(seed=1)), ["another vocabulary"]),
    (dict(docs=corpus(n_docs=59)), ["vocabulary", "document tags"]),
])
def test_checkpoint_of_another_run_is_refused(tmp_path, change, words):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Crash):
        model().train(checkpoint=ckpt, checkpoint_every=1e-9, progress=CrashAfter(3))
    docs = change.pop("docs", None)
    with pytest.raises(CheckpointError) as info:
        model(docs, **change).train(checkpoint=ckpt, resume=True)
    message = str(info.value)
    assert str(ckpt) in message and "\n" not in message
    for w in words:
        assert w in message, message


def test_bad_checkpoint_arguments(tmp_path):
    m = model()
    with pytest.raises(ValueError, match="checkpoint=DIR"):
        m.train(resume=True)
    with pytest.raises(ValueError, match="checkpoint_every"):
        m.train(checkpoint=tmp_path / "c", checkpoint_every=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        m.train(checkpoint=tmp_path / "file")
    model().train().save(tmp_path / "saved")      # a saved model is not a checkpoint
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        model().train(checkpoint=tmp_path / "saved", resume=True)


# --- killed for real: SIGKILL in a subprocess --------------------------------------------

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[2])
import test_checkpoint as t
m = t.model()
def slow(progress):
    time.sleep(0.03)
m.train(checkpoint=sys.argv[1], checkpoint_every=1e-9, progress=slow)
print("finished")
"""


def _env(tmp_path):
    """The child's environment: this jose on its path, and its temporary files
    (the encoded corpus a killed jose-train cannot remove) under tmp_path."""
    import jose
    home = str(Path(jose.__file__).resolve().parent.parent)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return dict(os.environ, PYTHONPATH=home + os.pathsep + os.environ.get("PYTHONPATH", ""),
                TMPDIR=str(scratch))


def _wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def _state(ckpt):
    try:
        return json.loads((ckpt / "model.json").read_text())["extra"]["checkpoint"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.mark.timeout(120)
def test_sigkill_then_resume_is_bit_identical(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ckpt),
                              str(Path(__file__).parent)], env=_env(tmp_path), cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # kill it once it has saved a few batches (it saves after every batch,
        # so the kill may land in the middle of a save)
        assert _wait_for(lambda: (_state(ckpt) or {}).get("epochs_done", 0) >= 1
                         or (_state(ckpt) or {}).get("batches_done", 0) >= 2, 60), \
            child.stderr.read1().decode() if child.poll() is not None else "no checkpoint"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    state = _state(ckpt)
    assert state["epochs_done"] < PARAMS["epochs"]
    resumed = model().train(checkpoint=ckpt, resume=True)
    assert_identical(resumed, uninterrupted)
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []   # no temporaries


def _cli_corpus(path, n_docs=400):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)]
    path.write_text("\n".join(" ".join(rng.choice(words, size=40)) for _ in range(n_docs)) + "\n")
    return path


CLI = ["--size", "8", "--epochs", "6", "--min-count", "1", "--threads", "1", "--seed", "3",
       "--quiet", "--binary"]


@pytest.mark.timeout(120)
def test_cli_sigkill_then_resume(tmp_path, capsys):
    corpus_path = _cli_corpus(tmp_path / "c.txt")
    straight = tmp_path / "straight"
    assert main([str(corpus_path), *CLI, "--model-output", str(straight)]) == 0
    ckpt = tmp_path / "ckpt"
    args = [str(corpus_path), *CLI, "--checkpoint", str(ckpt), "--model-output",
            str(tmp_path / "out")]
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nimport jose.model as m\nreal = m.JoSE._epoch_summary\n"
         "def slow(self, *a):\n    time.sleep(0.3)\n    return real(self, *a)\n"
         "m.JoSE._epoch_summary = slow\nfrom jose.cli import main\nsys.exit(main())", *args],
        env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: (_state(ckpt) or {}).get("epochs_done", 0) >= 2, 60)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert not (tmp_path / "out").exists()
    assert main(args + ["--resume"]) == 0, capsys.readouterr().err
    a, b = JoSE.load(straight), JoSE.load(tmp_path / "out")
    for x, y in zip(tables(a), tables(b)):
        assert x.tobytes() == y.tobytes()
    # a different corpus is refused, in one line naming the checkpoint
    other = _cli_corpus(tmp_path / "other.txt", n_docs=399)
    rc = main([str(other), *CLI, "--checkpoint", str(ckpt), "--resume",
               "--model-output", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert rc == 1 and str(ckpt) in err and err.count("\n") == 1, err
    rc = main([str(corpus_path), *CLI, "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and "--checkpoint" in err


def test_cli_checkpoint_must_not_be_an_output(tmp_path, capsys):
    corpus_path = _cli_corpus(tmp_path / "c.txt", n_docs=20)
    rc = main([str(corpus_path), *CLI, "--checkpoint", str(tmp_path / "m"),
               "--model-output", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and "--checkpoint" in err and err.count("\n") == 1
    rc = main([str(corpus_path), *CLI, "--checkpoint", str(tmp_path / "k"),
               "--checkpoint-every", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "--checkpoint-every" in err
