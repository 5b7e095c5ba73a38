"""numba kernels: arrays in, arrays (or scalars) out; no I/O, no raising, no validation.

The checked public API lives in :mod:`driftwatch.stats`; call kernels directly only with inputs already
validated there (contiguous float64, sorted where a kernel says so).
"""
