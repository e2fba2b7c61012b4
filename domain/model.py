"""The plan files as typed models: what each YAML file may say, and nothing more.

Every model forbids unknown keys, so a typo is an error, never silently ignored.
Values that need parsing (periods, month-days, RRULEs, times zones) are checked here;
rules that span files (a body that must exist, a pin that must match an occurrence)
are checked in `load.py`. The format is documented in docs/plan-format.md.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, time
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PositiveInt, model_validator

from .periods import Span, parse_month_day, parse_period, parse_span

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MeasureNumber = Annotated[str, BeforeValidator(str), Field(pattern=r"^\d+\.\d+$")]
Period = Annotated[tuple[Span, ...], BeforeValidator(parse_period)]
DateSpan = Annotated[Span, BeforeValidator(parse_span)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _check_rrule(text: str) -> str:
    """RFC 5545 §3.3.10: an RRULE value; parsed now so a typo fails at `check`."""
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    try:
        rrulestr(text, dtstart=None, forceset=False)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"RRULE {text!r} does not parse ({exc})") from None
    if "DTSTART" in text.upper():
        raise ValueError("write the rule alone, without DTSTART (the period gives the start)")
    return text


RRule = Annotated[str, AfterValidator(_check_rrule)]


def _check_month_day_span(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    parts = str(text).split("/")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a span of days in a year; write MM-DD/MM-DD, like 06-01/06-30")
    start, end = parse_month_day(parts[0]), parse_month_day(parts[1])
    if end < start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


MonthDay = Annotated[tuple[int, int], BeforeValidator(parse_month_day)]
MonthDaySpan = Annotated[tuple[tuple[int, int], tuple[int, int]], BeforeValidator(_check_month_day_span)]


def _parse_time(value: object) -> object:
    if isinstance(value, int):  # YAML 1.1 reads 18:00 as the sexagesimal 1080
        return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
    return value


Clock = Annotated[time, BeforeValidator(_parse_time)]


Visibility = Literal["public", "members", "internal"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- plan.yaml -----------------------------------------------------------------------


class Section(Strict):
    title: str
    text: str


class PlanMeta(Strict):
    id: Slug
    title: str
    adopted: date | None = None
    adopted_by: str | None = None
    period: Period
    sections: list[Section] = []


class Subgoal(Strict):
    letter: Annotated[str, Field(pattern=r"^[a-zæøå]$")]
    text: str


class Deadline(Strict):
    """A one-off: done by a date (default: the last day of each span of the period)."""

    kind: Literal["deadline"]
    due: date | list[date] | None = None
    each: list[Slug] = []


class Annual(Strict):
    """Fixed annual dates, named in organisation.yaml's important_dates."""

    kind: Literal["annual"]
    dates: Annotated[list[Slug], Field(min_length=1)]


class Quota(Strict):
    """At least `count` per year, half-year or the whole period; the board pins the dates."""

    kind: Literal["quota"]
    count: PositiveInt
    per: Literal["year", "half-year", "period"]
    each: list[Slug] = []
    window: Slug | None = None
    min_days_apart: Annotated[int, Field(ge=0)] = 0


class Series(Strict):
    """A regular series, an RFC 5545 RRULE expanded in local time."""

    kind: Literal["series"]
    rrule: RRule
    start: Clock | None = None
    duration: PositiveInt = 120
    dtstart: date | None = None


class OnEvent(Strict):
    """A promise per member (within N days of an event), run by the members flows."""

    kind: Literal["on_event"]
    event: Literal["member_joined", "dues_unpaid"]
    within_days: PositiveInt


class Standing(Strict):
    """A standing principle: no occurrences, reported on yearly."""

    kind: Literal["standing"]


Cadence = Annotated[Union[Deadline, Annual, Quota, Series, OnEvent, Standing], Field(discriminator="kind")]


class Measure(Strict):
    number: MeasureNumber
    title: str
    text: str
    period_text: str | None = None
    period: Period
    bodies: Annotated[list[Slug], Field(min_length=1)]
    cadence: Cadence = Standing(kind="standing")
    visibility: Visibility = "internal"


class Goal(Strict):
    number: PositiveInt
    title: str
    introduction: str = ""
    subgoals: list[Subgoal] = []
    measures: list[Measure] = []


class PlanFile(Strict):
    version: Literal[1]
    organisation: str
    schedule: str | None = None
    mail: str | None = None
    plan: PlanMeta
    goals: list[Goal]


# --- organisation.yaml ---------------------------------------------------------------


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like Europe/Oslo") from None
    return name


class Organisation(Strict):
    id: Slug
    name: str
    timezone: Annotated[str, AfterValidator(_check_zone)] = "Europe/Oslo"
    website: Annotated[str, Field(pattern=r"^https?://")] | None = None
    locale: Literal["nb", "en"] = "nb"


class Audience(Strict):
    role: Slug | None = None
    branch: Slug | None = None
    all: bool = False


class Body(Strict):
    name: str
    kind: Literal["board", "committee", "council_group", "branch", "student_branch", "other"]
    contact: Email
    calendar: str | None = None
    audience: Audience | None = None


class Group(Strict):
    name: str
    members: Annotated[list[Slug], Field(min_length=1)]


class ImportantDate(Strict):
    """A date the plan refers to: every year on a day, by an RRULE, or known per year."""

    name: str
    annual: MonthDay | None = None
    rrule: RRule | None = None
    dates: dict[int, DateSpan] = {}
    window: MonthDaySpan | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> "ImportantDate":
        if self.annual and self.rrule:
            raise ValueError("give either 'annual' or 'rrule', not both")
        if not (self.annual or self.rrule or self.dates or self.window):
            raise ValueError("give 'annual' (MM-DD), 'rrule', or 'dates' per year and a 'window'")
        for year, span in self.dates.items():
            if span.start.year != year:
                raise ValueError(f"dates.{year}: {span} is not in {year}")
        return self


class OrganisationFile(Strict):
    organisation: Organisation
    bodies: Annotated[dict[Slug, Body], Field(min_length=1)]
    groups: dict[Slug, Group] = {}
    important_dates: dict[Slug, ImportantDate] = {}


# --- schedule.yaml -------------------------------------------------------------------

_KEY = re.compile(r"^\d+\.\d+/[A-Za-z0-9/_-]+$")


class Pin(Strict):
    """What the board has decided about one occurrence: when, where, or that it is cancelled."""

    date: dt.date | None = None
    start: Clock | None = None
    end: Clock | None = None
    place: str | None = None
    note: str | None = None
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    status: Literal["scheduled", "cancelled"] = "scheduled"
    visibility: Visibility | None = None

    @model_validator(mode="after")
    def _times(self) -> "Pin":
        if (self.start or self.end) and not self.date:
            raise ValueError("a start or end time needs a 'date'")
        if self.end and not self.start:
            raise ValueError("an 'end' needs a 'start'")
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} is not after start {self.start:%H:%M}")
        return self


class ScheduleFile(Strict):
    occurrences: dict[Annotated[str, Field(pattern=_KEY.pattern)], Pin] = {}
