"""Several SMTP connections at once (`AARSHJUL_SMTP_URL=…?connections=3`): every member once,
the rate limit over all of them together, and a pause that loses no outcome."""

from __future__ import annotations

import time

import pytest

from aarshjul.domain.errors import EditionPaused
from aarshjul.tasks.mail_transport import SmtpTransport

from test_mail import MailEnv, add_members, people


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
