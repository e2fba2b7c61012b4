"""`aarshjul web`'s pages in headless Chromium (Playwright, Debian's chromium): a member
leaves a list by clicking and undoes it; a board member answers "was it held?" on a phone.
Screenshots are saved under the test's temporary folder."""

from __future__ import annotations

from datetime import date

from test_site_browser import browser  # noqa: F401  (the fixture)
from test_web import Env, unsubscribed
from test_web_answers import KEY, TODAY, board, completions, link


def phone(browser, errors: list[str]):  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="nb-NO")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def test_a_member_leaves_the_list_by_clicking_and_undoes_it(browser, files, tmp_path):  # noqa: F811
    e = Env(files, tmp_path)
    server = e.web()
    try:
        errors: list[str] = []
        page = phone(browser, errors)
        page.goto(f"{server.url}/avmeld/{e.token()}")
        assert page.locator("h1").inner_text() == "Meld deg av"
        assert "Nyhetsbrev" in page.locator("main").inner_text()
        page.screenshot(path=str(tmp_path / "avmeld-1-spor.png"), full_page=True)
        assert unsubscribed(e.url) == []  # the browser's GET changed nothing
        page.click("#avmeld")
        page.wait_for_selector("text=Du er meldt av")
        page.screenshot(path=str(tmp_path / "avmeld-2-meldt-av.png"), full_page=True)
        assert unsubscribed(e.url) == [("test-org", "nyhetsbrev", "00002", "web")]
        page.click("#angre")
        page.wait_for_selector("text=igjen")
        page.screenshot(path=str(tmp_path / "avmeld-3-angret.png"), full_page=True)
        assert unsubscribed(e.url) == []
        assert errors == []  # the CSP blocked nothing the page needs (its style sheet is ours)
        color = page.evaluate("getComputedStyle(document.querySelector('button')).borderColor")
        assert color == "rgb(138, 28, 28)"  # the style sheet was applied
    finally:
        server.stop()


def test_a_board_member_answers_was_it_held_by_clicking_on_a_phone(browser, files, tmp_path):  # noqa: F811
    e = Env(files, tmp_path)
    board(e.url)
    server = e.web("--today", TODAY.isoformat())
    try:
        errors: list[str] = []
        page = phone(browser, errors)
        page.goto(f"{server.url}/svar/{link(e)}")
        assert page.locator("h1").inner_text() == "Ble det holdt?"
        assert "Styremøte" in page.locator(".box").inner_text()
        page.screenshot(path=str(tmp_path / "svar-1-sporsmal.png"), full_page=True)
        # not held, but no reason: the page says what is missing and records nothing
        page.check("#holdt-nei")
        page.click("#send")
        page.wait_for_selector("#feil")
        assert "Skriv kort hvorfor det ikke ble holdt." in page.locator("#feil").inner_text()
        page.screenshot(path=str(tmp_path / "svar-2-feil.png"), full_page=True)
        assert completions(e.url) == []
        page.check("#holdt-ja")
        page.fill("#dato", "2025-03-05")
        page.fill("#antall", "9")
        page.fill("#merknad", "Godt oppmøte.")
        page.fill("#lenke", "https://example.org/referat/mars")
        page.click("#send")
        page.wait_for_selector("#lagret")
        page.screenshot(path=str(tmp_path / "svar-3-lagret.png"), full_page=True)
        assert completions(e.url) == [(KEY, "held", date(2025, 3, 5), 9, "Godt oppmøte.",
                                       "https://example.org/referat/mars", "00001", "web")]
        # the one answer refused (422: the form shown again with what is wrong) is the only "error"
        assert [m for m in errors if "status of 422" not in m] == [] and len(errors) == 1
        assert len(list(tmp_path.glob("svar-*.png"))) == 3
    finally:
        server.stop()
