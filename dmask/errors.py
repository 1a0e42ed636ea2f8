"""The exceptions dmask raises for problems a user can fix.

str(error) is the single line the command line shows: it names the problem
(and the file, where there is one) and says what to do about it. Only the CLI
catches these; library code lets them travel.
"""

from __future__ import annotations


def install_hint(extra: str) -> str:
    """The command that installs an optional extra, at the versions the project is tested with."""
    return f"pip install -c constraints.txt -e '.[{extra}]'"


class DmaskError(Exception):
    """Base of every user-facing error; the message is one line."""


class InputError(DmaskError):
    """An input file is missing, unsupported or cannot be decoded."""


class OutputError(DmaskError):
    """An output cannot be planned or written where it was asked to go."""


class ConfigError(DmaskError):
    """A config file cannot be read or does not match the config tree."""


class ConfigProblems(ConfigError):
    """Every problem found in one config file, each a line `FILE:LINE key.path: problem`.

    Shown as the first, with a count of the rest; `dmask config check` lists them all.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        more = len(self.problems) - 1
        super().__init__(self.problems[0] + (f" (and {more} more: dmask config check lists them)" if more else ""))


class ModelError(DmaskError):
    """A model file is missing or cannot be loaded."""


class StageError(DmaskError):
    """A processing stage broke its contract (wrong shape, wrong size)."""


class EvaluationError(DmaskError):
    """An evaluation cannot run: missing extra, unusable data set or models."""


class DeliveryError(DmaskError):
    """The PACS cannot be reached, refuses the association, or refuses an instance."""


class RefusedError(DeliveryError):
    """The PACS refused one instance (its status says why); the others may still be delivered."""
