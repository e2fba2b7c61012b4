"""A VTIMEZONE for any IANA zone, in the form every calendar library reads alike.

An event at 18:00 in Oslo is written `DTSTART;TZID=Europe/Oslo:20270603T180000`; the
calendar then has to say what "Europe/Oslo" means, in a VTIMEZONE component (RFC 5545
§3.6.5). A VTIMEZONE is a list of *observances*: STANDARD and DAYLIGHT sub-components,
each saying "from this onset on, the clock is TZOFFSETTO from UTC". Each has

- DTSTART: the first onset, as a local date-time *in the offset in force before it*
  (TZOFFSETFROM), with no TZID and no Z. For Europe/Oslo, summer time begins when the
  clock shows 02:00 (CET) and ends when it shows 03:00 (CEST), so the onsets are
  `19700329T020000` and `19701025T030000`, not the wall times after the change;
- RRULE (§3.3.10) for the later onsets when the law gives a yearly rule
  (`FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU`: the last Sunday of March), or RDATE (§3.8.5.2)
  listing them one by one;
- TZOFFSETFROM, TZOFFSETTO (§3.8.3.3, §3.8.3.4) and TZNAME (§3.8.3.2).

RFC 5545 allows an RDATE to carry several values separated by commas, and that is the
form `icalendar`'s `add_missing_timezones` writes. Calendar libraries do not all read it:
ical.js (Thunderbird, Nextcloud Calendar) takes only the first value, so every later
summer is an hour off; and its onsets are the wall times after the change (03:00 for
summer time), which libical (Evolution, GNOME Calendar, KOrganizer) rightly reads as
03:00 CET, an hour late. The form everyone reads is the one tzurl.org and vzic publish: one STANDARD
and one DAYLIGHT with an RRULE each, from 1970. `vtimezone` builds that form from the
zone data (`zoneinfo`):

1. find the zone's transitions from the year before `first` to 28 years past `last`
   (the offset, the DST flag and the name, to the second);
2. describe each by its local onset (month, day, weekday, time) and its offsets, and
   look for the rule that the most recent years follow without exception: the n-th or
   last weekday of a month (`BYDAY=2SU`, `BYDAY=-1SU`), the first weekday on or after a
   day (`BYMONTHDAY=23,24,...,29;BYDAY=FR`, as vzic writes "Fri>=23"), or a fixed day.
   A rule is accepted only if it gives every transition of at least 28 years in a row:
   the days of the week repeat every 28 years, so it then gives them for every year;
3. if that rule holds over all the years asked for, the zone is that rule, from 1970;
   if it began later, the transitions before it come first, as RDATEs, after an
   observance from 1970 with the offset at the start; a zone that follows no yearly rule
   gets every transition of the years asked for as an RDATE, **one RDATE property per
   transition**, never comma-joined;
4. a zone without transitions (no daylight saving time) is a single STANDARD.

The result is right for every instant from the year before `first` to the end of the
year after `last`, and, with a rule, for as long as the zone keeps it. It is pure: no
files, no clock, no network (the zone data is read once per zone and years, cached).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

RULE_SINCE = 1970  # the year a rule-form zone starts, as tzurl.org and vzic write it
# Years of zone data past `last` looked at to tell the rule. The calendar's days of the
# week repeat every 28 years (from 1901 to 2099), so a rule that gives every transition
# of 28 years in a row gives those of every year for as long as the zone keeps it.
YEARS_AFTER = 28
MIN_RULE_YEARS = 28
_DAY = 86400
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Transition:
    """One change of the zone's clock: at `utc`, from offset `before` to `after`."""

    utc: datetime
    before: timedelta
    after: timedelta
    name: str
    dst: bool

    @property
    def onset(self) -> datetime:
        """The local onset, as DTSTART and RDATE write it: in the offset before the change."""
        return (self.utc + self.before).replace(tzinfo=None)

    @property
    def kind(self) -> tuple[time, timedelta, timedelta, str, bool, int]:
        """What a yearly rule keeps the same: the local time, offsets, name, DST, month."""
        return (self.onset.time(), self.before, self.after, self.name, self.dst, self.onset.month)


@dataclass(frozen=True)
class Rule:
    """A yearly onset: a day of `month` (by `byday`, `bymonthday` or both) at `at`."""

    month: int
    at: time
    byday: str | None = None  # "-1SU", "2SU", or "FR" together with bymonthday
    bymonthday: tuple[int, ...] = ()

    def day(self, year: int) -> date | None:
        """The onset's date in `year`, or None if the rule gives no day then."""
        length = calendar.monthrange(year, self.month)[1]
        days = [date(year, self.month, d) for d in range(1, length + 1)]
        if self.bymonthday:
            days = [d for d in days if d.day in self.bymonthday]
        if self.byday:
            weekday = _WEEKDAYS.index(self.byday[-2:])
            days = [d for d in days if d.weekday() == weekday]
            nth = self.byday[:-2]
            if nth:
                n = int(nth)
                days = [days[n - 1 if n > 0 else n]] if len(days) >= abs(n) else []
        return days[0] if len(days) == 1 else None

    def rrule(self) -> dict[str, object]:
        parts: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": self.month}
        if self.bymonthday:
            parts["BYMONTHDAY"] = list(self.bymonthday)
        if self.byday:
            parts["BYDAY"] = self.byday
        return parts


def vtimezone(key: str, first: date, last: date) -> Timezone:
    """The VTIMEZONE for IANA zone `key`, right for every instant from the year before
    `first` to the end of the year after `last` (and, when the zone follows a yearly
    rule, for as long as it does)."""
    spec = _spec(key, first.year - 1, last.year + 1)
    tz = Timezone()
    tz.add("tzid", key)
    for kind, start, before, after, name, rrule, rdates in spec:
        sub = TimezoneDaylight() if kind == "DAYLIGHT" else TimezoneStandard()
        sub.add("dtstart", start)
        if rrule:
            sub.add("rrule", dict(rrule))
        for onset in rdates:  # one RDATE property per onset: ical.js reads only the first value of one
            sub.add("rdate", onset)
        sub.add("tzname", name)
        sub.add("tzoffsetfrom", before)
        sub.add("tzoffsetto", after)
        tz.add_component(sub)
    return tz


_Observance = tuple[str, datetime, timedelta, timedelta, str, tuple[tuple[str, object], ...], tuple[datetime, ...]]


@lru_cache(maxsize=64)
def _spec(key: str, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    """The observances of `key` for the years `first_year`..`last_year`, as plain data
    (cached: every CalDAV object and invitation carries the same zone)."""
    zone = ZoneInfo(key)
    start = datetime(first_year, 1, 1, tzinfo=timezone.utc) - timedelta(days=1)
    end = datetime(last_year + YEARS_AFTER + 1, 1, 1, tzinfo=timezone.utc)
    found = transitions(zone, start, end)
    by_year: dict[int, list[Transition]] = {}
    for t in found:
        by_year.setdefault(t.onset.year, []).append(t)
    final_year = last_year + YEARS_AFTER
    rules, since = _final_rules(by_year, first_year, final_year)

    out: list[_Observance] = []
    if rules is not None and since <= first_year:
        if not rules:  # no change of clock in any of the years: one STANDARD
            offset, name, dst = _state(zone, start + timedelta(days=1))
            out.append((_kind(dst), datetime(RULE_SINCE, 1, 1), offset, offset, name, (), ()))
        for t, rule in rules:
            out.append(_rule_observance(t, rule, RULE_SINCE))
        return tuple(out)

    # Before the rule (or with none): an anchor for the offset at the start, then each
    # transition of the years asked for as its own RDATE, grouped by what it changes to.
    offset, name, dst = _state(zone, start + timedelta(days=1))
    out.append((_kind(dst), datetime(RULE_SINCE, 1, 1), offset, offset, name, (), ()))
    until = since if rules is not None else last_year + 2  # and a change at the stroke of the new year
    listed = [t for t in found if first_year <= t.onset.year < until]
    groups: dict[tuple[timedelta, timedelta, str, bool], list[Transition]] = {}
    for t in listed:
        groups.setdefault((t.before, t.after, t.name, t.dst), []).append(t)
    for (before, after, tzname, is_dst), ts in groups.items():
        out.append((_kind(is_dst), ts[0].onset, before, after, tzname, (), tuple(t.onset for t in ts[1:])))
    for t, rule in rules or ():
        out.append(_rule_observance(t, rule, since))
    return tuple(out)


def _rule_observance(t: Transition, rule: Rule, year: int) -> _Observance:
    day = next(d for y in range(year, year + 40) if (d := rule.day(y)) is not None)
    return (_kind(t.dst), datetime.combine(day, rule.at), t.before, t.after, t.name,
            tuple(rule.rrule().items()), ())


def _kind(dst: bool) -> str:
    return "DAYLIGHT" if dst else "STANDARD"


def _state(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, str, bool]:
    local = instant.astimezone(zone)
    offset, dst = local.utcoffset(), local.dst()
    assert offset is not None and dst is not None  # a ZoneInfo always answers both
    return offset, local.tzname() or "", dst > timedelta(0)


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """Every change of offset, DST flag or name in [start, end), to the second: a step
    of a day, then halving the step where the state differs."""
    out = []
    t0 = int(start.timestamp())
    state = _state(zone, start)
    for t1 in range(t0 + _DAY, int(end.timestamp()) + 1, _DAY):
        new = _state(zone, datetime.fromtimestamp(t1, timezone.utc))
        if new == state:
            t0 = t1
            continue
        lo, hi = t0, t1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _state(zone, datetime.fromtimestamp(mid, timezone.utc)) == state:
                lo = mid
            else:
                hi = mid
        at = datetime.fromtimestamp(hi, timezone.utc)
        out.append(Transition(at, state[0], new[0], new[1], new[2]))
        state, t0 = new, t1
    return out


def _final_rules(by_year: dict[int, list[Transition]], first_year: int,
                 final_year: int) -> tuple[list[tuple[Transition, Rule]] | None, int]:
    """The yearly rule the last years follow (one per kind of transition, an empty list
    for no transitions at all) and the first year it holds from; (None, _) if the last
    years follow no rule."""
    def kinds(year: int) -> dict[tuple[time, timedelta, timedelta, str, bool, int], Transition] | None:
        ts = by_year.get(year, [])
        found = {t.kind: t for t in ts}
        return found if len(found) == len(ts) else None  # two of a kind in one year: no rule

    last = kinds(final_year)
    if last is None:
        return None, final_year + 1
    rules: list[tuple[Transition, Rule]] = []
    since = final_year
    while since > first_year:
        year = since - 1
        earlier = kinds(year)
        if earlier is None or earlier.keys() != last.keys():
            break
        fitted = _fit(by_year, last, year, final_year)
        if fitted is None:
            break
        rules, since = fitted, year
    if since > final_year - MIN_RULE_YEARS + 1:
        return None, final_year + 1
    return rules, since


def _fit(by_year: dict[int, list[Transition]],
         last: dict[tuple[time, timedelta, timedelta, str, bool, int], Transition],
         year0: int, year1: int) -> list[tuple[Transition, Rule]] | None:
    """A rule for each kind of transition that gives exactly its date in every year
    year0..year1, or None."""
    out = []
    for kind, t in last.items():
        days = {y: next(u.onset.date() for u in by_year[y] if u.kind == kind) for y in range(year0, year1 + 1)}
        rule = _rule(t.onset.month, t.onset.time(), list(days.values()))
        if rule is None or any(rule.day(y) != d for y, d in days.items()):
            return None
        out.append((t, rule))
    return sorted(out, key=lambda pair: (pair[1].month, pair[0].utc))


def _rule(month: int, at: time, days: list[date]) -> Rule | None:
    """The simplest yearly rule that gives these dates (checked by the caller)."""
    weekdays = {d.weekday() for d in days}
    if len(weekdays) == 1:
        wd = _WEEKDAYS[weekdays.pop()]
        if all(d.day > calendar.monthrange(d.year, month)[1] - 7 for d in days):
            return Rule(month, at, f"-1{wd}")
        bands = {(d.day - 1) // 7 for d in days}
        if len(bands) == 1:
            return Rule(month, at, f"{bands.pop() + 1}{wd}")
        low = min(d.day for d in days)
        if max(d.day for d in days) - low <= 6:
            return Rule(month, at, wd, tuple(range(low, low + 7)))
    if len({d.day for d in days}) == 1:
        return Rule(month, at, None, (days[0].day,))
    return None
