"""The one exception tree of aarshjul.

    AarshjulError                 anything aarshjul reports to a person
    ├── PlanError                 the plan files are wrong; carries a list of Problems
    └── NotFound                  a key, measure or body that does not exist (with nearest matches)

Library errors (YAML, pydantic, SQLAlchemy) are converted at the boundary into these,
with the place (file, line, field) and a hint a person can act on. The CLI prints them
and exits with status 2.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One mistake in a plan file, located as precisely as we can."""

    file: Path | None
    line: int | None  # 1-based
    field: str | None  # dotted path, e.g. goals[0].measures[3].cadence.count
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        place = str(self.file) if self.file else "<plan>"
        if self.line:
            place += f":{self.line}"
        text = f"{place}: {self.field + ': ' if self.field else ''}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class AarshjulError(Exception):
    """Base of every error aarshjul reports to a person."""


class PlanError(AarshjulError):
    """The plan files are invalid. `problems` lists every mistake found, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(AarshjulError):
    """A name that does not exist; the message suggests the nearest ones."""

    def __init__(self, what: str, name: str, known: Iterable[str]):
        self.name = name
        self.suggestions = nearest(name, known)
        message = f"unknown {what} {name!r}"
        if self.suggestions:
            message += f"; did you mean {', '.join(self.suggestions)}?"
        super().__init__(message)


def nearest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The closest few names to `name`, for 'did you mean' hints."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.5)
