"""Loading alert rule files with strict validation: every problem names the file, the line and the fix.

Files are read from a path, a directory (every `*.yml` / `*.yaml` except rule tests, `*.test.yml`), or a list
of those. Channels may be declared in the rule files (`channels:`) and/or passed in from the main config.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

from driftwatch.alerting.metrics import DRIFT_METRICS, FEATURE_METRICS, KNOWN_METRICS
from driftwatch.alerting.model import (
    COMPARED_KINDS,
    RELATIVE_KINDS,
    Comparison,
    Condition,
    Op,
    Route,
    Rule,
    RuleSet,
    Selector,
    Threshold,
)
from driftwatch.alerting.templates import check_template
from driftwatch.config.channels import ChannelConfig, channel_from_mapping
from driftwatch.config.issues import IssueCollector, RuleError, RuleIssue
from driftwatch.config.yaml_lines import LineList, LineMap, error_line, line_of, load_yaml_with_lines

FILE_KEYS = frozenset({"groups", "channels", "route"})
GROUP_KEYS = frozenset({"name", "rules"})
RULE_KEYS = frozenset(
    {"alert", "select", "condition", "for", "keep_firing_for", "labels", "annotations", "route"}
)
SELECT_KEYS = frozenset({"monitor", "metric", "feature", "segment", "model_version"})
CONDITION_KEYS = frozenset({"op", "threshold", "recover", "min_samples", "min_labels"})
ROUTE_KEYS = frozenset({"channels", "repeat_interval", "send_resolved"})
THRESHOLD_FORMS = frozenset(RELATIVE_KINDS)
# `threshold: {relative_to: {offset: 7d}, change: -0.1}`: the same metric's own past (see evaluation.py).
COMPARED_KEYS = frozenset({"relative_to", *COMPARED_KINDS})
RELATIVE_TO_KEYS = frozenset({"offset", "trailing"})
# Labels every alert carries from its instance; a rule may not redefine them.
RESERVED_LABELS = frozenset({"alertname", "monitor", "model_version", "segment", "feature", "metric"})

_ALERT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULE_SUFFIXES = (".yml", ".yaml")
_TEST_SUFFIXES = (".test.yml", ".test.yaml")
_DEFAULT_ROUTE = Route(channels=())


def rule_files(paths_or_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    """The rule files a path (file or directory) or list of paths stands for, in a stable order."""
    items = [paths_or_dir] if isinstance(paths_or_dir, str | Path) else list(paths_or_dir)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.iterdir())
                if p.is_file() and p.name.endswith(_RULE_SUFFIXES) and not p.name.endswith(_TEST_SUFFIXES)
            )
        else:
            files.append(path)
    return files


def load_rules(
    paths_or_dir: str | Path | Sequence[str | Path],
    known_channels: Mapping[str, ChannelConfig] | None = None,
) -> RuleSet:
    """Load and validate rule files; raises `RuleError` with every problem found."""
    rule_set, issues = _load(rule_files(paths_or_dir), known_channels or {})
    if issues:
        raise RuleError(issues)
    return rule_set


def check_rules(
    path: str | Path | Sequence[str | Path], known_channels: Mapping[str, ChannelConfig] | None = None
) -> list[RuleIssue]:
    """Every problem in the rule files (empty when they are valid): what `driftwatch rules check` prints."""
    return _load(rule_files(path), known_channels or {})[1]


@dataclass
class _ParsedFile:
    collector: IssueCollector
    document: LineMap | None
    default_route: LineMap | None = None
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    # Every name declared, valid or not: a broken declaration is reported once, not again at each use.
    declared: set[str] = field(default_factory=set)


def _load(files: list[Path], known_channels: Mapping[str, ChannelConfig]) -> tuple[RuleSet, list[RuleIssue]]:
    issues: list[RuleIssue] = []
    if not files:
        issues.append(RuleIssue("<rules>", 0, "no rule files found", "add a `*.yml` file to alert_rules/"))
    parsed = [_parse_file(path) for path in files]
    channels = dict(known_channels)
    for item in parsed:
        for name, config in item.channels.items():
            earlier = channels.get(name)
            # Every setting counts (an Alertmanager `url`, e-mail recipients...), not where it was written.
            if earlier is not None and replace(earlier, source="", line=0) != replace(
                config, source="", line=0
            ):
                item.collector.add(
                    config.line,
                    f"channel `{name}` is declared differently in {earlier.source or 'the main config'}",
                    "declare each channel once, or give this one another name",
                )
            channels.setdefault(name, config)
    declared = set(channels).union(*(item.declared for item in parsed))
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for item in parsed:
        for rule in _rules_of(item, declared):
            first = seen.get(rule.name)
            if first is not None:
                item.collector.add(
                    rule.line,
                    f"alert `{rule.name}` is defined twice (first at {first.source}:{first.line})",
                    "give each rule its own `alert` name; its state is kept under that name",
                )
                continue
            seen[rule.name] = rule
            rules.append(rule)
        issues.extend(item.collector.issues)
    return RuleSet(tuple(rules), channels, tuple(str(p) for p in files)), issues


def _parse_file(path: Path) -> _ParsedFile:
    collector = IssueCollector(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        collector.add(0, f"cannot read the file: {error.strerror or error}", "check the path")
        return _ParsedFile(collector, None)
    try:
        document = load_yaml_with_lines(text)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error)
        collector.add(error_line(error), f"not valid YAML: {problem}", "fix the indentation or quoting")
        return _ParsedFile(collector, None)
    if document is None:
        collector.add(1, "the file is empty", "add `groups:` with at least one rule")
        return _ParsedFile(collector, None)
    mapping = collector.mapping(document, 1, "a rule file", "`groups: [...]` at the top level")
    if mapping is None:
        return _ParsedFile(collector, None)
    collector.unknown_keys(mapping, FILE_KEYS, "the rule file")
    parsed = _ParsedFile(collector, mapping)
    if "channels" in mapping:
        declared = collector.mapping(
            mapping["channels"],
            line_of(mapping, "channels"),
            "`channels`",
            "{slack-ml: {type: slack, url_env: X}}",
        )
        for name, value in (declared or {}).items():
            parsed.declared.add(str(name))
            config = channel_from_mapping(name, value, collector, line_of(declared, name))
            if config is not None:
                parsed.channels[config.name] = config
    if "route" in mapping:
        parsed.default_route = collector.mapping(
            mapping["route"], line_of(mapping, "route"), "the default `route`", "{channels: [log]}"
        )
        if parsed.default_route is not None:
            collector.unknown_keys(parsed.default_route, ROUTE_KEYS, "the default `route`")
    if "groups" not in mapping:
        collector.missing(
            mapping, "groups", "the file has no `groups`", "add `groups: [{name: ..., rules: [...]}]`"
        )
    return parsed


def _rules_of(item: _ParsedFile, channels: set[str]) -> list[Rule]:
    collector, document = item.collector, item.document
    if document is None or "groups" not in document:
        return []
    groups = collector.sequence(document["groups"], line_of(document, "groups"), "`groups`", "- name: ...")
    rules: list[Rule] = []
    for index, raw_group in enumerate(groups or []):
        group = collector.mapping(raw_group, line_of(groups, index), "a group", "{name: ..., rules: [...]}")
        if group is None:
            continue
        collector.unknown_keys(group, GROUP_KEYS, "a group")
        name = collector.text(group, "name", "a group") or "?"
        if "rules" not in group:
            collector.missing(
                group, "rules", f"group `{name}` has no `rules`", "add `rules:` with at least one rule"
            )
            continue
        raw_rules = collector.sequence(group["rules"], line_of(group, "rules"), "`rules`", "- alert: ...")
        for rule_index, raw_rule in enumerate(raw_rules or []):
            line = line_of(raw_rules, rule_index)
            rule_map = collector.mapping(
                raw_rule, line, "a rule", "{alert: ..., select: ..., condition: ...}"
            )
            if rule_map is not None:
                rule = _rule(rule_map, name, item, channels)
                if rule is not None:
                    rules.append(rule)
    return rules


def _rule(mapping: LineMap, group: str, item: _ParsedFile, channels: set[str]) -> Rule | None:
    collector = item.collector
    before = len(collector.issues)
    raw_name = mapping.get("alert")
    where = f"rule `{raw_name}`" if isinstance(raw_name, str) else "a rule"
    collector.unknown_keys(mapping, RULE_KEYS, where)
    name = collector.text(mapping, "alert", "a rule")
    if name is not None and not _ALERT_NAME.match(name):
        collector.add(
            line_of(mapping, "alert"), f"alert name {name!r} is not valid", "use letters, digits, _ . : -"
        )
    select = _selector(mapping, where, collector)
    condition = _condition(mapping, where, collector)
    for_windows = 1
    if "for" in mapping:
        for_windows = (
            collector.integer(
                mapping, "for", where, 1, "`for` counts consecutive windows: write a whole number such as 2"
            )
            or 1
        )
    keep_firing_for = 0
    if "keep_firing_for" in mapping:
        keep_firing_for = (
            collector.integer(
                mapping, "keep_firing_for", where, 0, "`keep_firing_for` counts windows: write 0, 1, 2, ..."
            )
            or 0
        )
    labels = _labels(mapping, where, collector)
    annotations = _annotations(mapping, where, collector)
    route = _route(mapping, where, item, channels)
    if select is not None and condition is not None:
        _check_metric_fit(mapping, select, condition, where, collector)
    if len(collector.issues) > before or None in (name, select, condition, route):
        return None
    assert name is not None and select is not None and condition is not None and route is not None
    return Rule(
        name=name,
        group=group,
        select=select,
        condition=condition,
        route=route,
        for_windows=for_windows,
        keep_firing_for=keep_firing_for,
        labels=labels,
        annotations=annotations,
        source=collector.file,
        line=mapping.line,
    )


def _patterns(mapping: LineMap, key: str, where: str, collector: IssueCollector) -> tuple[str, ...] | None:
    value = mapping[key]
    items = list(value) if isinstance(value, LineList) else [value]
    if items and all(isinstance(v, str) and v for v in items):
        return tuple(items)
    collector.add(
        line_of(mapping, key),
        f"`select.{key}` in {where} must be a glob pattern or a list of them, got {value!r}",
        f'write e.g. `{key}: "*"` or `{key}: [a, b]`',
    )
    return None


def _selector(rule: LineMap, where: str, collector: IssueCollector) -> Selector | None:
    if "select" not in rule:
        collector.missing(
            rule, "select", f"{where} has no `select`", "add `select: {monitor: ..., metric: psi}`"
        )
        return None
    mapping = collector.mapping(
        rule["select"], line_of(rule, "select"), "`select`", "{monitor: m, metric: psi}"
    )
    if mapping is None:
        return None
    collector.unknown_keys(mapping, SELECT_KEYS, f"`select` of {where}")
    if "metric" not in mapping:
        collector.missing(mapping, "metric", f"`select` of {where} has no `metric`", "add e.g. `metric: psi`")
        return None
    patterns = {key: _patterns(mapping, key, where, collector) for key in SELECT_KEYS if key in mapping}
    metric = patterns.get("metric")
    if metric is None:
        return None
    for pattern in metric:
        if not any(fnmatchcase(known, pattern) for known in KNOWN_METRICS):
            close = difflib.get_close_matches(pattern, sorted(KNOWN_METRICS), n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            collector.add(
                line_of(mapping, "metric"),
                f"unknown metric `{pattern}` in {where}",
                f"{hint}known metrics: {', '.join(sorted(KNOWN_METRICS))}",
            )
            return None
    return Selector(
        metric=metric,
        monitor=patterns.get("monitor"),
        feature=patterns.get("feature"),
        segment=patterns.get("segment"),
        model_version=patterns.get("model_version"),
    )


def _check_metric_fit(
    rule: LineMap, select: Selector, condition: Condition, where: str, collector: IssueCollector
) -> None:
    metrics = {m for m in KNOWN_METRICS if any(fnmatchcase(m, p) for p in select.metric)}
    select_map = rule["select"]
    if select.feature is not None and not metrics & FEATURE_METRICS:
        collector.add(
            line_of(select_map, "feature"),
            f"{where} selects `feature`, but {', '.join(sorted(metrics))} has no feature (whole-model metric)",
            "remove `feature` from `select`",
        )
    if condition.threshold.kind in RELATIVE_KINDS and metrics & DRIFT_METRICS:
        collector.add(
            line_of(rule["condition"], "threshold"),
            f"{where} uses a {condition.threshold.kind} threshold on a drift metric, which has no baseline",
            "use a number, or select a performance metric such as roc_auc",
        )


def _threshold(
    mapping: LineMap, key: str, op: Op | None, where: str, collector: IssueCollector
) -> Threshold | None:
    value = mapping[key]
    line = line_of(mapping, key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Threshold("absolute", float(value))
    if isinstance(value, LineMap) and "relative_to" in value:
        return _compared_threshold(value, key, line, op, where, collector)
    example = f"`{key}: 0.25` or `{key}: {{reference_drop: 0.05}}`"
    if not isinstance(value, LineMap) or len(value) != 1:
        collector.add(
            line, f"`{key}` in {where} must be a number or a one-key mapping, got {value!r}", example
        )
        return None
    ((kind, amount),) = value.items()
    if kind not in THRESHOLD_FORMS:
        collector.unknown_keys(value, THRESHOLD_FORMS, f"`{key}` of {where}")
        return None
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
        collector.add(line, f"`{key}.{kind}` in {where} must be a number >= 0, got {amount!r}", example)
        return None
    if kind == "relative_drop" and amount >= 1:
        collector.add(
            line, f"`{key}.relative_drop` in {where} is a fraction of the baseline", "write 0.1 for 10 %"
        )
        return None
    if op is not None:
        wants = "drop" if kind.endswith("drop") else "rise"
        allowed = (Op.LT, Op.LE) if wants == "drop" else (Op.GT, Op.GE)
        if op not in allowed:
            collector.add(
                line,
                f"`{kind}` in {where} needs op {' or '.join(o.value for o in allowed)}, not `{op.value}`",
                f"a {wants} is judged with `{allowed[0].value}`",
            )
            return None
    return Threshold(kind, float(amount))


def _compared_threshold(
    value: LineMap, key: str, line: int, op: Op | None, where: str, collector: IssueCollector
) -> Threshold | None:
    """`{relative_to: {offset: 7d}, change: -0.1}` or `{relative_to: {trailing: 28d}, delta: 0.05}`."""
    example = (
        f"`{key}: {{relative_to: {{offset: 7d}}, change: -0.10}}` (down more than 10 % vs a week earlier)"
    )
    before = len(collector.issues)
    collector.unknown_keys(value, COMPARED_KEYS, f"`{key}` of {where}")
    kinds = [k for k in COMPARED_KINDS if k in value]
    if len(kinds) != 1:
        collector.add(
            line, f"`{key}` in {where} needs exactly one of `change` (a fraction) and `delta`", example
        )
        return None
    kind = kinds[0]
    amount = value[kind]
    if not isinstance(amount, int | float) or isinstance(amount, bool) or not math.isfinite(amount):
        collector.add(
            line_of(value, kind), f"`{key}.{kind}` in {where} must be a number, got {amount!r}", example
        )
        return None
    if kind == "change" and amount <= -1:
        collector.add(
            line_of(value, kind),
            f"`{key}.change` in {where} is a fraction of the past value; {amount:g} is a drop of 100 % or more",
            "write -0.10 for down 10 %",
        )
    if op is not None and not op.ordered:
        collector.add(
            line, f"`relative_to` in {where} needs an ordered op (<, <=, >, >=), not `{op.value}`", example
        )
    target = collector.mapping(
        value["relative_to"], line_of(value, "relative_to"), "`relative_to`", "{offset: 7d}"
    )
    comparison = None
    if target is not None:
        collector.unknown_keys(target, RELATIVE_TO_KEYS, f"`{key}.relative_to` of {where}")
        modes = [m for m in ("offset", "trailing") if m in target]
        if len(modes) != 1:
            collector.add(
                target.line,
                f"`{key}.relative_to` in {where} needs exactly one of `offset` and `trailing`",
                "write `{offset: 7d}` (the same window a week earlier) or `{trailing: 7d}` (the mean of the week before)",
            )
        else:
            duration = collector.duration(target, modes[0], f"`{key}.relative_to` of {where}")
            if duration is not None and duration.total_seconds() <= 0:
                collector.add(
                    line_of(target, modes[0]), f"`{modes[0]}` in {where} must be longer than 0", "e.g. 7d"
                )
            elif duration is not None:
                comparison = Comparison(modes[0], duration)  # type: ignore[arg-type]  # one of the two modes
    if len(collector.issues) > before or comparison is None:
        return None
    return Threshold(kind, float(amount), comparison)


def _condition(rule: LineMap, where: str, collector: IssueCollector) -> Condition | None:
    if "condition" not in rule:
        collector.missing(
            rule, "condition", f"{where} has no `condition`", 'add `condition: {op: ">", threshold: 0.25}`'
        )
        return None
    mapping = collector.mapping(
        rule["condition"], line_of(rule, "condition"), "`condition`", '{op: ">", threshold: 0.25}'
    )
    if mapping is None:
        return None
    cwhere = f"`condition` of {where}"
    collector.unknown_keys(mapping, CONDITION_KEYS, cwhere)
    op: Op | None = None
    raw_op = mapping.get("op")
    if raw_op is None:
        collector.missing(mapping, "op", f"{cwhere} has no `op`", 'add `op: ">"` (or >=, <, <=, ==, !=)')
    else:
        try:
            op = Op(raw_op)
        except ValueError:
            collector.add(
                line_of(mapping, "op"),
                f"unknown op {raw_op!r} in {cwhere}",
                'use one of ">", ">=", "<", "<=", "==", "!=" (quoted in YAML)',
            )
    if "threshold" not in mapping:
        collector.missing(mapping, "threshold", f"{cwhere} has no `threshold`", "add `threshold: 0.25`")
        return None
    threshold = _threshold(mapping, "threshold", op, cwhere, collector)
    recover = None
    if "recover" in mapping:
        recover = _threshold(mapping, "recover", op, cwhere, collector)
        if recover is not None and threshold is not None and op is not None:
            _check_recover_side(mapping, op, threshold, recover, cwhere, collector)
    min_samples = None
    if "min_samples" in mapping and "min_labels" in mapping:
        collector.add(
            line_of(mapping, "min_labels"), f"{cwhere} sets both min_samples and min_labels", "keep one"
        )
    for key in ("min_samples", "min_labels"):
        if key in mapping:
            min_samples = collector.integer(mapping, key, cwhere, 0, f"write e.g. `{key}: 500`")
    if op is None or threshold is None:
        return None
    return Condition(op=op, threshold=threshold, recover=recover, min_samples=min_samples)


def _check_recover_side(
    mapping: LineMap, op: Op, threshold: Threshold, recover: Threshold, where: str, collector: IssueCollector
) -> None:
    line = line_of(mapping, "recover")
    if not op.ordered:
        collector.add(
            line, f"`recover` in {where} needs an ordered op", f"remove `recover` (op is `{op.value}`)"
        )
        return
    if recover.kind != threshold.kind or recover.relative_to != threshold.relative_to:
        collector.add(
            line,
            f"`recover` in {where} is {recover.describe()} but `threshold` is {threshold.describe()}",
            "write both in the same form (and, for `relative_to`, against the same past)",
        )
        return
    if threshold.kind in ("absolute", *COMPARED_KINDS):
        # Compared kinds are signed distances from the past value: the same ordering as plain numbers.
        wrong = recover.amount > threshold.amount if op.upward else recover.amount < threshold.amount
        side, example = (
            ("at or below", threshold.amount * 0.5) if op.upward else ("at or above", threshold.amount)
        )
    else:
        # Relative amounts measure distance from the baseline: recovery must be closer to it.
        wrong = recover.amount > threshold.amount
        side, example = "closer to the baseline than", threshold.amount * 0.5
    if wrong:
        collector.add(
            line,
            f"`recover` {recover.amount:g} is on the wrong side of the threshold {threshold.amount:g} in {where}: "
            f"for `{op.value}` alerts recovery must be {side} the threshold",
            f"e.g. `recover: {example:g}` (hysteresis: between the two the alert keeps firing)",
        )


def _labels(rule: LineMap, where: str, collector: IssueCollector) -> dict[str, str]:
    if "labels" not in rule:
        return {}
    mapping = collector.mapping(rule["labels"], line_of(rule, "labels"), "`labels`", "{severity: warning}")
    labels: dict[str, str] = {}
    for key, value in (mapping or {}).items():
        line = line_of(mapping, key)
        if not isinstance(key, str) or not _LABEL_NAME.match(key):
            collector.add(line, f"label name {key!r} in {where} is not valid", "use letters, digits and _")
        elif key in RESERVED_LABELS:
            collector.add(
                line,
                f"label `{key}` in {where} is set by driftwatch from the instance",
                f"remove it or rename it (reserved: {', '.join(sorted(RESERVED_LABELS))})",
            )
        elif isinstance(value, LineMap | LineList) or value is None:
            collector.add(
                line, f"label `{key}` in {where} must be a single value", "write e.g. `severity: warning`"
            )
        else:
            labels[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return labels


def _annotations(rule: LineMap, where: str, collector: IssueCollector) -> dict[str, str]:
    if "annotations" not in rule:
        return {}
    mapping = collector.mapping(
        rule["annotations"], line_of(rule, "annotations"), "`annotations`", '{summary: "PSI {{ value }}"}'
    )
    annotations: dict[str, str] = {}
    for key, value in (mapping or {}).items():
        line = line_of(mapping, key)
        if not isinstance(key, str) or not _LABEL_NAME.match(key):
            collector.add(
                line, f"annotation name {key!r} in {where} is not valid", "use letters, digits and _"
            )
            continue
        if not isinstance(value, str):
            collector.add(line, f"annotation `{key}` in {where} must be a string", "quote the template")
            continue
        for problem in check_template(value):
            # A block scalar (|) starts on the line after its key.
            offset = problem.line if "\n" in value.rstrip("\n") else 0
            collector.add(
                line + offset if offset > 1 else line, f"{problem.message} (annotation `{key}`)", problem.fix
            )
        annotations[key] = value
    return annotations


def _route(rule: LineMap, where: str, item: _ParsedFile, channels: set[str]) -> Route | None:
    collector = item.collector
    default = item.default_route
    own: LineMap | None = None
    if "route" in rule:
        own = collector.mapping(rule["route"], line_of(rule, "route"), "`route`", "{channels: [slack-ml]}")
        if own is None:
            return None
        collector.unknown_keys(own, ROUTE_KEYS, f"`route` of {where}")
    sources = [m for m in (own, default) if m is not None]

    def source_of(key: str) -> LineMap | None:
        return next((m for m in sources if key in m), None)

    route = _DEFAULT_ROUTE
    ok = True
    channel_map = source_of("channels")
    if channel_map is None:
        collector.add(
            line_of(rule, "route") if own is not None else rule.line,
            f"{where} has no channels to notify",
            "add `route: {channels: [name]}` to the rule, or a default `route:` at the top of the file",
        )
        return None
    raw = channel_map["channels"]
    line = line_of(channel_map, "channels")
    names = list(raw) if isinstance(raw, LineList) else None
    if not names or not all(isinstance(n, str) for n in names):
        collector.add(
            line, f"`route.channels` of {where} must be a non-empty list of names", "write [slack-ml]"
        )
        return None
    for name in names:
        if name not in channels:
            close = difflib.get_close_matches(name, sorted(channels), n=1)
            hint = f"did you mean `{close[0]}`? or " if close else ""
            collector.add(
                line,
                f"unknown channel `{name}` in {where}",
                f"{hint}declare it under `channels:` (known: {', '.join(sorted(channels)) or 'none'})",
            )
            ok = False
    repeat = route.repeat_interval
    repeat_map = source_of("repeat_interval")
    if repeat_map is not None:
        if repeat_map["repeat_interval"] is None:
            repeat = None
        else:
            repeat = collector.duration(repeat_map, "repeat_interval", f"the route of {where}")
            ok = ok and repeat is not None
    send_resolved = route.send_resolved
    resolved_map = source_of("send_resolved")
    if resolved_map is not None:
        value = collector.boolean(resolved_map, "send_resolved", f"the route of {where}")
        ok = ok and value is not None
        send_resolved = bool(value)
    if not ok:
        return None
    return Route(channels=tuple(dict.fromkeys(names)), repeat_interval=repeat, send_resolved=send_resolved)
