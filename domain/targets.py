"""Targets (KPIs): the plan's measurable sub-goals, and how far the organisation has come.

The table is `targets.yaml` beside the plan file (the bundled one is config/targets.yaml):

    targets:
      - name: medlemmer                  # slug; `aarshjul kpi record NAME` uses it
        title: Antall medlemmer          # as the report shows it, in the organisation's words
        subgoal: "1.b"                   # the sub-goal it measures ("GOAL.LETTER") ...
        # measure: "1.5"                 # ... or the measure (one of the two)
        kind: relative                   # absolute | relative | share
        source: members                  # members | manual | follow_ups
        metric: members                  # members: members | activists | active_share
        unit: medlemmer                  # shown after the numbers (optional)
        baseline: {date: "2024-01-01"}   # value: the first measurement on or after the date
        targets:
          - {date: "2027-12-31", increase: 200}

Kinds, and what a target point says:

    absolute   `value` at `date`                        250 activists by 8 September 2025
    relative   `increase` (units) or `increase_percent`  +200 members, +25 % income, counted
               from the baseline, reached by `date`     from the baseline's value
    share      `level` (per cent, all the time) and/or  contacted in time: 100 %;
               `rising: true` (above the baseline)      the share of active members rising

Sources, and where the numbers come from (db/kpis.py reads them):

    members     the member counts stored at each import: `members` (active members),
                `activists` (active members marked as activists), `active_share`
                (activists / members)
    follow_ups  the plan's member_joined promise: the share of the year's new members contacted within its
                within_days
                (db/members.contact_rate), one point per year
    manual      values recorded by hand: `aarshjul kpi record NAME VALUE --date D`
                (a share in per cent)

A baseline without a `value` takes the first measurement on or after its date; until
there is one the target line cannot be drawn ("mangler utgangspunkt").

How a year is judged (`progress`), as of the last measurement up to the year's end
(or `today`, if earlier):

- a share with a `level`: reached when the value is at least the level;
- `rising`: rising when the value is above the baseline;
- a target point due in or before the year: reached when the last measurement on or
  before its date is at least its value;
- otherwise, towards the next target point: on track when the value is at least the
  straight line from the baseline to that point at this date (ahead or behind);
  without a baseline, "X of Y".

Checked when the table is read, every mistake with file and line (like the plan files).
Pure apart from `load_targets`, which reads the file (as domain/load.py reads the plan).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from babel.numbers import format_decimal

from . import i18n
from .errors import PlanError, Problem, nearest
from .i18n import N_, Msg, _
from .plan import Plan
from .yamlsource import Located, Path_, dotted, load_yaml

TABLE_NAME = "targets.yaml"

Kind = Literal["absolute", "relative", "share"]
Source = Literal["members", "manual", "follow_ups"]
METRICS = {"members": ("members", "activists", "active_share"), "follow_ups": ("contacted_share",)}
SHARE_METRICS = ("active_share", "contacted_share")


class TargetTableError(PlanError):
    """targets.yaml is wrong; `problems` names file, line and field of each mistake."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)  # docs/schema


class Baseline(_Strict):
    """Where a relative target counts from: a date and, if known, the value then."""

    date: dt.date
    """The baseline's date; without a `value`, the first measurement on or after it."""
    value: float | None = None
    """The value at that date, if known."""


class Point(_Strict):
    """One target point: a value (absolute) or an increase (relative) by a date."""

    date: dt.date
    """The date the point is to be reached by."""
    value: float | None = None
    """absolute: the value to reach."""
    increase: float | None = None
    """relative: the increase over the baseline, in units."""
    increase_percent: float | None = None
    """relative: the increase over the baseline, in per cent."""

    @model_validator(mode="after")
    def _one(self) -> "Point":
        given = [n for n in ("value", "increase", "increase_percent") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(Msg("give exactly one of value, increase, increase_percent"))
        return self


class Target(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
    """The target's id: `aarshjul kpi record NAME VALUE` names it."""
    title: str
    """Its title, as the report shows it."""
    subgoal: Annotated[str, Field(pattern=r"^\d+\.[a-zæøå]$")] | None = None
    """The sub-goal it measures, in quotes: "1.b" (or give `measure`)."""
    measure: Annotated[str, Field(pattern=r"^\d+\.\d+$")] | None = None
    """The measure it measures, in quotes: "1.5" (or give `subgoal`)."""
    kind: Kind
    """absolute (a value by a date), relative (an increase over the baseline), share (per cent)."""
    source: Source
    """members (member counts at each import), follow_ups (new members contacted in time), manual."""
    metric: str | None = None
    """For source members: members, activists or active_share; follow_ups: contacted_share."""
    unit: str | None = None
    """Shown after the numbers."""
    baseline: Baseline | None = None
    targets: list[Point] = []
    """The target points, by date."""
    level: Annotated[float, Field(ge=0, le=100)] | None = None  # share: per cent
    """share: the level to hold, in per cent."""
    rising: bool = False  # share: the aim is a value above the baseline
    """share: the aim is a value above the baseline."""

    @model_validator(mode="after")
    def _consistent(self) -> "Target":
        if (self.subgoal is None) == (self.measure is None):
            raise ValueError(Msg('give either `subgoal` (like "1.b") or `measure` (like "1.5"), one of them'))
        if self.source == "manual":
            if self.metric is not None:
                raise ValueError(Msg("a manual target has no `metric`: its values are recorded by hand"))
        else:
            allowed = METRICS[self.source]
            metric = self.metric or (allowed[0] if len(allowed) == 1 else None)
            if metric not in allowed:
                raise ValueError(Msg("`metric` for source {source} is one of {names}", source=self.source,
                                     names=", ".join(allowed)))
            object.__setattr__(self, "metric", metric)
        if self.kind == "share":
            if self.source != "manual" and self.metric not in SHARE_METRICS:
                raise ValueError(Msg("metric {metric} is a count, not a share; use kind absolute or relative",
                                     metric=self.metric))
            if self.targets:
                raise ValueError(Msg("a share has `level` (per cent) and/or `rising: true`, not `targets`"))
            if self.level is None and not self.rising:
                raise ValueError(Msg("a share needs `level` (per cent) or `rising: true`"))
            return self
        if self.source != "manual" and self.metric in SHARE_METRICS:
            raise ValueError(Msg("metric {metric} is a share; use kind share", metric=self.metric))
        if self.level is not None or self.rising:
            raise ValueError(Msg("`level` and `rising` are for kind share; give `targets` instead"))
        if not self.targets:
            raise ValueError(Msg("give at least one target point under `targets:`"))
        for p in self.targets:
            if self.kind == "absolute" and p.value is None:
                raise ValueError(Msg("an absolute target point has `value` (not increase)"))
            if self.kind == "relative" and p.value is not None:
                raise ValueError(Msg("a relative target point has `increase` or `increase_percent` (not value)"))
        if self.kind == "relative" and self.baseline is None:
            raise ValueError(Msg("a relative target needs a `baseline` (its date, and value if known)"))
        return self

    @property
    def belongs_to(self) -> str:
        """'delmål 1.b' or 'tiltak 1.5' (Norwegian; `belongs(lang)` in either language)."""
        return self.belongs("nb")

    def belongs(self, lang: str | None) -> str:
        """'delmål 1.b' / 'sub-goal 1.b', or 'tiltak 1.5' / 'measure 1.5'."""
        return (_(lang, "sub-goal {number}", number=self.subgoal) if self.subgoal else
                _(lang, "measure {number}", number=self.measure))

    @property
    def goal(self) -> int:
        return int((self.subgoal or self.measure or "0").split(".")[0])


class TargetFile(_Strict):
    targets: list[Target]


@dataclass(frozen=True)
class Targets:
    """A validated table."""

    targets: tuple[Target, ...]
    file: Path | None = None

    def get(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]


# --- reading ---------------------------------------------------------------------------


def parse_targets(src: Located, plan: Plan) -> Targets:
    """The table in a parsed YAML document, checked against the plan's goals and measures."""
    data = src.data if src.data is not None else {}
    try:
        table = TargetFile.model_validate(data)
    except ValidationError as exc:
        raise TargetTableError(_problems(exc, src)) from None
    problems: list[Problem] = []
    subgoals = {f"{g.number}.{s.letter}" for g in plan.goals for s in g.subgoals}
    measures = [m.number for _, m in plan.measures]
    seen: dict[str, int] = {}
    for i, t in enumerate(table.targets):
        at = ("targets", i)
        if t.name in seen:
            problems.append(Problem(src.file, src.line_of(at + ("name",)), f"targets[{i}].name",
                                    Msg("the name {name!r} is used before (targets[{first}])", name=t.name,
                                        first=seen[t.name]),
                                    Msg("give the targets different names")))
        seen.setdefault(t.name, i)
        if t.subgoal and t.subgoal not in subgoals:
            close = nearest(t.subgoal, sorted(subgoals))
            problems.append(Problem(src.file, src.line_of(at + ("subgoal",)), f"targets[{i}].subgoal",
                                    Msg("the plan has no sub-goal {number}", number=t.subgoal),
                                    Msg("did you mean {names}?", names=", ".join(close)) if close else
                                    Msg('write GOAL.LETTER, like "1.b"')))
        if t.measure and t.measure not in measures:
            close = nearest(t.measure, measures)
            problems.append(Problem(src.file, src.line_of(at + ("measure",)), f"targets[{i}].measure",
                                    Msg("the plan has no measure {number}", number=t.measure),
                                    Msg("did you mean {names}?", names=", ".join(close)) if close else
                                    Msg('a measure number, like "1.5"')))
    if problems:
        raise TargetTableError(problems)
    return Targets(tuple(table.targets), src.file)


def load_targets(path: Path, plan: Plan) -> Targets | None:
    """Read and check the table at `path`; None when there is no such file."""
    if not path.exists():
        return None
    return parse_targets(load_yaml(path), plan)


def targets_path(plan: Plan) -> Path:
    return plan.folder / TABLE_NAME


def _problems(exc: ValidationError, src: Located) -> list[Problem]:
    from .explain import explain

    out: list[Problem] = []
    allowed = sorted({*Target.model_fields, *Point.model_fields, *Baseline.model_fields})
    for err in exc.errors(include_url=False):
        path = _path(src.data, err["loc"])
        msg, hint = explain(err, path, allowed=allowed, docs=Msg("see docs/report.md"))
        out.append(Problem(src.file, src.line_of(path), dotted(path) or None, msg, hint))
    return out


def _path(data: Any, loc: tuple[int | str, ...]) -> Path_:
    path: list[int | str] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        elif not isinstance(part, (str, int)) or (isinstance(part, str) and not part.isidentifier()):
            continue
        else:
            data = None
        path.append(part)
    return tuple(path)


# --- progress --------------------------------------------------------------------------

STATUS_WORDS = {
    "reached": N_("reached"), "not_reached": N_("not reached"), "ahead": N_("ahead of schedule"),
    "behind": N_("behind schedule"), "rising": N_("rising"), "not_rising": N_("not rising"),
    "no_data": N_("no measurements"), "no_baseline": N_("no baseline"),
}


@dataclass(frozen=True)
class Measurement:
    """One value of a target on a date (a share as a fraction, 0.42)."""

    on: dt.date
    value: float


@dataclass(frozen=True)
class Progress:
    """Where a target stands in a year: the numbers the report prints and charts. Its words
    (`detail`, `status_text`, `belongs_to`, `show`) are in `lang`; `in_lang` says them in another."""

    target: Target
    year: int
    points: tuple[Measurement, ...]  # every measurement, oldest first
    baseline: Measurement | None  # the baseline, its value known
    goals: tuple[Measurement, ...]  # the target points as values (a level: at the baseline and period end)
    current: Measurement | None  # the last measurement up to the end of the year (or today)
    status: str  # a key of STATUS_WORDS
    sentence: Msg  # the judgement in one sentence, said in any language (its numbers and dates too)
    period: tuple[dt.date, dt.date]  # the plan period, for the chart's x axis
    lang: str = i18n.DEFAULT

    def in_lang(self, lang: str | None) -> "Progress":
        """The same judgement, said in `lang`."""
        return replace(self, lang=i18n._lang(lang))

    @property
    def detail(self) -> str:
        return self.sentence.say(self.lang)

    @property
    def status_text(self) -> str:
        return _(self.lang, STATUS_WORDS[self.status])

    @property
    def belongs_to(self) -> str:
        """The target's sub-goal or measure, in `lang`: 'delmål 1.b' / 'sub-goal 1.b'."""
        return self.target.belongs(self.lang)

    @property
    def share(self) -> bool:
        return self.target.kind == "share"

    @property
    def people(self) -> bool:
        """A count of people (members, activists): shown in whole numbers."""
        return self.target.source == "members" and self.target.kind != "share"

    def show(self, value: float | None) -> str:
        """A value as the report writes it, in `lang`: '1 234 medlemmer', '42 %' / '1,234 members',
        '42%'. A count of people is a whole number: a computed one (a point on the straight line, a
        goal of +10 %) is rounded up, since 21.8 members are on track only with 22, which is how
        `progress` judges it."""
        return self.show_in(value, self.lang)

    def show_in(self, value: float | None, lang: str | None) -> str:
        if value is None:
            return "–"
        locale = i18n._lang(lang)
        if self.share:
            return _(locale, "{n} %", n=format_decimal(value * 100, format="#,##0", locale=locale))
        if self.people:
            value = float(math.ceil(value - 1e-9))
        whole = abs(value - round(value)) < 1e-9 or abs(value) >= 100
        text = format_decimal(value, format="#,##0" if whole else "#,##0.0", locale=locale)
        return f"{text} {self.target.unit}" if self.target.unit else text


@dataclass(frozen=True)
class _Shown:
    """A value of a Progress in its sentence, written in the language it is said in."""

    progress: Progress
    value: float

    def say(self, lang: str | None) -> str:
        return self.progress.show_in(self.value, lang)


@dataclass(frozen=True)
class _Day:
    """A date in a sentence, written in the language it is said in (1. mars 2026 / 1 March 2026)."""

    day: dt.date

    def say(self, lang: str | None) -> str:
        return i18n.day(self.day, i18n._lang(lang))


def progress(target: Target, points: Sequence[Measurement], year: int, today: dt.date,
             period: tuple[dt.date, dt.date], lang: str = i18n.DEFAULT) -> Progress:
    """Judge `target` for `year` from its measurements, as of `today` (rules in the module
    docstring); said in `lang` (`Progress.in_lang` says it in another)."""
    pts = tuple(sorted(points, key=lambda p: p.on))
    cutoff = min(dt.date(year, 12, 31), today)
    upto = [p for p in pts if p.on <= cutoff]
    current = upto[-1] if upto else None
    baseline = _baseline(target, pts)
    goals = _goals(target, baseline, period)
    p = Progress(target, year, pts, baseline, goals, current, "no_data", Msg(""), period, i18n._lang(lang))

    def done(status: str, sentence: Msg) -> Progress:
        return replace(p, status=status, sentence=sentence)

    def shown(value: float) -> _Shown:
        return _Shown(p, value)

    if current is None:
        return done("no_data", Msg("No measurements up to and including {day}.", day=_Day(cutoff)))
    now = Msg("{value} as of {day}", value=shown(current.value), day=_Day(current.on))
    if target.kind == "share":
        parts: list[Msg] = [now]
        status = None
        if target.level is not None:
            ok = current.value + 1e-9 >= target.level / 100
            status = "reached" if ok else "not_reached"
            parts.append(Msg("the goal is {level}", level=shown(target.level / 100)))
        if target.rising:
            if baseline is None:
                return done("no_baseline", Msg("{now}; the baseline is missing.", now=now))
            up = current.value > baseline.value + 1e-9
            status = status if status == "not_reached" else ("rising" if up else "not_rising")
            parts.append(Msg("the baseline was {value} ({day})", value=shown(baseline.value), day=_Day(baseline.on)))
        return done(status or "no_data", Msg("{parts}.", parts=_Joined(tuple(parts))))
    if not goals:
        return done("no_baseline", Msg("{now}; the baseline is missing, so the goal cannot be worked out.", now=now))
    due = [g for g in goals if g.on <= cutoff]
    ahead = [g for g in goals if g.on > cutoff]
    if due and (not ahead or due[-1].on.year == year):
        g = due[-1]
        at = [q for q in pts if q.on <= g.on]
        value = at[-1] if at else current
        ok = value.value + 1e-9 >= g.value
        return done("reached" if ok else "not_reached",
                    Msg("{value} as of {day}; the goal was {goal} by {by}.", value=shown(value.value),
                        day=_Day(value.on), goal=shown(g.value), by=_Day(g.on)))
    g = ahead[0]
    start = due[-1] if due else baseline
    if start is None:
        return done("no_baseline", Msg("{now}, the goal is {goal} by {by}.", now=now, goal=shown(g.value),
                                       by=_Day(g.on)))
    expected = _line(start, g, current.on)
    status = "ahead" if current.value + 1e-9 >= expected else "behind"
    return done(status, Msg("{now}; the goal is {goal} by {by}, and on a straight line from {start} ({since}) "
                            "the figure should now be {expected}.", now=now, goal=shown(g.value), by=_Day(g.on),
                            start=shown(start.value), since=_Day(start.on), expected=shown(expected)))


@dataclass(frozen=True)
class _Joined:
    """Parts of a sentence joined with '; ', each said in the sentence's language."""

    parts: tuple[Msg, ...]

    def say(self, lang: str | None) -> str:
        return "; ".join(part.say(lang) for part in self.parts)


def _baseline(target: Target, pts: tuple[Measurement, ...]) -> Measurement | None:
    b = target.baseline
    if b is None:
        return pts[0] if target.rising and pts else None
    if b.value is not None:
        return Measurement(b.date, b.value / 100 if target.kind == "share" else b.value)
    later = [p for p in pts if p.on >= b.date]
    return later[0] if later else None


def _goals(target: Target, baseline: Measurement | None, period: tuple[dt.date, dt.date]) -> tuple[Measurement, ...]:
    if target.kind == "share":
        if target.level is None:
            return ()
        level = target.level / 100
        return (Measurement(period[0], level), Measurement(period[1], level))
    out = []
    for p in sorted(target.targets, key=lambda p: p.date):
        if p.value is not None:
            out.append(Measurement(p.date, p.value))
        elif baseline is None:
            return ()
        elif p.increase is not None:
            out.append(Measurement(p.date, baseline.value + p.increase))
        else:
            out.append(Measurement(p.date, baseline.value * (1 + (p.increase_percent or 0) / 100)))
    return tuple(out)


def _line(a: Measurement, b: Measurement, on: dt.date) -> float:
    """The value on `on` of the straight line from a to b."""
    span = (b.on - a.on).days
    if span <= 0:
        return b.value
    share = min(max((on - a.on).days / span, 0.0), 1.0)
    return a.value + (b.value - a.value) * share
