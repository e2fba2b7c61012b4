"""Planning a CalDAV sync: what to write, given what we want and what we last pushed.

Pure. For one calendar, compare the desired events (uid -> content and its hash) with
the state recorded after the last push (uid -> href, ETag, hash, conflict):

    desired, never pushed (or deleted since)     create   PUT  If-None-Match: *
      (but a cancelled event a person deleted stays deleted until the plan changes it)
    desired, pushed with another hash            update   PUT  If-Match: <etag>
    desired, pushed with the same hash           nothing
    pushed, no longer desired                    delete   DELETE  If-Match: <etag>
    in conflict (a person edited it on the server since our push)   left alone

So a sync with nothing changed writes nothing, and k changed events make k writes.

What a person did on the server (tasks/caldav.py records it before planning) is shown
field by field with `server_changes` (date, time, place, title, or deleted), and a
placeholder they moved to a date is read as a `proposal` for a pin. The server's text is
parsed as iCalendar data only and handed on as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from .i18n import Msg

if TYPE_CHECKING:
    from .plan import Plan


@dataclass(frozen=True)
class Desired:
    uid: str
    key: str
    ics: bytes
    hash: str
    cancelled: bool = False
    placeholder: bool = False  # an unscheduled slot's reminder: a person may move it to a date


@dataclass(frozen=True)
class Pushed:
    uid: str
    href: str
    etag: str | None
    hash: str
    conflict: bool = False
    gone: bool = False


@dataclass(frozen=True)
class Action:
    kind: str  # create | update | delete
    uid: str
    desired: Desired | None = None
    pushed: Pushed | None = None


@dataclass(frozen=True)
class SyncPlan:
    actions: list[Action]
    unchanged: int
    conflicts: list[str]  # uids left alone


def plan_sync(desired: dict[str, Desired], pushed: dict[str, Pushed]) -> SyncPlan:
    actions: list[Action] = []
    unchanged = 0
    conflicts: list[str] = []
    for uid, want in desired.items():
        have = pushed.get(uid)
        if have is None or (have.gone and have.hash != want.hash):
            actions.append(Action("create", uid, want, have))
        elif have.gone:  # deleted (by a person, a cancelled event) and not changed since: leave it gone
            unchanged += 1
        elif have.conflict:
            conflicts.append(uid)
        elif have.hash != want.hash:
            actions.append(Action("update", uid, want, have))
        else:
            unchanged += 1
    for uid, have in pushed.items():
        if uid in desired or have.gone:
            continue
        if have.conflict:
            conflicts.append(uid)
        else:
            actions.append(Action("delete", uid, None, have))
    return SyncPlan(actions, unchanged, sorted(conflicts))


# --- what people changed on the server, field by field ------------------------------------------

FIELDS = ("date", "time", "place", "title")


@dataclass(frozen=True)
class Change:
    """One field a person changed on the server: `ours` as we pushed it, `theirs` as it is
    there now (text as shown: a date YYYY-MM-DD, a time HH:MM–HH:MM or empty for all day).
    A deleted event is one Change with field 'deleted'."""

    field: str  # date | time | place | title | deleted
    ours: str | None
    theirs: str | None


@dataclass(frozen=True)
class Proposal:
    """Where and when a person put an event in their calendar app, read from its server
    copy as plain values (a date, local times in the organisation's zone, a place): the
    pin `calendars resolve --keep theirs` writes, once validated like any pin."""

    date: date
    start: time | None
    end: time | None
    place: str | None


def server_changes(ours: str | None, theirs: str | None, tz: tzinfo) -> list[Change]:
    """The fields of the event that differ between our last push and the server's copy."""
    if theirs is None:
        return [Change("deleted", None, None)]
    a, b = _fields(ours, tz), _fields(theirs, tz)
    return [Change(f, a.get(f), b.get(f)) for f in FIELDS if a.get(f) != b.get(f)]


def proposal(theirs: str, tz: tzinfo) -> Proposal | None:
    """The date, times and place of the server's copy (None when it cannot be read)."""
    ev = _event(theirs)
    if ev is None or "DTSTART" not in ev:
        return None
    start, end = _local(ev, "DTSTART", tz), _local(ev, "DTEND", tz) if "DTEND" in ev else None
    if isinstance(start, datetime):
        last = end if isinstance(end, datetime) else None
        return Proposal(start.date(), start.time().replace(tzinfo=None),
                        last.time().replace(tzinfo=None) if last else None, _text(ev, "LOCATION"))
    if isinstance(start, date):
        return Proposal(start, None, None, _text(ev, "LOCATION"))
    return None


def _event(text: str | None) -> Any:
    from icalendar import Calendar

    if not text:
        return None
    try:
        return next(iter(Calendar.from_ical(text).walk("VEVENT")), None)
    except (ValueError, KeyError, IndexError):
        return None


def _local(ev: Any, name: str, tz: tzinfo) -> date | datetime | None:
    value = ev.decoded(name, None)
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    return value if isinstance(value, date) else None


def _text(ev: Any, name: str) -> str | None:
    value = ev.get(name)
    return str(value) if value is not None and str(value) else None


def _fields(text: str | None, tz: tzinfo) -> dict[str, str | None]:
    ev = _event(text)
    if ev is None:
        return {}
    start = _local(ev, "DTSTART", tz) if "DTSTART" in ev else None
    end = _local(ev, "DTEND", tz) if "DTEND" in ev else None
    day = start.date() if isinstance(start, datetime) else start
    clock = None
    if isinstance(start, datetime):
        clock = f"{start:%H:%M}–{end:%H:%M}" if isinstance(end, datetime) else f"{start:%H:%M}"
    return {"date": day.isoformat() if day else None, "time": clock, "place": _text(ev, "LOCATION"),
            "title": _text(ev, "SUMMARY")}


def check_proposal(plan: Plan, key: str, prop: Proposal) -> list[Msg]:
    """Why the proposal cannot be a pin of occurrence `key` (empty: it can), by the rules
    every pin in schedule.yaml follows (docs/plan-format.md): a real date in the
    years a plan may name, inside the slot's window; an end after the start; local
    times that exist in the organisation's zone (not in the hour the clocks skip).
    Each reason is said in the reader's language."""
    from pydantic import ValidationError

    from .expand import slots
    from .explain import explain
    from .model import Pin

    slot = next((s for _, m in plan.measures for s in slots(plan, m) if s.key == key), None)
    if slot is None:
        return [Msg("the plan has no occurrence {key!r} any more", key=key)]
    try:
        Pin.model_validate({"date": prop.date.isoformat(),
                            "start": prop.start.strftime("%H:%M") if prop.start else None,
                            "end": prop.end.strftime("%H:%M") if prop.end and prop.start else None,
                            "place": prop.place})
    except ValidationError as exc:
        out = []
        for e in exc.errors():
            message, _hint = explain(e, tuple(e["loc"]), Pin)
            where = ".".join(map(str, e["loc"])) or "pin"
            out.append(Msg("{where}: {message}", where=where, message=message))
        return out
    reasons = []
    if prop.date not in slot.window and slot.window.days > 1:
        reasons.append(Msg("{day} is outside the window {window} of {key}", day=str(prop.date),
                           window=str(slot.window), key=key))
    for name, clock in (("start", prop.start), ("end", prop.end)):
        if clock is None:
            continue
        naive = datetime.combine(prop.date, clock)
        shown = naive.replace(tzinfo=plan.tz).astimezone(timezone.utc).astimezone(plan.tz)
        if shown.replace(tzinfo=None) != naive:
            reasons.append(Msg("{name} {clock} on {day} does not exist in {zone} (the clocks skip it)", name=name,
                               clock=f"{clock:%H:%M}", day=str(prop.date), zone=plan.organisation.timezone))
    return reasons
