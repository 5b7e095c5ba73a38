"""The identity of a reference file as driftwatch last read it: a short hash of its path, size and mtime with the
settings that shape what is derived from it.

A stored reference profile (drift) and a stored reference performance (labels) are reused while this identity
is unchanged and rebuilt when the file or one of those settings changes; one definition keeps the two in step.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

from driftwatch.errors import SourceError


def reference_identity(path: str, settings: Mapping[str, object]) -> str:
    """16 hex digits of SHA-256 over ``settings`` plus the file's ``path``, ``size`` and ``mtime_ns`` (sorted
    JSON, so the same inputs always give the same id). Raises SourceError when the file cannot be read."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise SourceError(path, f"reference file cannot be read: {exc.strerror}") from None
    key = {**settings, "path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
