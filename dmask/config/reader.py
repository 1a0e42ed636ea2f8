"""The strict YAML reader behind dmask.config.load_config.

It builds the config tree's frozen dataclasses from YAML nodes, driven only by
their fields: unknown keys are refused, types are checked (an integer is
accepted where a number is expected, nothing else is converted), numbers must
be finite and within the field's `setting` bounds. Each problem is one line
`FILE:LINE key.path: problem` with the line it was written on; the reader
notes it, leaves that key at its default and reads on, so `dmask config check`
can list every mistake in a file at once (dmask.errors.ConfigProblems).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import typing
from pathlib import Path
from typing import Any

import yaml


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_PLURAL_TYPE_NAMES = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


class _Rejected(Exception):
    """The value being read has a problem, already noted: its key keeps the default."""


class TreeReader:
    """Builds config dataclasses from YAML nodes, noting every problem (`problems`) as it reads on."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.constructor = yaml.constructor.SafeConstructor()
        self.lines: dict[str, int] = {}
        self.problems: list[str] = []

    def fail(self, node: yaml.Node, key_path: str, problem: str) -> typing.NoReturn:
        self.note(node.start_mark.line + 1, key_path, problem)
        raise _Rejected

    def note(self, line: int, key_path: str, problem: str) -> None:
        self.problems.append(f"{self.file}:{line} {key_path or '(top level)'}: {problem}")

    def note_at(self, key_path: str, problem: str, related: tuple[str, ...] = ()) -> None:
        """At the line the key was written on; else a related key's (the one it was
        checked against), else its section's; line 1 when none was written."""
        candidates = [key_path, *related, *(".".join(key_path.split(".")[:k]) for k in range(key_path.count("."), 0, -1))]
        written = [self.lines[path] for path in candidates if path in self.lines]
        self.note(written[0] if written else 1, key_path, problem)

    def read(self, cls: type, node: yaml.Node) -> Any:
        """The whole tree; what could not be read keeps its default (self.problems says why)."""
        try:
            return self.section(cls, node, "")
        except _Rejected:
            return cls()

    def section(self, cls: type, node: yaml.Node, key_path: str) -> Any:
        if _is_null(node):
            return cls()
        if not isinstance(node, yaml.MappingNode):
            got = self.describe(node, key_path)
            self.fail(node, key_path, f"expected a mapping of settings, got {got}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            try:
                key, child_path = self.key(key_node, key_path, fields, seen)
                values[key] = self.value(hints[key], fields[key].metadata, value_node, child_path)
            except _Rejected:
                continue
        return cls(**values)

    def key(self, node: yaml.Node, key_path: str, fields: dict, seen: set[str]) -> tuple[str, str]:
        """A section's key and its path, if it is one of the section's fields and not written twice."""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, key_path, "keys must be plain names")
        key = node.value
        child_path = f"{key_path}.{key}" if key_path else key
        if key not in fields:
            self.fail(node, child_path, f"unknown key (expected one of: {', '.join(fields)})")
        if key in seen:
            self.fail(node, child_path, "duplicate key")
        seen.add(key)
        self.lines[child_path] = node.start_mark.line + 1
        return key, child_path

    def value(self, kind: Any, rules: typing.Mapping, node: yaml.Node, key_path: str) -> Any:
        if dataclasses.is_dataclass(kind):
            return self.section(kind, node, key_path)
        if typing.get_origin(kind) is tuple:
            return self.sequence(typing.get_args(kind), rules, node, key_path)
        return self.scalar(kind, rules, node, key_path)

    def sequence(
        self, item_kinds: tuple, rules: typing.Mapping, node: yaml.Node, key_path: str
    ) -> tuple:
        """A list of one item type: tuple[T, ...] any length, tuple[T, T, T] exactly 3."""
        kind = item_kinds[0]
        length = None if item_kinds[-1] is Ellipsis else len(item_kinds)
        wanted = f"a list of {f'{length} ' if length else ''}{_PLURAL_TYPE_NAMES[kind]}"
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, key_path, f"expected {wanted}, got {self.describe(node, key_path)}")
        items = node.value
        if length is not None and len(items) != length:
            self.fail(node, key_path, f"expected {wanted}, got {len(items)} items")
        if rules.get("non_empty") and not items:
            self.fail(node, key_path, "must not be empty")
        return tuple(
            self.scalar(kind, rules, item, f"{key_path}[{i}]") for i, item in enumerate(items)
        )

    def scalar(self, kind: type, rules: typing.Mapping, node: yaml.Node, key_path: str) -> Any:
        is_choice = issubclass(kind, enum.Enum)
        wrong_type = f"expected {_TYPE_NAMES[str if is_choice else kind]}, got "
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, key_path, wrong_type + self.describe(node, key_path))
        value = self.construct(node, key_path)
        if not _has_type(value, str if is_choice else kind):
            self.fail(node, key_path, wrong_type + self.describe(node, key_path))
        if is_choice:
            return self.choice(kind, value, node, key_path)
        if kind is float and not math.isfinite(value):
            self.fail(node, key_path, f"must be a finite number; got {node.value}")
        problem = _rule_violation(value, rules) or (rules["check"](value) if "check" in rules else None)
        if problem:
            self.fail(node, key_path, problem)
        return float(value) if kind is float else value

    def choice(self, kind: type[enum.Enum], value: str, node: yaml.Node, key_path: str) -> enum.Enum:
        """The enum member named by value; the choices come from the enum itself."""
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(member.value for member in kind)
            self.fail(node, key_path, f"must be one of {names}; got {value!r}")

    def construct(self, node: yaml.Node, key_path: str) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            self.fail(node, key_path, f"invalid value ({getattr(error, 'problem', error)})")

    def describe(self, node: yaml.Node, key_path: str) -> str:
        """How the user wrote a value, for 'expected X, got Y' messages."""
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        value = self.construct(node, key_path)
        if value is None:
            return "nothing"
        return repr(value) if isinstance(value, str) else node.value


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _has_type(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _rule_violation(value: Any, rules: typing.Mapping) -> str | None:
    """What is wrong with a well-typed value, or None if it is acceptable."""
    ge, gt, le = rules.get("ge"), rules.get("gt"), rules.get("le")
    too_low = (ge is not None and value < ge) or (gt is not None and value <= gt)
    if too_low or (le is not None and value > le):
        return f"must be {_range_text(ge, gt, le)}; got {value}"
    return None


def _range_text(ge: float | None, gt: float | None, le: float | None) -> str:
    if ge is not None and le is not None:
        return f"between {ge} and {le}"
    bounds = [f">= {ge}" if ge is not None else None, f"> {gt}" if gt is not None else None,
              f"<= {le}" if le is not None else None]
    return " and ".join(b for b in bounds if b)
