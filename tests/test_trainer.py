"""The kernel object, jose._core.Trainer: its checks, its threads, its schedule.

A whole document's training is compared with the float64 oracle in
tests/reference.py, which consumes the same random stream.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reference
from jose import _core
from jose.corpus import Batch, own_rows

#: Multi-thread tests run (and fail) on a build that lost OpenMP, unless it
#: was built single-threaded on purpose.
SINGLE_THREADED_ON_PURPOSE = os.environ.get("JOSE_NO_OPENMP") == "1"
needs_openmp = pytest.mark.skipif(SINGLE_THREADED_ON_PURPOSE,
                                  reason="JOSE_NO_OPENMP=1: built single-threaded on purpose")
KEEP_ALL = 1 << 32          # a subsampling threshold that keeps every word


def unit_rows(rng, n, dim):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_tables(n_words=50, n_docs=10, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    return unit_rows(rng, n_words, dim), unit_rows(rng, n_words, dim), unit_rows(rng, n_docs, dim)


def samplers(n_words, probs=None, keep=KEEP_ALL):
    probs = np.ones(n_words) if probs is None else np.asarray(probs, dtype=np.float64)
    thresh, alias = _core.build_alias_table(probs)
    return np.full(n_words, keep, dtype=np.uint64), thresh, alias


def make_batch(docs, doc_ids=None):
    """A Batch of documents (lists of word ids), each its own row of D."""
    doc_ids = np.arange(len(docs)) if doc_ids is None else np.asarray(doc_ids)
    tokens = np.array([w for d in docs for w in d], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    tag_ptr, tag_rows = own_rows(doc_ids)
    return Batch(doc_ids.astype(np.int64), tokens, offsets, tag_ptr, tag_rows)


def trainer_for(U, V, D, **kw):
    keep, thresh, alias = kw.pop("samplers", None) or samplers(len(U))
    args = dict(window=3, negative=2, margin=0.15, alpha=0.05, min_alpha=5e-6,
                corpus_tokens=100, epochs=2, seed=7)
    args.update(kw)
    return _core.Trainer(U, V, D, keep, thresh, alias, **args)


# -- construction --------------------------------------------------------------

def test_constructor_checks_tables_and_samplers():
    U, V, D = make_tables()
    keep, thresh, alias = samplers(len(U))
    with pytest.raises(ValueError, match="same shape"):
        trainer_for(U, V[:-1], D)
    with pytest.raises(ValueError, match="same shape"):
        trainer_for(U, V, np.ascontiguousarray(D[:, :-1]))
    with pytest.raises(ValueError, match="one entry per word"):
        trainer_for(U, V, D, samplers=(keep[:-1], thresh, alias))
    bad_alias = alias.copy()
    bad_alias[3] = len(U)
    with pytest.raises(ValueError, match=r"alias\[3\]"):
        trainer_for(U, V, D, samplers=(keep, thresh, bad_alias))
    for name, value in [("window", 0), ("negative", 0), ("epochs", 0), ("n_threads", 0),
                        ("sync_pairs", 0), ("margin", 0.0), ("margin", 2.5),
                        ("min_alpha", 0.0), ("min_alpha", 1.0), ("hot_row_bytes", -1),
                        ("update_rule", "jose"), ("objective", "both")]:
        with pytest.raises(ValueError, match=name.split("_")[0]):
            trainer_for(U, V, D, **{name: value})
    with pytest.raises(ValueError, match="read-only"):
        U.flags.writeable = False
        trainer_for(U, V, D)


@needs_openmp
def test_the_build_has_openmp():
    assert _core.openmp_enabled(), (
        "jose was built without OpenMP, so workers > 1 run on one core; install an "
        "OpenMP runtime and rebuild, or set JOSE_NO_OPENMP=1 to build and test "
        "single-threaded on purpose")


def test_hot_rows_are_a_parameter():
    U, V, D = make_tables(n_words=1000, dim=10)
    assert trainer_for(U, V, D, n_threads=1).n_hot == 0       # one thread shares nothing
    if not SINGLE_THREADED_ON_PURPOSE:
        assert trainer_for(U, V, D, n_threads=2).n_hot == 1000     # 2 MiB holds them all
        wide = make_tables(n_words=1000, n_docs=2, dim=1000)
        assert trainer_for(*wide, n_threads=2).n_hot == 524              # 2 MiB of 4 KB rows
        assert trainer_for(U, V, D, n_threads=2, hot_row_bytes=400).n_hot == 10
        assert trainer_for(U, V, D, n_threads=2, hot_row_bytes=0).n_hot == 0
        assert trainer_for(U, V, D, n_threads=3).n_threads == 3
    else:
        assert trainer_for(U, V, D, n_threads=3).n_threads == 1


# -- batches -------------------------------------------------------------------

def test_batch_is_checked_before_anything_is_written():
    U, V, D = make_tables()
    trainer = trainer_for(U, V, D)
    good = make_batch([[1, 2, 3], [4, 5], [], [6, 7, 8, 9]])
    before = [t.copy() for t in (U, V, D)]
    bad_cases = [
        (good._replace(tokens=np.array([1, 2, 3, 4, 50, 6, 7, 8, 9], np.int32)),
         r"tokens\[4\] = 50 is not a word id"),
        (good._replace(tokens=np.array([1, 2, 3, 4, -1, 6, 7, 8, 9], np.int32)),
         r"tokens\[4\] = -1"),
        (good._replace(tag_rows=np.array([0, 1, 10, 3], np.int32)), r"tag_rows\[2\] = 10"),
        (good._replace(offsets=np.array([0, 3, 2, 5, 9], np.int64)), r"offsets\[2\]"),
        (good._replace(offsets=np.array([0, 3, 5, 5, 8], np.int64)), r"offsets\[4\]"),
        (good._replace(offsets=np.array([1, 3, 5, 5, 9], np.int64)), r"offsets\[0\]"),
        (good._replace(tag_ptr=np.array([0, 1, 2, 3, 5], np.int64)), r"tag_ptr\[4\]"),
        (good._replace(doc_ids=good.doc_ids[:3]), "n_docs"),
        (good._replace(tokens=good.tokens.astype(np.int64)), "int32"),
        (good._replace(tokens=good.tokens.astype(np.float32)), "int32"),
    ]
    for batch, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            trainer.train(batch, 0, 0)
    for name, value in (("epoch", 2), ("epoch", -1), ("tokens_before", -1)):
        args = {"epoch": 0, "tokens_before": 0, name: value}
        with pytest.raises(ValueError, match=name):
            trainer.train(good, args["epoch"], args["tokens_before"])
    for b, a in zip(before, (U, V, D)):
        assert np.array_equal(b, a)
    trainer.train(good, 0, 0)                        # the valid batch trains
    assert not np.array_equal(before[0], U)
    trainer.train(make_batch([]), 0, 0)              # an empty batch is fine


def test_stats_are_named_and_reset():
    U, V, D = make_tables()
    trainer = trainer_for(U, V, D)
    trainer.train(make_batch([[1, 2, 3, 4], [5, 6]]), 0, 0)
    s = trainer.stats
    assert set(s) == set(_core.STAT_NAMES)
    assert s["kept_words"] == 6
    assert s["doc_pairs"] == 6 * 2                   # every kept word, 2 negatives
    assert s["word_pairs"] > 0 and s["word_loss"] > 0 and s["joint_tuples"] == 0
    trainer.reset_stats()
    assert all(v == 0 for v in trainer.stats.values())


def test_schedule_through_the_kernel():
    """alpha falls linearly from alpha to min_alpha over corpus_tokens x
    epochs tokens, as the kernel computes it (not a Python copy)."""
    U, V, D = make_tables()
    t = trainer_for(U, V, D, alpha=0.04, min_alpha=0.004, corpus_tokens=1000, epochs=4)
    assert t.learning_rate(0, 0) == pytest.approx(0.04)
    assert t.learning_rate(0, 500) == pytest.approx(0.04 * (1 - 500 / 4000))
    assert t.learning_rate(2, 0) == pytest.approx(0.02)
    assert t.learning_rate(3, 500) == pytest.approx(0.04 * 0.125)
    assert t.learning_rate(3, 700) == pytest.approx(0.004)     # the floor
    assert t.learning_rate(3, 1000) == pytest.approx(0.004)


def test_non_finite_rows_are_found():
    U, V, D = make_tables()
    trainer = trainer_for(U, V, D)
    assert trainer.first_non_finite() is None
    V[7, 3] = np.nan
    assert trainer.first_non_finite() == ("V", 7)
    D[2, 0] = np.inf
    U[5, 1] = -np.inf
    assert trainer.first_non_finite() == ("U", 5)


# -- a whole document against the float64 oracle --------------------------------

@pytest.mark.parametrize("objective", ["separate", "joint"])
@pytest.mark.parametrize("rule", ["paper", "reference"])
def test_document_matches_float64_reference(rule, objective):
    """One document, one thread: subsampling, windows, negatives, the
    schedule and every step as the oracle computes them in float64 from the
    same random stream."""
    n_words, dim = 40, 12
    U, V, D = make_tables(n_words=n_words, n_docs=3, dim=dim, seed=3)
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 50, n_words).astype(np.float64)
    thresh, alias = _core.build_alias_table(counts ** 0.75)
    keep = np.array([KEEP_ALL if i % 3 else KEEP_ALL // 2 for i in range(n_words)], np.uint64)
    doc = rng.integers(0, n_words, 25).tolist()
    params = dict(window=4, negative=2, margin=0.3, alpha=0.05, min_alpha=0.001,
                  corpus_tokens=60, epochs=3, seed=11, update_rule=rule, objective=objective)
    expected = reference.train_document(
        *(t.astype(np.float64) for t in (U, V, D)), doc, doc_id=2, tag_rows=[1],
        epoch=1, tokens_before=10, keep=keep, thresh=thresh, alias=alias, **params)
    trainer = _core.Trainer(U, V, D, keep, thresh, alias, **params)
    batch = make_batch([doc], doc_ids=[2])._replace(tag_rows=np.array([1], np.int32))
    trainer.train(batch, 1, 10)
    for got, want in zip((U, V, D), expected[:3]):
        np.testing.assert_allclose(got, want, atol=2e-5)
    stats = trainer.stats
    assert stats["kept_words"] == expected[3]["kept_words"]
    for hinge in ("word", "doc", "joint"):
        count = "joint_tuples" if hinge == "joint" else f"{hinge}_pairs"
        assert stats[count] == expected[3][count]
        assert stats[f"{hinge}_loss"] == pytest.approx(expected[3][f"{hinge}_loss"], rel=1e-4)
    assert stats["kept_words"] < len(doc)            # subsampling did drop some
    moved = stats["joint_tuples"] if objective == "joint" else stats["word_pairs"]
    assert moved > 0


# -- threads ---------------------------------------------------------------------

@needs_openmp
def test_hot_row_merges_lose_no_update():
    """Each hot row is stepped by exactly one document, so after training
    every one of them must have moved. With more threads than cores and a
    merge after every document, a thread whose copy was fetched while
    another thread merged (L != B on rows it never touched) would fold the
    difference back and put such rows back where they started."""
    n_hot, n_cold, dim = 3000, 8, 64
    n_words = n_hot + n_cold
    U, V, D = make_tables(n_words=n_words, n_docs=n_hot, dim=dim, seed=1)
    start = U.copy()
    # negatives only among the cold words, which have no private copies
    probs = np.r_[np.zeros(n_hot), np.ones(n_cold)]
    trainer = trainer_for(U, V, D, samplers=samplers(n_words, probs), window=1, negative=1,
                          margin=1.0, alpha=0.5, min_alpha=0.5, corpus_tokens=n_hot,
                          epochs=1, n_threads=8, hot_row_bytes=n_hot * dim * 4, sync_pairs=1)
    assert trainer.n_threads == 8 and trainer.n_hot == n_hot
    order = np.random.default_rng(0).permutation(n_hot)
    for part in np.array_split(order, 60):           # 60 batches, 60 fetches per thread
        trainer.train(make_batch([[w] for w in part], doc_ids=part)
                      ._replace(tag_rows=part.astype(np.int32)), 0, 0)
    moved = np.linalg.norm(U[:n_hot] - start[:n_hot], axis=1)
    assert trainer.stats["doc_pairs"] == n_hot
    assert moved.min() > 1e-2, f"{np.sum(moved <= 1e-2)} rows lost their update"
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, atol=1e-5)


@needs_openmp
def test_hot_context_rows_are_merged_too():
    """V's hot rows are private copies as well: under the joint objective,
    document [c, w] (c cold, w hot, each hot word in one document) steps
    V[w] as c's context; every hot row of V must have moved once the
    copies are folded in."""
    n_hot, n_cold, dim = 2000, 8, 32
    n_words = n_hot + n_cold
    U, V, D = make_tables(n_words=n_words, n_docs=n_hot, dim=dim, seed=2)
    start = V.copy()
    probs = np.r_[np.zeros(n_hot), np.ones(n_cold)]
    trainer = trainer_for(U, V, D, samplers=samplers(n_words, probs), window=1, negative=1,
                          margin=2.0, alpha=0.5, min_alpha=0.5, corpus_tokens=2 * n_hot,
                          epochs=1, n_threads=4, hot_row_bytes=n_hot * dim * 4, sync_pairs=7,
                          objective="joint")
    assert trainer.n_hot == n_hot
    cold = n_hot + np.arange(n_hot) % n_cold
    order = np.random.default_rng(1).permutation(n_hot)
    for part in np.array_split(order, 20):
        trainer.train(make_batch([[int(cold[w]), int(w)] for w in part], doc_ids=part)
                      ._replace(tag_rows=part.astype(np.int32)), 0, 0)
    moved = np.linalg.norm(V[:n_hot] - start[:n_hot], axis=1)
    assert moved.min() > 1e-2, f"{np.sum(moved <= 1e-2)} rows of V lost their update"
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-5)


@needs_openmp
def test_draws_do_not_depend_on_the_number_of_threads():
    """Every document is trained once, with its own random stream: the counts
    of kept words and of steps are those of one thread, and the result is
    close to one thread's (Hogwild differs only by the order of writes)."""
    rng = np.random.default_rng(2)
    docs = [rng.integers(0, 30, rng.integers(1, 12)).tolist() for _ in range(200)]
    results = []
    for n_threads in (1, 2):
        U, V, D = make_tables(n_words=30, n_docs=200, dim=8)
        trainer = trainer_for(U, V, D, n_threads=n_threads, sync_pairs=3, corpus_tokens=2000)
        assert trainer.n_threads == n_threads
        trainer.train(make_batch(docs), 0, 0)
        results.append(trainer.stats)
    one, two = results
    for key in ("kept_words", "word_pairs", "doc_pairs"):
        assert one[key] == two[key]
    assert one["kept_words"] == sum(len(d) for d in docs)
    assert two["doc_loss"] == pytest.approx(one["doc_loss"], rel=0.05)


# -- the kernel's builds -----------------------------------------------------------

def test_the_fastest_build_this_cpu_runs_is_in_use():
    import platform
    import jose._core_generic as generic
    if platform.machine().lower() not in ("x86_64", "amd64"):
        assert _core.BUILD == "jose._core_generic"
        return
    # both are built on every x86-64 gcc/clang build
    import jose._core_avx2  # noqa: F401
    import jose._core_avx512  # noqa: F401
    expected = ("jose._core_avx512" if generic.cpu_has_avx512() else
                "jose._core_avx2" if generic.cpu_has_avx2_fma() else "jose._core_generic")
    cap = os.environ.get("JOSE_KERNEL")
    if cap == "generic" or (cap == "avx2" and expected == "jose._core_avx512"):
        expected = f"jose._core_{cap}"
    assert _core.BUILD == expected
    assert _core.Trainer.__module__ == expected


def _child_env(**extra):
    """The environment for a child Python that imports the jose these tests do."""
    import jose
    root = str(Path(jose.__file__).resolve().parent.parent)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]), **extra)


def test_the_cpu_checks_are_nested():
    import jose._core_generic as generic
    assert not generic.cpu_has_avx512() or generic.cpu_has_avx2_fma()


@pytest.mark.parametrize("cap, expected", [
    ("generic", "jose._core_generic"), ("avx2", "jose._core_avx2"),
    ("avx512", "jose._core_avx512")])
def test_jose_kernel_caps_the_build(cap, expected, tmp_path):
    import jose._core_generic as generic
    runs = {"jose._core_generic": True, "jose._core_avx2": generic.cpu_has_avx2_fma(),
            "jose._core_avx512": generic.cpu_has_avx512()}
    if not runs[expected]:
        pytest.skip(f"this CPU cannot run {expected}")
    code = "import jose._core as c; print(c.BUILD)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_child_env(JOSE_KERNEL=cap), cwd=tmp_path, check=True)
    assert out.stdout.strip() == expected


def test_a_bad_jose_kernel_is_named(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import jose"], capture_output=True, text=True,
                         env=_child_env(JOSE_KERNEL="avx9"), cwd=tmp_path)
    assert out.returncode != 0
    assert "JOSE_KERNEL='avx9'" in out.stderr and "generic, avx2, avx512" in out.stderr


def test_the_builds_compute_alike():
    import jose._core_generic as generic
    builds = [generic]
    for name, runs in (("avx2", generic.cpu_has_avx2_fma), ("avx512", generic.cpu_has_avx512)):
        try:
            module = __import__(f"jose._core_{name}", fromlist=["_"])
        except ImportError:
            continue
        if runs():
            builds.append(module)
    if len(builds) == 1:
        pytest.skip("this CPU runs only the generic build")
    rng = np.random.default_rng(9)
    for dim in (7, 100, 300):
        u, v, d, n = unit_rows(rng, 4, dim)
        results = []
        for build in builds:
            x = [a.copy() for a in (u, v, d, n)]
            loss = build.joint_step_py(*x, 0.1, 1.0)
            results.append((loss, x))
        for loss, x in results[1:]:
            assert loss == pytest.approx(results[0][0], rel=1e-5)
            for a, b in zip(results[0][1], x):
                np.testing.assert_allclose(a, b, atol=1e-6)


