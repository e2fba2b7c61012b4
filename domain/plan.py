"""The loaded plan: the three files joined into one read-only object.

`Plan` is what every other part works with. It knows which measure is which, which
bodies a group stands for, and how to find an important date in a given year. It is
built (and cross-checked) by `load.load_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .errors import NotFound, Problem
from .mail_model import MailFile
from .model import Body, BranchWord, Goal, Group, ImportantDate, Measure, OnEvent, Organisation, Pin, PlanMeta
from .periods import Span, on_year


@dataclass(frozen=True)
class Plan:
    meta: PlanMeta
    organisation: Organisation
    goals: tuple[Goal, ...]
    bodies: dict[str, Body]
    groups: dict[str, Group]
    important_dates: dict[str, ImportantDate]
    pins: dict[str, Pin] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    mail: "MailFile | None" = None
    warnings: tuple[Problem, ...] = ()  # what `check` warns about (a pin on a daylight-saving night)

    @property
    def folder(self) -> Path:
        """The folder of plan.yaml: other files the plan names are relative to it."""
        return self.files[0].parent if self.files else Path(".")

    @property
    def templates(self) -> Path:
        """The organisation's own templates, beside plan.yaml: each overrides the bundled
        template of the same name (templates/email/dues.txt.j2, templates/report/…)."""
        return self.folder / "templates"

    def branches(self) -> list[str]:
        """Body ids of the branches (bodies of kind branch or student_branch)."""
        return [i for i, b in self.bodies.items() if b.kind in ("branch", "student_branch")]

    @property
    def branch_word(self) -> BranchWord:
        """What the organisation calls a branch (organisation.yaml's `branch_word`)."""
        return self.organisation.branch

    def driven_by(self, event: str) -> Measure | None:
        """The measure whose `on_event` cadence has this event (member_joined,
        dues_unpaid): what the members flows log against, and whose `within_days` they
        keep. None when the plan has no such promise."""
        for _, m in self.measures:
            if isinstance(m.cadence, OnEvent) and m.cadence.event == event:
                return m
        return None

    def within_days(self, event: str) -> int | None:
        """The `within_days` of the measure driven by `event`, or None without one."""
        m = self.driven_by(event)
        return m.cadence.within_days if m is not None and isinstance(m.cadence, OnEvent) else None

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def period(self) -> Span:
        """The whole plan period as one span (first day to last)."""
        return Span(self.meta.period[0].start, self.meta.period[-1].end)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.organisation.timezone)

    @cached_property
    def measures(self) -> tuple[tuple[Goal, Measure], ...]:
        return tuple((goal, m) for goal in self.goals for m in goal.measures)

    @cached_property
    def _by_number(self) -> dict[str, tuple[Goal, Measure]]:
        """Measures by number: a feed of 5,000 measures looks one up per event."""
        return {m.number: (goal, m) for goal, m in self.measures}

    def measure(self, number: str) -> Measure:
        if number in self._by_number:
            return self._by_number[number][1]
        raise NotFound("measure", number, [m.number for _, m in self.measures])

    def goal_of(self, number: str) -> Goal:
        if number in self._by_number:
            return self._by_number[number][0]
        raise NotFound("measure", number, [m.number for _, m in self.measures])

    def expand_bodies(self, ids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Body and group ids -> body ids, groups opened, order kept, no repeats."""
        out: list[str] = []
        for ident in ids:
            members = self.groups[ident].members if ident in self.groups else [ident]
            out.extend(m for m in members if m not in out)
        return tuple(out)

    def body_name(self, ident: str) -> str:
        if ident in self.bodies:
            return self.bodies[ident].name
        if ident in self.groups:
            return self.groups[ident].name
        raise NotFound("body", ident, [*self.bodies, *self.groups])

    def important_span(self, ident: str, year: int) -> tuple[Span, bool]:
        """Where important date `ident` falls in `year`: (span, known).

        known is False when only the usual window is known (the exact days are not yet
        announced); the span is then that window.
        """
        d = self.important_dates[ident]
        if year in d.dates:
            return d.dates[year], True
        if d.annual:
            day = on_year(d.annual, year)
            return Span(day, day), True
        if d.rrule:
            rule = rrulestr(d.rrule, dtstart=_midnight(date(year, 1, 1)))
            hit = rule.after(_midnight(date(year, 1, 1)), inc=True)
            if hit and hit.year == year:
                return Span(hit.date(), hit.date()), True
        if d.window:
            (m1, d1), (m2, d2) = d.window
            return Span(on_year((m1, d1), year), on_year((m2, d2), year)), False
        return Span(date(year, 1, 1), date(year, 12, 31)), False


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
