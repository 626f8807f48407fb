"""One exception family for siting.

A user's bad input raises :class:`InputError` carrying every :class:`Problem` found in a file,
so the CLI can print them all (``error: <file>: <row or id>: <field>: <what> - <fix>``) and exit
with code 2, and the app can show them as a table. A bug may raise anything else.

Things that are repaired rather than rejected are reported with :class:`SitingWarning` through
:func:`warnings.warn`; the CLI prints them as ``warning: ...`` and the app lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["InputError", "Problem", "SitingWarning", "warn"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's input.

    Parameters
    ----------
    file
        The file name as the user gave it (or a label such as ``"standard profile"``).
    where
        The row or feature id (``"row 12"``, ``"id=C017"``) or ``""`` for the whole file.
    field
        The column or setting concerned, or ``""``.
    what
        What is wrong, naming the bad value.
    fix
        What the user should do.
    """

    file: str
    where: str
    field: str
    what: str
    fix: str

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.where, self.field) if p]
        head = ": ".join(parts)
        body = f"{self.what} - {self.fix}" if self.fix else self.what
        return f"{head}: {body}" if head else body

    def as_dict(self) -> dict[str, str]:
        """The problem as a plain dict (for tables in the app and JSON reports)."""
        return {
            "file": self.file,
            "where": self.where,
            "field": self.field,
            "what": self.what,
            "fix": self.fix,
        }


class InputError(ValueError):
    """A user's input cannot be used; carries every problem found.

    ``str(err)`` is all problems, one per line, in the CLI's format without the ``error:`` prefix.
    """

    def __init__(self, problems: Problem | Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", "", "", problems, "")]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, file: str, where: str, field: str, what: str, fix: str) -> InputError:
        """Shorthand for an error with a single problem."""
        return cls([Problem(file, where, field, what, fix)])


class SitingWarning(UserWarning):
    """Something in the input was repaired or assumed; the result is usable but say so."""


def warn(message: str, *, stacklevel: int = 2) -> None:
    """Emit a :class:`SitingWarning` (the CLI prints ``warning: <message>``)."""
    import warnings

    warnings.warn(message, SitingWarning, stacklevel=stacklevel + 1)
