"""RFC 5545 calendars from published entries, built with `icalendar`.

Rules followed (section numbers of RFC 5545 unless named):

- UID (§3.8.4.7) is the occurrence's stable UID; SEQUENCE (§3.8.7.4) its revision, raised
  on every change, so a calendar app updates the event in place instead of adding one.
- DTSTAMP (§3.8.7.2) and LAST-MODIFIED (§3.8.7.3) are the time of the last change, not
  the time of the run, so a feed with nothing changed is byte-for-byte the same.
- Timed events carry DTSTART/DTEND with TZID and the calendar embeds the VTIMEZONE
  (§3.6.5) in the RRULE form every client reads alike (`vtimezone`); a local time the
  clock shows twice is written in UTC (§3.3.5); all-day items are VALUE=DATE with an
  exclusive DTEND (§3.6.1).
- A cancelled or removed occurrence is STATUS:CANCELLED (§3.8.1.11).
- The calendar has NAME and REFRESH-INTERVAL (RFC 7986 §5.1, §5.7) and the de-facto
  X-WR-CALNAME, X-WR-TIMEZONE and X-PUBLISHED-TTL that Apple, Google and Outlook read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from icalendar import Calendar, Event, vDuration

from . import i18n
from .errors import NotFound
from .feeds import REMINDER_LEAD, Entry, Feed
from .model import Measure
from .plan import Plan
from .vtimezone import vtimezone

PRODID = "-//aarshjul//aarshjul//NB"
REFRESH = timedelta(hours=1)


def feed_calendar(plan: Plan, feed: Feed, entries: list[Entry], site_url: str | None = None) -> Calendar:
    """The whole feed as one VCALENDAR."""
    cal = _calendar(plan, feed.name, feed.description)
    for entry in sorted(entries, key=lambda e: (e.occurrence.sort_key, e.occurrence.uid)):
        cal.add_component(event(plan, entry, site_url))
    _add_timezone(plan, cal)
    return cal


def event_calendar(plan: Plan, entry: Entry, site_url: str | None = None) -> Calendar:
    """One event in its own VCALENDAR, as a CalDAV resource holds it (RFC 4791 §4.1)."""
    cal = _calendar(plan, None, None)
    cal.add_component(event(plan, entry, site_url))
    _add_timezone(plan, cal)
    return cal


def event(plan: Plan, entry: Entry, site_url: str | None = None) -> Event:
    occ, lang = entry.occurrence, plan.organisation.locale
    measure = _measure(plan, occ.measure)
    ev = Event()
    ev.add("uid", occ.uid)
    ev.add("sequence", entry.sequence)
    ev.add("dtstamp", _utc(entry.modified))
    ev.add("created", _utc(entry.created))
    ev.add("last-modified", _utc(entry.modified))
    # a body taken out of the plan (its feed retired, domain.feeds) by its id: its name is gone with it
    responsible = ", ".join(plan.body_name(b) if b in plan.bodies or b in plan.groups else b for b in occ.bodies)
    if occ.start is None:  # an unscheduled slot: a reminder near the end of its window
        day = max(occ.window_start, occ.window_end - REMINDER_LEAD)
        ev.add("dtstart", day)
        ev.add("dtend", day + timedelta(days=1))
        ev.add("summary", f"{_w('not_scheduled', lang)}: {occ.title}")
        ev.add("transp", "TRANSPARENT")
        lead = i18n._(lang, _WORDS["deadline_note"], day=i18n.day(occ.window_end, lang))
    else:
        assert occ.end is not None  # Occurrence: only an unscheduled slot lacks start and end, and then both
        if occ.all_day:
            ev.add("dtstart", occ.start)
            ev.add("dtend", occ.end + timedelta(days=1))
            ev.add("transp", "TRANSPARENT")
        else:
            ev.add("dtstart", _unambiguous(occ.start))
            ev.add("dtend", _unambiguous(occ.end))
        ev.add("summary", occ.title)
        lead = None
    lines = [f"{_w('measure', lang)} {occ.measure}" + (f": {measure.text}" if measure else ""),
             f"{_w('responsible', lang)}: {responsible}"]
    if lead:
        lines.insert(0, lead)
    if entry.cancelled and entry.reason:
        lines.insert(0, f"{_w('cancelled', lang)}: {entry.reason}")
    if occ.note:
        lines.append(occ.note)
    ev.add("description", "\n".join(lines))
    ev.add("categories", [f"{_w('measure', lang)} {occ.measure}", i18n.word(occ.kind, lang)])
    if occ.place:
        ev.add("location", occ.place)
    url = occ.url or site_url
    if url:
        ev.add("url", url)
    if occ.visibility == "public":  # never PRIVATE: Nextcloud hides those from the people a calendar is
        ev.add("class", "PUBLIC")    # shared with; who sees a feed or calendar is who has it (RFC 5545 §3.8.1.3)
    ev.add("status", "CANCELLED" if entry.cancelled else "TENTATIVE" if occ.start is None else "CONFIRMED")
    return ev


def _measure(plan: Plan, number: str) -> Measure | None:
    """The measure, or None for one taken out of the plan (its occurrences shown cancelled)."""
    try:
        return plan.measure(number)
    except NotFound:
        return None


def _calendar(plan: Plan, name: str | None, description: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("name", name)
        cal.add("x-wr-calname", name)
        cal.add("x-wr-caldesc", description or name)
        cal.add("x-wr-timezone", plan.organisation.timezone)
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(REFRESH))
    return cal


def _add_timezone(plan: Plan, cal: Calendar) -> None:
    """A VTIMEZONE for each TZID the events use (the organisation's zone), in the RRULE
    form that ical.js and libical read right (see `vtimezone`), first in the calendar."""
    first, last = plan.period.start, plan.period.end
    for i, tzid in enumerate(sorted(cal.get_missing_tzids())):
        cal.subcomponents.insert(i, vtimezone(tzid, first, last))


def _unambiguous(value: date) -> date:
    """A local time the clock shows twice (02:30 on the last Sunday of October in Oslo)
    in UTC: RFC 5545 §3.3.5 reads a TZID time as its first occurrence, but libical and
    ical.js take the second, and a wall time cannot say which one `fold` meant."""
    if isinstance(value, datetime) and value.replace(fold=0).utcoffset() != value.replace(fold=1).utcoffset():
        return value.astimezone(timezone.utc)
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


_WORDS = {"measure": i18n.N_("Measure"), "responsible": i18n.N_("Responsible"),
          "not_scheduled": i18n.N_("Not scheduled"), "deadline_note": i18n.N_("Not scheduled yet. Due by {day}."),
          "cancelled": i18n.N_("Cancelled")}


def _w(name: str, lang: str) -> str:
    """A word of the events, in the organisation's language, from the catalogs."""
    return i18n._(lang, _WORDS[name])


def invitation(plan: Plan, entry: Entry, method: str, organizer: str, organizer_name: str,
               site_url: str | None = None) -> bytes:
    """An iTIP message (RFC 5546) for iMIP (RFC 6047): the event with METHOD REQUEST (new
    or changed, SEQUENCE its revision) or CANCEL, the body as ORGANIZER. The attendee
    is added per recipient with `with_attendee`."""
    cal = _calendar(plan, None, None)
    cal.add("method", method)
    ev = event(plan, entry, site_url)
    ev.add("organizer", f"mailto:{organizer}", parameters={"CN": organizer_name})
    if method == "CANCEL":
        ev["status"] = "CANCELLED"
    cal.add_component(ev)
    _add_timezone(plan, cal)
    ical: bytes = cal.to_ical()  # icalendar leaves to_ical unannotated
    return ical


def with_attendee(ics: bytes, address: str, name: str) -> bytes:
    """The invitation addressed to one attendee (RFC 5546 §3.2.2 requires ATTENDEE)."""
    cal = Calendar.from_ical(ics)
    cancel = str(cal.get("METHOD", "")).upper() == "CANCEL"  # nothing to answer (RFC 5546 §3.2.5)
    for ev in cal.walk("VEVENT"):
        params = {"ROLE": "REQ-PARTICIPANT"} if cancel else \
            {"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
        if name:
            params["CN"] = name
        ev.add("attendee", f"mailto:{address}", parameters=params)
    ical: bytes = cal.to_ical()  # icalendar leaves to_ical unannotated
    return ical
