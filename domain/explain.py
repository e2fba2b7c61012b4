"""pydantic's validation errors in our words: one sentence and a hint per error, by its
kind, said in the language of whoever prints it (pydantic's own English never reaches a
person, except a model validator's message, which is ours: a Msg). Used for every file
aarshjul reads with a model: the plan's files (domain/load.py), targets.yaml
(domain/targets.py) and a calendar proposal checked as a pin (domain/sync.py)."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .errors import nearest
from .i18n import N_, Msg
from .yamlsource import Path_


def _fields_at(annotation: Any, loc: tuple[int | str, ...]) -> list[str] | None:
    """The keys the model at pydantic's error location `loc` allows (None when the
    location leads to no model): a typo's hint is chosen among these, not among every
    key of every file (`organisation.kommune` was asked "did you mean 'count'?")."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if loc:  # a discriminated union names the member by its tag
            for member in members:
                tag = getattr(member, "model_fields", {}).get("kind")
                if tag is not None and get_args(tag.annotation) == (loc[0],):
                    return _fields_at(member, loc[1:])
        found = [f for f in (_fields_at(member, loc) for member in members) if f is not None]
        return found[0] if len(found) == 1 else None
    if not loc:
        return list(annotation.model_fields) if isinstance(annotation, type) and \
            issubclass(annotation, BaseModel) else None
    if origin in (list, tuple) and isinstance(loc[0], int):
        return _fields_at(get_args(annotation)[0], loc[1:])
    if origin is dict:
        return _fields_at(get_args(annotation)[1], loc[1:])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(loc[0], str):
        info = annotation.model_fields.get(loc[0])
        return _fields_at(info.annotation, loc[1:]) if info is not None else None
    return None


def explain(err: ErrorDetails, path: Path_, model_cls: type[BaseModel] | None = None, *,
            allowed: list[str] | None = None, docs: Msg | None = None) -> tuple[str | Msg, str | Msg | None]:
    """pydantic's error in our words, by its type, in the language of whoever prints it
    (pydantic's own text never reaches a person, except a model validator's, which is ours).
    `allowed`: the keys a typo is matched against (else found from `model_cls` at the error's
    place); `docs`: where the file's format is documented (docs/plan-format.md by default)."""
    kind, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    name = path[-1] if path else None
    value = err.get("input")
    shown = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__
    kinds = "deadline, annual, quota, series, on_event, standing"
    if kind == "extra_forbidden":
        if allowed is None:
            allowed = _fields_at(model_cls, tuple(err["loc"][:-1])) if model_cls else None
        close = nearest(str(name), allowed or [], n=1)
        hint = (Msg("did you mean {name!r}?", name=close[0]) if close else
                Msg("the keys allowed here: {keys}", keys=", ".join(allowed)) if allowed else
                docs or Msg("see docs/plan-format.md for the keys allowed here"))
        return Msg("unknown key {name!r}", name=str(name)), hint
    if kind == "missing":
        return Msg("required key {name!r} is missing", name=str(name)), (docs or Msg("see docs/plan-format.md"))
    if kind == "union_tag_invalid":
        return (Msg("{tag!r} is not a valid {what}", tag=str(ctx.get("tag")), what=str(ctx.get("discriminator",
                    "kind")).strip("'")), Msg("kind is one of {kinds}", kinds=ctx.get("expected_tags") or kinds))
    if kind == "union_tag_not_found":
        return Msg("a cadence needs a 'kind'"), Msg("kind is one of {kinds}", kinds=kinds)
    if kind == "literal_error":
        return Msg("{value} is not allowed here", value=shown), Msg("write one of {expected}",
                                                                    expected=str(ctx.get("expected", "")))
    if kind == "string_pattern_mismatch":
        return Msg("{value} has the wrong form", value=shown), _pattern_hint(name)
    if kind.startswith("date") or kind.startswith("datetime"):
        return Msg("{value} is not a date", value=shown), Msg("write a real date as YYYY-MM-DD, in quotes")
    if kind.startswith("time"):
        return Msg("{value} is not a time of day", value=shown), Msg("write a time as HH:MM, in quotes")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return Msg("{value} is not a whole number", value=shown), None
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return Msg("{value} is not a number", value=shown), None
    if kind in ("bool_parsing", "bool_type"):
        return Msg("{value} is not yes or no", value=shown), Msg("write true or false")
    if kind in ("string_type", "string_sub_type"):
        return Msg("{value} should be a text", value=shown), None
    if kind in ("list_type", "tuple_type", "set_type"):
        return Msg("{value} should be a list", value=shown), Msg("write a list: [a, b] or one item a line after -")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return Msg("{value} should be a mapping of keys", value=shown), (docs or Msg("see docs/plan-format.md"))
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        limit = next((str(ctx[k]) for k in ("gt", "ge", "lt", "le") if k in ctx), "")
        words = {"greater_than": N_("{value} must be more than {limit}"),
                 "greater_than_equal": N_("{value} must be at least {limit}"),
                 "less_than": N_("{value} must be less than {limit}"),
                 "less_than_equal": N_("{value} must be at most {limit}")}
        return Msg(words[kind], value=shown, limit=limit), None
    if kind in ("too_short", "too_long"):
        return (Msg("{value} has too few items", value=shown) if kind == "too_short" else
                Msg("{value} has too many items", value=shown)), None
    if kind in ("string_too_short", "string_too_long"):
        return (Msg("{value} is too short", value=shown) if kind == "string_too_short" else
                Msg("{value} is too long", value=shown)), None
    error = ctx.get("error")  # a model.Hinted carries its hint; the message is a validator's own (a Msg)
    if isinstance(error, Exception) and error.args and isinstance(error.args[0], Msg):
        return error.args[0], getattr(error, "hint", None)
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, "), getattr(error, "hint", None)


def _pattern_hint(name: object) -> Msg | None:
    hints = {
        "number": Msg('a measure number is written "1.5", in quotes'),
        "contact": Msg("an e-mail address like styret@example.org"),
        "letter": Msg("a sub-goal letter is one lower-case letter"),
        "subgoal": Msg('a sub-goal is written "1.b", in quotes'),
        "measure": Msg('a measure number is written "1.5", in quotes'),
    }
    return hints.get(str(name), Msg("lower-case letters, digits, - and _ only") if isinstance(name, str) else None)
