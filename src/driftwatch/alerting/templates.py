"""Annotation templates: compiled and checked at load time, rendered in a sandbox, never fatal at send time.

Rule files come from the repository, but templates are still rendered in Jinja2's `SandboxedEnvironment`
(no attribute access to internals, no unsafe calls) with `StrictUndefined`, so a typo is an error rather than
an empty string. An error at render time must not drop the alert (promise 5): the annotation is replaced by a
plain message carrying the raw labels and the error.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

# The names a template may use; `check_template` rejects any other, with the closest suggestion.
TEMPLATE_VARIABLES: frozenset[str] = frozenset(
    {
        "alertname",
        "value",
        "threshold",
        "recover",
        "baseline",
        "compared_to",
        "samples",
        "labels",
        "monitor",
        "metric",
        "feature",
        "model_version",
        "segment",
        "window_start",
        "window_end",
        "report_url",
        "state",
    }
)

# Longer annotations are cut: a runaway loop in a template must not produce a megabyte message.
MAX_RENDERED_CHARS = 2000

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


@dataclass(frozen=True)
class TemplateProblem:
    line: int  # 1-based line inside the template text
    message: str
    fix: str


def check_template(source: str) -> list[TemplateProblem]:
    """Problems that would make the template fail for every alert: syntax, unknown filters, unknown names."""
    try:
        ast = _ENV.parse(source)
        _compiled(source)
    except TemplateSyntaxError as error:
        return [
            TemplateProblem(error.lineno or 1, f"template does not compile: {error.message}", _syntax_fix())
        ]
    problems = []
    for name in sorted(meta.find_undeclared_variables(ast) - TEMPLATE_VARIABLES):
        close = difflib.get_close_matches(name, sorted(TEMPLATE_VARIABLES), n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        problems.append(
            TemplateProblem(
                1,
                f"template uses unknown variable `{name}`",
                f"{hint}available: {', '.join(sorted(TEMPLATE_VARIABLES))}",
            )
        )
    return problems


def _syntax_fix() -> str:
    return "write Jinja2: {{ value | round(3) }}, {{ labels.feature }}, {% if ... %}...{% endif %}"


@dataclass(frozen=True)
class RenderedAnnotations:
    values: dict[str, str]
    error: str | None = None  # the first render error, when any annotation fell back


def render_annotations(templates: Mapping[str, str], context: Mapping[str, object]) -> RenderedAnnotations:
    """Render every annotation; one that fails becomes `fallback_message(...)` and the error is reported."""
    values: dict[str, str] = {}
    first_error: str | None = None
    for name, source in templates.items():
        try:
            text = _compiled(source).render(**context)
        except Exception as error:  # noqa: BLE001 - any failure must degrade to the plain message
            described = f"annotation {name!r}: {type(error).__name__}: {error}"
            first_error = first_error or described
            text = fallback_message(context, described)
        values[name] = _truncate(text)
    return RenderedAnnotations(values, first_error)


def fallback_message(context: Mapping[str, object], error: str) -> str:
    """The plain text used when a template fails: alert name, value, raw labels and the error."""
    labels = context.get("labels")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) if isinstance(labels, Mapping) else ""
    return (
        f"{context.get('alertname', 'alert')}: {context.get('metric', 'value')}={context.get('value')} "
        f"[labels: {shown}] (template error: {error})"
    )


def _truncate(text: str) -> str:
    if len(text) <= MAX_RENDERED_CHARS:
        return text
    return text[: MAX_RENDERED_CHARS - 1] + "…"
