"""Rendering plumbing: the Jinja2 environment, JSON safe to embed in a page, safe file names and paths inside
the reports folder, atomic writes, and the shared plotly bundle.

Everything that reaches a page is user data somewhere (feature names, category values, model versions,
segment values, alert annotations), so autoescaping is on for every template, undefined names fail loudly,
and JSON embedded in a `<script>` element has `<`, `>` and `&` escaped so no value can close the element.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, is_dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from driftwatch.durations import to_naive_utc
from driftwatch.errors import DriftwatchError
from driftwatch.paths import inside

STATIC_DIR = "static"
PLOTLY_FILE = "plotly.min.js"
_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_MAX_SLUG = 80
PAGE_MODE = 0o644


class ReportPathError(DriftwatchError):
    """A report path would fall outside the reports folder (a `../`, an absolute path, a symlink out)."""

    def __init__(self, root: Path, path: str) -> None:
        self.root = str(root)
        self.path = path
        super().__init__(f"{path!r} is not inside the reports folder {self.root}")


@cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescape everywhere (also for templates not named *.html)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("driftwatch.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["script_json"] = script_json
    env.filters["number"] = format_number
    env.filters["utc"] = format_utc
    return env


def render_template(name: str, context: object) -> str:
    """Render a template with a dataclass context: its fields become the template's variables."""
    if not is_dataclass(context) or isinstance(context, type):
        raise TypeError(f"template contexts are dataclass instances, got {type(context).__name__}")
    # Shallow: nested dataclasses stay objects, so templates use attributes and the types stay checked.
    fields = {name: getattr(context, name) for name in context.__dataclass_fields__}
    return environment().get_template(name).render(**fields)


def script_json(value: object) -> markupsafe.Markup:
    """JSON for a `<script type="application/json">` element: no `</script>`, `<!--` or `&...;` can form.

    json.dumps already escapes control characters; `<`, `>` and `&` become \\u003c, \\u003e and \\u0026
    (still the same string once parsed), and U+2028/U+2029 are escaped for old JavaScript parsers.
    """
    text = dumps(value)
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return markupsafe.Markup(text)


def dumps(value: object) -> str:
    """Compact JSON; NaN and infinities (not JSON: JSON.parse rejects them) become null, a gap in a chart."""
    return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _plain(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_number(value: float | int | None, digits: int = 4) -> str:
    """A statistic for a table cell: 4 significant digits, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "—"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def format_utc(value: datetime | None) -> str:
    """'2026-11-01 00:00 UTC' (stored timestamps are naive UTC)."""
    if value is None:
        return "—"
    return to_naive_utc(value).strftime("%Y-%m-%d %H:%M UTC")


# --- names and paths ----------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A file-name-safe form of a user-provided name: letters, digits, `.`, `_`, `=`, `-` only.

    A name that had to change gets a short hash of the original appended, so two different names never share
    a file ("v3/2" and "v3-2" stay apart) and the result never starts with a dot (no `..`, no hidden files).
    """
    cleaned = _SAFE.sub("-", name).strip("-.")[:_MAX_SLUG]
    if cleaned == name and cleaned:
        return cleaned
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}" if cleaned else f"x-{digest}"


def segment_slug(segment: str) -> str:
    """'*' (all rows) is 'all'; a segment 'column=value' always holds a '=', so it cannot collide."""
    return "all" if segment == "*" else slug(segment)


def window_slug(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H%M")


def resolve_inside(root: Path, relative: str | Path) -> Path:
    """`root / relative`, refusing anything that resolves outside `root` (absolute paths, `..`, symlinks)."""
    text = str(relative)
    # Pages are always named relative to the folder, so an absolute name is a mistake even if it points inside.
    target = None if Path(text).is_absolute() else inside(root, text)
    if target is None:
        raise ReportPathError(root, text)
    return target


def relative_url(from_page: str, to_page: str) -> str:
    """A relative link between two pages given as paths inside the reports folder ('a/b.html')."""
    return os.path.relpath(to_page, os.path.dirname(from_page) or ".").replace(os.sep, "/")


def write_atomic(path: Path, text: str) -> None:
    """Write a file so a reader sees either the old or the new page, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600; pages are meant to be read by a web server running as another user too.
        os.chmod(tmp, PAGE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(root: Path, relative: str, text: str) -> Path:
    """Write a page at a path inside the reports folder (resolved safely, written atomically)."""
    path = resolve_inside(root, relative)
    write_atomic(path, text)
    return path


# --- the plotly bundle ------------------------------------------------------------------------------------------


@cache
def plotly_js() -> str:
    """plotly.js as shipped with the Python package, safe to place inside an inline `<script>` element."""
    from plotly.offline import get_plotlyjs

    # `</script` inside the bundle would end an inline element early; `<\/` means the same inside JS strings,
    # regular expressions and comments, which is the only place the bundle holds it.
    return re.sub(r"</(script)", r"<\\/\1", get_plotlyjs(), flags=re.IGNORECASE)


def ensure_static(root: Path) -> Path:
    """Write the shared plotly bundle to `<root>/static/plotly.min.js` once (again when plotly changed)."""
    path = resolve_inside(root, f"{STATIC_DIR}/{PLOTLY_FILE}")
    bundle = plotly_js()
    if not path.is_file() or path.stat().st_size != len(bundle.encode("utf-8")):
        write_atomic(path, bundle)
    return path
