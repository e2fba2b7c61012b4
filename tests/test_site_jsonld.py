"""The web calendar's schema.org Event data as search engines read it (issue 11 item 6):
extracted by an independent extractor (extruct, the one Scrapinghub's crawlers use) and
by headless Chromium, checked against what Google's event rich results ask for: name,
startDate, location as a Place with a PostalAddress (or a VirtualLocation), and the
recommended endDate, eventStatus, eventAttendanceMode, organizer with url, a url per event."""

from __future__ import annotations

import functools
import threading
from datetime import date, timedelta
from http.server import ThreadingHTTPServer

import extruct
import pytest
from test_feeds import T0, Site
from test_site_browser import QuietHandler, browser  # noqa: F401  (the fixture)

SITE_URL = "https://example.org/kalender"
PLACES = '''  places:
    Folkets hus: {street: Storgata 1, postcode: "5015", city: Bergen}
    Digitalt møte: {url: "https://example.org/mote"}
  default_place: Folkets hus
'''
PINS = '''occurrences:
  "1.2/2025/1":
    date: "2025-03-30"
    start: "18:00"
    end: "20:00"
    place: Digitalt møte
    visibility: public
  "1.2/2025/2":
    date: "2025-10-26"
    start: "18:00"
    end: "20:00"
    place: Kafé "Kontoret"
    visibility: public
'''


@pytest.fixture
def site(files, tmp_path):
    files.edit("organisation.yaml", "  timezone: Europe/Oslo\n", "  timezone: Europe/Oslo\n" + PLACES)
    files.write("schedule.yaml", PINS)
    s = Site(files, tmp_path)
    s.publish(today=date(2025, 1, 10))
    yield s
    s.engine.dispose()


def all_events(html: str) -> list[dict]:
    data = extruct.extract(html, base_url=SITE_URL + "/", syntaxes=["json-ld"], uniform=True)["json-ld"]
    return [e for item in data for e in (item if isinstance(item, list) else [item]) if e.get("@type") == "Event"]


def events(html: str) -> dict[str, dict]:
    """By name (the last of a name: Kvinnedagen 2026)."""
    return {e["name"]: e for e in all_events(html)}


def test_every_event_has_place_address_url_status_mode_and_organizer(site):
    html = (site.dir / "index.html").read_text(encoding="utf-8")
    found = events(html)
    assert set(found) == {"Møter for nye medlemmer (1/2)", "Møter for nye medlemmer (2/2)", "Merkedager: Kvinnedagen",
                          "Merkedager: Pride"}
    for e in found.values():
        assert e["startDate"] and e["endDate"] and e["description"]
        assert e["eventStatus"] == "https://schema.org/EventScheduled"
        assert e["organizer"] == {"@type": "Organization", "name": "Testlaget", "url": SITE_URL}
        assert e["url"].startswith(SITE_URL + "/#e-") and f'id="{e["url"].split("#")[1]}"' in html
        assert e["location"]["@type"] in ("Place", "VirtualLocation")
    every = all_events(html)
    assert len(every) > 4 and len({e["url"] for e in every}) == len(every)  # one each

    online = found["Møter for nye medlemmer (1/2)"]
    assert online["location"] == {"@type": "VirtualLocation", "name": "Digitalt møte", "url": "https://example.org/mote"}
    assert online["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    unknown = found["Møter for nye medlemmer (2/2)"]  # a place the register does not know: its text as the address
    assert unknown["location"] == {"@type": "Place", "name": 'Kafé "Kontoret"', "address": 'Kafé "Kontoret"'}
    day = found["Merkedager: Kvinnedagen"]  # no place in its pin: the organisation's default place
    assert day["location"] == {"@type": "Place", "name": "Folkets hus", "address": {
        "@type": "PostalAddress", "streetAddress": "Storgata 1", "postalCode": "5015", "addressLocality": "Bergen"}}
    assert day["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert day["startDate"] == day["endDate"] and day["startDate"].endswith("-03-08")  # all day: its last day


def test_a_cancelled_event_is_event_cancelled_on_the_page_until_its_grace_ends(site):
    site.files.write("schedule.yaml", PINS.replace("    place: Digitalt møte\n", "    place: Digitalt møte\n"
                                                   "    status: cancelled\n"))
    site.publish(now=T0 + timedelta(days=1), today=date(2025, 1, 11))
    html = (site.dir / "index.html").read_text(encoding="utf-8")
    assert events(html)["Møter for nye medlemmer (1/2)"]["eventStatus"] == "https://schema.org/EventCancelled"
    site.files.write("schedule.yaml", PINS.split('  "1.2/2025/2"')[0].replace('"1.2/2025/1"', '"1.2/2025/2"')
                     .replace("2025-03-30", "2025-10-26"))  # the first pin removed: it left the public feed
    site.publish(now=T0 + timedelta(days=2), today=date(2025, 1, 12))
    html = (site.dir / "index.html").read_text(encoding="utf-8")
    assert events(html)["Møter for nye medlemmer (1/2)"]["eventStatus"] == "https://schema.org/EventCancelled"
    assert "Avlyst" in html


def test_chromium_reads_the_same_events_and_every_url_lands_on_its_event(browser, site):  # noqa: F811
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site.dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        parsed = page.evaluate("""() => [...document.querySelectorAll('script[type="application/ld+json"]')]
                                        .flatMap(s => [].concat(JSON.parse(s.textContent)))""")
        assert {e["name"] for e in parsed} == set(events((site.dir / "index.html").read_text(encoding="utf-8")))
        for e in parsed:
            anchor = e["url"].split("#", 1)[1]
            heading = page.evaluate("(id) => document.getElementById(id)?.querySelector('h3')?.textContent", anchor)
            assert heading and heading.startswith(e["name"])
            assert e["location"]["@type"] in ("Place", "VirtualLocation") and e["organizer"]["url"]
    finally:
        server.shutdown()
