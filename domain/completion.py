"""What a completion refers to, and the checks on what a person records.

The completion log (db/completions.py) keeps one record per *ref*:

    1.5/2025/1          an occurrence key from the plan's expansion (`aarshjul agenda`);
                        ref and occurrence key are the same
    1.2@2025-05-01      a measure without occurrences (standing, on_event) on a date:
                        `aarshjul done 1.2 --date 2025-05-01`; another date is another record
    1.7@medlemsbrev/…   written by flows (the mail flow logs each member letter sent)

A measure whose cadence gives occurrences (deadline, annual, quota, series) is recorded
by key, never by number: "1.5 on 3 March" would not say which of the year's two slots
it filled. `resolve` says so, listing the keys.

The checks, each an AarshjulError naming the option and what to write instead:

- an unknown key or measure: the nearest existing ones (`UnknownRef`, a NotFound);
- a date that does not parse, or does not exist (2025-02-30);
- a date outside the plan's period, or (for what was held) after today;
- a negative attendance;
- an evidence link that is not an http(s) address.

Pure: the caller passes the plan, its occurrences and `today`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Sequence

from . import i18n
from .errors import AarshjulError, NotFound, nearest
from .i18n import Msg
from .expand import Occurrence
from .plan import Plan

SLOT_KINDS = ("deadline", "annual", "quota", "series")


@dataclass(frozen=True)
class _Day:
    """A date in a message, written in the language it is said in."""

    value: date

    def say(self, lang: str | None) -> str:
        return i18n.day(self.value, lang or i18n.DEFAULT)
_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_NORWEGIAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class UnknownRef(NotFound):
    """A key or measure that is not in the plan; the message lists the nearest ones."""

    def __init__(self, what: str | Msg, name: str, known: Iterable[str], hint: str | Msg):
        self.name = name
        self.suggestions = nearest(name, list(known))
        message = (Msg("unknown {what} {name!r}; did you mean {names}?", what=what, name=name,
                       names=", ".join(self.suggestions)) if self.suggestions else
                   Msg("unknown {what} {name!r}; {hint}", what=what, name=name, hint=hint))
        AarshjulError.__init__(self, message)


@dataclass(frozen=True)
class Ref:
    """What a person's KEY|MEASURE argument refers to."""

    ref: str  # the completion's reference (unique per organisation)
    measure: str
    occurrence: Occurrence | None  # None for a dated record of a measure without occurrences
    on: date | None = None  # the date a `measure@date` argument carried

    @property
    def key(self) -> str | None:
        return self.occurrence.key if self.occurrence else None


def resolve(plan: Plan, occurrences: Sequence[Occurrence], text: str, *, allow_measure: bool = True) -> Ref:
    """KEY, MEASURE or MEASURE@DATE -> a Ref. A dated ref is completed with its date later
    (`dated`), once the date is known."""
    text = text.strip()
    if "@" in text:
        number, _, when = text.partition("@")
        measure = _measure(plan, occurrences, number, allow_measure)
        on = parse_day(when, "datoen etter @")
        return Ref(f"{measure}@{on.isoformat()}", measure, None, on)  # 1.2@1.5.2025 is 1.2@2025-05-01
    if "/" in text:
        by_key = {o.key: o for o in occurrences}
        if text not in by_key:
            number = text.split("/", 1)[0]
            known = [k for k in by_key if k.startswith(number + "/")] or list(by_key)
            raise UnknownRef(Msg("occurrence"), text, known,
                             Msg("see the keys with `aarshjul agenda --measure MEASURE --format json`"))
        occ = by_key[text]
        return Ref(occ.key, occ.measure, occ)
    measure = _measure(plan, occurrences, text, allow_measure)
    return Ref(measure, measure, None)


def dated(ref: Ref, on: date) -> Ref:
    """A measure without occurrences: its ref for the date `on` (measure@YYYY-MM-DD)."""
    if ref.occurrence is not None or "@" in ref.ref:
        return ref
    return Ref(f"{ref.measure}@{on.isoformat()}", ref.measure, None, on)


def _measure(plan: Plan, occurrences: Sequence[Occurrence], number: str, allow: bool) -> str:
    numbers = [m.number for _, m in plan.measures]
    if number not in numbers:
        raise UnknownRef(Msg("measure"), number, numbers, Msg("see the measures with `aarshjul measures`"))
    m = plan.measure(number)
    if m.cadence.kind in SLOT_KINDS:
        keys = [o.key for o in occurrences if o.measure == number]
        shown = ", ".join(keys[:6]) + (", …" if len(keys) > 6 else "")
        raise AarshjulError(Msg("measure {number} has occurrences in the plan ({kind}); give the key, e.g. "
                                "{shown} (all: `aarshjul agenda --measure {number}`)",
                                number=number, kind=Msg(i18n.WORDS.get(m.cadence.kind, m.cadence.kind)), shown=shown))
    if not allow:
        raise AarshjulError(Msg("measure {number} has no occurrences to cancel; `cancel` is for an occurrence "
                                "(a key like 1.5/2025/1)", number=number))
    return number


# --- input checks ------------------------------------------------------------------------


def parse_day(text: str, option: str) -> date:
    """YYYY-MM-DD or DD.MM.YYYY; an impossible date (2025-02-30) says so."""
    value = text.strip()
    m = _NORWEGIAN.match(value)
    parts = (int(m[3]), int(m[2]), int(m[1])) if m else None
    if parts is None and _ISO.match(value):
        year, month, day = value.split("-")  # three parts: _ISO matched
        parts = (int(year), int(month), int(day))
    if parts is None:
        raise AarshjulError(Msg("{option} {text!r} is not a date; write YYYY-MM-DD, like 2025-03-26",
                                option=option, text=text))
    try:
        return date(*parts)
    except ValueError:
        raise AarshjulError(Msg("{option} {text!r} is not in the calendar (check day and month); write YYYY-MM-DD",
                                option=option, text=text)) from None


def check_in_period(plan: Plan, on: date, option: str) -> date:
    if on not in plan.period:
        raise AarshjulError(Msg("{option} {day} is outside the plan's period ({start} – {end})",
                                option=option, day=on.isoformat(), start=_Day(plan.period.start),
                                end=_Day(plan.period.end)))
    return on


def check_not_future(on: date, today: date, option: str) -> date:
    if on > today:
        raise AarshjulError(Msg("{option} {day} is after today ({today}); record what was done once it has "
                                "happened (or use --today)", option=option, day=on.isoformat(),
                                today=today.isoformat()))
    return on


def check_not_ahead(occ: Occurrence | None, today: date, target: str, outcome: str = "held") -> None:
    """An occurrence dated after today (or a slot whose window opens after today) is not
    recorded as held or not held without --date: the default day would be today, and a
    meeting next week would be logged as held today (issue 14 item 10)."""
    if occ is None:
        return
    first = (occ.start.date() if isinstance(occ.start, datetime) else occ.start) if occ.start is not None \
        else occ.window_start
    if first <= today:
        return
    when = (Msg("is scheduled for {day}", day=_Day(first)) if occ.start is not None else
            Msg("applies from {day}", day=_Day(first)))
    if outcome == "held":
        raise AarshjulError(Msg("{target} {when}, after today ({today}); give the date it was held with "
                                "--date YYYY-MM-DD (or use --today)", target=target, when=when, today=_Day(today)))
    raise AarshjulError(Msg("{target} {when}, after today ({today}); if it was cancelled, use "
                            "`aarshjul cancel {target} --reason …`, else give the date with --date",
                            target=target, when=when, today=_Day(today)))


def check_attendance(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise AarshjulError(Msg("--attendance {value}: the number of people cannot be negative", value=value))
    return value


def check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+\S*$", value):
        raise AarshjulError(Msg("--evidence {value!r} is not a web address; write the whole link, like "
                                "https://example.org/minutes/2025-03", value=value))
    return value


def default_day(occ: Occurrence | None, today: date) -> date:
    """The date a completion gets when none is given: the occurrence's day if it has one
    that is not after today, else today."""
    if occ is not None and occ.start is not None:
        day = occ.start.date() if isinstance(occ.start, datetime) else occ.start
        if day <= today:
            return day
    return today


def outside_window(occ: Occurrence, on: date) -> bool:
    """True when `on` lies outside the occurrence's window (a warning, not an error:
    a meeting may be held a little late)."""
    return not occ.window_start <= on <= occ.window_end
