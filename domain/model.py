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
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PositiveInt, WithJsonSchema,
                      model_validator)
from pydantic.json_schema import JsonSchemaValue

from .i18n import N_, Msg
from .periods import Span, check_year, parse_month_day, parse_period, parse_span

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MeasureNumber = Annotated[str, BeforeValidator(str), Field(pattern=r"^\d+\.\d+$"), WithJsonSchema(
    {"type": "string", "pattern": r"^\d+\.\d+$",
     "description": 'A measure number, in quotes: "1.5" (2.10 unquoted is 2.1)'})]
# The JSON Schema of a value as it is written in YAML (docs/schema/, `aarshjul schema`), where
# the model keeps the parsed value: a span is written 2024, 2024-2027, 2025-H2, 2025-03-01/2025-03-15.
_SPAN_JSON: JsonSchemaValue = {"anyOf": [{"type": "integer", "minimum": 1900, "maximum": 2200}, {
    "type": "string",
    "pattern": r"^\s*(\d{4}(\s*[-–]\s*\d{4}|-[Hh][12])?|\d{4}-\d{2}-\d{2}(\s*/\s*\d{4}-\d{2}-\d{2})?)\s*$"}],
    "description": "A year (2024), years (2024-2027), a half-year (2025-H2), a day or days (2025-03-01/2025-03-15)"}
Period = Annotated[tuple[Span, ...], BeforeValidator(parse_period), WithJsonSchema(
    {"anyOf": [_SPAN_JSON, {"type": "array", "items": _SPAN_JSON, "minItems": 1}],
     "description": "One span or a list of spans: 2024-2027, 2025-H2, [2024, 2026], 2025-03-01/2025-03-15"})]
DateSpan = Annotated[Span, BeforeValidator(parse_span), WithJsonSchema(_SPAN_JSON)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Day = Annotated[date, AfterValidator(check_year)]  # a date in the years MIN_YEAR-MAX_YEAR


class Hinted(ValueError):
    """A ValueError with a hint for the person who wrote the value (load.py shows it)."""

    def __init__(self, message: Msg, hint: Msg | None = None):
        super().__init__(message)
        self.hint = hint


# RFC 5545 §3.3.10 rule parts the plan accepts. The plan's smallest unit is a day (an
# occurrence is a day in a calendar, its time of day is the cadence's `start`), so
# frequencies finer than DAILY and BYHOUR, BYMINUTE, BYSECOND are refused: they would
# make thousands of occurrences a day (FREQ=MINUTELY gave two million "valid" ones).
RRULE_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
RRULE_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY",
               "BYSETPOS", "WKST")
_FINER = ("HOURLY", "MINUTELY", "SECONDLY")
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
_FREQ_HINT = N_("use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY; give the time of day as the cadence's `start`")
# The Gregorian calendar, weekdays included, repeats every 400 years: a rule with no
# date in 400 years (from this start, with INTERVAL=1) has none ever. Started late in
# the calendar so that dateutil, which otherwise searches until year 9999 for a rule
# that never matches (2.6 s for FREQ=DAILY, on every expansion), stops soon.
_PROBE_START = dt.datetime(9500, 1, 1)


def _check_rrule(text: str) -> str:
    """RFC 5545 §3.3.10: an RRULE value; parsed now so a typo fails at `check`.

    Refused, besides what does not parse: a frequency finer than a day (HOURLY,
    MINUTELY, SECONDLY) and BYHOUR/BYMINUTE/BYSECOND; INTERVAL or COUNT that is not a
    whole number of at least 1 (INTERVAL=0 made expansion loop forever); rule parts
    outside RFC 5545; more than one line; and a rule that never gives a date
    (BYMONTH=2;BYMONTHDAY=30).
    """
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if any(ch in text for ch in "\r\n\x0b\x0c\x85\u2028\u2029"):
        raise Hinted(Msg("an RRULE is one line"), Msg("write only the rule, like FREQ=MONTHLY;BYDAY=1TU"))
    try:
        rrulestr(text, dtstart=None, forceset=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(Msg("RRULE {rule!r} does not parse ({reason})", rule=text, reason=str(exc))) from None
    if "DTSTART" in text.upper():
        raise ValueError(Msg("write the rule alone, without DTSTART (the period gives the start)"))
    parts = rule_parts(text)
    freq = parts.get("FREQ", "").upper()
    if freq in _FINER:
        raise Hinted(Msg("FREQ={freq} repeats more often than once a day; the plan's smallest unit is a day",
                         freq=freq), Msg(_FREQ_HINT))
    if freq not in RRULE_FREQS:
        raise Hinted(Msg("RRULE {rule!r} needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY", rule=text), Msg(_FREQ_HINT))
    for name in parts:
        if name in _TIME_PARTS:
            raise Hinted(Msg("{name} gives several times a day; the plan's smallest unit is a day", name=name),
                         Msg("remove it; give the time of day as the cadence's `start`"))
        if name not in RRULE_PARTS:
            raise Hinted(Msg("the rule part {name} is not allowed here", name=name),
                         Msg("use only {names}", names=", ".join(RRULE_PARTS)))
    for name in ("INTERVAL", "COUNT"):
        if name in parts and not (parts[name].isdigit() and int(parts[name]) >= 1):
            raise Hinted(Msg("{name}={value} is not a whole number of 1 or more", name=name, value=parts[name]),
                         Msg("INTERVAL=2 with FREQ=WEEKLY means every second week; leave INTERVAL out for every week")
                         if name == "INTERVAL" else Msg("COUNT=10 means ten dates; leave it out for no limit"))
    probe = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("INTERVAL", "COUNT", "UNTIL"))
    try:
        ever = rrulestr(probe, dtstart=_PROBE_START).after(_PROBE_START, inc=True)
    except (ValueError, OverflowError):  # dateutil ran past year 9999 without a date
        ever = None
    if ever is None:
        raise Hinted(Msg("RRULE {rule!r} never gives a date", rule=text),
                     Msg("check BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO and BYDAY: together they must allow a real "
                         "day (there is no 30 February)"))
    return text


def rule_parts(text: str) -> dict[str, str]:
    """'FREQ=WEEKLY;INTERVAL=2' -> {'FREQ': 'WEEKLY', 'INTERVAL': '2'} (names upper-cased)."""
    parts: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        name, _, value = part.partition("=")
        parts[name.strip().upper()] = value.strip()
    return parts


RRule = Annotated[str, AfterValidator(_check_rrule)]

_URL_FORBIDDEN = set('<>"\\')


def _check_url(text: str) -> str:
    """An http(s) address on one line: no spaces, line breaks or control characters (a
    CR/LF in a pin's URL passed `check` and then broke every calendar feed)."""
    if not re.match(r"^https?://[^/?#\s]", text):
        raise Hinted(Msg("{text!r} is not a web address", text=text[:80]), Msg("write it as https://example.org/..."))
    if any(ch.isspace() or ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in _URL_FORBIDDEN for ch in text):
        raise Hinted(Msg("a web address may not contain spaces, line breaks, control characters, quotes, < or >"),
                     Msg("write the address on one line; a space is written %20"))
    return text


Url = Annotated[str, AfterValidator(_check_url)]


def _check_month_day_span(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    parts = str(text).split("/")
    if len(parts) != 2:
        raise ValueError(Msg("{text!r} is not a span of days in a year; write MM-DD/MM-DD, like 06-01/06-30",
                             text=str(text)))
    start, end = parse_month_day(parts[0]), parse_month_day(parts[1])
    if end < start:
        raise ValueError(Msg("{text!r} ends before it starts", text=str(text)))
    return start, end


MonthDay = Annotated[tuple[int, int], BeforeValidator(parse_month_day), WithJsonSchema(
    {"type": "string", "pattern": r"^\s*\d{2}-\d{2}\s*$", "description": "Month and day, MM-DD: 03-08"})]
MonthDaySpan = Annotated[tuple[tuple[int, int], tuple[int, int]], BeforeValidator(_check_month_day_span),
                         WithJsonSchema({"type": "string", "pattern": r"^\d{2}-\d{2}/\d{2}-\d{2}$",
                                         "description": "Days of a year, MM-DD/MM-DD: 06-01/06-30"})]


def _parse_time(value: object) -> object:
    if isinstance(value, int):  # YAML 1.1 reads 18:00 as the sexagesimal 1080
        return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
    return value


Clock = Annotated[time, BeforeValidator(_parse_time), WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$"},
    {"type": "integer", "minimum": 0, "maximum": 1439}],  # YAML 1.1 reads an unquoted 18:00 as 1080
    "description": 'A time of day, "HH:MM" in quotes: "18:00"'})]


Visibility = Literal["public", "members", "internal"]


class Strict(BaseModel):
    # a field's docstring is its description in the JSON Schema (docs/schema, `aarshjul schema`)
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --- plan.yaml -----------------------------------------------------------------------


class Section(Strict):
    title: str
    text: str


class PlanMeta(Strict):
    id: Slug
    """The plan's id, part of every occurrence's UID: never change it after the first publication."""
    title: str
    """The plan's title, as adopted."""
    adopted: Day | None = None
    """The day the plan was adopted."""
    adopted_by: str | None = None
    """Who adopted it: the annual meeting and the case number."""
    period: Period
    sections: list[Section] = []
    """The plan's introductory chapters, word for word."""


class Subgoal(Strict):
    letter: Annotated[str, Field(pattern=r"^[a-zæøå]$")]
    """The sub-goal's letter (a, b, ...); targets.yaml names it GOAL.LETTER."""
    text: str


class Deadline(Strict):
    """A one-off: done by a date (default: the last day of each span of the period)."""

    kind: Literal["deadline"]
    due: Day | list[Day] | None = None
    """The date (or one date a year) it must be done by; default the last day of each span of the period."""
    each: list[Slug] = []
    """Bodies or groups that each have the deadline on their own."""


class Annual(Strict):
    """Fixed annual dates, named in organisation.yaml's important_dates."""

    kind: Literal["annual"]
    dates: Annotated[list[Slug], Field(min_length=1)]
    """Ids of important dates (organisation.yaml): one occurrence each, every year."""


QuotaPer = Literal["month", "quarter", "half-year", "year", "season", "period"]


class Quota(Strict):
    """At least `count` per month, quarter, half-year, year, named season or the whole
    period; the board pins the dates.

    Each window is a slot of its own, keyed `1.2/2026-03`, `1.2/2026-Q1`, `1.2/2026-H1`,
    `1.2/2026`, `1.2/2026/var` (season `var`) or `1.2/2024-2027`, with `/BODY` for each body
    of `each` and `/N` when `count` is more than one."""

    kind: Literal["quota"]
    count: PositiveInt
    """At least this many in each window."""
    per: QuotaPer
    """The window the count is per: month, quarter, half-year, year, season (see `seasons`) or the whole period."""
    seasons: dict[Slug, MonthDaySpan] = {}  # per: season; name -> MM-DD/MM-DD in every year
    each: list[Slug] = []
    """Bodies or groups that each have the quota on their own."""
    window: Slug | None = None
    """An important date the occurrences must fall on (its days of each year)."""
    min_days_apart: Annotated[int, Field(ge=0)] = 0
    """At least this many days between two pinned occurrences."""

    @model_validator(mode="after")
    def _seasons(self) -> "Quota":
        if self.per == "season" and not self.seasons:
            raise Hinted(Msg("`per: season` needs `seasons`"),
                         Msg('name each season with its days under `seasons:`, like var: "01-15/06-15" and '
                             'host: "08-15/12-15"'))
        if self.seasons and self.per != "season":
            raise Hinted(Msg("`seasons` is for `per: season`, not `per: {per}`", per=self.per),
                         Msg("write `per: season`, or remove `seasons`"))
        spans = sorted(self.seasons.values())
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start <= end:
                raise Hinted(Msg("two seasons overlap"), Msg("give each season its own days in the year"))
        return self


class Series(Strict):
    """A regular series, an RFC 5545 RRULE expanded in local time."""

    kind: Literal["series"]
    rrule: RRule
    """An RFC 5545 RRULE without DTSTART, like FREQ=MONTHLY;BYDAY=2TU."""
    start: Clock | None = None
    """The time of day, "HH:MM"; without it the occurrences are all-day."""
    duration: PositiveInt = 120
    """Minutes (default 120)."""
    dtstart: Day | None = None
    """The first date the rule counts from (default the start of the period)."""


class OnEvent(Strict):
    """A promise per member (within N days of an event), run by the members flows.

    The event says what the measure drives: the measure with `event: member_joined` is
    the new-member follow-up (its `within_days` the deadline of each call), the one with
    `event: dues_unpaid` the dues follow-up (its completions logged against it). At most
    one measure per event."""

    kind: Literal["on_event"]
    event: Literal["member_joined", "dues_unpaid"]
    """The event: a member joined, or a member's dues are unpaid."""
    within_days: PositiveInt
    """The promise: within this many days of the event."""


class Standing(Strict):
    """A standing principle: no occurrences, reported on yearly."""

    kind: Literal["standing"]


Cadence = Annotated[Union[Deadline, Annual, Quota, Series, OnEvent, Standing], Field(discriminator="kind")]


class Measure(Strict):
    number: MeasureNumber
    title: str
    """A short title, for calendars and mail."""
    text: str
    """The measure as the plan words it."""
    period_text: str | None = None
    """The plan's own words for when (its "Tidsrom"), shown as written."""
    period: Period
    bodies: Annotated[list[Slug], Field(min_length=1)]
    """The ids of the bodies or groups responsible (organisation.yaml)."""
    cadence: Cadence = Standing(kind="standing")
    """How often it must happen, by `kind`: deadline, annual, quota, series, on_event, standing (the default)."""
    visibility: Visibility = "internal"
    """Who sees it: public (the web page, the public feed), members, internal (the default: the bodies' calendars)."""


class Goal(Strict):
    number: PositiveInt
    """The goal's number: 1, 2, ...; its measures are numbered GOAL.N."""
    title: str
    introduction: str = ""
    subgoals: list[Subgoal] = []
    measures: list[Measure] = []


class PlanFile(Strict):
    version: Literal[1]
    """The format's version: always 1."""
    organisation: str
    """The organisation file (organisation.yaml), relative to this one."""
    schedule: str | None = None
    """The schedule file (schedule.yaml), relative to this one: pinned dates, cancellations."""
    mail: str | None = None
    """The mail file (mail.yaml), relative to this one; needed by `run` and the mail commands."""
    plan: PlanMeta
    goals: list[Goal]


# --- organisation.yaml ---------------------------------------------------------------


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(Msg("unknown time zone {name!r}; use an IANA name like Europe/Oslo", name=name)) from None
    return name


class BranchWord(Strict):
    """What the organisation calls one of its branches (bodies of kind branch or
    student_branch), in every form its texts need: lokalgruppe / lokalgrupper / lokalgruppa /
    lokalgruppene, local group / local groups / the local group / the local groups."""

    singular: str
    plural: str
    definite: str
    definite_plural: str | None = None

    @property
    def all_forms(self) -> tuple[str, ...]:
        return tuple(w for w in (self.singular, self.plural, self.definite, self.definite_plural) if w)


DEFAULT_BRANCH_WORD = {
    "nb": BranchWord(singular="lag", plural="lag", definite="laget", definite_plural="lagene"),
    "en": BranchWord(singular="branch", plural="branches", definite="the branch", definite_plural="the branches"),
}


class Place(Strict):
    """A place events are held (issue 11): its postal address, which the web calendar
    gives search engines as a schema.org PostalAddress, or for an online meeting the
    address of the meeting (a VirtualLocation)."""

    street: str | None = None
    """Street and number."""
    postcode: str | None = None
    """The postcode, quoted ("5011")."""
    city: str | None = None
    url: Url | None = None
    """For an online meeting: its web address (http or https)."""

    @model_validator(mode="after")
    def _address_or_url(self) -> "Place":
        if not (self.url or (self.street and self.city)):
            raise ValueError(Msg("a place needs 'street' and 'city' (and 'postcode'), or the 'url' of an online "
                                 "meeting"))
        return self


class Organisation(Strict):
    id: Slug
    """The organisation's id, part of every UID and calendar address: never change it."""
    name: str
    timezone: Annotated[str, AfterValidator(_check_zone)] = "Europe/Oslo"
    """The IANA time zone of its meetings (default Europe/Oslo)."""
    website: Url | None = None
    """Its website (http or https)."""
    locale: Literal["nb", "en"] = "nb"
    """The language of calendars, mail and the report: nb (the default) or en."""
    branch_word: BranchWord | None = None  # default: lag / branch
    """What the organisation calls a branch, in every form (default: lag / branch)."""
    places: dict[str, Place] = {}
    """Where events are held, by the name a pin gives as its `place` (issue 11)."""
    default_place: str | None = None
    """The place (a name in `places`) of an open event whose pin names none."""

    @model_validator(mode="after")
    def _default_place_known(self) -> "Organisation":
        if self.default_place and self.default_place not in self.places:
            raise ValueError(Msg("default_place {name!r} is not one of 'places'", name=self.default_place))
        return self

    @property
    def branch(self) -> BranchWord:
        """The word for a branch, the organisation's own or the default of its language."""
        return self.branch_word or DEFAULT_BRANCH_WORD[self.locale]


class Audience(Strict):
    role: Slug | None = None
    branch: Slug | None = None
    all: bool = False


class Body(Strict):
    name: str
    kind: Literal["board", "committee", "council_group", "branch", "student_branch", "other"]
    """What kind of body: board, committee, council_group, branch, student_branch, other."""
    contact: Email
    """The body's e-mail address: reminders go there, and its newsletters' Reply-To."""
    calendar: str | None = None
    """The name of its calendar (default its name)."""
    audience: Audience | None = None
    """Who sees its calendar and gets its invitations: a role, a branch, or all members."""


class Group(Strict):
    name: str
    members: Annotated[list[Slug], Field(min_length=1)]
    """The ids of the bodies in the group."""


class ImportantDate(Strict):
    """A date the plan refers to: every year on a day, by an RRULE, or known per year."""

    name: str
    annual: MonthDay | None = None
    """Every year on this day, "MM-DD"."""
    rrule: RRule | None = None
    """An RFC 5545 RRULE read from 1 January of each year, like FREQ=YEARLY;BYMONTH=1;BYDAY=-1SA."""
    dates: dict[int, DateSpan] = {}
    """Known dates by year: 2026: "2026-06-09/2026-06-15"."""
    window: MonthDaySpan | None = None
    """Where it falls in years not listed in `dates`, "MM-DD/MM-DD"."""

    @model_validator(mode="after")
    def _one_rule(self) -> "ImportantDate":
        if self.annual and self.rrule:
            raise ValueError(Msg("give either 'annual' or 'rrule', not both"))
        if self.rrule and rule_parts(self.rrule).get("INTERVAL", "1") != "1":
            # looked up year by year from 1 January: every second year cannot be said this way
            raise Hinted(Msg("an important date's rule is read from 1 January of each year; INTERVAL does not apply"),
                         Msg("remove INTERVAL; for dates only in some years, list them under 'dates'"))
        if not (self.annual or self.rrule or self.dates or self.window):
            raise ValueError(Msg("give 'annual' (MM-DD), 'rrule', or 'dates' per year and a 'window'"))
        for year, span in self.dates.items():
            if span.start.year != year:
                raise ValueError(Msg("dates.{year}: {span} is not in {year}", year=year, span=str(span)))
        return self


class OrganisationFile(Strict):
    organisation: Organisation
    bodies: Annotated[dict[Slug, Body], Field(min_length=1)]
    """The bodies responsible for measures, by id."""
    groups: dict[Slug, Group] = {}
    """Groups of bodies, by id: a measure may name a group."""
    important_dates: dict[Slug, ImportantDate] = {}
    """Dates the plan refers to, by id."""


# --- chapters.yaml -------------------------------------------------------------------


class Chapter(Strict):
    """One organisation served by this installation: its plan.yaml, relative to the
    chapters file (not to the working directory)."""

    plan: str
    """The chapter's plan.yaml, relative to this file."""


class ChaptersFile(Strict):
    chapters: Annotated[list[Chapter], Field(min_length=1)]


# --- schedule.yaml -------------------------------------------------------------------

_KEY = re.compile(r"^\d+\.\d+/[A-Za-z0-9/_-]+$")


class Pin(Strict):
    """What the board has decided about one occurrence: when, where, or that it is cancelled."""

    date: Day | None = None
    """The day, inside the slot's window."""
    start: Clock | None = None
    """The start time, "HH:MM" (local time)."""
    end: Clock | None = None
    """The end time, "HH:MM", after the start."""
    place: str | None = None
    """Where it is held."""
    note: str | None = None
    url: Url | None = None
    """A web address about it (http or https, one line)."""
    status: Literal["scheduled", "cancelled"] = "scheduled"
    """scheduled (the default) or cancelled."""
    visibility: Visibility | None = None
    """Overrides the measure's visibility for this occurrence."""

    @model_validator(mode="after")
    def _times(self) -> "Pin":
        if (self.start or self.end) and not self.date:
            raise ValueError(Msg("a start or end time needs a 'date'"))
        if self.end and not self.start:
            raise ValueError(Msg("an 'end' needs a 'start'"))
        if self.start and self.end and self.end <= self.start:
            raise ValueError(Msg("end {end} is not after start {start}", end=self.end.strftime("%H:%M"),
                                 start=self.start.strftime("%H:%M")))
        return self


class ScheduleFile(Strict):
    occurrences: dict[Annotated[str, Field(pattern=_KEY.pattern)], Pin] = {}
    """Pins by occurrence key, in quotes: "1.2/2026-H1/1" (`aarshjul agenda` lists the keys)."""
