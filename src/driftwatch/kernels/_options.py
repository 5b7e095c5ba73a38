"""numba options shared by every kernel, kept in one place so they change together.

- ``cache``: the first compile of a kernel costs seconds; the on-disk cache makes later processes start in
  a fraction of that (set ``NUMBA_CACHE_DIR`` when the package folder is read-only).
- ``nogil``: the pipeline runs features on threads; kernels release the GIL so they overlap.
- ``error_model="numpy"``: kernels never raise (the checked wrappers in ``driftwatch.stats`` validate), so
  division by zero needs no Python-exception check inside hot loops.

``fastmath`` is deliberately absent: the KS statistic and p-value must match scipy bit for bit, which
forbids reassociation and fused multiply-add contraction.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict


class NjitOptions(TypedDict):
    """The keyword types ``numba.njit`` declares, so ``njit(**NJIT_OPTIONS)`` type-checks (mypy --strict)."""

    cache: bool
    nogil: bool
    error_model: Literal["python", "numpy"]


NJIT_OPTIONS: Final[NjitOptions] = {"cache": True, "nogil": True, "error_model": "numpy"}
