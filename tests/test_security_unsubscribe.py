"""Issue 15 item 3: an unsubscribe recorded while an edition is half-sent is honoured.

The exact input that broke it: an edition sent in batches stops after its first batch
with the second one claimed ('sending', so in doubt) and the rest pending; two members
unsubscribe, one whose row is in doubt and one whose row is pending; the edition is
sent again. Before the fix both got the letter on the rerun, and the summary still
counted them as unsubscribed.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aarshjul.db.ledger import claim_batch, counts, record_unsubscribe
from aarshjul.db.models import Delivery
from aarshjul.db.session import make_engine, session_scope
from aarshjul.tasks.mail_transport import SmtpTransport
from aarshjul.tasks.mailer import Mailer
from sqlalchemy import select

from test_mail import MailEnv, add_members, people

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def _unsubscribe(url: str, *members: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        for member in members:
            assert record_unsubscribe(session, "test-org", "nyhetsbrev", member, NOW, "web")
    engine.dispose()


def _rows(url: str, key: str) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = {d.recipient: (d.state, d.error) for d in session.scalars(
            select(Delivery).where(Delivery.campaign == key))}
    engine.dispose()
    return rows


def test_unsubscribed_rows_already_in_the_ledger_are_not_sent_on_the_rerun(files, tmp_path, database_url,
                                                                            smtp_sink):
    env = MailEnv(files, tmp_path, database_url)
    sink = smtp_sink()
    add_members(env.url, people(10))
    campaign, audience = env.campaign()
    from aarshjul.db.audiences import audience_candidates

    # the first run: batch 1 (00001-00004) sent, batch 2 (00005-00008) claimed when the process died
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        mailer = Mailer(session, SmtpTransport(sink.url), env.secret, rate_per_second=10_000, retry_delay=0.01)
        mailer.prepare(campaign, audience_candidates(session, "test-org", audience))
        assert mailer.send_batch(campaign, 4, 1).sent == 4
        claimed = claim_batch(session, "test-org", campaign.key, 4, 2, NOW)
        assert [r.recipient for r in claimed] == ["00005", "00006", "00007", "00008"]
        mailer.transport.close()
    engine.dispose()
    assert len(sink.messages) == 4

    _unsubscribe(env.url, "00006", "00009")  # 00006 is in doubt, 00009 pending

    prepared, results, state = env.send(SmtpTransport(sink.url), campaign, audience, batch=4)
    got = sink.by_recipient()
    assert "m6@example.org" not in got and "m9@example.org" not in got
    assert sorted(got) == sorted(f"m{i}@example.org" for i in (1, 2, 3, 4, 5, 7, 8, 10))
    assert all(len(v) == 1 for k, v in got.items() if k not in ("m5@example.org", "m7@example.org",
                                                                 "m8@example.org"))
    assert state == {"sent": 8, "unsubscribed": 2}
    assert prepared.skipped_unsubscribed == 2 and prepared.in_doubt == 3 and prepared.pending == 4
    assert sum(r.sent for r in results) == 4 and sum(r.in_doubt for r in results) == 3
    rows = _rows(env.url, campaign.key)
    assert rows["00006"] == ("unsubscribed", "unsubscribed before it was sent again (the run that stopped may "
                                             "have sent it once)")
    assert rows["00009"] == ("unsubscribed", "unsubscribed before it was sent")

    # a third run sends nothing and still counts both, once each
    prepared, results, state = env.send(SmtpTransport(sink.url), campaign, audience, batch=4)
    assert prepared.skipped_unsubscribed == 2 and prepared.pending == 0 and sum(r.sent for r in results) == 0
    assert state == {"sent": 8, "unsubscribed": 2}


def test_an_unsubscribe_between_two_batches_of_one_run_is_honoured(files, tmp_path, database_url, smtp_sink):
    env = MailEnv(files, tmp_path, database_url)
    sink = smtp_sink()
    add_members(env.url, people(6))
    campaign, audience = env.campaign()
    from aarshjul.db.audiences import audience_candidates

    engine = make_engine(env.url)
    with session_scope(engine) as session:
        mailer = Mailer(session, SmtpTransport(sink.url), env.secret, rate_per_second=10_000, retry_delay=0.01)
        prepared = mailer.prepare(campaign, audience_candidates(session, "test-org", audience))
        assert prepared.pending == 6
        assert mailer.send_batch(campaign, 3, 1).sent == 3
        _unsubscribe(env.url, "00005")  # the one-click endpoint, in another connection
        second = mailer.send_batch(campaign, 3, 2)
        assert (second.claimed, second.sent, getattr(second, "unsubscribed", 0)) == (2, 2, 1)
        assert counts(session, "test-org", campaign.key) == {"sent": 5, "unsubscribed": 1}
        mailer.transport.close()
    engine.dispose()
    assert "m5@example.org" not in sink.by_recipient() and len(sink.messages) == 5
