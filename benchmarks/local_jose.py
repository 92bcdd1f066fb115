"""Which jose the benchmarks measure.

`python benchmarks/X.py` puts benchmarks/, not the repository root, on
sys.path, so a plain `import jose` finds the *installed* package even when the
working tree holds a newer in-place build (`python setup.py build_ext
--inplace`), and the benchmark silently measures old code. Every script calls
`use_local_build()` before importing jose, so an in-place build wins, and
reports `jose_origin()` with its numbers.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def use_local_build() -> None:
    """Import jose from the source tree if it has a compiled kernel."""
    # the kernel's builds are _core_generic.*.so, _core_avx2.*.so and _core_avx512.*.so (before
    # 44da858, one _core.*.so)
    built = [*(REPO / "jose").glob("_core*.so"), *(REPO / "jose").glob("_core*.pyd")]
    if built and str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def jose_origin() -> str:
    """The directory of the jose package this process imports."""
    import jose
    return str(Path(jose.__file__).resolve().parent)


def child_env() -> dict:
    """The environment, plus the directory holding the `jose` this process imports,
    so a child process trains the same build (an in-place build or the installed one)."""
    env = dict(os.environ)
    root = str(Path(jose_origin()).parent)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env
