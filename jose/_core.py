"""The training kernel, in the build that suits this CPU.

The kernel's source is jose/_core.pyx. The package builds it twice on x86-64:
`_core_generic` for any CPU of the architecture, and `_core_avx2` with AVX2
and FMA, about 10-15% faster (benchmarks/results/ab.md). The generic build,
safe everywhere, is imported first and asks the CPU which it may run; a wheel
built here therefore runs on other machines, fast where they allow.
`JOSE_KERNEL=generic` forces the generic build.
"""
import os as _os

from . import _core_generic as _kernel

if (_os.environ.get("JOSE_KERNEL", "") != "generic" and _kernel.cpu_has_avx2_fma()):
    try:
        from . import _core_avx2 as _kernel
    except ImportError:          # not built here (another architecture or compiler)
        pass

#: the compiled module in use: "jose._core_generic" or "jose._core_avx2"
BUILD = _kernel.__name__

globals().update({name: getattr(_kernel, name) for name in dir(_kernel)
                  if not name.startswith("__")})
