"""The board's "was it held?": the personal answer link (domain/confirm.py), the daily mail
that carries it (the confirm-occurrences flow, to the outbox), the page on a real
`aarshjul web` (httpx), and the Prefect UI form's schema."""

from __future__ import annotations

import email
import re
from datetime import date
from email import policy

import httpx
import pytest
from sqlalchemy import select

from aarshjul.db.models import Completion
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.confirm import AnswerLink, BadAnswerLink, answer_token, read_answer_token
from test_mail import add_members, people
from test_web import ORG, Env, form_token, from_address

TODAY = date(2025, 3, 10)
KEY = "2.3/2025-03-04"  # the minimal plan's board meeting, 4 March 2025 18:00


def completions(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return [(c.ref, c.outcome, c.on_date, c.attendance, c.note, c.evidence_url, c.recorded_by, c.source)
                    for c in session.scalars(select(Completion).order_by(Completion.id))]
    finally:
        engine.dispose()


def board(url: str) -> None:
    """00001 and 00002 hold the board's role; 00003 holds none."""
    members = people(3)
    members[0]["roles"], members[1]["roles"] = "styret", "nord,styret"
    add_members(url, members)


@pytest.fixture
def answers_env(files, tmp_path):
    e = Env(files, tmp_path)
    board(e.url)
    yield e
    for s in e.servers:
        s.stop()


@pytest.fixture
def answers_env_db(files, tmp_path, database_url):
    """As answers_env, on SQLite and on PostgreSQL (where AARSHJUL_TEST_POSTGRES_URL is set)."""
    e = Env(files, tmp_path, database_url)
    board(e.url)
    yield e
    for s in e.servers:
        s.stop()


def link(e: Env, key: str = KEY, member: str = "00001", expires: date = date(2025, 4, 9), org: str = ORG) -> str:
    return answer_token(e.secret, AnswerLink(org, key, member, expires))


# --- the token ---------------------------------------------------------------------------------


def test_an_answer_link_is_bound_to_person_occurrence_purpose_and_day():
    secret = b"s" * 32
    made = AnswerLink(ORG, KEY, "00001", date(2025, 4, 9))
    token = answer_token(secret, made)
    assert read_answer_token(secret, token, TODAY) == made
    assert KEY not in token and "00001" not in token  # opaque: nothing readable in the address
    assert read_answer_token(secret, token, date(2025, 4, 9)) == made  # its last day
    with pytest.raises(BadAnswerLink) as expired:
        read_answer_token(secret, token, date(2025, 4, 10))
    assert expired.value.expired
    from aarshjul.domain.messages import unsubscribe_token

    for bad in (token[:-4], token[:10], "", "!!!", answer_token(b"t" * 32, made),
                token[:20] + ("A" if token[20] != "A" else "B") + token[21:],
                unsubscribe_token(secret, ORG, "nyhetsbrev", "00001")):  # another purpose's token
        with pytest.raises(BadAnswerLink) as exc:
            read_answer_token(secret, bad, TODAY)
        assert not exc.value.expired


# --- the page -------------------------------------------------------------------------------------


def test_the_page_shows_the_occurrence_and_records_the_answer_by_that_person_and_a_second_answer_updates_it(
        answers_env_db):
    answers_env = answers_env_db
    server = answers_env.web("--today", TODAY.isoformat())
    url = f"{server.url}/svar/{link(answers_env)}"
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    for text in ("Ble det holdt?", "Styremøte", "4. mars 2025 kl. 18:00", "Styret", 'value="2025-03-04"',
                 "Hvorfor ble det ikke holdt?", "Antall deltakere", "Lenke til referat"):
        assert text in page.text, text
    assert completions(answers_env.url) == []  # a GET records nothing

    r = httpx.post(url, data={"skjema": form_token(page.text), "holdt": "ja", "dato": "2025-03-05", "antall": "12",
                              "merknad": "Flyttet en dag.", "lenke": "https://example.org/referat"})
    assert r.status_code == 200 and "Takk! Svaret er lagret" in r.text
    assert completions(answers_env.url) == [(KEY, "held", date(2025, 3, 5), 12, "Flyttet en dag.",
                                             "https://example.org/referat", "00001", "web")]
    # another board member corrects it from their own link: the same record, now theirs
    other = f"{server.url}/svar/{link(answers_env, member='00002')}"
    again = httpx.get(other)
    assert "Det er allerede svart: holdt (5. mars 2025)" in again.text and 'value="12"' in again.text
    r = httpx.post(other, data={"skjema": form_token(again.text), "holdt": "nei", "dato": "2025-03-04",
                                "grunn": "For få påmeldte.", "antall": "", "merknad": "", "lenke": ""})
    assert r.status_code == 200, r.text
    assert completions(answers_env.url) == [(KEY, "not_held", date(2025, 3, 4), None, "For få påmeldte.", None,
                                             "00002", "web")]


def test_a_wrong_answer_is_shown_again_in_norwegian_and_nothing_is_recorded(answers_env):
    server = answers_env.web("--today", TODAY.isoformat())
    url = f"{server.url}/svar/{link(answers_env)}"
    page = httpx.get(url)
    for form, expected in (
            ({"holdt": "nei", "grunn": ""}, "Skriv kort hvorfor det ikke ble holdt."),
            ({"holdt": "ja", "dato": "2025-03-20"}, "Datoen 20. mars 2025 er etter i dag."),
            ({"holdt": "ja", "dato": "4.3"}, "Datoen må skrives som ÅÅÅÅ-MM-DD"),
            ({"holdt": "ja", "antall": "mange"}, "Antall deltakere må være et helt tall"),
            ({"holdt": "ja", "lenke": "javascript:alert(1)"}, "Lenken må være en nettadresse"),
            ({}, "Velg om det ble holdt eller ikke.")):
        r = httpx.post(url, data={"skjema": form_token(page.text), **form})
        assert r.status_code == 422 and expected in r.text, (form, r.text[-800:])
        assert "Svaret er ikke lagret" in r.text
    assert completions(answers_env.url) == []


def test_bad_expired_foreign_and_role_less_links_get_a_norwegian_400_and_record_nothing(answers_env):
    server = answers_env.web("--today", TODAY.isoformat())
    good = link(answers_env)
    cases = {
        good[:-3]: "Lenken er ugyldig",
        answer_token(b"x" * 32, AnswerLink(ORG, KEY, "00001", date(2025, 4, 9))): "Lenken er ugyldig",
        answers_env.token(): "Lenken er ugyldig",  # an unsubscribe token
        link(answers_env, org="other-org"): "Lenken er ugyldig",
        link(answers_env, expires=date(2025, 3, 9)): "Lenken er utløpt.",
        link(answers_env, key="9.9/2025/1"): "finnes ikke lenger i planen",
        link(answers_env, member="00003"): "Lenken gjelder ikke lenger for deg.",  # holds no role
    }
    for n, (token, expected) in enumerate(cases.items(), start=10):
        with from_address(n) as client:  # each from its own address (the rate limit counts refusals)
            for method in ("GET", "POST"):
                r = client.request(method, f"{server.url}/svar/{token}", data={"holdt": "ja"})
                assert r.status_code == 400 and expected in r.text, (expected, method, r.status_code)
    assert completions(answers_env.url) == []


def test_an_answer_without_a_valid_form_token_is_refused(answers_env):
    server = answers_env.web("--today", TODAY.isoformat())
    url = f"{server.url}/svar/{link(answers_env)}"
    other_page = httpx.get(f"{server.url}/svar/{link(answers_env, member='00002')}")
    for form in ({"holdt": "ja"}, {"holdt": "ja", "skjema": form_token(other_page.text)}):
        r = httpx.post(url, data=form)
        assert r.status_code == 403 and "Svaret kunne ikke lagres" in r.text
    assert completions(answers_env.url) == []


# --- the daily mail ---------------------------------------------------------------------------------


@pytest.mark.prefect
def test_the_daily_question_mails_each_role_holder_their_links_and_a_link_opens_the_page(
        prefect_harness, answers_env, monkeypatch, tmp_path):
    from aarshjul.flows.report import confirm_occurrences
    from aarshjul.settings import get_settings

    for name, value in answers_env.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = confirm_occurrences(plan_path=str(answers_env.files.plan), today=TODAY, ask_in_ui=False)
        assert result.waiting == 2  # the board meeting of 4 March and Kvinnedagen, 8 March
        again = confirm_occurrences(plan_path=str(answers_env.files.plan), today=TODAY, ask_in_ui=False)
        assert again.waiting == 2
    finally:
        get_settings.cache_clear()
    letters = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in (tmp_path / "outbox").rglob("*.eml")]
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in letters) == ["m1@example.org", "m2@example.org"]
    mail = next(m for m in letters if "m1@" in str(m["To"]))
    assert str(mail["Subject"]) == "Ble det holdt? 2 punkter venter på svar"
    text = mail.get_body(("plain",)).get_content()
    assert "Styremøte (tiltak 2.3)" in text and "4. mars 2025 kl. 18:00" in text
    urls = re.findall(r"https://test\.example\.org/svar/\S+", text)
    assert len(urls) == 2
    html = mail.get_body(("html",)).get_content()
    assert all(u in html for u in urls)
    other = next(m for m in letters if "m2@" in str(m["To"])).get_body(("plain",)).get_content()
    assert not set(urls) & set(re.findall(r"https://test\.example\.org/svar/\S+", other))  # personal links

    server = answers_env.web("--today", TODAY.isoformat())
    page = httpx.get(server.url + urls[0].removeprefix("https://test.example.org"))
    assert page.status_code == 200 and "Ble det holdt?" in page.text


# --- the Prefect UI's form ----------------------------------------------------------------------------


def test_the_prefect_form_keeps_its_norwegian_titles_and_has_no_type_switches():
    from aarshjul.flows.report import confirm_form

    form = confirm_form("### Styremøte", held=True, date=date(2025, 3, 4))
    schema = form.model_json_schema()
    titles = {name: prop.get("title") for name, prop in schema["properties"].items()}
    assert titles == {"held": "Ble det holdt?", "date": "Dato", "attendance": "Antall deltakere",
                      "note": "Merknad", "evidence_url": "Lenke", "later": "Svar senere"}
    assert not any("anyOf" in prop for prop in schema["properties"].values())  # no "X | None" switches
    assert schema["properties"]["date"]["default"] == "2025-03-04"
    assert schema["properties"]["attendance"]["minimum"] == 0
    assert form._description == "### Styremøte"


def test_a_bad_evidence_link_in_the_prefect_form_is_asked_again_in_norwegian(minimal):
    from aarshjul.domain.confirm import check_answer, question
    from aarshjul.domain.expand import expand

    occ = next(o for o in expand(minimal, date(2025, 3, 1), date(2025, 3, 5)) if o.key == KEY)
    problem = check_answer(minimal, occ, date(2025, 3, 4), TODAY, "referat.pdf")
    assert problem is not None
    assert problem.say("nb") == "Lenken må være en nettadresse som begynner med https:// eller http://."
    assert check_answer(minimal, occ, date(2025, 3, 4), TODAY, "https://example.org/referat") is None
    assert question(minimal, occ, problem).startswith(f"**Svaret kunne ikke lagres:** {problem.say('nb')} Prøv igjen.")
