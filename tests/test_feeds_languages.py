"""The feeds speak the organisation's language (issue 14 item 8): the public and members'
feeds' names and descriptions, and each event's words (measure, responsible, not scheduled,
cancelled), from the catalogs; body names and titles stay as the plan writes them."""

from __future__ import annotations

from datetime import datetime, timezone

import icalendar
import pytest

from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import MEMBERS, PUBLIC, Entry, feeds
from aarshjul.domain.ics import feed_calendar

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _texts(plan) -> tuple[str, str]:
    entries = [Entry(o, 0, NOW, NOW) for o in expand(plan)]
    by_id = {f.id: f for f in feeds(plan)}
    body = next(f for f in feeds(plan) if f.id not in (PUBLIC, MEMBERS))
    parts = []
    for feed in (by_id[PUBLIC], by_id[MEMBERS], body):
        cal = icalendar.Calendar.from_ical(feed_calendar(plan, feed, entries).to_ical())
        parts.append(str(cal.get("X-WR-CALNAME")) + "\n" + str(cal.get("X-WR-CALDESC")))
        for ev in cal.walk("VEVENT"):
            parts.append(str(ev.get("SUMMARY")) + "\n" + str(ev.get("DESCRIPTION")))
    return "\n".join(parts), body.id


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_feed_and_event_words_are_in_the_organisations_language(files, lang):
    if lang == "en":
        files.edit("organisation.yaml", "  timezone: Europe/Oslo\n", "  timezone: Europe/Oslo\n  locale: en\n")
    text, _body = _texts(files.load())
    norwegian = ["åpne arrangementer", "for medlemmer", "Tiltak ", "Ansvar:", "Ikke berammet", "har ansvar for"]
    english = ["open events", "for members", "Measure ", "Responsible:", "Not scheduled", "is responsible for"]
    mine, other = (norwegian, english) if lang == "nb" else (english, norwegian)
    for word in mine:
        assert word in text, (lang, word)
    for word in other:
        assert word not in text, (lang, word)
