"""jose.plot and `jose-eval cluster --plot`: real PNG files, re-read and measured."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jose import JoSE, plot
from jose.eval_cli import main as eval_main
from jose.w2v_format import write_word2vec

pytest.importorskip("matplotlib")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from a PNG's signature and IHDR chunk; fails on anything else."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def save(ax, path, width, height, dpi=50):
    fig = ax.figure
    fig.set_size_inches(width / dpi, height / dpi)
    fig.savefig(path, dpi=dpi)
    return png_size(path)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    topics = [[f"t{t}w{i}" for i in range(12)] for t in range(3)]
    docs = [list(rng.choice(topics[d % 3], size=15)) for d in range(45)]
    return JoSE(docs, vector_size=10, window=3, epochs=4, min_count=1, workers=1, seed=3).train()


def test_training_curve_writes_a_png(tmp_path, model):
    ax = plot.training_curve(model)
    word, doc = ax.get_lines()
    assert list(word.get_xdata()) == [1, 2, 3, 4]
    assert np.allclose(word.get_ydata(), [e["word_loss"] for e in model.training_loss])
    assert np.allclose(doc.get_ydata(), [e["doc_loss"] for e in model.training_loss])
    assert save(ax, tmp_path / "curve.png", 320, 200) == (320, 200)
    import matplotlib.image
    assert matplotlib.image.imread(tmp_path / "curve.png").shape[:2] == (200, 320)


def test_document_map_colours_by_label(tmp_path, model):
    labels = np.arange(45) % 3
    ax = plot.document_map(model.dv, labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    dots = [c.get_offsets() for c in ax.collections]
    assert [len(d) for d in dots] == [15, 15, 15]
    from sklearn.decomposition import PCA
    expected = PCA(n_components=2, random_state=0).fit_transform(
        model.dv.vectors.astype(np.float64))
    assert np.allclose(dots[0], expected[labels == 0])
    assert save(ax, tmp_path / "map.png", 250, 180) == (250, 180)


def test_document_map_on_given_axes_tsne_and_many_labels(tmp_path, model):
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot.document_map(model.dv.vectors, None, ax=left, method="tsne") is left
    assert plot.document_map(model.dv.vectors, [f"g{i}" for i in range(45)], ax=right) is right
    assert len(right.collections) == 1 and right.get_legend() is None   # 45 labels: a colour scale
    fig.savefig(tmp_path / "two.png", dpi=40)
    assert png_size(tmp_path / "two.png") == (int(fig.get_figwidth() * 40),
                                             int(fig.get_figheight() * 40))


def test_bad_input(model):
    with pytest.raises(ValueError, match="3 labels for 45 vectors"):
        plot.document_map(model.dv, [0, 1, 2])
    with pytest.raises(ValueError, match="method must be one of"):
        plot.document_map(model.dv, method="umap")
    with pytest.raises(ValueError, match="at least 2 vectors"):
        plot.document_map(np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"\(n, dim\) array"):
        plot.document_map(np.ones(4))
    with pytest.raises(ValueError, match="not been trained"):
        plot.training_curve(JoSE([["a", "b"]], min_count=1))
    with pytest.raises(TypeError, match="JoSE model or its training_loss"):
        plot.training_curve("model")


def test_headless_use_leaves_pyplot_and_backend_alone(tmp_path):
    """Without a display and without pyplot imported, plotting imports neither."""
    code = ("import sys, numpy as np; from jose import plot; "
            "ax = plot.document_map(np.random.default_rng(0).normal(size=(20, 5)), [0, 1] * 10); "
            "ax.figure.savefig(sys.argv[1]); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'")
    import jose
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY",
                                                           "MPLBACKEND")}
    env["PYTHONPATH"] = str(Path(jose.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.png")], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    png_size(tmp_path / "m.png")


def test_missing_matplotlib_names_the_extra(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "jose-embeddings\[plot\]"'):
        plot.training_curve(model)


# -- jose-eval cluster --plot ------------------------------------------------------

@pytest.fixture
def documents(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    vectors = np.eye(8)[labels] + 0.1 * rng.standard_normal((40, 8))
    write_word2vec(tmp_path / "docs.txt", list(range(40)), vectors)
    (tmp_path / "labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    return tmp_path / "docs.txt", tmp_path / "labels.txt"


def test_eval_cluster_plot(capsys, tmp_path, documents):
    vecs, labels = documents
    out = tmp_path / "map.png"
    assert eval_main(["cluster", str(vecs), str(labels), "--k", "4", "--runs", "2",
                      "--plot", str(out)]) == 0
    assert f"document map written to {out}" in capsys.readouterr().out
    assert png_size(out) == (1100, 480)
    out.unlink()
    assert eval_main(["cluster", str(vecs), str(labels), "--k", "4", "--runs", "1",
                      "--plot", str(out), "--plot-method", "pca", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plot"] == str(out)
    assert png_size(out) == (1100, 480)


@pytest.mark.parametrize("name, message", [("map.jpg", "ending in .png"),
                                           ("nodir/map.png", "no directory")])
def test_eval_cluster_bad_plot_path(capsys, tmp_path, documents, name, message):
    vecs, labels = documents
    assert eval_main(["cluster", str(vecs), str(labels), "--k", "4", "--runs", "1",
                      "--plot", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jose-eval: error: --plot") and message in err
    assert err.count("\n") == 1
