"""Every address, and no recipient stops the others (issue 12 item 1), against aiosmtpd
with SMTPUTF8 on and off: a list with a domain in Unicode, a local part in Unicode, a
malformed address, a forgotten member and a member whose message cannot be made, all in
the middle of it. The import names bad addresses by row, never the address."""

from __future__ import annotations

import email.policy
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from aarshjul.db.models import Delivery
from aarshjul.db.session import make_engine, session_scope
from aarshjul.tasks.mail_transport import NO_SMTPUTF8, SmtpTransport

from test_mail import MailEnv, add_members, people

UTF8_LOCAL = "østby@example.org"


@pytest.fixture
def env(files, tmp_path, database_url):
    return MailEnv(files, tmp_path, database_url)


def a_real_list(env: MailEnv) -> None:
    """Ten members: 2 a domain in Unicode, 4 a local part in Unicode, 5 malformed (as an old
    register may hold it), 6 forgotten once their row is in the ledger, the rest plain."""
    members = people(10)
    members[1]["email"] = "ingrid@blåbær.no"
    members[3]["email"] = UTF8_LOCAL
    members[4]["email"] = "kari@@example.org"
    add_members(env.url, members)


def forget(env: MailEnv, number: str) -> None:
    from aarshjul.db.members import forget_member

    engine = make_engine(env.url)
    with session_scope(engine) as session:
        forget_member(session, "test-org", number, datetime.now(timezone.utc))
    engine.dispose()


def ledger(env: MailEnv) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        rows = {r.recipient: (r.state, r.error) for r in session.scalars(select(Delivery))}
    engine.dispose()
    return rows


def prepare_then_forget(env: MailEnv, sink) -> None:
    """The rows are added (as a run that stopped half-way would leave them), then member 6 is forgotten."""
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.tasks.mailer import Mailer

    campaign, audience = env.campaign()
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        prepared = Mailer(session, SmtpTransport(sink.url), env.secret).prepare(
            campaign, audience_candidates(session, "test-org", audience))
    engine.dispose()
    assert prepared.added == 9 and prepared.skipped_invalid == 1  # the malformed one never gets a row
    forget(env, "00006")


def test_with_smtputf8_every_deliverable_member_gets_the_letter_once(env, smtp_sink):
    sink = smtp_sink(smtputf8=True)
    a_real_list(env)
    prepare_then_forget(env, sink)
    _, results, state = env.send(SmtpTransport(sink.url), batch=4)
    assert state == {"sent": 8, "forgotten": 1}
    got = sink.by_recipient()
    assert sorted(got) == sorted(["m1@example.org", "ingrid@xn--blbr-roah.no", "m3@example.org", UTF8_LOCAL,
                                  "m7@example.org", "m8@example.org", "m9@example.org", "m10@example.org"])
    assert all(len(v) == 1 for v in got.values())
    [letter] = got[UTF8_LOCAL]
    assert "SMTPUTF8" in letter.mail_options  # asked for, for this message ...
    assert all("SMTPUTF8" not in m.mail_options for m in sink.messages if m is not letter)  # ... and no other
    parsed = email.message_from_string(letter.raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert parsed["To"].addresses[0].addr_spec == UTF8_LOCAL  # the header in UTF-8 (RFC 6532), not mangled
    assert parsed["To"].addresses[0].display_name == "Navn4 Nordmann"
    assert all(m.raw.isascii() for m in sink.messages if m is not letter)
    assert ledger(env)["00006"] == ("forgotten", "the member was forgotten (members forget) before it was sent: "
                                                 "no address")
    assert sum(r.forgotten for r in results) == 0  # prepare of this send found it (counted there)


def test_without_smtputf8_only_that_member_fails_with_the_reason(env, smtp_sink):
    sink = smtp_sink(smtputf8=False)
    a_real_list(env)
    prepare_then_forget(env, sink)
    _, results, state = env.send(SmtpTransport(sink.url), batch=4)
    assert state == {"sent": 7, "failed": 1, "forgotten": 1}
    assert UTF8_LOCAL not in sink.by_recipient() and "m10@example.org" in sink.by_recipient()  # the rest went on
    assert ledger(env)["00004"] == ("failed", NO_SMTPUTF8)
    assert "østby" not in NO_SMTPUTF8
    assert sum(r.reasons.get("no SMTPUTF8", 0) for r in results) == 1


def test_a_message_that_cannot_be_made_for_one_member_fails_that_row_only(env, smtp_sink):
    """The subject needs a fifth letter of the first name: member 3's has two. (A template
    broken for everyone still stops the edition first: test_mail.py.)"""
    sink = smtp_sink()
    members = people(6)
    members[2]["first_name"] = "Al"
    add_members(env.url, members)
    campaign, audience = env.campaign()
    campaign = replace(campaign, subject="Hei {{ first_name[4] }}")
    _, results, state = env.send(SmtpTransport(sink.url), campaign, audience, batch=4)
    assert state == {"sent": 5, "failed": 1}
    assert "m3@example.org" not in sink.by_recipient() and len(sink.messages) == 5
    status, detail = ledger(env)["00003"]
    assert status == "failed" and detail.startswith("the template failed for this recipient")
    assert "Al" not in detail.replace("Alt", "")  # the member's data is not in the reason


@pytest.mark.prefect
def test_the_run_summary_says_why_rows_failed(prefect_harness, files, tmp_path, database_url, smtp_sink,
                                              monkeypatch, capsys):
    from aarshjul.cli import main
    from aarshjul.settings import get_settings

    sink = smtp_sink(smtputf8=False)
    members = people(4)
    members[1]["email"] = UTF8_LOCAL
    add_members(database_url, members)
    for name, value in {"AARSHJUL_DATABASE_URL": database_url, "AARSHJUL_PLAN": str(files.plan),
                        "AARSHJUL_SMTP_URL": sink.url, "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        try:
            main(["newsletter", "send", "nyhetsbrev", "--edition", "2025-03", "--today", "2025-03-02"])
        except SystemExit as exc:
            assert exc.code in (0, None)
        out = capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    assert "nyhetsbrev/2025-03: 3 sendt, 1 feilet (1 uten SMTPUTF8 hos e-posttjeneren)" in " ".join(out.split())
    assert "østby" not in out


def test_the_import_names_bad_addresses_by_row_and_keeps_unicode_ones():
    from aarshjul.domain.members_csv import parse_export

    rows = [("1001", "kari@example.org"), ("1002", "ingrid@blåbær.no"), ("1003", UTF8_LOCAL),
            ("1004", "per..hansen@example.org"), ("1005", "ola@exam_ple.org"), ("1006", "liv@-bad-.no"),
            ("1007", "nils@example.org")]
    text = "Medlemsnummer;Fornavn;E-post\r\n" + "".join(f"{n};Navn;{a}\r\n" for n, a in rows)
    export = parse_export(text.encode("utf-8"), today=date(2025, 3, 1), branches={}, source="medlemmer.csv")
    emails = {m.number: m.email for m in export.members}
    assert emails == {"1001": "kari@example.org", "1002": "ingrid@blåbær.no", "1003": UTF8_LOCAL,
                      "1004": None, "1005": None, "1006": None, "1007": "nils@example.org"}
    assert [(i.row, i.kind, i.column, i.number) for i in export.issues] == \
        [(5, "warning", "e-post", "1004"), (6, "warning", "e-post", "1005"), (7, "warning", "e-post", "1006")]
    for issue, (_, address) in zip(export.issues, rows[3:6]):
        assert address not in issue.message and address.split("@")[0] not in issue.message
        assert issue.say("nb").startswith(f"rad {issue.row}, e-post: ugyldig e-postadresse (")
    assert len(export.members) == 7  # a bad address is a member without mail, not a refused row
