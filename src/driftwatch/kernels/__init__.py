"""numba kernels: arrays in, arrays (or scalars) out; no I/O, no raising, no validation.

The checked public API lives in :mod:`driftwatch.stats`; call kernels directly only with inputs already
validated there (contiguous float64, sorted where a kernel says so).

Compiled kernels are cached on disk (`cache=True`) next to this package. Where that folder is read-only (a
system install, a container image built by another user), the cache goes to `$XDG_CACHE_HOME/driftwatch/numba`
(default `~/.cache/driftwatch/numba`) instead, unless `NUMBA_CACHE_DIR` is already set. numba reads that
variable once, when it is first imported, which is why this is decided here, before any kernel module imports
numba.

Types: numba ships type information, and ``numba.njit(**NJIT_OPTIONS)`` (a TypedDict, see ``_options``) types
each kernel as a ``Dispatcher`` over its Python signature, so mypy checks every call against the kernel's
annotations and the result has the annotated type. Hence arrays are annotated with their dtype
(``NDArray[np.float64]`` in, ``NDArray[np.int64]`` counts out), never a bare ``np.ndarray``, which would let any
array through. mypy also checks the bodies: numpy's stubs type an array element (``a[i]``) as ``Any``, so a
kernel returning one converts it with ``float(...)`` (a no-op under numba) instead of returning ``Any``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def numba_cache_dir(
    package_dir: Path, env: Mapping[str, str], writable: Callable[[Path], bool] = _writable
) -> str | None:
    """The cache folder to set, or None to leave numba's default (beside the package) or the user's choice."""
    if env.get("NUMBA_CACHE_DIR") or writable(package_dir):
        return None
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "driftwatch" / "numba")


_cache = numba_cache_dir(Path(__file__).parent, os.environ)
if _cache is not None:
    os.environ["NUMBA_CACHE_DIR"] = _cache
