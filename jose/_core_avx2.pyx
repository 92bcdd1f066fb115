# cython: language_level=3
# The training kernel (jose/_core.pyx) compiled with AVX2 and FMA (x86-64);
# jose/_core.py imports it only on CPUs that have both.
include "_core.pyx"
