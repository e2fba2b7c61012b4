"""Postcode -> branch: which branch a member belongs to when the export does not say.

The table is `postcodes.yaml` beside the plan file (the bundled one is
config/postcodes.yaml):

    postcodes:
      - {from: "5003", to: "5020", branch: sentrum}   # a range, both ends included
      - {code: "5021", branch: nord}                     # one code; wins over any range

Looking a code up tries the single codes first, then the ranges. Checked when the
table is read, every mistake reported with file and line (like the plan files):

- each entry is either `code` + `branch` or `from` + `to` + `branch`, nothing else;
- a postcode is four digits, best written in quotes ("5003");
- `from` is not after `to`;
- two ranges must not overlap (which one would win?), a single code not appear twice;
- `branch` is the id of one of the organisation's branch bodies (kind `branch` or
  `student_branch` in organisation.yaml).

`assign` decides a member's branch: an explicit branch in the export wins; otherwise
the postcode's; otherwise none, with the reason a board member can act on. No I/O
here except `load_postcodes`, which reads the file (as domain/load.py reads the plan).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from .errors import WHAT, PlanError, Problem, nearest
from .i18n import Msg
from .yamlsource import Located, Path_, load_yaml

TABLE_NAME = "postcodes.yaml"


class PostcodeTableError(PlanError):
    """The postcode table is wrong; `problems` names file, line and field of each mistake."""


@dataclass(frozen=True)
class Entry:
    """One line of the table: a range (first..last, inclusive) or a single code (first == last)."""

    first: int
    last: int
    branch: str
    single: bool
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.first:04d}" if self.single else f"{self.first:04d}–{self.last:04d}"


@dataclass(frozen=True)
class PostcodeTable:
    """A validated table. `lookup("5131") -> "nord"`, or None when the code is not in it."""

    entries: tuple[Entry, ...]
    file: Path | None = None
    _codes: dict[int, str] = field(default_factory=dict, repr=False, compare=False)
    _starts: list[int] = field(default_factory=list, repr=False, compare=False)
    _ranges: list[Entry] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        ranges = sorted((e for e in self.entries if not e.single), key=lambda e: e.first)
        self._ranges.extend(ranges)
        self._starts.extend(e.first for e in ranges)
        self._codes.update({e.first: e.branch for e in self.entries if e.single})

    def lookup(self, postcode: str | None) -> str | None:
        if not postcode or len(postcode) != 4 or not postcode.isdigit():
            return None
        code = int(postcode)
        if code in self._codes:
            return self._codes[code]
        i = bisect.bisect_right(self._starts, code) - 1
        if i >= 0 and self._ranges[i].first <= code <= self._ranges[i].last:
            return self._ranges[i].branch
        return None


def parse_table(src: Located, branches: Collection[str]) -> PostcodeTable:
    """The table in a parsed YAML document, checked against the organisation's branch ids."""
    problems: list[Problem] = []
    data = src.data
    if not isinstance(data, dict) or "postcodes" not in data:
        raise PostcodeTableError([Problem(src.file, src.line_of(()), None, Msg("the list `postcodes:` is missing"),
                                          Msg("write `postcodes:` and below it lines like {example}",
                                              example='`- {from: "5003", to: "5020", branch: central}`'))])
    for key in data:
        if key != "postcodes":
            problems.append(Problem(src.file, src.line_of((key,)), str(key), Msg("unknown key {name!r}", name=key),
                                    Msg("only `postcodes:` is allowed at the top level")))
    items = data["postcodes"] or []
    if not isinstance(items, list):
        raise PostcodeTableError([Problem(src.file, src.line_of(("postcodes",)), "postcodes",
                                          Msg("should be a list"), Msg("each line begins with `- `"))])
    entries: list[Entry] = []
    for i, item in enumerate(items):
        entry = _entry(src, i, item, branches, problems)
        if entry is not None:
            entries.append(entry)
    problems.extend(_overlaps(src, entries))
    if problems:
        raise PostcodeTableError(problems)
    return PostcodeTable(tuple(entries), src.file)


def load_postcodes(path: Path, branches: Collection[str]) -> PostcodeTable | None:
    """Read and check the table at `path`; None when there is no such file."""
    if not path.exists():
        return None
    return parse_table(load_yaml(path), branches)


def _entry(src: Located, i: int, item: Any, branches: Collection[str], problems: list[Problem]) -> Entry | None:
    at = ("postcodes", i)
    line = src.line_of(at)
    where = f"postcodes[{i}]"
    if not isinstance(item, dict):
        problems.append(Problem(src.file, line, where, Msg("should be a mapping of keys"),
                                Msg("write {one} or {range}", one='`- {code: "5131", branch: north}`',
                                    range='`- {from: "5003", to: "5020", branch: central}`')))
        return None
    keys = set(item)
    unknown = keys - {"code", "from", "to", "branch"}
    for key in sorted(unknown, key=str):
        close = nearest(str(key), ["code", "from", "to", "branch"], n=1)
        problems.append(Problem(src.file, src.line_of(at + (key,)), f"{where}.{key}",
                                Msg("unknown key {name!r}", name=key),
                                Msg("did you mean {name!r}?", name=close[0]) if close else
                                Msg("the keys allowed here: {keys}", keys="code, from, to, branch")))
    if unknown:
        return None
    branch = item.get("branch")
    known: str | None = None  # the branch, once it is one of organisation.yaml's
    if branch is None:
        problems.append(Problem(src.file, line, f"{where}.branch", Msg("required key {name!r} is missing",
                                                                        name="branch"),
                                Msg("the id of a branch (a body of kind branch) in organisation.yaml")))
    elif branch not in branches:
        close = nearest(str(branch), branches)
        problems.append(Problem(src.file, src.line_of(at + ("branch",)), f"{where}.branch",
                                Msg("unknown {what} {name!r}", what=Msg(WHAT["branch"]), name=branch),
                                Msg("did you mean {names}?", names=", ".join(close)) if close else
                                Msg("known: {names}", names=", ".join(sorted(branches)))))
    else:
        known = branch
    if "code" in keys and keys & {"from", "to"}:
        problems.append(Problem(src.file, line, where, Msg("has both `code` and `from`/`to`"),
                                Msg("a line is either one postcode or a range")))
        return None
    if "code" in keys:
        code = _code(src, at + ("code",), f"{where}.code", item["code"], problems)
        if code is None or known is None:
            return None
        return Entry(code, code, known, True, line)
    if not {"from", "to"} <= keys:
        missing = Msg("required key {name!r} is missing", name="to") if "from" in keys else \
            Msg("required key {name!r} is missing", name="from") if "to" in keys else \
            Msg("give `code`, or `from` and `to`")
        problems.append(Problem(src.file, line, where, missing,
                                Msg('a range needs both `from` and `to`; one postcode is written `code: "5131"`')))
        return None
    first = _code(src, at + ("from",), f"{where}.from", item["from"], problems)
    last = _code(src, at + ("to",), f"{where}.to", item["to"], problems)
    if first is None or last is None or known is None:
        return None
    if first > last:
        problems.append(Problem(src.file, line, where, Msg("{first} comes after {last}", first=f"{first:04d}",
                                                           last=f"{last:04d}"),
                                Msg("swap `from` and `to`")))
        return None
    return Entry(first, last, known, False, line)


def _code(src: Located, path: Path_, where: str, value: Any, problems: list[Problem]) -> int | None:
    """A four-digit postcode. An unquoted 5003 is read by YAML as a number; that is fine,
    but 0150 would not survive (YAML 1.1 reads it as octal), hence the quotes in the hint."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and 1000 <= value <= 9999:
        return value
    if isinstance(value, str) and len(value) == 4 and value.isdigit():
        return int(value)
    problems.append(Problem(src.file, src.line_of(path), where, Msg("{value!r} is not a postcode", value=value),
                            Msg('a postcode is four digits in quotes, like "5003"')))
    return None


def _overlaps(src: Located, entries: list[Entry]) -> list[Problem]:
    problems = []
    ranges = sorted((e for e in entries if not e.single), key=lambda e: (e.first, e.last))
    widest: Entry | None = None  # the range reaching furthest so far
    for entry in ranges:
        if widest is not None and entry.first <= widest.last:
            problems.append(Problem(src.file, entry.line, None,
                                    Msg("the range {range} ({branch}) overlaps {other} ({other_branch}) on line "
                                        "{line}", range=str(entry), branch=entry.branch, other=str(widest),
                                        other_branch=widest.branch, line=widest.line),
                                    Msg("adjust the limits; use `code:` for single postcodes that belong to "
                                        "another branch")))
        if widest is None or entry.last > widest.last:
            widest = entry
    seen: dict[int, Entry] = {}
    for entry in (e for e in entries if e.single):
        if entry.first in seen:
            problems.append(Problem(src.file, entry.line, None,
                                    Msg("postcode {code} is also on line {line}", code=str(entry),
                                        line=seen[entry.first].line),
                                    Msg("keep one of the lines")))
        else:
            seen[entry.first] = entry
    return problems


# --- assignment ----------------------------------------------------------------------

# Why a member has no branch: a Msg, said in the reader's language (str() is English).
NO_POSTCODE = Msg("no postcode")
NO_TABLE = Msg("no postcode table ({file} beside the plan file)", file=TABLE_NAME)
FORGOTTEN = Msg("forgotten (personal data deleted)")


def not_in_table(postcode: str) -> Msg:
    return Msg("postcode {postcode} is not in the table", postcode=postcode)


@dataclass(frozen=True)
class Assignment:
    """A member's branch and where it came from (`export` or `postcode`), or why there is none."""

    branch: str | None
    source: str | None
    reason: str | None = None


def assign(explicit: str | None, postcode: str | None, table: PostcodeTable | None) -> Assignment:
    """The export's own branch wins; else the postcode's; else none, with the reason."""
    if explicit:
        return Assignment(explicit, "export")
    if not postcode:
        return Assignment(None, None, NO_POSTCODE)
    if table is None:
        return Assignment(None, None, NO_TABLE)
    branch = table.lookup(postcode)
    if branch is None:
        return Assignment(None, None, not_in_table(postcode))
    return Assignment(branch, "postcode")
