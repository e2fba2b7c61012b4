"""Sentences that were Norwegian only, now from the catalogs: each said in Norwegian and in
English, with no Norwegian in the English and the Norwegian wording as it was (issue 14).

The confirm question and the Prefect form (the organisation's language), check_answer's
problems and the edition errors (the reader's), the flows' artifacts, the dues note,
the member database's errors, the web service's plain bodies and the postcode reasons.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from aarshjul.domain.i18n import Msg

NORWEGIAN = ("æ", "ø", "å", "Æ", "Ø", "Å", " ikke ", "medlem", "tiltak", "Svar", "innen", " kl. ", "Dato",
             "Lenke", "Merknad", "antall", "mangler", "postnummer")
KEY = "2.3/2025-03-04"  # the minimal plan's board meeting, 4 March 2025 18:00
TODAY = date(2025, 3, 10)


def no_norwegian(text: str) -> None:
    found = [w for w in NORWEGIAN if w in text]
    assert not found, f"Norwegian {found} in English output: {text!r}"


def english(files):
    files.edit("organisation.yaml", "  timezone: Europe/Oslo\n", "  timezone: Europe/Oslo\n  locale: en\n")
    plan = files.load()
    assert plan.organisation.locale == "en"
    return plan


def board_meeting(plan):
    from aarshjul.domain.expand import expand

    return next(o for o in expand(plan, date(2025, 3, 1), date(2025, 3, 5)) if o.key == KEY)


# --- the question "was it held?" -----------------------------------------------------------------


def test_check_answer_says_its_problems_in_the_readers_language(minimal):
    from aarshjul.domain.confirm import check_answer

    occ = board_meeting(minimal)
    late = check_answer(minimal, occ, date(2025, 3, 12), TODAY)
    early = check_answer(minimal, occ, date(2024, 12, 1), TODAY)
    link = check_answer(minimal, occ, date(2025, 3, 4), TODAY, "referat.pdf")
    assert isinstance(late, Msg) and isinstance(early, Msg) and isinstance(link, Msg)
    assert late.say("nb") == "Datoen 12. mars 2025 er etter i dag."
    assert late.say("en") == str(late) == "The date 12 March 2025 is after today."
    assert early.say("nb") == "Datoen 1. desember 2024 er utenfor planperioden."
    assert early.say("en") == "The date 1 December 2024 is outside the plan period."
    assert link.say("nb") == "Lenken må være en nettadresse som begynner med https:// eller http://."
    assert link.say("en") == "The link must be a web address that begins with https:// or http://."
    assert check_answer(minimal, occ, date(2025, 3, 4), TODAY, "https://example.org/referat") is None


def test_the_question_is_in_the_organisations_language(minimal, files):
    from aarshjul.domain.confirm import check_answer, question

    occ = board_meeting(minimal)
    nb = question(minimal, occ, check_answer(minimal, occ, date(2025, 3, 12), TODAY))
    assert nb.startswith("**Svaret kunne ikke lagres:** Datoen 12. mars 2025 er etter i dag. Prøv igjen.\n")
    assert f"Tiltak 2.3 · `{KEY}` · planlagt 4. mars 2025 kl. 18:00" in nb and "Ansvar: Styret" in nb
    assert nb.endswith("Ble det holdt? Fyll inn dato, antall deltakere og gjerne en lenke til referat. "
                       "Velg «Svar senere» for å hoppe over.")

    plan = english(files)
    occ = board_meeting(plan)
    en = question(plan, occ, check_answer(plan, occ, date(2025, 3, 12), TODAY))
    assert en.startswith("**The answer could not be saved:** The date 12 March 2025 is after today. Try again.\n")
    assert f"Measure 2.3 · `{KEY}` · planned 4 March 2025 at 18:00" in en and "Responsible: Styret" in en
    assert en.endswith("Choose “Answer later” to skip it.")
    no_norwegian(en.replace("Styret", "").replace("Styremøte", "").replace(occ.title, ""))


def test_the_prefect_form_has_its_titles_in_either_language():
    from aarshjul.flows.report import confirm_form

    def words(lang):
        schema = confirm_form("### x", lang, held=True, date=date(2025, 3, 4)).model_json_schema()
        return {name: (p.get("title"), p.get("description")) for name, p in schema["properties"].items()}

    nb, en = words("nb"), words("en")
    assert nb == words(None)  # no language: Norwegian
    assert nb["held"] == ("Ble det holdt?", "Kryss av hvis det ble holdt; ta bort krysset hvis ikke "
                                            "(skriv hvorfor i merknaden).")
    assert nb["later"] == ("Svar senere", "Hopp over denne nå; den spørres om igjen i morgen.")
    assert nb["attendance"] == ("Antall deltakere", "0 hvis du ikke vet.")
    assert en["held"] == ("Was it held?", "Tick if it was held; untick if not (write why in the note).")
    assert en["date"] == ("Date", "When it was held.")
    assert en["later"] == ("Answer later", "Skip this one now; it is asked again tomorrow.")
    for title, description in en.values():
        no_norwegian(f"{title} {description}")
    schema = confirm_form("### x", "en", date=date(2025, 3, 4)).model_json_schema()
    assert schema["properties"]["date"]["default"] == "2025-03-04" and schema["properties"]["attendance"]["minimum"] == 0


# --- editions not sent ------------------------------------------------------------------------------


def test_an_edition_not_written_or_empty_says_so_in_the_readers_language(minimal):
    from aarshjul.domain.campaigns import newsletter_campaign
    from aarshjul.domain.editions import editions_for
    from aarshjul.domain.errors import EditionEmpty, EditionNotReady

    letter = next(n for n in minimal.mail.newsletters if n.id == "nyhetsbrev")
    edition = editions_for(minimal, letter, date(2025, 3, 1))[0]
    with pytest.raises(EditionNotReady) as caught:
        newsletter_campaign(minimal, letter, edition, date(2025, 3, 1))
    nb, en = caught.value.say("nb"), caught.value.say("en")
    assert nb.startswith(f"{edition.key}: teksten ") and nb.endswith(" er ikke skrevet ennå; brevet sendes ikke")
    assert en.startswith(f"{edition.key}: the text ") and en.endswith(" is not written yet; the letter is not sent")
    assert str(caught.value) == en

    digest = next(n for n in minimal.mail.newsletters if n.id == "hva-skjer")
    quiet = date(2025, 7, 1)
    with pytest.raises(EditionEmpty) as empty:
        newsletter_campaign(minimal, digest, editions_for(minimal, digest, quiet)[0], quiet)
    assert empty.value.say("nb").endswith(": ingenting å melde de neste 6 ukene; oversikten sendes ikke")
    assert empty.value.say("en").endswith(": nothing to report in the next 6 weeks; the overview is not sent")


# --- what the flows leave in the Prefect UI ----------------------------------------------------------


@pytest.mark.prefect
def test_the_report_and_confirm_artifacts_are_in_the_organisations_language(prefect_harness):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.tasks.artifacts import confirmations_summary, report_summary

    counts = {"held": 3, "not_held": 1, "later": 2, "recorded_meanwhile": 0}

    @flow
    def summaries() -> None:
        for lang in ("nb", "en"):
            report_summary(f"org-{lang}", 2025, "Plan", "# x", [{"measure": "1.1"}], lang)
            confirmations_summary(f"org-{lang}", date(2025, 3, 10), 14, 6, counts, lang)

    summaries()
    with get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
            any_=[f"{kind}-org-{lang}" for kind in ("yearly-report-2025", "yearly-report-status-2025", "confirmations")
                  for lang in ("nb", "en")])))}
    assert found["yearly-report-2025-org-nb"].description == "Årsrapport 2025: Plan"
    assert found["yearly-report-2025-org-en"].description == "Yearly report 2025: Plan"
    assert found["yearly-report-status-2025-org-nb"].description == "Status per tiltak i 2025"
    assert found["yearly-report-status-2025-org-en"].description == "Status per measure in 2025"
    nb, en = found["confirmations-org-nb"], found["confirmations-org-en"]
    assert nb.description == "Bekreftelser av gjennomførte forekomster"
    assert en.description == "Confirmations of held occurrences"
    assert nb.data.splitlines() == [
        "# Bekreftelser 2025-03-10", "", "| | antall |", "|---|---:|",
        "| forekomster uten registrering (siste 14 dager) | 6 |", "| registrert som holdt | 3 |",
        "| registrert som ikke holdt | 1 |", "| svar senere | 2 |", "| registrert i mellomtiden | 0 |"]
    assert "| occurrences with nothing recorded (last 14 days) | 6 |" in en.data
    assert "| recorded as not held | 1 |" in en.data and "| answer later | 2 |" in en.data
    for artifact in (found["yearly-report-2025-org-en"], found["yearly-report-status-2025-org-en"], en):
        no_norwegian(f"{artifact.description} {artifact.data}")


@pytest.mark.prefect
def test_the_agenda_and_mail_artifacts_are_in_the_organisations_language(prefect_harness, minimal, files):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.db.agenda import StoreCounts
    from aarshjul.tasks.artifacts import agenda_summary, mail_summary

    plans = {"nb": minimal, "en": english(files)}

    @flow
    def summaries() -> None:
        for lang, plan in plans.items():
            agenda_summary(f"org-{lang}", "Plan", 2025, StoreCounts(new=5, changed=1, unchanged=2, removed=3), [], lang)
            mail_summary(plan, f"reminders-{lang}", [])

    summaries()
    keys = [key for lang in plans for key in (f"agenda-org-{lang}", f"gaps-org-{lang}-2025", f"reminders-{lang}-test-org")]
    with get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=keys)))}
    assert found["agenda-org-nb"].description == "Agenda lagret for Plan"
    assert found["agenda-org-nb"].data.splitlines()[4:] == [
        "| forekomster | 8 |", "| nye | 5 |", "| endret | 1 |", "| uendret | 2 |", "| fjernet | 3 |", "| hull i 2025 | 0 |"]
    assert found["agenda-org-en"].description == "Agenda stored for Plan"
    assert found["agenda-org-en"].data.splitlines()[4:] == [
        "| occurrences | 8 |", "| new | 5 |", "| changed | 1 |", "| unchanged | 2 |", "| removed | 3 |", "| gaps in 2025 | 0 |"]
    assert found["gaps-org-nb-2025"].description == "Hull i 2025"
    assert found["gaps-org-en-2025"].description == "Gaps in 2025"
    nb, en = found["reminders-nb-test-org"], found["reminders-en-test-org"]
    assert (nb.description, nb.data) == ("E-post: reminders-nb", "Ingenting skulle sendes.")
    assert (en.description, en.data) == ("Mail: reminders-en", "Nothing due.")


def test_the_dues_note_in_the_completion_log_is_in_the_organisations_language():
    from aarshjul.domain.i18n import ngettext

    def note(lang, n):
        return ngettext(lang, "dues reminder sent to {n} member", "dues reminder sent to {n} members", n)

    assert note("nb", 12) == "påminnelse om kontingent sendt til 12 medlemmer"
    assert note("nb", 1) == "påminnelse om kontingent sendt til 1 medlem"
    assert note("en", 12) == "dues reminder sent to 12 members" and note("en", 1) == "dues reminder sent to 1 member"


# --- the member database's errors -------------------------------------------------------------------


def test_the_member_databases_errors_are_said_in_the_readers_language(tmp_path):
    from aarshjul.db.members import MemberNotFound, record_contact
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.models import Member
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.errors import AarshjulError

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    said: dict[str, AarshjulError] = {}
    try:
        with session_scope(engine) as session:
            for number, joined in (("1", None), ("2", date(2025, 2, 20))):
                session.add(Member(organisation="o", number=number, first_name="A", last_name="B", status="active",
                                   joined=joined, first_seen=now, updated_at=now, row_hash="x"))
            session.flush()
            for name, number, on, days in (("close", "11", TODAY, 30), ("joined", "1", TODAY, 30),
                                           ("promise", "2", TODAY, None), ("before", "2", date(2025, 2, 1), 30)):
                with pytest.raises(AarshjulError) as caught:
                    record_contact(session, "o", number, on, within_days=days)
                said[name] = caught.value
    finally:
        engine.dispose()
    assert isinstance(said["close"], MemberNotFound)
    assert said["close"].say("nb") == "ukjent medlemsnummer '11': ikke i databasen; mente du 1?"
    assert said["close"].say("en") == "unknown member number '11': not in the database; did you mean 1?"
    unknown = MemberNotFound("999")
    assert unknown.say("nb") == ("ukjent medlemsnummer '999': ikke i databasen; sjekk nummeret, eller importer "
                                 "medlemslisten først (aarshjul members import FIL.csv)")
    assert unknown.say("en") == str(unknown) == (
        "unknown member number '999': not in the database; check the number, or import the member list first "
        "(aarshjul members import FILE.csv)")
    assert said["joined"].say("nb") == ("medlem 1 har ingen innmeldingsdato i databasen; kontakten kan ikke "
                                        "knyttes til en oppfølging av nye medlemmer")
    assert said["joined"].say("en") == ("member 1 has no date of joining in the database; the contact cannot be "
                                        "tied to a follow-up of new members")
    assert said["promise"].say("nb").startswith("medlem 2 har ingen oppfølging, og planen lover ingen oppfølging")
    assert said["promise"].say("en").startswith("member 2 has no follow-up, and the plan promises no follow-up")
    assert said["before"].say("nb") == "kontaktdatoen 2025-02-01 er før medlem 2 meldte seg inn (2025-02-20)"
    assert said["before"].say("en") == "the contact date 2025-02-01 is before member 2 joined (2025-02-20)"
    for exc in said.values():
        no_norwegian(exc.say("en"))


# --- the web service's plain answers -----------------------------------------------------------------


@pytest.mark.parametrize(("lang", "not_found", "not_allowed", "too_big", "too_many"), [
    ("nb", "Ikke funnet", "Metoden er ikke tillatt", "Forespørselen er for stor.",
     "For mange forespørsler. Vent litt og prøv igjen."),
    ("en", "Not Found", "Method Not Allowed", "The request is too large.",
     "Too many requests. Wait a little and try again."),
])
def test_the_web_services_plain_answers_are_in_the_organisations_language(tmp_path, lang, not_found, not_allowed,
                                                                          too_big, too_many):
    import asyncio

    import httpx

    from aarshjul.web.security import BodyLimit, RateLimit
    from aarshjul.web.site import SiteFiles

    async def ok(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def ask() -> list[httpx.Response]:
        site = httpx.AsyncClient(transport=httpx.ASGITransport(SiteFiles(tmp_path, lang)), base_url="http://t")
        guarded = httpx.AsyncClient(transport=httpx.ASGITransport(
            RateLimit(BodyLimit(ok, 100, lang), burst=2, per_minute=1, lang=lang)), base_url="http://t")
        async with site, guarded:
            return [await site.get("/calendars/nope/medlemmer.ics"), await site.post("/index.html"),
                    await guarded.post("/svar/x", content=b"x" * 101), await guarded.get("/svar/x"),
                    await guarded.get("/svar/x")]

    missing, post, big, fine, limited = asyncio.run(ask())
    assert (missing.status_code, missing.text, missing.headers["content-length"]) == \
        (404, not_found, str(len(not_found.encode())))
    assert (post.status_code, post.text, post.headers["allow"]) == (405, not_allowed, "GET, HEAD")
    assert post.headers["content-length"] == str(len(not_allowed.encode()))
    assert (big.status_code, big.text) == (413, too_big) and fine.status_code == 200
    assert (limited.status_code, limited.text) == (429, too_many) and int(limited.headers["retry-after"]) >= 1
    if lang == "en":
        for text in (missing.text, post.text, big.text, limited.text):
            no_norwegian(text)


@pytest.mark.prefect
def test_the_calendar_follow_up_and_bounce_artifacts_are_in_the_organisations_language(prefect_harness):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from aarshjul.domain.i18n import N_
    from aarshjul.tasks.artifacts import calendars_summary, counts_summary

    @flow
    def summaries() -> None:
        for lang in ("nb", "en"):
            calendars_summary(f"org-{lang}", 1, 6, {"offentlig": 12}, {}, lang)
            counts_summary(f"follow-up-{lang}", N_("New-member follow-up"),
                           {"branches_notified": 2, "members_listed": 7, "escalated": 1}, lang)

    summaries()
    keys = [f"{kind}-{lang}" for kind in ("calendars-org", "follow-up") for lang in ("nb", "en")]
    with get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=keys)))}
    assert found["calendars-org-nb"].description == "Kalendere publisert"
    assert "| kalender | hendelser i strømmen |" in found["calendars-org-nb"].data
    assert "1 fil skrevet, 6 uendret." in found["calendars-org-nb"].data
    assert found["calendars-org-en"].description == "Calendars published"
    assert "1 file written, 6 unchanged." in found["calendars-org-en"].data
    assert found["follow-up-nb"].description == "Oppfølging av nye medlemmer"
    assert "| lag varslet | 2 |" in found["follow-up-nb"].data and "| meldt videre til styret | 1 |" in found[
        "follow-up-nb"].data
    assert "| branches notified | 2 |" in found["follow-up-en"].data
    for lang in ("en",):
        no_norwegian(f"{found['calendars-org-' + lang].data} {found['follow-up-' + lang].data}")


@pytest.mark.parametrize("lang, note", [("nb", "nyhetsbrev/2025-03: sendt til 2 mottakere"),
                                        ("en", "nyhetsbrev/2025-03: sent to 2 recipients")])
def test_a_sent_editions_completion_note_is_in_the_organisations_language(files, tmp_path, monkeypatch, lang, note):
    from aarshjul.db.completions import completions
    from aarshjul.db.migrate import upgrade
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.editions import Edition
    from aarshjul.settings import get_settings
    from aarshjul.tasks.sending import log_edition_sent

    plan = english(files) if lang == "en" else files.load()
    url = f"sqlite:///{tmp_path / 'n.db'}"
    upgrade(url)
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        log_edition_sent.fn(plan, "1.1", Edition("nyhetsbrev", "nyhetsbrev/2025-03", date(2025, 3, 1)),
                            date(2025, 3, 1), 2)
    finally:
        get_settings.cache_clear()
    engine = make_engine(url)
    with session_scope(engine) as session:
        notes = [c.note for c in completions(session, plan.organisation.id)]
    engine.dispose()
    assert notes == [note]
