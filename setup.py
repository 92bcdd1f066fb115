"""Build the Cython extensions.

Directives are set explicitly. OpenMP is probed with the compiler that
builds the extensions (the one `CC`/`CXX` name, as setuptools configured it),
as scikit-learn's `openmp_helpers` does; without it jose builds
single-threaded and says so loudly.

Environment switches:
  JOSE_NATIVE=1     add -march=native: tuned to this CPU, but the build then
                    runs only on CPUs with the same instruction sets (the
                    default is portable, safe to ship as a wheel).
  JOSE_NO_OPENMP=1  build without OpenMP even when the compiler has it.
  JOSE_DEBUG=1      bounds checks on, -O0 -g: for chasing a crash.
"""
import os
import platform
import sys
import tempfile
import textwrap

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("JOSE_DEBUG") == "1"
NATIVE = os.environ.get("JOSE_NATIVE") == "1"
NO_OPENMP = os.environ.get("JOSE_NO_OPENMP") == "1"

OPENMP_PROBE = textwrap.dedent("""\
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+: n)
        n += 1;
        return n < 1;
    }
    """)


def compiler_accepts(compiler, source: str, compile_args, link_args, suffix=".c") -> bool:
    """Whether `compiler` (a setuptools CCompiler) compiles and links `source`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe" + suffix)
        with open(path, "w") as f:
            f.write(source)
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
        try:
            os.dup2(devnull, 2)          # the failed probes' messages are noise
            objects = compiler.compile([path], output_dir=tmp, extra_postargs=compile_args)
            compiler.link_executable(objects, "probe", output_dir=tmp,
                                     extra_postargs=link_args)
        except Exception:
            return False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
        return True


def openmp_flags(compiler):
    """(compile, link) flags that give this compiler OpenMP, or None."""
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        # Apple's clang needs libomp (e.g. from Homebrew) and these spellings
        candidates = [(["-fopenmp"], ["-fopenmp"]),
                      (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for c_args, l_args in candidates:
        if compiler_accepts(compiler, OPENMP_PROBE, c_args, l_args):
            return c_args, l_args
    return None


def optimisation_flags(compiler):
    if compiler.compiler_type == "msvc":
        return ["/O2"] if not DEBUG else ["/Od", "/Zi"]
    if DEBUG:
        return ["-O0", "-g"]
    flags = ["-O3", "-fno-math-errno", "-fno-trapping-math",
             # Let the compiler vectorise float reductions (dot products). The
             # order of additions is then fixed by the build, so results stay
             # reproducible for a given build.
             "-fassociative-math", "-fno-signed-zeros"]
    if NATIVE and compiler_accepts(compiler, "int main(void){return 0;}\n",
                                   ["-march=native"], []):
        flags.append("-march=native")
    return flags


#: Flags of the kernel's x86-64 builds beside the generic one (jose/_core.py
#: picks the widest at import time, among those the CPU has instructions for).
#: gcc and clang prefer 256-bit vectors even where AVX-512 is enabled; the
#: 512-bit build asks for 512 (benchmarks/results/speed_round3.md).
SIMD_FLAGS = {
    "jose._core_avx2": ["-mavx2", "-mfma"],
    "jose._core_avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512vl", "-mavx512bw",
                          "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512"],
}


class BuildExt(build_ext):
    """Choose the flags with the compiler that will build the extensions."""

    def build_extensions(self):
        self.extensions = [e for e in self.extensions if e.name not in SIMD_FLAGS or (
            compiler_is_gcc_like(self.compiler) and is_x86_64()
            and compiler_accepts(self.compiler, "int main(void){return 0;}\n",
                                 SIMD_FLAGS[e.name], []))]
        flags = optimisation_flags(self.compiler)
        omp = None if NO_OPENMP else openmp_flags(self.compiler)
        if omp is None:
            reason = ("JOSE_NO_OPENMP=1" if NO_OPENMP else
                      f"the compiler ({' '.join(self.compiler.compiler_so[:1])}) "
                      f"has no OpenMP")
            bar = "*" * 78
            print(f"\n{bar}\nWARNING: {reason}: jose is built SINGLE-THREADED; "
                  f"workers > 1\nwill run on one core. Install an OpenMP runtime "
                  f"(libgomp / libomp) to\nget threads.\n{bar}\n", file=sys.stderr)
            omp = ([], [])
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            if ext.name.startswith("jose._core_"):
                ext.extra_compile_args += omp[0]
                ext.extra_link_args += omp[1]
            if ext.name in SIMD_FLAGS and not NATIVE:
                ext.extra_compile_args += SIMD_FLAGS[ext.name]
        super().build_extensions()

    def copy_extensions_to_source(self):
        """In-place builds: an old jose/_core.*.so, from before the kernel had
        two builds, would shadow the jose/_core.py that chooses between them."""
        import glob
        for path in glob.glob(os.path.join("jose", "_core.*.so")) + \
                glob.glob(os.path.join("jose", "_core.*.pyd")):
            os.remove(path)
        super().copy_extensions_to_source()


def compiler_is_gcc_like(compiler) -> bool:
    return compiler.compiler_type in ("unix", "mingw32", "cygwin")


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


extensions = [
    # the kernel, jose/_core.pyx, for any CPU, with AVX2 + FMA and with AVX-512 (x86-64)
    Extension("jose._core_generic", ["jose/_core_generic.pyx"]),
    Extension("jose._core_avx2", ["jose/_core_avx2.pyx"]),
    Extension("jose._core_avx512", ["jose/_core_avx512.pyx"]),
    Extension("jose._text", ["jose/_text.pyx"], language="c++",
              include_dirs=["jose"], depends=["jose/_unicode.h", "jose/_unicode_tables.h",
                                                 "jose/_format.h"],
              extra_compile_args=["-std=c++17"] if os.name != "nt" else ["/std:c++17"]),
]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
}

setup(ext_modules=cythonize(extensions, compiler_directives=directives, force=True),
      cmdclass={"build_ext": BuildExt})
