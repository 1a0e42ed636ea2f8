"""DICOM value-representation rules (PS3.5 6.2) for values a user types into the config or CLI.

Checked when the config is read, so a wrong AE title or UID is one
`file:line key.path: problem` line before anything is recorded. Each returns
what is wrong with a value, or None.
"""

from __future__ import annotations

import re

_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_UID_MAX = 64
_AE_MAX = 16
_LO_MAX = 64
_SH_MAX = 16


def uid_problem(value: str) -> str | None:
    """An empty string (none given) or a UID: dot-separated numbers without leading zeros, at most 64 characters."""
    if value == "":
        return None
    if len(value) > _UID_MAX:
        return f"a UID has at most {_UID_MAX} characters; got {len(value)}"
    if not _UID.fullmatch(value):
        return f"{value!r} is not a UID (numbers separated by dots, no leading zeros, like 1.2.826.0.1.3680043.10.1)"
    return None


def uid_root_problem(value: str) -> str | None:
    """A UID root leaves room for the 2 + 39 digits of a generated suffix."""
    problem = uid_problem(value)
    if problem or value == "":
        return problem
    if len(value) > _UID_MAX - 41:
        return f"a UID root has at most {_UID_MAX - 41} characters, to leave room for generated suffixes; got {len(value)}"
    return None


def ae_problem(value: str) -> str | None:
    """An application entity title: 1 to 16 printable ASCII characters, no backslash, not only spaces."""
    if not value.strip():
        return "an AE title must not be empty"
    if len(value) > _AE_MAX or not value.isascii() or not value.isprintable() or "\\" in value:
        return f"an AE title is 1 to {_AE_MAX} printable ASCII characters without a backslash; got {value!r}"
    return None


def long_string_problem(value: str) -> str | None:
    """A DICOM LO value: at most 64 characters, no backslash or control characters."""
    return _text_problem(value, _LO_MAX)


def short_string_problem(value: str) -> str | None:
    """A DICOM SH value (an accession number): at most 16 characters."""
    return _text_problem(value, _SH_MAX)


def _text_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"at most {limit} characters; got {len(value)}"
    if "\\" in value or not value.isprintable():
        return f"{value!r} holds a backslash or a control character"
    return None
