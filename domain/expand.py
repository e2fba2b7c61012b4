"""Expansion: from the plan and a window of dates to the occurrences it requires.

Pure: no clock, no I/O. Every occurrence has a semantic key that says what it is,

    deadline   2.13/2025             1.9/2025/arna          (per body with `each`)
    annual     3.4/2026/kvinnedagen
    quota      2.8/2026-H1           1.5/2026/2             2.5/2026/arna
               1.2/2026-Q1           1.2/2026-03            1.2/2026/var           (season var)
    series     1.7/2026-02-26

and a UID derived from the organisation and that key alone (RFC 5545 §3.8.4.7 asks
for a UID that is globally unique and persistent), so re-reading, reordering or
editing other measures never changes it. Times are local to the organisation's time
zone; a timed occurrence is an aware datetime, correct on either side of a
daylight-saving change, and a local time that does not exist (02:30 on the last
Sunday of March) moves forward to the time the clock shows (03:30).

Expansion is bounded: a measure gives at most MAX_OCCURRENCES over its period, or
TooManyOccurrences (a PlanError) is raised; `check` reports it with file and line
(load.py), so a plan that loads never hits it. A series is read lazily from its RRULE,
one date at a time, never listed whole.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Iterator

from dateutil.rrule import rrulestr

from .errors import Number, PlanError, Problem
from .i18n import Msg
from .model import Annual, Deadline, Measure, Pin, Quota, Series
from .periods import Span, windows
from .plan import Plan

NAMESPACE = uuid.UUID("6f1d3a0e-5b8c-4c52-9a57-2a6e0d7f1c11")  # aarshjul's own; never change
DEFAULT_MINUTES = 120
# The most occurrences one measure may give over its period: a weekly meeting for 19
# years, a monthly one for 83. More is not a work plan's measure but a mistake (or an
# attack: FREQ=MINUTELY once gave two million "valid" occurrences).
MAX_OCCURRENCES = 1000
# How far ahead `first_date` looks. The Gregorian calendar, weekdays included, repeats
# every 400 years, so a rule with no date in 400 years from its start has none in a
# plan's period (at most 301 years, periods.MIN_YEAR to MAX_YEAR).
SEARCH_YEARS = 400


def occurrence_uid(organisation_id: str, key: str) -> str:
    """The stable UID of an occurrence: a UUIDv5 of organisation and key."""
    return str(uuid.uuid5(NAMESPACE, f"{organisation_id}/{key}"))


@dataclass(frozen=True)
class Occurrence:
    """One thing the plan requires, on a date or within a window.

    For an all-day occurrence `start` and `end` are dates and `end` is inclusive (the
    last day); a calendar writes DTEND as the day after. For a timed one they are
    aware datetimes. An unscheduled quota slot has no start or end, only its window.
    """

    key: str
    uid: str
    measure: str
    goal: int
    kind: str  # deadline | annual | quota | series
    title: str
    bodies: tuple[str, ...]
    status: str  # scheduled | unscheduled | cancelled
    all_day: bool
    start: date | datetime | None
    end: date | datetime | None
    window_start: date
    window_end: date
    body: str | None = None  # the one body an `each` repetition is for
    slot: int | None = None
    place: str | None = None
    note: str | None = None
    url: str | None = None
    visibility: str = "internal"  # public | members | internal

    @property
    def span(self) -> Span:
        """The days it occupies if scheduled, else its window."""
        if self.start is None:
            return Span(self.window_start, self.window_end)
        # start and end are set together: both for a scheduled occurrence, neither for an
        # unscheduled one (_occurrence, and from_dict reading what to_dict wrote)
        assert self.end is not None
        return Span(_day(self.start), _day(self.end))

    @property
    def sort_key(self) -> tuple[date, time, str]:
        when = self.start if isinstance(self.start, datetime) else None
        return (self.span.start if self.start else self.window_end,
                when.astimezone(timezone.utc).time() if when else time(0), self.key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; datetimes as ISO 8601 with UTC offset, all-day as plain dates."""
        data = asdict(self)
        for name in ("start", "end", "window_start", "window_end"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        data["bodies"] = list(self.bodies)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], tz: tzinfo) -> "Occurrence":
        """The inverse of to_dict (what the database stores); times back in zone `tz`."""
        values = dict(data)
        for name in ("start", "end"):
            text = values.get(name)
            if text:
                values[name] = datetime.fromisoformat(text).astimezone(tz) if "T" in text else date.fromisoformat(text)
        for name in ("window_start", "window_end"):
            values[name] = date.fromisoformat(values[name])
        values["bodies"] = tuple(values["bodies"])
        return cls(**values)

    def content_hash(self) -> str:
        """A hash of everything a calendar or a reminder shows; changes mean 'changed'."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def expand(plan: Plan, start: date | None = None, end: date | None = None) -> list[Occurrence]:
    """Every occurrence of the plan whose days (or window) touch [start, end], sorted.

    Without a window, the whole plan period.
    """
    wanted = Span(start or plan.period.start, end or plan.period.end)
    found = [occ for goal, m in plan.measures for occ in _measure(plan, goal.number, m)
             if occ.span.overlaps(wanted)]
    return sorted(found, key=lambda o: o.sort_key)


class TooManyOccurrences(PlanError):
    """A measure gives more than MAX_OCCURRENCES occurrences over its period."""

    def __init__(self, plan: Plan, m: Measure, limit: int = MAX_OCCURRENCES):
        self.measure, self.limit = m.number, limit
        super().__init__([Problem(plan.files[0] if plan.files else None, None, _field(plan, m),
                                  too_many_message(m.number, limit), TOO_MANY_HINT)])


TOO_MANY_HINT = Msg("a measure may give at most {limit} occurrences over its period; use a rarer rule "
                    "(FREQ=WEEKLY rather than DAILY), a lower count, or a shorter period",
                    limit=Number(MAX_OCCURRENCES))


def too_many_message(number: str, limit: int = MAX_OCCURRENCES) -> Msg:
    return Msg("measure {number} gives more than {limit} occurrences over its period", number=number,
               limit=Number(limit))


def _field(plan: Plan, m: Measure) -> str | None:
    for gi, goal in enumerate(plan.goals):
        for mi, other in enumerate(goal.measures):
            if other is m:
                return f"goals[{gi}].measures[{mi}].cadence"
    return None


def first_date(rule: str, dtstart: datetime) -> datetime | None:
    """The first date of RRULE `rule` from `dtstart` (UNTIL ignored), or None when it
    gives none in SEARCH_YEARS years. Costs at most that many years of searching, where
    dateutil alone searches until year 9999 for a rule that never matches (2.6 s for a
    daily rule, on every expansion): the search runs on a copy moved a whole number of
    400-year cycles ahead, which has the same dates, weekdays included."""
    parts = [p for p in rule.strip().strip(";").split(";") if not p.strip().upper().startswith("UNTIL=")]
    shift = max(0, (9999 - SEARCH_YEARS - 100 - dtstart.year) // 400) * 400  # start in 9100-9499
    start = dtstart.replace(year=dtstart.year + shift)
    try:
        hit = rrulestr(";".join(parts), dtstart=start).after(start, inc=True)
    except (ValueError, OverflowError):  # ran past year 9999 without a date
        return None
    if hit is None or hit.year - start.year > SEARCH_YEARS:
        return None
    return hit.replace(year=hit.year - shift)


def all_keys(plan: Plan) -> list[str]:
    """Every key the plan generates over its whole period, pins ignored."""
    bare = Plan(plan.meta, plan.organisation, plan.goals, plan.bodies, plan.groups, plan.important_dates)
    return [o.key for o in expand(bare)]


# --- per cadence ---------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A not-yet-pinned occurrence: what the cadence says before the board decides."""

    key: str
    window: Span
    default_day: date | None  # a deadline's due day, an annual date; None for a quota slot
    known: bool  # False for an annual date whose exact days are not yet known
    title: str
    body: str | None = None
    slot: int | None = None
    start_time: time | None = None
    minutes: int = DEFAULT_MINUTES


def slots(plan: Plan, m: Measure) -> Iterator[Slot]:
    """The slots a measure's cadence produces over the measure's period; at most
    MAX_OCCURRENCES, else TooManyOccurrences."""
    for n, s in enumerate(_slots(plan, m), start=1):
        if n > MAX_OCCURRENCES:
            raise TooManyOccurrences(plan, m)
        yield s


def _slots(plan: Plan, m: Measure) -> Iterator[Slot]:
    c = m.cadence
    spans = [s for s in m.period if s.overlaps(plan.period)]
    if isinstance(c, Deadline):
        dues = [c.due] if isinstance(c.due, date) else (c.due or [s.end for s in spans])
        for due in dues:
            span = next((s for s in spans if due in s), Span(min(due, plan.period.start), due))
            for body in _each(plan, c.each):
                yield Slot(_key(m.number, str(due.year), body), Span(span.start, due), due, True,
                           _title(plan, m.title, body), body)
    elif isinstance(c, Annual):
        for span in spans:
            for year in span.years():
                for ident in c.dates:
                    where, known = plan.important_span(ident, year)
                    if where.overlaps(span):
                        name = plan.important_dates[ident].name
                        yield Slot(_key(m.number, str(year), ident), where, where.start if known else None,
                                   known, f"{m.title}: {name}")
    elif isinstance(c, Quota):
        for label, window, body in quota_windows(plan, m):
            for i in range(1, c.count + 1):
                n = i if c.count > 1 else None
                title = _title(plan, m.title, body) + (f" ({i}/{c.count})" if n else "")
                yield Slot(_key(m.number, label, body, n), window, None, True, title, body, n)
    elif isinstance(c, Series):
        for span in spans:
            first = datetime.combine(c.dtstart or span.start, c.start or time(0))
            last = datetime.combine(span.end, time(23, 59, 59))
            for hit in rrulestr(c.rrule, dtstart=first).xafter(datetime.combine(span.start, time(0)), inc=True):
                if hit > last:
                    break
                day = hit.date()
                yield Slot(_key(m.number, day.isoformat()), Span(day, day), day, True, m.title,
                           start_time=c.start, minutes=c.duration)


def quota_windows(plan: Plan, m: Measure) -> Iterator[tuple[str, Span, str | None]]:
    """(label, span, body) for each window a quota counts over, narrowed to its
    important date when it has one (3.5: during Kvinnefestivalen). Empty spans are
    kept out here and reported by the loader as a quota that cannot fit."""
    c = m.cadence
    assert isinstance(c, Quota)
    spans = tuple(s for s in m.period if s.overlaps(plan.period))
    for w in windows(c.per, spans, dict(c.seasons)):
        span: Span | None = w.span
        if c.window:
            span = None
            for year in w.span.years():
                where, _ = plan.important_span(c.window, year)
                span = span or where.intersect(w.span)
        if span is None:
            continue
        for body in _each(plan, c.each):
            yield w.label, span, body


def _each(plan: Plan, each: list[str]) -> list[str | None]:
    return list(plan.expand_bodies(each)) if each else [None]


def _key(number: str, *parts: object) -> str:
    return "/".join([number, *(str(p) for p in parts if p is not None)])


def _title(plan: Plan, title: str, body: str | None) -> str:
    return f"{title} – {plan.bodies[body].name}" if body else title


def _measure(plan: Plan, goal: int, m: Measure) -> Iterator[Occurrence]:
    for s in slots(plan, m):
        yield _occurrence(plan, goal, m, s, plan.pins.get(s.key))


def _occurrence(plan: Plan, goal: int, m: Measure, s: Slot, pin: Pin | None) -> Occurrence:
    bodies = plan.expand_bodies(m.bodies)
    if s.body:  # one repetition of `each`: that body, and the others who share the duty
        repeated = plan.expand_bodies(getattr(m.cadence, "each", []))
        bodies = (s.body, *(b for b in bodies if b not in repeated))
    day = s.default_day if s.known else None
    start: date | datetime | None = day
    end: date | datetime | None = start
    if s.default_day and s.known and m.cadence.kind == "annual":
        end = s.window.end  # a festival lasting several days
    all_day = True
    if s.start_time and day is not None:
        start, end, all_day = _timed(plan, day, s.start_time, None, s.minutes)
    if pin and pin.date:
        if pin.start:
            start, end, all_day = _timed(plan, pin.date, pin.start, pin.end, s.minutes)
        else:
            start, end, all_day = pin.date, pin.date, True
    status = "scheduled" if start is not None else "unscheduled"
    if pin and pin.status == "cancelled":
        status = "cancelled"
    return Occurrence(
        key=s.key, uid=occurrence_uid(plan.organisation.id, s.key), measure=m.number, goal=goal,
        kind=m.cadence.kind, title=s.title, bodies=tuple(bodies), status=status, all_day=all_day,
        start=start, end=end, window_start=s.window.start, window_end=s.window.end, body=s.body,
        slot=s.slot, place=pin.place if pin else None, note=pin.note if pin else None,
        url=pin.url if pin else None,
        visibility=pin.visibility if pin and pin.visibility else m.visibility,
    )


def _timed(plan: Plan, day: date, start: time, end: time | None, minutes: int) -> tuple[datetime, datetime, bool]:
    """Aware start and end in the plan's zone; nonexistent local times move forward."""
    begin = _local(plan, datetime.combine(day, start))
    if end is not None:
        finish = _local(plan, datetime.combine(day, end))
    else:
        finish = (begin.astimezone(timezone.utc) + timedelta(minutes=minutes)).astimezone(plan.tz)
    return begin, finish, False


def _local(plan: Plan, naive: datetime) -> datetime:
    """Attach the zone; a wall time in a spring-forward gap becomes the real time after it."""
    aware = naive.replace(tzinfo=plan.tz)
    return aware.astimezone(timezone.utc).astimezone(plan.tz)
