"""Every e-mail in the organisation's language (issue 14 item 8): an organisation whose
`organisation.locale` is `en` gets English mail, subjects included, with no Norwegian
word of ours; one whose locale is `nb` gets Norwegian with no English word of ours.

The campaigns are built from tests/data/other-org by the real builders (domain/campaigns.py,
domain/confirm.py), so the words made in code (dates, 'in 9 days', 'Cancelled:', the
reminders' sentences, the fixed subjects) are tested with the templates' own. The
organisation's text (titles, measure texts, names) is its own and stays as written: it is
taken out of the output before the words are looked for.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import DATA

TODAY = date(2026, 3, 1)
TEMPLATES = ("medlemsbrev", "digest", "invitation", "reminder", "followup", "followup_overdue", "dues",
             "dues_list", "confirm_held", "report_draft")

# words of ours: a Norwegian one in English mail, or an English one in Norwegian mail, is a fault
NORWEGIAN = ("hei", "tiltak", "avlyst", "møtet", "svar", "medlemmer", "medlemmene", "påminnelse", "dager",
             "kontingent", "kontingenten", "årshjulet", "innen", "kl", "endret", "ansvar", "frist", "fristen",
             "meld deg av", "vennlig hilsen", "i morgen", "om", "uten", "ikke", "og", "er", "til", "fra", "på",
             "med", "ble", "du", "har", "mars", "utkast", "årsrapport", "tlf", "grunn", "ringe", "punkter")
ENGLISH = ("hi", "measure", "cancelled", "changed", "meeting", "answer", "reminder", "days", "unsubscribe",
           "kind regards", "annual plan", "new members", "deadline", "the", "is", "and", "of", "you", "with",
           "march", "draft", "phone", "reason", "call", "items", "not scheduled", "dues")


def organisation(tmp_path: Path, lang: str) -> Path:
    """A copy of tests/data/other-org in `lang`, without its own templates (the bundled
    ones are under test) and, in English, with the language's default branch word."""
    folder = tmp_path / f"org-{lang}"
    shutil.copytree(DATA / "other-org", folder)
    shutil.rmtree(folder / "templates")
    path = folder / "organisation.yaml"
    text = path.read_text(encoding="utf-8").replace("locale: nb", f"locale: {lang}")
    if lang == "en":
        text = re.sub(r"  branch_word:\n(    .*\n)+", "", text)
    path.write_text(text, encoding="utf-8")
    return folder / "plan.yaml"


def timed(occurrences, bodies=None):
    """A timed occurrence in the next 60 days (an invitation's kind), with a place."""
    return next(o for o in occurrences if o.start is not None and isinstance(o.start, datetime) and not o.all_day
                and o.place and TODAY <= o.span.start <= TODAY + timedelta(days=60))


def campaigns(plan_file: Path):
    """(campaign, the organisation's own strings) for every bundled template, and the
    cancel and reminder variants."""
    from aarshjul.domain.campaigns import (
        dues_campaign, dues_list_campaign, follow_up_campaign, follow_up_overdue_campaign, invitation_campaigns,
        newsletter_campaign, reminder_campaign, report_draft_campaign)
    from aarshjul.domain.confirm import confirm_campaign, confirm_items
    from aarshjul.domain.editions import parse_edition
    from aarshjul.domain.expand import expand
    from aarshjul.domain.feeds import Entry
    from aarshjul.domain.load import load_plan
    from aarshjul.domain.reminders import Reminder

    plan = load_plan(plan_file)
    lang = plan.organisation.locale
    occurrences = expand(plan, TODAY, None)
    o = timed(occurrences)
    body = o.bodies[0]
    row = {"number": "1001", "name": "Alex Lund", "phone": "40000000", "joined": "x", "due": "y"}
    n_letter, n_digest = plan.mail.newsletters
    letter = parse_edition(plan, n_letter, "2026-03")[0]
    digest = [e for e in parse_edition(plan, n_digest, "2026-03") if e.branch == "nord"][0]
    content = (plan.folder / "content" / "medlemsbrev" / "2026-03.md").read_text(encoding="utf-8")
    now = datetime(2026, 2, 1, tzinfo=timezone.utc)
    (request, _), = [c for c in invitation_campaigns(plan, [Entry(o, 1, now, now)], TODAY, set()) if c[1] == body]
    (changed, _), = [c for c in invitation_campaigns(plan, [Entry(o, 2, now, now)], TODAY, {f"invite/{o.uid}/{body}/1"})
                     if c[1] == body]
    (cancel, _), = [c for c in invitation_campaigns(plan, [Entry(o, 3, now, now, removed=True, reason="R")], TODAY,
                                                    {f"invite/{o.uid}/{body}/2"}) if c[1] == body]
    items = confirm_items(plan, [o], {o.key: "https://example.org/svar/T"})
    out = [
        newsletter_campaign(plan, n_letter, letter, TODAY, content),
        newsletter_campaign(plan, n_digest, digest, TODAY, allow_empty=True),
        request, changed, cancel,
        *(reminder_campaign(plan, Reminder(f"r/{kind}/{days}", kind, days, o, lead))
          for kind, days, lead in (("lead", 9, 21), ("lead", 1, 7), ("unscheduled", 20, 21), ("overdue", 3, None))),
        follow_up_campaign(plan, "nord", "2026-W09", [row]),
        follow_up_overdue_campaign(plan, "avdelingsstyret", TODAY, {"nord": ["1001"], "": ["1002", "1003"]}),
        follow_up_overdue_campaign(plan, "avdelingsstyret", TODAY, {"nord": ["1001"]}),
        dues_campaign(plan, 2026),
        dues_list_campaign(plan, "nord", TODAY, [row]),
        confirm_campaign(plan, "1001", items, [body], TODAY, TODAY + timedelta(days=30)),
        confirm_campaign(plan, "1001", items * 2, [body], TODAY, TODAY + timedelta(days=30)),
        report_draft_campaign(plan, "avdelingsstyret", 2026, TODAY, "MARKDOWN", ["a.md"]),
    ]
    own = {out[0].context["content_html"], plan.organisation.name, plan.mail.sender.name, n_letter.name,
           n_digest.name, n_digest.name.lower(),
           n_letter.name.lower(), content.strip(), "Alex", "Alex Lund", "R", "MARKDOWN"}
    own |= {b.name for b in plan.bodies.values()}
    own |= {m.title for _, m in plan.measures} | {m.text for _, m in plan.measures}
    own |= {x for occ in occurrences for x in (occ.title, occ.place, occ.note) if x}
    if lang == "nb":
        own |= {plan.branch_word.singular, plan.branch_word.definite}
    return out, own


def render(campaign):
    """(subject, text, html) as the mailer makes them: the Renderer is not told the
    language, the campaign's context carries it."""
    from aarshjul.tasks.mail_render import Renderer

    context = {**campaign.context, "first_name": "Alex", "unsubscribe_url": "https://example.org/u/T"}
    return Renderer(campaign.template, campaign.subject, campaign.templates).render(context)


def words_left(text: str, own: set[str]) -> str:
    """The text with tags, URLs and the organisation's own strings taken out."""
    for s in sorted(own, key=len, reverse=True):
        text = text.replace(s, " ")
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text)
    for s in sorted(own, key=len, reverse=True):
        text = text.replace(s, " ")
    return text


def found(words: tuple[str, ...], text: str) -> list[str]:
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)]


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_every_mail_is_in_the_organisations_language(tmp_path, lang):
    built, own = campaigns(organisation(tmp_path, lang))
    assert {c.template for c in built} == set(TEMPLATES)
    assert all(c.context["lang"] == lang for c in built)
    foreign = NORWEGIAN if lang == "en" else ENGLISH
    ours = ENGLISH if lang == "en" else NORWEGIAN
    for c in built:
        subject, text, html = render(c)
        # mail.yaml's subjects (newsletters) are the organisation's own words, shown as written
        mine = own | {subject} if c.template in ("medlemsbrev", "digest") else own
        for part, value in (("subject", subject), ("text", text), ("html", html)):
            left = words_left(value, mine)
            assert not found(foreign, left), (lang, c.key, part, found(foreign, left), left)
        # and the output is in the language: some words of ours are there
        assert found(ours, words_left(text, own)), (lang, c.key, text)
        assert f'<html lang="{lang}">' in html


def test_the_english_mail_reads_as_english(tmp_path):
    """Spot checks of the words made in code and in the templates, in English."""
    built, _ = campaigns(organisation(tmp_path, "en"))
    rendered = [render(c) for c in built]
    texts = "\n".join(t for _, t, _ in rendered)
    subjects = [s for s, _, _ in rendered]
    assert "Cancelled: " in texts and "Changed: " in texts and "The meeting " in texts and "Reason: R" in texts
    assert "In 9 days: " in subjects[5] and "Tomorrow: " in subjects[6]
    assert any(s.startswith("Not scheduled: ") for s in subjects)
    assert any(s.startswith("The deadline has passed: ") for s in subjects)
    assert "The dues for 2026" in subjects and "Draft annual report 2026" in subjects
    assert "Was it held? 1 item awaits an answer" in subjects and "Was it held? 2 items await an answer" in subjects
    assert "3 new members are not contacted within the deadline" in subjects
    assert "1 new member is not contacted within the deadline" in subjects
    assert "Without branch" in texts and "a phone call from the branch often helps" in texts
    assert " at 16:00" in texts and "4 March 2026" in texts and "March 2026" in texts
    assert all(c.from_name.endswith(("– the annual plan", "Fagforeningen Nord")) or "–" in c.from_name
               for c in built)
    assert any(c.from_name.endswith("– the annual plan") for c in built)


def test_the_norwegian_mail_is_worded_as_before(tmp_path):
    built, _ = campaigns(organisation(tmp_path, "nb"))
    rendered = [render(c) for c in built]
    subjects = [s for s, _, _ in rendered]
    texts = "\n".join(t for _, t, _ in rendered)
    assert "Om 9 dager: " in subjects[5] and "I morgen: " in subjects[6]
    assert "Ble det holdt? 1 punkt venter på svar" in subjects and "Ble det holdt? 2 punkter venter på svar" in subjects
    assert "Kontingenten for 2026" in subjects and "Utkast til årsrapport 2026" in subjects
    assert "Avlyst: " in texts and "Endret: " in texts and "Møtet 4. mars 2026 kl. 16:00 er avlyst. Grunn: R" in texts
    assert "Uten lokalgruppe" in texts and "en telefon fra lokalgruppa hjelper ofte" in texts
    assert any(c.from_name.endswith("– årshjulet") for c in built)


def test_an_override_in_the_organisations_folder_is_used_and_may_say_trans(tmp_path):
    """A templates/ folder beside plan.yaml still overrides a bundled template, and an
    override may take its words from the catalogs ({% trans %}, _()) in the organisation's
    language, or write its own."""
    from aarshjul.tasks.mail_render import Renderer

    for lang in ("en", "nb"):
        plan_file = organisation(tmp_path, lang)
        folder = plan_file.parent / "templates" / "email"
        folder.mkdir(parents=True)
        (folder / "dues.txt.j2").write_text(
            '{% extends "email/base.txt.j2" %}{% block body %}OWN {% trans %}Hi {{ first_name }},{% endtrans %} '
            '{{ _("Kind regards") }}{% endblock %}', encoding="utf-8")
        built, _ = campaigns(plan_file)
        dues = next(c for c in built if c.template == "dues")
        subject, text, html = render(dues)
        if lang == "en":
            assert "OWN Hi Alex, Kind regards" in text and subject == "The dues for 2026"
            assert "Hi Alex," in html and "We see that the dues for 2026" in html  # the bundled HTML part
        else:
            assert "OWN Hei Alex, Vennlig hilsen" in text and subject == "Kontingenten for 2026"
        # the language given to the Renderer wins over the context's
        other = "nb" if lang == "en" else "en"
        _, text2, _ = Renderer(dues.template, dues.subject, dues.templates, lang=other).render(
            {**dues.context, "first_name": "Alex"})
        assert ("OWN Hei Alex, Vennlig hilsen" if other == "nb" else "OWN Hi Alex, Kind regards") in text2
    # the organisation's own Norwegian override (tests/data/other-org) is used as written
    shutil.copytree(DATA / "other-org", tmp_path / "own")
    built, _ = campaigns(tmp_path / "own" / "plan.yaml")
    _, text, _ = render(built[0])
    assert "Solidarisk hilsen" in text


def test_an_english_organisations_dues_reminder_arrives_in_english(tmp_path, smtp_sink, database_url):
    """End to end: the mailer sends the English organisation's dues reminder through a real
    SMTP server (aiosmtpd); the message received has an English subject and body."""
    from aarshjul.db.ledger import counts
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.tasks.mail_transport import SmtpTransport
    from aarshjul.tasks.mailer import Mailer, secret_key

    built, own = campaigns(organisation(tmp_path, "en"))
    dues = next(c for c in built if c.template == "dues")
    sink = smtp_sink()
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    try:
        with session_scope(engine) as session:
            session.add(Member(organisation=dues.organisation, number="1001", first_name="Alex", last_name="Lund",
                               email="alex@example.org", branch="nord", status="active", first_seen=now,
                               updated_at=now, row_hash="x"))
        with session_scope(engine) as session:
            transport = SmtpTransport(sink.url, ssl_context=sink.client_context)
            mailer = Mailer(session, transport, secret_key(tmp_path / "secret.key"), rate_per_second=1000)
            mailer.prepare(dues, [("1001", "alex@example.org")])
            result = mailer.send_batch(dues, 10, 1)
            transport.close()
            assert result.sent == 1 and counts(session, dues.organisation, dues.key) == {"sent": 1}
    finally:
        engine.dispose()
    (received,) = sink.by_recipient()["alex@example.org"]
    msg = received.parsed()
    assert msg["Subject"] == "The dues for 2026"
    assert str(msg["From"]).startswith("Fagforeningen Nord")
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "Hi Alex," in text and "We see that the dues for 2026 are not registered as paid yet" in text
    assert "Kind regards" in text and "You get one such reminder a year." in text
    assert "Hi Alex," in html and '<html lang="en">' in html
    for part in (msg["Subject"], text, html):
        left = words_left(part, own)
        assert not found(NORWEGIAN, left), (found(NORWEGIAN, left), left)


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_values_in_a_translated_sentence_are_escaped_in_html_and_literal_in_text(lang):
    """A {% trans %} block's words are looked up when the template is compiled (tasks/mail_render.py);
    its values are still the plan's text: escaped in the HTML part, as written in the text part,
    never template source; a plural chooses its form by the count."""
    from aarshjul.tasks.mail_render import Renderer

    hostile = "<script>alert(1)</script> {{ 7*7 }} %(x)s 100%"
    context = {"organisation": "O & Co", "lang": lang, "message": "m", "measure": "1.1", "measure_text": hostile,
               "bodies": hostile, "key": "1.1/2026"}
    subject, text, html = Renderer("reminder", "S").render(context)
    assert hostile in text and "O & Co" in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} %(x)s 100%" in html
    assert "O &amp; Co" in html
    word = {"en": "Measure", "nb": "Tiltak"}[lang]
    assert f"{word} 1.1: {hostile}" in text
    counts = {"organisation": "O", "lang": lang, "within_days": 14, "measure": None, "branches": []}
    one = Renderer("followup_overdue", "S").render({**counts, "count": 1})[1]
    many = Renderer("followup_overdue", "S").render({**counts, "count": 3})[1]
    assert {"en": "1 new member is not", "nb": "1 nytt medlem er ikke"}[lang] in one
    assert {"en": "3 new members are not", "nb": "3 nye medlemmer er ikke"}[lang] in many
