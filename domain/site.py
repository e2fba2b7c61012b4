"""The public web calendar's content: upcoming open events, grouped by month.

Pure: builds the data the page template shows (in the organisation's language,
organisation.locale; the template's own words come from the catalogs) and the schema.org Event JSON-LD for
search engines (https://schema.org/Event). Rendering and writing are in tasks/site.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from itertools import groupby
from typing import Any

from babel.dates import format_date

from . import i18n
from .i18n import _
from .expand import Occurrence
from .feeds import PUBLIC, Entry
from .plan import Plan


def page_context(plan: Plan, entries: list[Entry], today: date, feed_links: list[dict[str, Any]],
                 site_url: str | None = None) -> dict[str, Any]:
    """What index.html shows: upcoming open events from `today`, month by month."""
    lang = i18n._lang(plan.organisation.locale)
    upcoming = sorted((e for e in entries if e.occurrence.visibility == "public" and e.occurrence.start is not None
                       and _last_day(e) >= today),
                      key=lambda e: e.occurrence.sort_key)
    months: list[dict[str, Any]] = []
    for (year, month), group in groupby(upcoming, key=lambda e: (_first_day(e).year, _first_day(e).month)):
        label = format_date(date(year, month, 1), "LLLL y", locale=lang)
        months.append({"label": label[:1].upper() + label[1:], "events": [_event(plan, e, lang) for e in group]})
    return {
        "lang": lang,
        "organisation": plan.organisation.name,
        "title": f"{plan.organisation.name} – {_(lang, 'calendar')}",
        "today": i18n.day(today, lang),
        "months": months,
        "count": len(upcoming),
        "feeds": feed_links,
        "json_ld": script_json([_json_ld(plan, e, site_url) for e in upcoming]),
        "feed_id": PUBLIC,
    }


def _dates(o: Occurrence) -> tuple[date | datetime, date | datetime]:
    """Start and end of an occurrence with a date; only those reach the page."""
    if o.start is None or o.end is None:
        raise ValueError(f"{o.key} has no date: only scheduled occurrences are shown on the page")
    return o.start, o.end


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _first_day(e: Entry) -> date:
    return _day(_dates(e.occurrence)[0])


def _last_day(e: Entry) -> date:
    return _day(_dates(e.occurrence)[1])


def _clock(start: date | datetime, end: date | datetime, lang: str) -> str | None:
    """'18:00–20:00' for a timed occurrence (aware datetimes); None for an all-day one (dates)."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        return f"{i18n.clock(start, lang)}–{i18n.clock(end, lang)}"
    return None


def _event(plan: Plan, e: Entry, lang: str) -> dict[str, Any]:
    o = e.occurrence
    start, end = _dates(o)
    when = i18n.day(start, lang)
    if o.all_day and end != start:
        when = f"{when} – {i18n.day(end, lang)}"
    return {
        "uid": o.uid,
        "title": o.title,
        "date": when,
        "datetime": start.isoformat(),
        "weekday": format_date(_first_day(e), "EEEE", locale=lang).capitalize(),
        "time": None if o.all_day else _clock(start, end, lang),
        "place": o.place,
        "bodies": [plan.body_name(b) for b in o.bodies],
        "measure": o.measure,
        "note": o.note,
        "url": o.url,
        "cancelled": e.cancelled,
    }


def event_url(uid: str, site_url: str | None) -> str:
    """The event's own address: its anchor on the page (the page's <article id="e-UID">)."""
    return f"{site_url.rstrip('/')}/#e-{uid}" if site_url else f"#e-{uid}"


def _location(plan: Plan, o: Occurrence) -> dict[str, Any] | None:
    """schema.org location: a Place with a PostalAddress from the organisation's place
    register, a VirtualLocation for an online meeting, or a Place whose address is the
    pin's text when the register does not know it."""
    org = plan.organisation
    name = o.place or org.default_place
    if not name:
        return None
    place = org.places.get(name)
    if place is None:
        return {"@type": "Place", "name": name, "address": name}
    if place.url and not place.street:
        return {"@type": "VirtualLocation", "name": name, "url": place.url}
    address: dict[str, Any] = {"@type": "PostalAddress", "streetAddress": place.street}
    if place.postcode:
        address["postalCode"] = place.postcode
    address["addressLocality"] = place.city
    return {"@type": "Place", "name": name, "address": address}


def _json_ld(plan: Plan, e: Entry, site_url: str | None) -> dict[str, Any]:
    """schema.org Event as Google's event rich results ask for it: name, startDate,
    location (Place with PostalAddress, or VirtualLocation), and the recommended
    endDate, eventStatus, eventAttendanceMode, organizer (with its url), description, url."""
    o = e.occurrence
    start, end = _dates(o)
    org: dict[str, Any] = {"@type": "Organization", "name": plan.organisation.name}
    if plan.organisation.website or site_url:
        org["url"] = plan.organisation.website or site_url
    location = _location(plan, o)
    online = bool(location and location["@type"] == "VirtualLocation")
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": f"urn:uuid:{o.uid}",
        "name": o.title,
        "url": event_url(o.uid, site_url),
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),  # an all-day one's last day
        "eventStatus": "https://schema.org/EventCancelled" if e.cancelled else "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode" if online
        else "https://schema.org/OfflineEventAttendanceMode",
        "organizer": org,
        "description": o.note or plan.measure(o.measure).text,
    }
    if location:
        data["location"] = location
    if o.url:
        data["sameAs"] = o.url
    return data


# Inside <script>, the HTML parser ends the element at "</script" and enters odd states at
# "<!--"; JSON allows every character as a \u escape, so none of < > & can reach it raw.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """JSON to put inside a <script> element as it is (the json_script rule of Django and
    Go's html/template): the same data to a JSON parser, no markup to an HTML one."""
    return json.dumps(value, ensure_ascii=False, indent=1).translate(_SCRIPT_SAFE)
