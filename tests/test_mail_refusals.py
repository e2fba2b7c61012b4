"""Per-recipient refusals never pause an edition (issue 15 item 10, issue 12 item 1).

Against a real SMTP server (aiosmtpd on loopback). A refused recipient (5xx at RCPT, an
address that cannot be sent) fails that row only and the edition goes on; the edition
pauses only when the mail server itself fails `max_failures_in_a_row` times in a row
(those rows stay pending, never failed) or when an implausible share of this run's
recipients is refused (`max_failure_ratio`, judged from 50 recipients on; those refusals
go back to pending). A pause names the counts of the run and of the edition.
"""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from aarshjul.db.models import Delivery
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.errors import EditionPaused
from aarshjul.tasks.mail_transport import SmtpTransport
from test_mail import MailEnv, add_members, people, total
from test_newsletter_cli import cli  # noqa: F401
from test_smtp_faults import FaultySink, faulty_sink, ledger_counts  # noqa: F401


@pytest.fixture
def env(files, tmp_path, database_url):
    return MailEnv(files, tmp_path, database_url)


def rows(url: str) -> dict[str, tuple[str, str | None]]:
    """recipient -> (state, error)"""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {r.recipient: (r.state, r.error) for r in session.scalars(select(Delivery))}
    finally:
        engine.dispose()


def test_one_dead_domain_of_25_refusals_in_a_row_fails_those_rows_and_the_edition_goes_on(env, smtp_sink):
    """The finding: 20 per-recipient 550s in a row (one dead domain) paused the whole edition.
    Here 25 members in a row on a dead domain, in the middle of 80, with the default limits."""
    sink = smtp_sink()
    add_members(env.url, people(80))
    for i in range(30, 55):
        sink.fail_rcpt[f"m{i}@example.org"] = "550 5.1.2 Domain not found"
    prepared, results, state = env.send(SmtpTransport(sink.url), max_failures_in_a_row=20)
    assert state == {"sent": 55, "failed": 25}
    assert len(sink.messages) == 55 and "m55@example.org" in sink.by_recipient()
    assert total(results, "failed") == 25 and total(results, "sent") == 55
    got = rows(env.url)
    assert {got[f"{i:05d}"] for i in range(30, 55)} == {("failed", "550 5.1.2 Domain not found")}


def test_every_recipient_of_a_small_list_refused_fails_each_row_without_a_pause(env, smtp_sink):
    """The input test_mail's old test paused on (12 refused, max_failures_in_a_row 5): fewer
    than 50 recipients answered for, so no ratio; refusals are not failures of the server."""
    sink = smtp_sink()
    add_members(env.url, people(12))
    for i in range(1, 13):
        sink.fail_rcpt[f"m{i}@example.org"] = "550 5.7.1 Rejected"
    prepared, results, state = env.send(SmtpTransport(sink.url), max_failures_in_a_row=5)
    assert state == {"failed": 12} and sink.messages == []


def test_an_implausible_share_refused_pauses_and_puts_this_runs_refusals_back_to_pending(env, smtp_sink):
    """A relay that refuses us at RCPT looks like 60 dead addresses: after 50 answered for,
    all refused, the edition pauses with the counts; no row is left failed, and once the
    relay is fixed the next run sends each one once."""
    sink = smtp_sink()
    add_members(env.url, people(60))
    for i in range(1, 61):
        sink.fail_rcpt[f"m{i}@example.org"] = "554 5.7.1 Relay access denied"
    with pytest.raises(EditionPaused) as caught:
        env.send(SmtpTransport(sink.url), batch=20)
    message = str(caught.value)
    assert caught.value.exit_status == 3
    assert "50 of 50 recipients refused in this run, more than max_failure_ratio 0.5" in message
    assert "554 5.7.1 Relay access denied" in message
    assert "this run: 0 sent, 0 refused, 0 unknown, 50 left pending; the edition: 60 pending" in message
    assert caught.value.edition == {"pending": 60} and len(caught.value.run.waiting) == 50
    assert ledger_counts(env) == {"pending": 60}
    assert {r[1] for r in rows(env.url).values()} - {None} == {
        "refused while this run refused an implausible share (max_failure_ratio): tried again next run; "
        "the server said: 554 5.7.1 Relay access denied"}
    sink.fail_rcpt.clear()
    prepared, results, state = env.send(SmtpTransport(sink.url), batch=20)
    assert state == {"sent": 60} and len(sink.messages) == 60 and len(sink.by_recipient()) == 60


def test_the_ratio_is_the_settings_and_counts_this_run_only(env, smtp_sink):
    """40 of 100 refused: under the default 0.5, no pause; under 0.3, a pause at 50 answered
    for (20 refused); the earlier edition's 40 refusals do not count in this run."""
    sink = smtp_sink()
    add_members(env.url, people(100))
    for i in range(1, 101):
        if i % 5 in (1, 2):
            sink.fail_rcpt[f"m{i}@example.org"] = "550 5.1.1 No such user"
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 60, "failed": 40}

    content = env.files.folder / "content" / "nyhetsbrev"
    (content / "2025-04.md").write_text((content / "2025-03.md").read_text(encoding="utf-8"), encoding="utf-8")
    other = MailEnv(env.files, env.tmp, env.url)
    campaign, audience = other.campaign(edition="2025-04")
    with pytest.raises(EditionPaused) as caught:
        other.send(SmtpTransport(sink.url), campaign, audience, max_failure_ratio=0.3)
    assert "20 of 50 recipients refused in this run, more than max_failure_ratio 0.3" in str(caught.value)


def test_failures_of_the_server_in_a_row_pause_and_leave_the_rows_pending(env, faulty_sink):
    """The connection closed at RCPT for everyone (4 tries each): max_failures_in_a_row (3)
    such recipients pause the edition; none is failed, none is sent."""
    sink = faulty_sink()
    add_members(env.url, people(8))
    for i in range(1, 9):
        sink.drop_at_rcpt[f"m{i}@example.org"] = 99
    with pytest.raises(EditionPaused) as caught:
        env.send(SmtpTransport(sink.url), max_failures_in_a_row=3)
    assert "3 failures of the mail server in a row" in str(caught.value)
    assert "the edition: 8 pending" in str(caught.value)
    assert ledger_counts(env) == {"pending": 8} and sink.data_attempts == Counter()


def test_a_streak_of_server_failures_is_broken_by_a_recipient_the_server_answers_for(env, faulty_sink):
    sink = faulty_sink()
    add_members(env.url, people(8))
    for i in (1, 2, 4, 5, 7, 8):  # never three in a row
        sink.drop_at_rcpt[f"m{i}@example.org"] = 99
    sink.fail_rcpt["m3@example.org"] = "550 5.1.1 No such user"  # refused, but the server answered
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.ledger import counts
    from aarshjul.tasks.mailer import Mailer

    campaign, audience = env.campaign()
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            mailer = Mailer(session, SmtpTransport(sink.url), env.secret, rate_per_second=10_000, retry_delay=0.001,
                            max_failures_in_a_row=3)
            mailer.prepare(campaign, audience_candidates(session, "test-org", audience))
            result = mailer.send_batch(campaign, 50, 1)  # one batch: no pause
            mailer.transport.close()
            assert (result.sent, result.failed, result.retry_later) == (1, 1, 6)
            assert counts(session, "test-org", campaign.key) == {"pending": 6, "failed": 1, "sent": 1}
            with pytest.raises(EditionPaused) as caught:  # the same run's next batch: six in a row
                mailer.send_batch(campaign, 50, 2)
            assert "3 failures of the mail server in a row" in str(caught.value)
            assert "this run: 1 sent, 1 refused, 0 unknown, 6 left pending; the edition: 1 failed, 6 pending, 1 sent" in str(caught.value)
    finally:
        engine.dispose()


def test_addresses_that_cannot_be_sent_fail_their_row_only(env, smtp_sink):
    """A domain in Unicode goes as IDNA; a non-ASCII local part to a server without
    SMTPUTF8 fails that row with the reason; a forgotten member's blank address is skipped
    ('forgotten'), never sent; the rest is sent. (These used to stop the edition with a
    traceback, and send to `RCPT TO:<>`.) tests/test_addresses_smtputf8.py has more."""
    sink = smtp_sink(smtputf8=False)
    members = people(6)
    members[1]["email"] = "ingrid@blåbær.no"
    members[3]["email"] = "østby@example.org"
    add_members(env.url, members)
    campaign, audience = env.campaign()
    engine = make_engine(env.url)
    try:  # a member forgotten after their row was added: the row's address is blank
        from aarshjul.db.audiences import audience_candidates
        from aarshjul.tasks.mailer import Mailer

        with session_scope(engine) as session:
            first = Mailer(session, SmtpTransport(sink.url), env.secret).prepare(
                campaign, audience_candidates(session, "test-org", audience))
            assert first.skipped_invalid == 0 and first.added == 6
        with session_scope(engine) as session:
            session.execute(Delivery.__table__.update().where(Delivery.recipient == "00006").values(address=None))
    finally:
        engine.dispose()
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 4, "failed": 1, "forgotten": 1}
    assert sorted(sink.by_recipient()) == ["ingrid@xn--blbr-roah.no", "m1@example.org", "m3@example.org",
                                           "m5@example.org"]
    assert "ingrid@xn--blbr-roah.no" in str(sink.by_recipient()["ingrid@xn--blbr-roah.no"][0].parsed()["To"])
    got = rows(env.url)
    assert got["00004"][0] == "failed" and "SMTPUTF8" in got["00004"][1] and "østby" not in got["00004"][1]
    assert got["00006"][0] == "forgotten" and "forgotten" in got["00006"][1]


def test_mail_yaml_takes_max_failure_ratio_and_still_takes_max_failures_in_a_row(files):
    plan = files.load()
    assert plan.mail.max_failure_ratio == 0.5 and plan.mail.max_failures_in_a_row == 5
    files.edit("mail.yaml", "max_failures_in_a_row: 5\n", "max_failures_in_a_row: 5\nmax_failure_ratio: 0.25\n")
    assert files.load().mail.max_failure_ratio == 0.25
    from aarshjul.domain.mail_model import MailFile

    base = plan.mail.model_dump()
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValidationError):
            MailFile.model_validate({**base, "max_failure_ratio": bad})


@pytest.mark.prefect
def test_a_paused_newsletter_send_prints_the_counts_in_its_error_line_and_exits_3(prefect_harness, cli, monkeypatch):
    """Through `aarshjul newsletter send` (the flow under Prefect): the pause used to end
    with "5 failures in a row …; the rest stays pending", no counts; now the edition's line
    names the run's and the edition's counts, the command ends in one error line with exit
    3, and no row is failed."""
    from aarshjul.db.migrate import upgrade

    sink = FaultySink()
    try:
        sink.refuse_mail = "550 5.7.1 Sender address rejected: not owned by you"
        monkeypatch.setenv("AARSHJUL_SMTP_URL", sink.url)
        upgrade(cli.url)
        add_members(cli.url, people(12))
        code, out, err = cli("newsletter", "send", "nyhetsbrev", "--edition", "2025-03", "--today", "2025-03-02")
    finally:
        sink.stop()
    assert code == 3, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("feil:")]  # Prefect's own log aside
    assert lines == ["feil: stoppet, resten venter til neste kjøring: nyhetsbrev/2025-03"], err
    [why] = [line for line in out.splitlines() if line.startswith("! nyhetsbrev/2025-03:")]  # printed first
    assert "5 failures of the mail server in a row" in why and "550 5.7.1 Sender address rejected" in why
    assert "this run: 0 sent, 0 refused, 0 unknown, 5 left pending; the edition: 12 pending" in why
    assert {s: n for s, n in rows_by_state(cli.url).items()} == {"pending": 12}


def rows_by_state(url: str) -> dict[str, int]:
    return dict(Counter(state for state, _ in rows(url).values()))
