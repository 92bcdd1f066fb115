"""The README's Spark line for real: `sdf.mapInPandas(infer.map_pandas,
schema=...)` on a local[2] Spark session (two Python worker processes),
against single-machine `infer_vectors` bit for bit.

Needs pyspark and Java 17+, which the `test` extra leaves out (see
tests/engines.py); run with  pytest -m spark.
"""
import numpy as np
import pytest

from engines import engine_marks, jose_origin, spark_missing, where_am_i, worker_environment
from jose import JoSE
from jose.inference import JoSEInferencer, tokenize_text
from planted import fresh_document, planted_corpus, saved_planted_model

pytestmark = engine_marks("spark", spark_missing())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return saved_planted_model(tmp_path_factory.mktemp("m"))


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(5)
    vocab = planted_corpus(seed=0)[2]
    out = [" ".join(fresh_document(rng, vocab, i % 4, length=3 + i % 17)).upper()
           for i in range(120)]
    out[7] = "nothing known here"
    return out


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession
    with worker_environment(tmp_path_factory.mktemp("spark")):
        session = (SparkSession.builder.master("local[2]").appName("jose-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


def expected(model_dir, texts):
    return JoSE.load(model_dir).infer_vectors([tokenize_text(t) for t in texts], workers=1)


def test_map_in_pandas_equals_single_machine(spark, model_dir, texts):
    import pandas as pd
    sdf = spark.createDataFrame(pd.DataFrame({"text": texts})).repartition(4)
    infer = JoSEInferencer(model_dir, workers=2, tokenize=True)
    # the README's line
    out = sdf.mapInPandas(infer.map_pandas, schema="text string, vector array<float>")
    rows = out.collect()
    assert sorted(r["text"] for r in rows) == sorted(texts)
    got = dict((r["text"], np.array(r["vector"], dtype=np.float32)) for r in rows)
    want = expected(model_dir, texts)
    for text, row in zip(texts, want):
        assert np.array_equal(got[text], row), text
    assert not got["nothing known here"].any()
    # toPandas keeps float32 arrays
    frame = out.toPandas()
    assert frame["vector"].iloc[0].dtype == np.float32


def test_map_in_pandas_keeps_other_columns(spark, model_dir, texts):
    # the output schema names every column of the input and the vector;
    # Spark matches them by name
    import pandas as pd
    sdf = spark.createDataFrame(pd.DataFrame({"id": range(len(texts)), "text": texts}))
    infer = JoSEInferencer(model_dir, tokenize=True, output_column="embedding")
    out = sdf.repartition(3).mapInPandas(
        infer.map_pandas, schema="embedding array<float>, id long, text string")
    frame = out.toPandas().sort_values("id")
    assert list(frame.columns) == ["embedding", "id", "text"]
    assert frame["text"].tolist() == texts
    assert np.array_equal(np.stack(frame["embedding"].to_numpy()), expected(model_dir, texts))


def test_workers_are_other_processes_with_this_jose(spark):
    import os
    found = spark.sparkContext.parallelize(range(4), 4).map(where_am_i()).collect()
    assert {origin for _, origin in found} == {jose_origin()}
    assert os.getpid() not in {pid for pid, _ in found}
