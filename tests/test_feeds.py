"""Calendar feeds and the web page, as a calendar app and a browser would read them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from aarshjul.db.agenda import cancelled_keys, store_agenda
from aarshjul.db.calendars import feed_entries, feed_tokens, rotate_token
from aarshjul.db.migrate import upgrade
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import feeds
from aarshjul.tasks.site import write_site

T0 = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)

DST_PINS = """occurrences:
  "1.2/2025/1":
    date: "2025-03-30"
    start: "18:00"
    end: "20:00"
    place: Folkets hus, Bergen
    note: Velkommen, nye medlemmer!
    visibility: public
  "1.2/2025/2":
    date: "2025-10-26"
    start: "18:00"
    end: "20:00"
    visibility: members
"""


class Site:
    """Plan files, a SQLite database and a site folder: publish as the flow does."""

    def __init__(self, files, tmp_path: Path):
        self.files = files
        self.url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        self.dir = tmp_path / "site"
        upgrade(self.url)
        self.engine = make_engine(self.url)

    def publish(self, now=T0, today=date(2025, 1, 10)):
        plan = self.files.load()
        with session_scope(self.engine) as session:  # as tasks/plan_io.save_agenda: `aarshjul cancel` counts
            cancelled = cancelled_keys(session, plan.organisation.id)
            store_agenda(session, plan.organisation.id, [replace(o, status="cancelled") if o.key in cancelled else o
                                                         for o in expand(plan)], now)
            stored = feed_entries(session, plan, now)
            tokens = feed_tokens(session, plan.organisation.id, [f.id for f in feeds(plan) if not f.public], now)
        self.tokens = tokens
        return write_site(plan, stored, tokens, self.dir, now, today, "https://example.org/kalender")

    def feed(self, feed_id: str) -> str:
        path = self.dir / "calendars" / (f"{feed_id}.ics" if feed_id == "offentlig"
                                         else f"{self.tokens[feed_id]}/{feed_id}.ics")
        return path.read_text(encoding="utf-8")

    def events(self, feed_id: str) -> dict[str, icalendar.Event]:
        cal = icalendar.Calendar.from_ical(self.feed(feed_id))
        return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


@pytest.fixture
def site(files, tmp_path):
    s = Site(files, tmp_path)
    yield s
    s.engine.dispose()


def test_every_feed_parses_with_two_independent_parsers(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    for feed in ("offentlig", "medlemmer", "styret", "bystyregruppen", "nord", "sor"):
        text = site.feed(feed)
        icalendar.Calendar.from_ical(text)
        strict = IcsCalendarStream.calendar_from_ics(text)  # raises on a malformed calendar
        assert strict.events, feed


def test_timed_events_carry_tzid_and_the_right_local_time_across_dst(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    text = site.feed("styret")
    assert "DTSTART;TZID=Europe/Oslo:20250330T180000" in text  # the day summer time starts
    assert "DTSTART;TZID=Europe/Oslo:20251026T180000" in text  # the day it ends
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/Oslo" in text
    strict = IcsCalendarStream.calendar_from_ics(text)
    starts = {e.summary: e.dtstart for e in strict.events}
    spring = starts["Møter for nye medlemmer (1/2)"]
    autumn = starts["Møter for nye medlemmer (2/2)"]
    assert spring.astimezone(timezone.utc) == datetime(2025, 3, 30, 16, 0, tzinfo=timezone.utc)  # CEST
    assert autumn.astimezone(timezone.utc) == datetime(2025, 10, 26, 17, 0, tzinfo=timezone.utc)  # CET


def test_calendar_properties_and_event_fields(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    cal = icalendar.Calendar.from_ical(site.feed("styret"))
    assert str(cal["X-WR-CALNAME"]) == "Testlaget – Styret" == str(cal["NAME"])
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Oslo"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in site.feed("styret") and "X-PUBLISHED-TTL:PT1H" in site.feed("styret")
    ev = site.events("styret")["Møter for nye medlemmer (1/2)"]
    assert ev["SEQUENCE"] == 0 and str(ev["LOCATION"]) == "Folkets hus, Bergen"
    assert str(ev["DESCRIPTION"]).startswith("Tiltak 1.2: Minst to møter i året.\nAnsvar: Styret")
    assert "Tiltak 1.2" in ev["CATEGORIES"].cats and str(ev["STATUS"]) == "CONFIRMED"
    assert ev["DTSTAMP"].dt == ev["LAST-MODIFIED"].dt == T0
    deadline = site.events("styret")["Engangsfrist"]
    assert deadline["DTSTART"].dt == date(2025, 12, 31) and deadline["DTEND"].dt == date(2026, 1, 1)


def test_unscheduled_slots_are_reminders_only_in_the_bodys_feed(site):
    site.publish()
    reminders = [e for e in icalendar.Calendar.from_ical(site.feed("bystyregruppen")).walk("VEVENT")
                 if str(e["SUMMARY"]) == "Ikke berammet: Samling hvert halvår"]
    assert len(reminders) == 4
    reminder = min(reminders, key=lambda e: e["DTSTART"].dt)
    assert reminder["DTSTART"].dt == date(2025, 6, 16)  # two weeks before the half-year ends
    assert str(reminder["STATUS"]) == "TENTATIVE" and str(reminder["TRANSP"]) == "TRANSPARENT"
    for feed in ("medlemmer", "offentlig"):
        assert "Ikke berammet" not in site.feed(feed)


def test_public_and_members_feeds_hold_only_what_they_may(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    public = site.events("offentlig")
    assert "Møter for nye medlemmer (1/2)" in public and "Møter for nye medlemmer (2/2)" not in public
    assert "Merkedager: Kvinnedagen" in public and not any("Styremøte" in s for s in public)
    members = site.events("medlemmer")
    assert {"Møter for nye medlemmer (1/2)", "Møter for nye medlemmer (2/2)"} <= members.keys()
    assert not any("Styremøte" in s for s in members)


def test_a_moved_date_updates_in_place_with_a_higher_sequence(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    before = site.events("styret")["Møter for nye medlemmer (1/2)"]
    site.files.write("schedule.yaml", DST_PINS.replace('date: "2025-03-30"', 'date: "2025-04-02"'))
    site.publish(now=T0 + timedelta(days=1))
    after = site.events("styret")["Møter for nye medlemmer (1/2)"]
    assert str(after["UID"]) == str(before["UID"])
    assert after["SEQUENCE"] == before["SEQUENCE"] + 1
    assert after["DTSTART"].dt.date() == date(2025, 4, 2)
    assert after["LAST-MODIFIED"].dt == T0 + timedelta(days=1)
    assert len([s for s in site.events("styret") if s.startswith("Møter for nye medlemmer")]) == 2


def test_cancelled_stays_as_cancelled_for_the_grace_period_then_goes(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish()
    uid = str(site.events("offentlig")["Møter for nye medlemmer (1/2)"]["UID"])
    site.files.write("schedule.yaml", DST_PINS.replace("    visibility: public\n", "    visibility: public\n    status: cancelled\n", 1))
    site.publish(now=T0 + timedelta(days=1))
    ev = site.events("offentlig")["Møter for nye medlemmer (1/2)"]
    assert str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1 and str(ev["UID"]) == uid
    # kept until GRACE (60 days) after the later of the change and its date (2025-03-30)
    site.publish(now=datetime(2025, 5, 29, 12, tzinfo=timezone.utc))
    assert str(site.events("offentlig")["Møter for nye medlemmer (1/2)"]["STATUS"]) == "CANCELLED"
    site.publish(now=datetime(2025, 5, 30, 12, tzinfo=timezone.utc))
    assert "Møter for nye medlemmer (1/2)" not in site.events("offentlig")


def test_a_measure_dropped_from_the_plan_is_published_as_cancelled(site):
    site.publish()
    site.files.edit("plan.yaml", "cadence: {kind: quota, count: 1, per: half-year}", "cadence: {kind: standing}")
    site.publish(now=T0 + timedelta(days=1))
    cancelled = [e for e in icalendar.Calendar.from_ical(site.feed("styret")).walk("VEVENT")
                 if "Samling hvert halvår" in str(e["SUMMARY"])]
    assert len(cancelled) == 4 and all(str(e["STATUS"]) == "CANCELLED" for e in cancelled)


def test_publishing_twice_writes_nothing_the_second_time(site):
    site.files.write("schedule.yaml", DST_PINS)
    first = site.publish()
    assert "index.html" in first.written and len(first.written) == len(first.feeds) + 1
    second = site.publish(now=T0 + timedelta(hours=1))
    assert second.written == [] and second.unchanged == len(first.written)


def test_private_feeds_live_under_stable_unguessable_tokens(site):
    site.publish()
    tokens = dict(site.tokens)
    assert set(tokens) == {"medlemmer", "styret", "bystyregruppen", "nord", "sor"}
    assert all(len(t) >= 22 for t in tokens.values())  # >= 128 bits in URL-safe base64
    assert len(set(tokens.values())) == len(tokens)
    site.publish(now=T0 + timedelta(hours=1))
    assert site.tokens == tokens
    with session_scope(site.engine) as session:
        rotate_token(session, "test-org", "styret", T0)
    site.publish(now=T0 + timedelta(hours=2))
    assert site.tokens["styret"] != tokens["styret"]
    assert not (site.dir / "calendars" / tokens["styret"]).exists()
    assert (site.dir / "calendars" / site.tokens["styret"] / "styret.ics").exists()


def test_the_page_lists_open_events_and_never_a_private_feed(site):
    site.files.write("schedule.yaml", DST_PINS)
    site.publish(today=date(2025, 1, 10))
    html = (site.dir / "index.html").read_text(encoding="utf-8")
    assert '<html lang="nb">' in html and "<main" in html and "<header>" in html
    assert "Søndag 30. mars 2025" in html and "18:00–20:00" in html and "Folkets hus, Bergen" in html
    assert "Møter for nye medlemmer (2/2)" not in html  # members only
    for token in site.tokens.values():
        assert token not in html
    assert 'href="webcal://example.org/kalender/calendars/offentlig.ics"' in html
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    import json

    events = json.loads(ld)
    first = next(e for e in events if e["name"] == "Møter for nye medlemmer (1/2)")
    assert first["@type"] == "Event" and first["startDate"] == "2025-03-30T18:00:00+02:00"
    assert first["location"]["name"] == "Folkets hus, Bergen"
