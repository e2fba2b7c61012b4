"""Every page a person reads in the organisation's language (issue 14 item 8): the yearly
report (Markdown and HTML), the public calendar page and each page of `aarshjul web` (on a
real server), for an organisation whose organisation.locale is nb and one whose is en.
English output holds no Norwegian words of ours, Norwegian output no English ones.

The organisation is tests/data/other-org (a tmp copy; the English one with `locale: en`
and English words for a branch). Its own content (measure titles, body names: Norwegian in
both) is taken out of the text before the words are looked for, so what is left is ours.

Also: the web app's templates are the organisation's own (templates/web/ beside plan.yaml)
over the bundled ones, and such an override cannot reach Python's internals.
"""

from __future__ import annotations

import html
import re
import shutil
from datetime import date, datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from aarshjul.db.models import Member
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.confirm import AnswerLink, answer_token
from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import MEMBERS, PUBLIC, Entry, feeds
from aarshjul.domain.load import load_plan
from aarshjul.domain.messages import unsubscribe_token
from aarshjul.domain.report import Record, build_report
from aarshjul.domain.targets import Measurement, load_targets, progress, targets_path
from aarshjul.tasks.report_render import render_html, render_markdown
from aarshjul.tasks.site import write_site
from conftest import ROOT
from test_web import form_token
from web_server import WebServer

ORG = "fagforeningen-nord"
TODAY = date(2026, 7, 1)  # a draft of 2026: some occurrences passed, some to come
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
ENGLISH_BRANCH = """  branch_word:
    singular: local group
    plural: local groups
    definite: the local group
    definite_plural: the local groups
"""

# words of ours that must not be in the other language's pages (whole words; case as written)
NORWEGIAN = ["Tiltak", "tiltak", "avlyst", "Avlyst", "åpen", "fristen", "frist", "Lenken", "lenken", "Avmeld",
             "Meld", "meldt", "medlemmer", "Årsrapport", "gjennomført", "Sammendrag", "Ansvar", "Tidsrom",
             "deltakere", "Deltakere", "Utkast", "innen", "Oppfølging", "Kontaktet", "kalender", "Sted",
             "Arrangør", "Oppdatert", "holdt", "Holdt", "Styrets", "Mål", "Dato", "Merknad", "Skjemaet", "Takk",
             "Svaret", "Lagre", "Ingen", "side", "av", "og", "er", "ikke", "registrert", "Ja", "Nei", "kl",
             "Totalt", "uten", "nr", "kommer", "pågående", "Forekomst", "Planlagt", "Lenke", "Nye", "Andel"]
ENGLISH = ["Measure", "Measures", "measures", "Goal", "held", "Held", "cancelled", "Cancelled", "open", "deadline",
           "Summary", "Responsible", "link", "Link", "Unsubscribe", "unsubscribed", "members", "Yearly", "report",
           "carried", "Draft", "participants", "Participants", "Follow", "Contacted", "calendar", "Place",
           "Organiser", "Updated", "Save", "Thank", "page", "of", "and", "is", "not", "recorded", "Yes", "No",
           "at", "Total", "without", "upcoming", "ongoing", "Occurrence", "Planned", "New", "Share", "by", "the",
           "form", "answer", "email", "letter", "Date", "Note", "board"]


def org_strings(folder: Path) -> list[str]:
    """Every text the organisation wrote in its YAML files (titles, names, texts: a value with
    a space or a capital letter, not an identifier like `board`), longest first."""
    from conftest import yaml_texts

    found = {value for value in yaml_texts(*folder.glob("*.yaml"))
             if re.search(r"[A-ZÆØÅ ]", value) and re.search(r"[^\W\d_]{2}", value)}
    # A body's feed is named by the plan (its `calendar`, or organisation – body); the public
    # and members' feeds' names come from the catalogs and are checked like any other words.
    found.update(f.name for f in feeds(load_plan(folder / "plan.yaml")) if f.id not in (PUBLIC, MEMBERS))
    return sorted(found, key=len, reverse=True)


class Visible(HTMLParser):
    """The text a person reads in an HTML page: text outside <style>/<script>, the
    attributes that are shown (title, content, placeholder, alt, aria-label) and the
    print style's `content: "…"` strings (the report's page footer)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.skip += 1
        self.parts += [v for k, v in attrs if k in ("title", "content", "placeholder", "alt", "aria-label") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible(page: str) -> str:
    if "<html" not in page[:500].lower():
        return page
    parser = Visible()
    parser.feed(page)
    styles = re.findall(r'content:\s*"([^"]*)"', page)
    return "\n".join(parser.parts + styles)


def ours(text: str, folder: Path) -> str:
    """The text with the organisation's own words taken out."""
    text = html.unescape(text).replace("\u00a0", " ")
    for s in org_strings(folder):
        text = text.replace(s, " ")
    return text


def words_of(text: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]


def check_language(page: str, lang: str, folder: Path, what: str) -> None:
    text = ours(visible(page), folder)
    if lang == "en":
        assert not words_of(text, NORWEGIAN), f"{what}: Norwegian in English: {words_of(text, NORWEGIAN)}\n{text}"
        assert not re.search("[æøåÆØÅ«»]", text), f"{what}: Norwegian letters in English:\n{text}"
    else:
        assert not words_of(text, ENGLISH), f"{what}: English in Norwegian: {words_of(text, ENGLISH)}\n{text}"


@pytest.fixture(params=["nb", "en"])
def org(request, tmp_path) -> tuple[str, Path]:
    """(language, folder): a copy of tests/data/other-org in that language."""
    folder = tmp_path / "org"
    shutil.copytree(ROOT / "tests" / "data" / "other-org", folder)
    lang = request.param
    path = folder / "organisation.yaml"
    text = path.read_text(encoding="utf-8")
    if lang == "en":
        text = text.replace("  locale: nb\n", "  locale: en\n")
        text = re.sub(r"  branch_word:\n(    .*\n)+", ENGLISH_BRANCH, text)
        assert "locale: en" in text and "local group" in text
        targets = folder / "targets.yaml"  # the organisation's own unit, in its language
        targets.write_text(targets.read_text(encoding="utf-8").replace("unit: medlemmer", "unit: members"),
                           encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    schedule = folder / "schedule.yaml"  # one public occurrence cancelled, for the page's badge
    schedule.write_text(schedule.read_text(encoding="utf-8") + '  "4.1/2026/forste-mai":\n    status: cancelled\n',
                        encoding="utf-8")
    return lang, folder


# --- the yearly report -------------------------------------------------------------------------


def a_report(plan):
    """2026 as of 1 July: held, not held, cancelled and unrecorded occurrences, a dated record,
    a comment, gaps, the targets (judged in nb, as the flow does before it knows the reader)
    and the follow-up of new members."""
    occurrences = [o for o in expand(plan) if o.span.end < TODAY and o.window_end.year == 2026]
    keys = sorted({o.key for o in occurrences})
    assert len(keys) >= 4
    records = [
        Record("r1", keys[0].split("/")[0], keys[0], "held", date(2026, 1, 20), 14, "Zz1", "https://e.org/r"),
        Record("r2", keys[1].split("/")[0], keys[1], "not_held", date(2026, 2, 1), None, "Zz2"),
        Record("r3", keys[2].split("/")[0], keys[2], "cancelled", date(2026, 2, 2), None, "Zz3"),
        Record("r4", "1.3", None, "held", date(2026, 3, 3), 3),
    ]
    period = (plan.period.start, plan.period.end)
    targets = tuple(progress(t, [Measurement(date(2026, 1, 2), 0.5 if t.kind == "share" else 300),
                                 Measurement(date(2026, 6, 2), 0.9 if t.kind == "share" else 320)],
                             2026, TODAY, period) for t in load_targets(targets_path(plan), plan).targets)
    assert len(targets) == 2
    return build_report(plan, 2026, TODAY, records, {"1.1": "Zz4"}, targets,
                        {"nord": (3, 2), "": (1, 0)})


def test_the_yearly_report_is_in_the_organisations_language(org):
    lang, folder = org
    plan = load_plan(folder / "plan.yaml")
    report = a_report(plan)
    assert report.lang == lang and report.gaps and report.follow_ups and report.targets
    markdown, page = render_markdown(report), render_html(report)  # with the charts (their labels)
    check_language(markdown, lang, folder, "report.md")
    check_language(page, lang, folder, "report.html")
    assert f'<html lang="{lang}">' in page
    if lang == "en":
        for text in ("# Yearly report 2026", "## Summary", "not carried out", "the deadline has passed",
                     "Follow-up of new members (measure 1.3)", "1 July 2026", "(without a local group)"):
            assert text in markdown, text
        assert "page \" counter(page) \" of" in page and ">Measured</text>" in page  # a chart's legend
    else:
        for text in ("# Årsrapport 2026", "## Sammendrag", "ikke gjennomført", "fristen er ute",
                     "Oppfølging av nye medlemmer (tiltak 1.3)", "1. juli 2026", "(uten lokalgruppe)"):
            assert text in markdown, text
        assert "side \" counter(page) \" av" in page and ">Målt</text>" in page


# --- the public calendar page ------------------------------------------------------------------


def test_the_calendar_page_is_in_the_organisations_language(org, tmp_path):
    lang, folder = org
    plan = load_plan(folder / "plan.yaml")
    entries = [Entry(o, 0, NOW, NOW) for o in expand(plan)]
    tokens = {f.id: f"token-{i:04d}-{f.id}" for i, f in enumerate(feeds(plan)) if not f.public}
    result = write_site(plan, entries, tokens, tmp_path / "site", NOW, date(2026, 2, 1), "https://cal.example.org")
    page = result.index.read_text(encoding="utf-8")
    assert f'<html lang="{lang}">' in page
    check_language(page, lang, folder, "site/index.html")
    if lang == "en":
        for text in ("calendar</title>", "Add to my calendar", "Cancelled", "Organiser", "Wednesday 4 March 2026",
                     "Updated 1 February 2026."):
            assert text in page, text
    else:
        for text in ("kalender</title>", "Legg til i min kalender", "Avlyst", "Arrangør", "Onsdag 4. mars 2026",
                     "Oppdatert 1. februar 2026."):
            assert text in page, text


# --- the web pages, on a real server ----------------------------------------------------------


class Web:
    """The organisation's database (the board and a member), secret and `aarshjul web`."""

    def __init__(self, folder: Path, tmp: Path) -> None:
        from aarshjul.db.migrate import upgrade
        from aarshjul.tasks.mailer import secret_key

        self.folder, self.tmp = folder, tmp
        self.url = f"sqlite:///{tmp / 'web.db'}"
        upgrade(self.url)
        self.key_file = tmp / "secret.key"
        self.secret = secret_key(self.key_file)
        engine = make_engine(self.url)
        with session_scope(engine) as session:
            for number, roles in (("00001", "avdelingsstyret"), ("00002", None)):
                session.add(Member(organisation=ORG, number=number, first_name="Kari", last_name="Nordmann",
                                   email=f"m{number}@example.org", branch="nord", roles=roles, first_seen=NOW,
                                   updated_at=NOW, row_hash="x", status="active"))
        engine.dispose()
        self.server: WebServer | None = None

    def start(self) -> WebServer:
        env = {"AARSHJUL_DATABASE_URL": self.url, "AARSHJUL_PLAN": str(self.folder / "plan.yaml"),
               "AARSHJUL_SECRET_KEY_FILE": str(self.key_file), "AARSHJUL_SITE_DIR": str(self.tmp / "site"),
               "AARSHJUL_SITE_URL": "https://nord.fagforening.example.org"}
        self.server = WebServer(env, self.tmp, "--today", TODAY.isoformat())
        return self.server

    def stop(self) -> None:
        if self.server:
            self.server.stop()


@pytest.fixture
def web(org, tmp_path):
    lang, folder = org
    w = Web(folder, tmp_path)
    yield lang, w
    w.stop()


def board_meeting(folder: Path) -> str:
    """A board meeting (measure 2.5, Tuesdays 18:00) that has passed."""
    plan = load_plan(folder / "plan.yaml")
    return next(o.key for o in expand(plan) if o.measure == "2.5" and o.span.end < TODAY)


def test_every_web_page_is_in_the_organisations_language(web):
    lang, w = web
    server = w.start()
    pages: dict[str, httpx.Response] = {}
    token = unsubscribe_token(w.secret, ORG, "medlemsbrev", "00002")
    ask = pages["unsubscribe: the question"] = httpx.get(f"{server.url}/avmeld/{token}")
    left = pages["unsubscribe: done"] = httpx.post(f"{server.url}/avmeld/{token}",
                                                   data={"skjema": form_token(ask.text), "handling": "avmeld"})
    pages["unsubscribe: done again"] = httpx.post(f"{server.url}/avmeld/{token}",
                                                  data={"skjema": form_token(ask.text), "handling": "avmeld"})
    pages["unsubscribe: undone"] = httpx.post(f"{server.url}/avmeld/{token}",
                                              data={"skjema": form_token(left.text), "handling": "angre"})
    pages["unsubscribe: a forged form"] = httpx.post(f"{server.url}/avmeld/{token}",
                                                     data={"skjema": "x", "handling": "avmeld"})
    pages["unsubscribe: a bad link"] = httpx.get(f"{server.url}/avmeld/{token[:-6]}")
    pages["one-click"] = httpx.post(f"{server.url}/avmeld/{token}", data={"List-Unsubscribe": "One-Click"})

    key = board_meeting(w.folder)
    link = answer_token(w.secret, AnswerLink(ORG, key, "00001", date(2026, 7, 20)))
    url = f"{server.url}/svar/{link}"
    question = pages["answer: the question"] = httpx.get(url)
    pages["answer: wrong values"] = httpx.post(url, data={"skjema": form_token(question.text), "holdt": "nei",
                                                          "dato": "12.03.2026", "antall": "mange",
                                                          "lenke": "ftp://x"})
    pages["answer: saved"] = httpx.post(url, data={"skjema": form_token(question.text), "holdt": "ja",
                                                   "dato": "", "antall": "9"})
    pages["answer: answered before"] = httpx.get(url)
    pages["answer: after today"] = httpx.post(url, data={"skjema": form_token(question.text), "holdt": "ja",
                                                         "dato": "2026-12-01"})
    pages["answer: a forged form"] = httpx.post(url, data={"skjema": "x", "holdt": "ja"})
    pages["answer: expired"] = httpx.get(
        f"{server.url}/svar/{answer_token(w.secret, AnswerLink(ORG, key, '00001', date(2026, 6, 1)))}")
    pages["answer: not in the role"] = httpx.get(
        f"{server.url}/svar/{answer_token(w.secret, AnswerLink(ORG, key, '00002', date(2026, 7, 20)))}")
    pages["answer: gone from the plan"] = httpx.get(
        f"{server.url}/svar/{answer_token(w.secret, AnswerLink(ORG, '9.9/2026', '00001', date(2026, 7, 20)))}")
    pages["answer: a bad link"] = httpx.get(f"{url}x")

    statuses = {what: r.status_code for what, r in pages.items()}
    assert statuses == {
        "unsubscribe: the question": 200, "unsubscribe: done": 200, "unsubscribe: done again": 200,
        "unsubscribe: undone": 200, "unsubscribe: a forged form": 403, "unsubscribe: a bad link": 400,
        "one-click": 200, "answer: the question": 200, "answer: wrong values": 422, "answer: saved": 200,
        "answer: answered before": 200, "answer: after today": 422, "answer: a forged form": 403,
        "answer: expired": 400, "answer: not in the role": 400, "answer: gone from the plan": 400,
        "answer: a bad link": 400}
    for what, r in pages.items():
        if r.headers["content-type"].startswith("text/html"):
            assert f'<html lang="{lang}">' in r.text, what
        check_language(r.text, lang, w.folder, what)
    expected = {
        "en": {"unsubscribe: the question": "Do you want to unsubscribe from",
               "unsubscribe: done again": "(You were already unsubscribed.)",
               "unsubscribe: a bad link": "The link does not work",
               "one-click": "You are unsubscribed from Medlemsbrev.",
               "answer: the question": " at 18:00", "answer: wrong values": "Write the date as YYYY-MM-DD",
               "answer: saved": "Thank you! The answer is saved: was held", "answer: after today": "is after today",
               "answer: expired": "The link has expired."},
        "nb": {"unsubscribe: the question": "Vil du melde deg av",
               "unsubscribe: done again": "(Du var allerede meldt av.)",
               "unsubscribe: a bad link": "Lenken virker ikke",
               "one-click": "Du er meldt av Medlemsbrev.",
               "answer: the question": " kl. 18:00", "answer: wrong values": "Datoen må skrives som ÅÅÅÅ-MM-DD",
               "answer: saved": "Takk! Svaret er lagret: holdt", "answer: after today": "er etter i dag",
               "answer: expired": "Lenken er utløpt."}}[lang]
    for what, text in expected.items():
        assert text in html.unescape(pages[what].text), (what, text)


# --- the organisation's own web templates ------------------------------------------------------


def test_the_organisations_web_templates_override_the_bundled_ones_in_the_sandbox(web):
    lang, w = web
    own = w.folder / "templates" / "web"
    own.mkdir(parents=True)
    (own / "feil.html.j2").write_text(
        '{% extends "web/base.html.j2" %}{% block content %}<p id="own">{{ _("The link does not work") }}: '
        '{{ message }}</p><p>Ring kontoret.</p>{% endblock %}\n', encoding="utf-8")
    (own / "avmeld.html.j2").write_text(  # a hostile one: reach the str class's subclasses, or os
        "{{ list_name.__class__.__mro__[1].__subclasses__() }}{{ lipsum.__globals__['os'] }}\n", encoding="utf-8")
    server = w.start()
    bad = httpx.get(f"{server.url}/avmeld/not-a-token")
    assert bad.status_code == 400 and 'id="own"' in bad.text and "Ring kontoret." in bad.text
    assert ("The link does not work" if lang == "en" else "Lenken virker ikke") in bad.text  # the catalogs, too
    token = unsubscribe_token(w.secret, ORG, "medlemsbrev", "00002")
    hostile = httpx.get(f"{server.url}/avmeld/{token}")
    assert hostile.status_code == 500
    assert "<class" not in hostile.text and "module 'os'" not in hostile.text and "subclasses" not in hostile.text
    assert hostile.text == ("This page cannot be shown right now.\n" if lang == "en" else
                            "Denne siden kan ikke vises akkurat nå.\n")
    logged = server.output()  # the operator learns which template, where and why; no token, no values
    assert "the page template avmeld.html.j2 does not render" in logged and "SecurityError" in logged
    assert str(own / "avmeld.html.j2") in logged and token not in logged
    # the bundled pages the organisation did not override are still served
    link = answer_token(w.secret, AnswerLink(ORG, board_meeting(w.folder), "00001", date(2026, 7, 20)))
    assert httpx.get(f"{server.url}/svar/{link}").status_code == 200
