# cython: language_level=3
# The training kernel (jose/_core.pyx) compiled for any CPU of its
# architecture; jose/_core.py imports it unless a faster build applies.
include "_core.pyx"
