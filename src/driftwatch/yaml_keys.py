"""YAML loading that refuses a key written twice in one mapping.

PyYAML keeps the last of two equal keys without a word, so a second `window:` under a monitor (or a second
`server:` section) silently replaces the first. Every config loader (driftwatch.yml, rule files, rule tests)
loads through here or through `alerting.yaml_lines`, which raises the same `DuplicateKeyError`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node


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
