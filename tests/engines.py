"""Helpers for the Spark and Ray tests (test helper, not shipped).

Those tests need pyspark (and Java 17+) or Ray, which the `test` extra does not
install (pyspark is ~500 MB and starts a JVM, Ray ~250 MB); without them they
skip and say how to run them.
"""
import contextlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

HOW_TO_RUN = ('pip install ".[test,test-cluster]" and run pytest -m "spark or ray" '
              '(or bash .ci/cluster); see README, "Two commands"')


def spark_missing():
    """Why the Spark test cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return f"pyspark is not installed: {HOW_TO_RUN}"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return f"no Java (pyspark needs Java 17+ on PATH or in JAVA_HOME): {HOW_TO_RUN}"
    return None


def ray_missing():
    """Why the Ray test cannot run here, or None."""
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.data") is None:
        return f"ray[data] is not installed: {HOW_TO_RUN}"
    return None


def engine_marks(marker, reason):
    """pytestmark for an engine's test module ("spark" or "ray"): its marker,
    and a skip saying `reason` when the engine is missing -- an error instead
    when JOSE_REQUIRE_ENGINES=1 (.ci/cluster, where a skip would pass
    silently)."""
    import pytest
    if reason is not None and os.environ.get("JOSE_REQUIRE_ENGINES") == "1":
        raise RuntimeError(f"JOSE_REQUIRE_ENGINES=1 but {reason}")
    package = {"spark": "pyspark", "ray": "ray"}[marker]
    return [getattr(pytest.mark, marker),
            pytest.mark.skipif(reason is not None, reason=str(reason)),
            pytest.mark.timeout(600),
            # what the engine warns about its own code ("PySpark does not yet
            # fully support pandas >= 3.0.0", Ray's deprecated settings);
            # warnings about our calls are attributed to our modules
            pytest.mark.filterwarnings(f"ignore::Warning:{package}")]


def jose_origin() -> str:
    """The directory of the jose package this process imports."""
    import jose
    return str(Path(jose.__file__).resolve().parent)


@contextlib.contextmanager
def worker_environment(directory):
    """What the engines' worker processes inherit while they are started: this
    interpreter, PYTHONPATH leading to the jose this process imports (an
    in-place build or the installed one), and `directory` as the working
    directory -- not the repository root, whose uncompiled jose/ would come
    first on a worker's sys.path."""
    saved_env = {k: os.environ.get(k) for k in ("PYTHONPATH", "PYSPARK_PYTHON",
                                                 "PYSPARK_DRIVER_PYTHON")}
    saved_cwd = os.getcwd()
    home = str(Path(jose_origin()).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [home] + [p for p in (saved_env["PYTHONPATH"] or "").split(os.pathsep) if p])
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def where_am_i():
    """A function returning (pid, directory of the jose imported) of the
    process that calls it. Made here, not at a module's top level, so that
    the engines pickle it by value (their workers cannot import tests/)."""
    def where(_=None):
        import os
        from pathlib import Path

        import jose
        return os.getpid(), str(Path(jose.__file__).resolve().parent)
    return where
