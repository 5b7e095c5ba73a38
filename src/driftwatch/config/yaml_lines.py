"""YAML loading for every config file: a key written twice is an error, and lines are remembered.

PyYAML keeps the last of two equal keys without a word, so a second `window:` under a monitor (or a second
`server:` section) silently replaces the first. Every config loader (driftwatch.yml, rule files, rule tests)
loads through here: `load_yaml_unique_keys` gives plain dicts, `load_yaml_with_lines` gives `LineMap` /
`LineList` that know the line of every key, so validation errors can point at the line to fix. Both raise the
same `DuplicateKeyError`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode


class DuplicateKeyError(yaml.YAMLError):
    """PyYAML keeps the last of two equal keys silently; a rule file must not lose a setting that way."""

    def __init__(self, key: object, line: int, first_line: int) -> None:
        self.key = key
        self.line = line
        self.first_line = first_line
        super().__init__(f"duplicate key {key!r} (first at line {first_line})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that builds plain dicts but refuses a key written twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: Node) -> dict[Any, Any]:
    assert isinstance(node, MappingNode)
    # Checked before merging: a key that overrides one brought in by `<<:` is YAML's documented way to
    # override, not a mistake. Only keys written twice in the same mapping are.
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: construct_mapping reports it with its own message
            continue
        if first is not None:
            raise DuplicateKeyError(key, line, first)
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml_unique_keys(text: str) -> Any:
    """`yaml.safe_load`, except that a key written twice in one mapping raises `DuplicateKeyError` (PyYAML
    would keep the last one and silently drop the first setting)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


class LineMap(dict[Any, Any]):
    """A mapping from YAML with the line of the mapping itself and of each key (1-based)."""

    line: int
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence from YAML with its own line and the line of each item (1-based)."""

    line: int
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: Node) -> LineMap:
    assert isinstance(node, MappingNode)
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result.key_lines:
            raise DuplicateKeyError(key, line, result.key_lines[key])
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LineLoader, node: Node) -> LineList:
    assert isinstance(node, SequenceNode)
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_with_lines(text: str) -> Any:
    """Parse one YAML document; mappings become `LineMap` and sequences `LineList`.

    Raises `yaml.YAMLError` (with a `problem_mark` for syntax errors) or `DuplicateKeyError`.
    """
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass


def line_of(container: object, key: object = None, default: int = 1) -> int:
    """The line of `key` in a `LineMap` / index in a `LineList`, or of the container itself."""
    if isinstance(container, LineMap):
        if key is not None and key in container.key_lines:
            return container.key_lines[key]
        return container.line
    if isinstance(container, LineList):
        if isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return default


def error_line(error: yaml.YAMLError) -> int:
    """The 1-based line a PyYAML error points at (1 when it has none)."""
    if isinstance(error, DuplicateKeyError):
        return error.line
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + 1 if mark is not None else 1
