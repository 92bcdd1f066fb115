"""The training kernel, in the build that suits this CPU.

The kernel's source is jose/_core.pyx. The package builds it three times on
x86-64: `_core_generic` for any CPU of the architecture, `_core_avx2` with
AVX2 and FMA (about 10-15% faster, benchmarks/results/ab.md), and
`_core_avx512` for 512-bit vectors (another 6% at 100-d and 25% at 300-d on
an AMD Zen 5, benchmarks/results/speed_round3.md). The generic build, safe
everywhere, is imported first and asks the CPU which it may run; a wheel built
here therefore runs on other machines, fast where they allow.
`JOSE_KERNEL=generic` or `JOSE_KERNEL=avx2` caps the choice at that build (on
CPUs that slow down under 512-bit instructions, for example).
"""
import os as _os

from . import _core_generic as _kernel

#: the builds, narrowest first, with the test of whether this CPU runs each
_BUILDS = [("generic", lambda: True), ("avx2", _kernel.cpu_has_avx2_fma),
           ("avx512", _kernel.cpu_has_avx512)]


def _choose():
    cap = _os.environ.get("JOSE_KERNEL", "") or "avx512"
    names = [name for name, _ in _BUILDS]
    if cap not in names:
        raise ValueError(f"environment variable JOSE_KERNEL={cap!r}: expected one of "
                         f"{', '.join(names)}")
    chosen = _kernel
    for name, runs_here in _BUILDS[1:names.index(cap) + 1]:
        if not runs_here():
            break
        try:
            chosen = __import__(f"jose._core_{name}", fromlist=["_"])
        except ImportError:      # not built here (another architecture or compiler)
            break
    return chosen


_kernel = _choose()

#: the compiled module in use: "jose._core_generic", "jose._core_avx2" or "jose._core_avx512"
BUILD = _kernel.__name__

globals().update({name: getattr(_kernel, name) for name in dir(_kernel)
                  if not name.startswith("__")})
