"""The README's Ray line for real: `ray_ds.map_batches(infer,
batch_format="pandas")` on a local two-CPU Ray cluster, against
single-machine `infer_vectors` bit for bit.

Needs ray[data], which the `test` extra leaves out (see tests/engines.py);
run with  pytest -m ray.
"""
import os

import numpy as np
import pytest

from engines import engine_marks, jose_origin, ray_missing, where_am_i, worker_environment
from jose import JoSE
from jose.inference import JoSEInferencer, tokenize_text
from planted import fresh_document, planted_corpus, saved_planted_model

pytestmark = engine_marks("ray", ray_missing())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return saved_planted_model(tmp_path_factory.mktemp("m"))


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(6)
    vocab = planted_corpus(seed=0)[2]
    out = [" ".join(fresh_document(rng, vocab, i % 4, length=3 + i % 17)).upper()
           for i in range(120)]
    out[9] = "nothing known here"
    return out


@pytest.fixture(scope="module")
def ray(tmp_path_factory):
    import ray
    with worker_environment(tmp_path_factory.mktemp("ray")):
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=128 * 2 ** 20)
        try:
            ray.data.DataContext.get_current().enable_progress_bars = False
            yield ray
        finally:
            ray.shutdown()


def expected(model_dir, texts):
    return JoSE.load(model_dir).infer_vectors([tokenize_text(t) for t in texts], workers=1)


def dataset(ray, texts):
    import pandas as pd
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
    return ray.data.from_pandas(frame).repartition(4)


def test_map_batches_pandas_equals_single_machine(ray, model_dir, texts):
    ray_ds = dataset(ray, texts)
    infer = JoSEInferencer(model_dir, workers=2, tokenize=True)
    out = ray_ds.map_batches(infer, batch_format="pandas")          # the README's line
    frame = out.to_pandas().sort_values("id")
    assert list(frame.columns) == ["id", "text", "vector"]
    assert frame["text"].tolist() == texts
    got = np.stack(frame["vector"].to_numpy())
    assert got.dtype == np.float32
    assert np.array_equal(got, expected(model_dir, texts))
    assert not got[9].any()


def test_map_batches_numpy_and_small_batches(ray, model_dir, texts):
    infer = JoSEInferencer(model_dir, tokenize=True)
    frame = dataset(ray, texts).map_batches(infer, batch_format="numpy", batch_size=7) \
        .to_pandas().sort_values("id")
    assert np.array_equal(np.stack(frame["vector"].to_numpy()), expected(model_dir, texts))


def test_workers_are_other_processes_with_this_jose(ray):
    found = ray.get([ray.remote(where_am_i()).remote(i) for i in range(4)])
    assert {origin for _, origin in found} == {jose_origin()}
    assert os.getpid() not in {pid for pid, _ in found}
