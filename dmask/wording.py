"""How counts are worded for a person: one home, so every summary line agrees."""

from __future__ import annotations


def count(number: int, noun: str) -> str:
    """`1 frame`, `12 frames`, `0 files`: the noun in the singular for exactly one."""
    return f"{number} {noun}" + ("" if number == 1 else "s")


def one_line(text: str) -> str:
    """text as one line: a line break in it (a file may be named with one) is shown escaped, as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
