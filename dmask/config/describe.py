"""The config tree as commented YAML: every setting with its value, what it does and what it accepts.

What a setting means is data (`setting(doc=...)`), so `dmask config show`
prints it beside each value, and the installed example systemd/dmask.yaml is
written from it (tools/write_systemd_config.py), never by hand.
"""

from __future__ import annotations

import dataclasses
import enum
import textwrap
from typing import Any

import yaml

from dmask.config.setting import Weaker

WIDTH = 100


def commented_yaml(config: Any, defaults: Any | None = None) -> str:
    """config (a Config) as YAML that load_config reads back, each key under comments saying what it is.

    Where defaults (a Config) is given, a value that differs from its default says so.
    """
    return "\n".join(_section(config, defaults, "")) + "\n"


def _section(section: Any, defaults: Any | None, indent: str) -> list[str]:
    lines = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        default = getattr(defaults, f.name) if defaults is not None else None
        if dataclasses.is_dataclass(value):
            lines += _comment(_first_paragraph(type(value).__doc__), indent)
            lines.append(f"{indent}{f.name}:")
            lines += _section(value, default, indent + "  ")
        else:
            lines += _comment(_meaning(f, value, default, defaults is not None), indent)
            lines.append(f"{indent}{f.name}: {_scalar(value)}")
    return lines


def _meaning(f: dataclasses.Field, value: Any, default: Any, compare: bool) -> str:
    rules = f.metadata
    words = [rules["doc"]]
    accepts = _accepts(rules, value)
    if accepts:
        words.append(accepts)
    if rules.get("weaker"):
        side = "below" if rules["weaker"] is Weaker.BELOW else "above"
        words.append(f"a value {side} the default weakens the identity policy: list it under acknowledge_weaker_privacy")
    if compare and value != default:
        words.append(f"default {_scalar(default)}")
    return "; ".join(words)


def _accepts(rules: dict, value: Any) -> str:
    if isinstance(value, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in type(value))
    low = f"at least {rules['ge']:g}" if "ge" in rules else f"above {rules['gt']:g}" if "gt" in rules else ""
    high = f"at most {rules['le']:g}" if "le" in rules else ""
    return ", ".join(part for part in (low, high) if part)


def _scalar(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, tuple):
        value = [v.value if isinstance(v, enum.Enum) else v for v in value]
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _comment(text: str, indent: str) -> list[str]:
    lines = textwrap.wrap(text, WIDTH - len(indent) - 2, break_on_hyphens=False, break_long_words=False)
    return [f"{indent}# {line}" for line in lines]
