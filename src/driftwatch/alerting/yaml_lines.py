"""YAML loading that remembers line numbers, so validation errors can point at the line to fix."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from driftwatch.yaml_keys import DuplicateKeyError

__all__ = ["DuplicateKeyError", "LineList", "LineMap", "error_line", "line_of", "load_yaml_with_lines"]


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
