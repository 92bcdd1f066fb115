# cython: language_level=3
# The training kernel (jose/_core.pyx) compiled for 512-bit vectors (AVX-512,
# x86-64); jose/_core.py imports it only on CPUs that have the instructions.
include "_core.pyx"
