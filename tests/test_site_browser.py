"""The public web calendar in a real browser: headless Chromium via Playwright."""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT
from test_feeds import DST_PINS, Site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = ROOT / "var" / "test-output"


@pytest.fixture
def browser():
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install Debian's chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(files, tmp_path):
    site = Site(files, tmp_path)
    files.write("schedule.yaml", DST_PINS.replace('date: "2025-10-26"', 'date: "2025-10-26"\n    place: Kafé <Kontoret>'))
    site.publish(today=date(2025, 1, 10))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site.dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    site.engine.dispose()


def test_the_page_shows_the_events_on_a_phone_without_console_errors(browser, served):
    site, url = served
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="nb-NO")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    assert page.title() == "Testlaget – kalender"
    assert page.locator("main").count() == 1 and page.locator("header").count() == 1
    assert page.locator("h1").inner_text() == "Testlaget – kalender"
    assert page.locator("h2").all_inner_texts()[:3] == ["Mars 2025", "Juni 2025", "Mars 2026"]
    event = page.locator("article", has_text="Møter for nye medlemmer (1/2)")
    assert "Søndag 30. mars 2025, 18:00–20:00" in event.inner_text()
    assert "Folkets hus, Bergen" in event.inner_text()
    assert page.locator("article", has_text="Møter for nye medlemmer (2/2)").count() == 0
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, "no sideways scrolling on a phone"
    link = page.get_by_role("link", name=re.compile("Legg til i min kalender"))
    assert link.get_attribute("href") == "webcal://example.org/kalender/calendars/offentlig.ics"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "web-calendar-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert not errors, errors
    response = page.request.get(url + "calendars/offentlig.ics")
    assert response.ok and response.text().startswith("BEGIN:VCALENDAR")



def test_markup_in_a_public_title_cannot_blank_the_page(browser, files, tmp_path):
    """Regression (issue 15 item 9): a public title with `<!--<script` blanked the page,
    because the JSON-LD escaped only `</`."""
    import json

    site = Site(files, tmp_path)
    files.edit("plan.yaml", "title: Møter for nye medlemmer", "title: 'Møte <!--<script> & </script> -->'")
    files.write("schedule.yaml", DST_PINS)
    site.publish(today=date(2025, 1, 10))
    html = (site.dir / "index.html").read_text(encoding="utf-8")
    ld = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in ld and ">" not in ld and "&" not in ld.replace("\\u0026", "")
    assert any(e["name"].startswith("Møte <!--<script> & </script> -->") for e in json.loads(ld))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site.dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert page.locator("h2").count() >= 1  # the events are there
        assert page.locator("article", has_text="Møte <!--<script> & </script> -->").count() == 1
        data = json.loads(page.locator('script[type="application/ld+json"]').text_content() or "")
        assert any(e["name"].startswith("Møte <!--<script> & </script> -->") for e in data)
    finally:
        server.shutdown()
        site.engine.dispose()
