"""The one path-containment check: does a path, with its symlinks followed, stay inside a folder?

The API serves report files and the report writer writes them; both must refuse `..`, absolute paths that
lead elsewhere and symlinks pointing out of the folder, and both ask this module so the two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path


def inside(root: Path, path: str | Path) -> Path | None:
    """`root / path` resolved (symlinks followed), or None when that leads outside `root` (itself resolved),
    `path` is empty or holds a NUL byte, or it cannot be resolved. `root` itself counts as inside.

    An absolute `path` replaces `root` in the join (pathlib's rule), so it is accepted only when it already
    points inside `root`; a caller that must refuse every absolute path checks that itself."""
    text = str(path)
    if not text or "\x00" in text:
        return None
    try:
        base = root.resolve()
        target = (base / text).resolve()
    except (
        OSError,
        RuntimeError,
        ValueError,
    ):  # a symlink loop, a name too long: not a place we can vouch for
        return None
    return target if target.is_relative_to(base) else None
