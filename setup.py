"""Build the Cython extensions.

Directives are set explicitly; OpenMP is used when the compiler has it and the
build continues single-threaded (with a warning) when it does not.

Environment switches:
  JOSE_DEBUG=1     bounds checks on, -O0 -g: for chasing a crash.
  JOSE_PORTABLE=1  no -march=native: for wheels that run on other CPUs.
"""
import os
import subprocess
import sysconfig
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("JOSE_DEBUG") == "1"
PORTABLE = os.environ.get("JOSE_PORTABLE") == "1"


def compiler_accepts(flags, lang="c"):
    """Whether the C compiler that builds extensions compiles and links `flags`."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    if lang == "c++":
        cc = (sysconfig.get_config_var("CXX") or "c++").split()
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 0;}\n" \
        if "-fopenmp" in flags else "int main(void){return 0;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c" if lang == "c" else "probe.cpp")
        with open(path, "w") as f:
            f.write(src)
        try:
            res = subprocess.run(cc + flags + [path, "-o", os.path.join(tmp, "probe")],
                                 capture_output=True)
        except OSError:
            return False
        return res.returncode == 0


def compile_flags():
    if DEBUG:
        return ["-O0", "-g"], []
    flags = ["-O3", "-fno-math-errno", "-fno-trapping-math",
             # Let gcc vectorise float reductions (dot products). The order of
             # additions is then fixed by the compiler, so results stay
             # reproducible for a given build.
             "-fassociative-math", "-fno-signed-zeros"]
    if not PORTABLE and compiler_accepts(["-march=native"]):
        flags.append("-march=native")
    return flags, []


def openmp_flags():
    if compiler_accepts(["-fopenmp"]):
        return ["-fopenmp"], ["-fopenmp"]
    warnings.warn("the C compiler has no OpenMP: jose builds single-threaded "
                  "(workers > 1 will run on one core)")
    return [], []


cflags, lflags = compile_flags()
omp_c, omp_l = openmp_flags()
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

extensions = [
    Extension("jose._core", ["jose/_core.pyx"], include_dirs=[np.get_include()],
              extra_compile_args=cflags + omp_c, extra_link_args=lflags + omp_l,
              define_macros=macros),
    Extension("jose._text", ["jose/_text.pyx"], language="c++",
              include_dirs=[np.get_include(), "jose"], depends=["jose/_unicode.h",
                                                                "jose/_unicode_tables.h"],
              extra_compile_args=cflags + ["-std=c++17"], define_macros=macros),
]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
}

setup(ext_modules=cythonize(extensions, compiler_directives=directives, force=True))
