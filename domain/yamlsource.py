"""Reading YAML while remembering where every value came from.

PyYAML's safe loader loses line numbers and silently keeps the last of two equal keys.
Here a document is composed into nodes first, then turned into plain Python values while
a table maps each value's path (a tuple of keys and indexes) to its 1-based line. Two
problems the YAML spec leaves to the reader are errors here: duplicate keys, and
timestamps (dates stay strings so that pydantic, not the YAML library, parses them and
reports an impossible date like 2025-02-30 with its place).

The reading is bounded, since a plan file may come from anyone who can edit it:
anchors and aliases (`&name`, `*name`, `<<: *name`) are refused where they stand (a
"billion laughs" alias bomb took 8.5 GB in a minute, a self-referencing alias ended
in a RecursionError), as are values nested deeper than MAX_DEPTH and files larger than
MAX_BYTES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import PlanError, Problem
from .i18n import Msg

Path_ = tuple[str | int, ...]


MAX_DEPTH = 32  # a plan nests about eight levels deep
MAX_BYTES = 16 * 1024 * 1024  # the bundled plan is 40 kB; a 5,000-measure plan about 1.5 MB
_ALIAS_HINT = Msg("aarshjul does not read YAML anchors (&) and aliases (*, also in `<<: *name`); "
                  "write the value out in full where it is used")


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that aarshjul does not read; `problem` says what, `hint` what to do."""

    problem: Msg  # always given, unlike a MarkedYAMLError's

    def __init__(self, problem: Msg, event: yaml.Event, hint: Msg):
        # types-PyYAML's MarkedYAMLError takes only yaml.error.Mark, though an event's mark
        # may also be libyaml's yaml._yaml.Mark (which the C parser does pass to it)
        super().__init__(problem=problem, problem_mark=event.start_mark)  # type: ignore[arg-type]
        self.hint = hint


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type (dates stay strings), and
    without anchors and aliases, and at most MAX_DEPTH levels deep."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # types-PyYAML leaves Parser.peek_event unannotated
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(Msg("an alias (*{name}) is not allowed", name=event.anchor), event, _ALIAS_HINT)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise _Refused(Msg("an anchor (&{name}) is not allowed", name=event.anchor), event, _ALIAS_HINT)
        if self._depth >= MAX_DEPTH:
            raise _Refused(Msg("values are nested more than {n} levels deep", n=MAX_DEPTH), event,
                           Msg("a plan file needs far fewer levels; check the brackets and indentation here"))
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Located:
    """A parsed YAML document and the line of each value in it."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # How each unquoted number was written: YAML reads `number: 2.10` as the float 2.1,
    # and a check that sees only 2.1 cannot tell the writer to quote it.
    written: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the value at `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def load_yaml(file: Path) -> Located:
    """Parse `file`; raise PlanError naming the line on bad YAML, duplicate keys,
    anchors and aliases, or too deep nesting."""
    try:
        if file.stat().st_size > MAX_BYTES:
            raise PlanError([Problem(file, None, None, Msg("the file is larger than {n} MB", n=MAX_BYTES // 2**20),
                                     Msg("a plan file is a few hundred kilobytes at most; is this the right file?"))])
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([Problem(file, None, None, Msg("file not found"),
                                 Msg("check the path, or set AARSHJUL_PLAN"))]) from None
    except UnicodeDecodeError as exc:
        raise PlanError([Problem(file, None, None, Msg("not UTF-8 text ({reason})", reason=exc.reason),
                                 Msg("save the file as UTF-8"))]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PlanError([Problem(file, line, None, exc.problem, exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PlanError([Problem(file, line, None, Msg("invalid YAML: {problem}", problem=str(exc.problem or exc)),
                                 Msg("check indentation, colons and quotes on this line"))]) from None
    finally:
        loader.dispose()
    located = Located(file, None)
    problems: list[Problem] = []
    if node is None:
        located.data = {}
        return located
    located.data = _build(node, (), located, problems, loader)
    if problems:
        raise PlanError(problems)
    return located


def _build(node: yaml.Node, path: Path_, out: Located, problems: list[Problem], loader: _Loader) -> Any:
    out.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int)):
                problems.append(Problem(out.file, line, _dotted(path), Msg("a key must be text, not {key!r}", key=key)))
                continue
            if key in seen:
                problems.append(Problem(out.file, line, _dotted(path + (key,)),
                                        Msg("duplicate key {key!r} (first on line {line})", key=key, line=seen[key]),
                                        Msg("remove or rename one of them; YAML would silently keep only the last")))
                continue
            seen[key] = line
            result[key] = _build(value_node, path + (key,), out, problems, loader)
            out.lines[path + (key,)] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), out, problems, loader) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(node, yaml.ScalarNode):
        out.written[path] = node.value
    return value


def _dotted(path: Path_) -> str:
    """goals, 0, measures, 3 -> goals[0].measures[3]"""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


dotted = _dotted
