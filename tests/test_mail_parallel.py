"""Several SMTP connections at once (`AARSHJUL_SMTP_URL=…?connections=3`): every member once,
the rate limit over all of them together, and a pause that loses no outcome."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from aarshjul.domain.errors import EditionPaused
from aarshjul.tasks.mail_transport import SmtpTransport

from test_mail import NOW, MailEnv, add_members, people


@pytest.fixture
def env(files, tmp_path, database_url):
    return MailEnv(files, tmp_path, database_url)


def send(env: MailEnv, transport: SmtpTransport, rate_per_second: float) -> dict[str, int]:
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.ledger import counts
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.tasks.mailer import Mailer
    from aarshjul.tasks.sending import send_batches

    campaign, audience = env.campaign()
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            mailer = Mailer(session, transport, env.secret, rate_per_second=rate_per_second)
            mailer.prepare(campaign, audience_candidates(session, "test-org", audience))
            assert send_batches(mailer, campaign, 1, 45).done
            mailer.close()
            return counts(session, "test-org", campaign.key)
    finally:
        engine.dispose()


def test_three_connections_reach_every_member_once_within_the_rate(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, people(90))
    transport = SmtpTransport(sink.url + "?connections=3")
    assert transport.connections == 3
    start = time.monotonic()
    state = send(env, transport, rate_per_second=150)
    elapsed = time.monotonic() - start
    assert state == {"sent": 90}
    got = sink.by_recipient()
    assert len(got) == 90 and all(len(v) == 1 for v in got.values())
    assert len({m.parsed()["Message-ID"] for m in sink.messages}) == 90
    assert elapsed >= 89 / 150 * 0.95  # 150 a second over the three connections together, not each


def test_a_pause_over_three_connections_records_every_message_that_left(env, smtp_sink):
    """A refusing relay: the ratio pauses the edition; messages already on another
    connection finish and are recorded; nothing that left is left pending."""
    sink = smtp_sink()
    add_members(env.url, people(120))
    for i in range(1, 121):
        sink.fail_rcpt[f"m{i}@example.org"] = "554 5.7.1 Relay access denied"
    for i in (1, 2, 3):
        del sink.fail_rcpt[f"m{i}@example.org"]  # three get through
    with pytest.raises(EditionPaused) as caught:
        env.send(SmtpTransport(sink.url + "?connections=3"), batch=120)
    assert "too many refusals" in str(caught.value)
    from test_mail_refusals import rows

    got = rows(env.url)
    sent = {number for number, (state, _) in got.items() if state == "sent"}
    assert sent == {f"{i:05d}" for i in (1, 2, 3)} == {f"{int(m.to[0][1:].split('@')[0]):05d}" for m in sink.messages}
    assert {state for state, _ in got.values()} <= {"sent", "pending"}  # refusals back to pending, none lost


def test_a_smtp_url_with_a_bad_connections_value_is_refused():
    from aarshjul.domain.errors import AarshjulError

    with pytest.raises(AarshjulError) as caught:
        SmtpTransport("smtp://127.0.0.1:25?connections=many")
    assert "connections=" in str(caught.value) and caught.value.exit_status == 2


# --- suspended addresses in the summary ------------------------------------------------------


def suspend(url: str, number: str, address: str, skip_pending: bool = True) -> None:
    """Member `number`'s address suspended, as a hard bounce does (db/bounces.py record)."""
    from aarshjul.db import bounces as db_bounces
    from aarshjul.db.models import Suspension
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.domain.bounces import address_digest

    now = datetime.now(timezone.utc)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            digest = address_digest("test-org", address)
            session.add(Suspension(organisation="test-org", member=number, address_digest=digest, reason="hard",
                                   status="5.1.1", since=now))
            session.flush()
            if skip_pending:
                db_bounces.skip_pending(session, "test-org", number, {digest}, now)
    finally:
        engine.dispose()


@pytest.mark.prefect
def test_the_edition_summary_counts_suspended_members(prefect_harness, env, smtp_sink, monkeypatch):
    """Left out of the audience (suspended before), or a row skipped by an earlier run: each
    counted once as suspended; nobody suspended gets the letter."""
    from aarshjul.db.models import Delivery
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.flows.mail import send_newsletter
    from aarshjul.settings import get_settings

    sink = smtp_sink()
    add_members(env.url, people(6))
    engine = make_engine(env.url)
    with session_scope(engine) as session:  # an earlier run's row for member 4, skipped when it bounced
        session.add(Delivery(organisation="test-org", campaign="nyhetsbrev/2025-03", recipient="00004",
                             address="m4@example.org", message_id="<x4@test.example.org>", state="pending",
                             attempts=0, created_at=NOW, updated_at=NOW))
    engine.dispose()
    suspend(env.url, "00002", "m2@example.org")
    suspend(env.url, "00004", "m4@example.org")
    for name, value in {"AARSHJUL_DATABASE_URL": env.url, "AARSHJUL_PLAN": str(env.files.plan),
                        "AARSHJUL_SMTP_URL": sink.url,
                        "AARSHJUL_SECRET_KEY_FILE": str(env.tmp / "secret.key")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        [summary] = send_newsletter("nyhetsbrev", "2025-03", str(env.files.plan), NOW.date())
    finally:
        get_settings.cache_clear()
    assert summary.sent == 4 and summary.skipped_suspended == 2, summary
    assert sorted(sink.by_recipient()) == [f"m{i}@example.org" for i in (1, 3, 5, 6)]


def test_a_member_suspended_while_the_edition_is_sent_is_counted_too(env, smtp_sink):
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.session import make_engine, session_scope
    from aarshjul.flows.mail import _delivery
    from aarshjul.tasks.mailer import Mailer
    from aarshjul.tasks.sending import send_batches

    sink = smtp_sink()
    add_members(env.url, people(6))
    campaign, audience = env.campaign()
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            mailer = Mailer(session, SmtpTransport(sink.url), env.secret, rate_per_second=1000)
            left_out: list[str] = []
            prepared = mailer.prepare(campaign, audience_candidates(session, "test-org", audience, left_out))
            prepared.skipped_suspended = len(left_out)
            session.commit()
            suspend(env.url, "00003", "m3@example.org")  # the bounce flow, in another process, meanwhile
            totals = send_batches(mailer, campaign, 1, 50)
            mailer.close()
    finally:
        engine.dispose()
    summary = _delivery(campaign, prepared, totals)
    assert (prepared.skipped_suspended, summary.sent, summary.skipped_suspended) == (0, 5, 1)
    assert "m3@example.org" not in sink.by_recipient()


# --- messages written out directly (domain/messages.py compose) ------------------------------


@pytest.mark.parametrize("name", ["Åse Ørnulf-Ødegård", "Doe, John", 'Q"uote', "Ø" * 80, "X\r\nBcc: evil@x.org",
                                  "=?utf-8?q?X=0D=0ABcc:_e?="])
@pytest.mark.parametrize("subject", ["Nyhetsbrev – mars 2025", "A long subject in ASCII " * 8, "Å" * 100])
def test_a_composed_message_reads_back_as_written(name, subject):
    """Headers, parts and lines as every parser reads them: names and subjects decoded,
    no header smuggled in, lines of at most 998 octets in CRLF, bodies intact."""
    import email
    import email.policy

    from aarshjul.domain.messages import Envelope, clean, compose

    text = "Hei Åse,\n\n" + "Lang tekst med = og æøå " * 20 + "\n.\n..dot\ntrailing   \nFrom here\n"
    env = Envelope(from_name=name, from_address="post@example.org", to_name=name, to_address="m1@example.org",
                   subject=subject, message_id="<abc@test.example.org>", date=NOW, reply_to="bg@example.org",
                   list_id=f"{name} <nyhetsbrev.test.example.org>",
                   unsubscribe_url="https://test.example.org/avmeld/" + "AbC" * 30,
                   unsubscribe_mailto="avmelding@example.org?subject=unsubscribe%20" + "AbC" * 30)
    calendar = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:M\xc3\xb8te  \r\n DESCRIPTION:x\r\nEND:VCALENDAR\r\n"
    raw = compose(env, text, "<p>" + text + "</p>", calendar, "REQUEST")
    raw.decode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"") and max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects and "Bcc" not in msg
    shown = clean(name)  # control characters, and encoded words' smuggled ones, to spaces
    assert " ".join(str(msg["Subject"]).split()) == " ".join(subject.split())
    assert msg["To"].addresses[0].display_name == shown and msg["To"].addresses[0].addr_spec == "m1@example.org"
    assert msg["From"].addresses[0].display_name == shown
    assert str(msg["List-Id"]).endswith(" <nyhetsbrev.test.example.org>")
    assert str(msg["List-Unsubscribe"]).split() == [f"<https://test.example.org/avmeld/{'AbC' * 30}>,",
                                                    f"<mailto:avmelding@example.org?subject=unsubscribe%20{'AbC' * 30}>"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and msg["Message-ID"] == env.message_id
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
    assert parts[0].get_content().replace("\r\n", "\n") == text
    assert parts[1].get_content().replace("\r\n", "\n") == "<p>" + text + "</p>"
    assert parts[2].get_param("method") == "REQUEST" and "SUMMARY:Møte  \r\n DESCRIPTION" in parts[2].get_content()
    assert compose(env, text) != raw and compose(env, text).count(b"Content-Type:") == 1  # one part: no multipart


@pytest.mark.parametrize("address", ["m1@example.org\r\nBcc: x@y.org", "møller@example.org"])
def test_an_address_that_cannot_go_in_a_header_as_it_is_is_refused(address):
    from aarshjul.domain.messages import Envelope, compose

    env = Envelope(from_name="Lag", from_address="post@example.org", to_name="", to_address=address, subject="Hei",
                   message_id="<1@example.org>", date=NOW)
    with pytest.raises(ValueError):
        compose(env, "tekst")
