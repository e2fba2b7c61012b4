"""Mail against a real SMTP server (aiosmtpd): headers, exactly-once, faults."""

from __future__ import annotations

import email.policy
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from aarshjul.db.ledger import counts
from aarshjul.db.models import Delivery, Member
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.editions import parse_edition
from aarshjul.tasks.mail_transport import OutboxTransport, SmtpTransport, TransportDown
from aarshjul.tasks.mailer import Mailer, secret_key

from conftest import ROOT

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def add_members(url: str, members: list[dict]) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        for m in members:
            session.add(Member(organisation="test-org", first_seen=NOW, updated_at=NOW, row_hash="x",
                               status="active", **m))
    engine.dispose()


def people(n: int, start: int = 1) -> list[dict]:
    return [{"number": f"{i:05d}", "first_name": f"Navn{i}", "last_name": "Nordmann",
             "email": f"m{i}@example.org", "branch": "nord" if i % 2 else "sor"} for i in range(start, start + n)]


class MailEnv:
    def __init__(self, files, tmp_path, database_url):
        self.files, self.url, self.tmp = files, database_url, tmp_path
        self.plan = files.load()
        self.secret = secret_key(tmp_path / "secret.key")

    def campaign(self, newsletter="nyhetsbrev", edition="2025-03", branch=None):
        from aarshjul.domain.campaigns import content_path, newsletter_campaign
        from aarshjul.tasks.mail_render import read_edition_text

        n = next(x for x in self.plan.mail.newsletters if x.id == newsletter)
        ed = [e for e in parse_edition(self.plan, n, edition) if branch is None or e.branch == branch][0]
        return newsletter_campaign(self.plan, n, ed, date(2025, 3, 1),
                                   read_edition_text(content_path(self.plan, n, ed))), (
            {"branch": ed.branch} if ed.branch else n.audience.model_dump(exclude_defaults=True))

    def send(self, transport, campaign=None, audience=None, batch=50, **kw):
        from aarshjul.db.audiences import audience_candidates

        if campaign is None:
            campaign, audience = self.campaign()
        engine = make_engine(self.url)
        try:
            with session_scope(engine) as session:
                mailer = Mailer(session, transport, self.secret, rate_per_second=10_000, retry_delay=0.01, **kw)
                prepared = mailer.prepare(campaign, audience_candidates(session, "test-org", audience))
                results = []
                n = 0
                while True:
                    n += 1
                    r = mailer.send_batch(campaign, batch, n)
                    results.append(r)
                    if r.claimed == 0 or r.claimed == r.retry_later:
                        break
                transport.close()
                return prepared, results, counts(session, "test-org", campaign.key)
        finally:
            engine.dispose()


@pytest.fixture
def env(files, tmp_path, database_url):
    return MailEnv(files, tmp_path, database_url)


def total(results, name):
    return sum(getattr(r, name) for r in results)


@pytest.mark.parametrize("variant", ["plain", "starttls", "auth", "starttls+auth"])
def test_an_edition_reaches_every_member_once_with_the_right_headers(env, smtp_sink, variant):
    sink = smtp_sink(starttls="starttls" in variant, auth=("board", "s3cret") if "auth" in variant else None)
    add_members(env.url, people(120))
    prepared, results, state = env.send(SmtpTransport(sink.url + "?insecure_auth=true" * (variant == "auth"),
                                                      ssl_context=sink.client_context))
    assert prepared.added == 120 and total(results, "sent") == 120 and state == {"sent": 120}
    assert len(results) == 4  # batches of 50: 50, 50, 20, then an empty claim
    assert len(sink.messages) == 120 and len(sink.by_recipient()) == 120
    if "auth" in variant:
        assert sink.logins and set(sink.logins) == {"board"}
    msg = sink.by_recipient()["m7@example.org"][0].parsed()
    assert msg["From"] == "Testlaget – Bystyregruppen <post@example.org>"
    assert msg["To"] == "Navn7 Nordmann <m7@example.org>" and msg["Reply-To"] == "bg@example.org"
    assert msg["Subject"] == "Nyhetsbrev – mars 2025"
    assert msg["Message-ID"].endswith("@test.example.org>") and msg["Date"]
    assert msg["List-Id"] == "Nyhetsbrev <nyhetsbrev.test.example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = str(msg["List-Unsubscribe"]).strip()
    assert unsub.startswith("<https://test.example.org/avmeld/") and "<mailto:avmelding@example.org?subject=" in unsub
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "Hei Navn7," in text and "gratis kollektivtransport" in text
    assert "<strong>gratis kollektivtransport</strong>" in html and "Meld deg av" in html


def test_norwegian_names_are_encoded_and_injection_adds_no_header(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, [
        {"number": "1", "first_name": "Åse\r\nBcc: evil@example.net", "last_name": "Ærø", "email": "ase@example.org"},
        {"number": "2", "first_name": "=?utf-8?q?X=0D=0ABcc:_evil@example.net?=", "last_name": "Ø",
         "email": "o@example.org"},
        {"number": "3", "first_name": "{{ 7*7 }}", "last_name": "<script>alert(1)</script>", "email": "t@example.org"},
    ])
    campaign, audience = env.campaign()
    from dataclasses import replace

    campaign = replace(campaign, subject="Hei {{ first_name }}\nBcc: evil@example.net")
    env.send(SmtpTransport(sink.url), campaign, audience)
    got = sink.by_recipient()
    assert set(got) == {"ase@example.org", "o@example.org", "t@example.org"}  # nobody else
    for received in sink.messages:
        msg = received.parsed()
        assert "Bcc" not in msg and "evil@example.net" not in received.to
        assert [k for k in msg.keys() if k.lower() == "bcc"] == []
    ase = got["ase@example.org"][0].parsed()
    assert ase["To"].addresses[0].display_name == "Åse Bcc: evil@example.net Ærø"
    assert ase["Subject"] == "Hei Åse Bcc: evil@example.net Bcc: evil@example.net"
    t = got["t@example.org"][0].parsed()
    text, html = (p.get_content() for p in t.iter_parts())
    # "49" (the name evaluated) anywhere but in the unsubscribe token, which is random text
    assert "Hei {{ 7*7 }}," in text and "49" not in re.sub(r"/avmeld/\S+", "", text)
    # the last name is not in the body at all; the first name is text, never rendered
    assert "Hei {{ 7*7 }}," in html and "<script>" not in html and "alert(1)" not in html
    assert t["To"].addresses[0].display_name == "{{ 7*7 }} <script>alert(1)</script>"  # in the header, as it is


def test_invalid_and_case_duplicate_addresses(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, [
        {"number": "1", "first_name": "A", "last_name": "", "email": "Same@Example.org"},
        {"number": "2", "first_name": "B", "last_name": "", "email": "same@example.org"},
        {"number": "3", "first_name": "C", "last_name": "", "email": "not an address"},
        {"number": "4", "first_name": "D", "last_name": "", "email": "two@@example.org"},
        {"number": "5", "first_name": "E", "last_name": "", "email": None},
        {"number": "6", "first_name": "F", "last_name": "", "email": "f@example.org"},
    ])
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert prepared.skipped_invalid == 3 and prepared.skipped_duplicate == 1 and prepared.added == 2
    assert sorted(sink.by_recipient()) == ["f@example.org", "same@example.org"]


def test_sending_the_same_edition_twice_sends_nothing_the_second_time(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, people(30))
    env.send(SmtpTransport(sink.url))
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert prepared.added == 0 and total(results, "sent") == 0 and len(sink.messages) == 30


def test_a_refused_recipient_fails_alone_and_4xx_is_retried(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, people(10))
    sink.fail_rcpt["m3@example.org"] = "550 5.1.1 No such user"
    sink.fail_data["m5@example.org"] = ["451 4.3.0 Try again later"]
    sink.fail_data["m6@example.org"] = ["421 4.7.0 Closing"]  # once: the next connection accepts
    sink.fail_rcpt["m8@example.org"] = "452 4.2.2 Mailbox full"  # every time: left for the next run
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"failed": 1, "sent": 8, "pending": 1}
    assert {"m5@example.org", "m6@example.org"} <= set(sink.by_recipient())
    assert results[0].retry_later == 1  # left pending; the next batch tried it again, in vain
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        failed = session.scalar(select(Delivery).where(Delivery.state == "failed"))
        assert failed.recipient == "00003" and failed.error.startswith("550")
    engine.dispose()


def test_connection_closed_after_data_makes_that_row_unknown(env, smtp_sink):
    sink = smtp_sink()
    add_members(env.url, people(10))
    sink.drop_after_data.add("m4@example.org")
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 9, "unknown": 1}
    assert "m4@example.org" not in sink.by_recipient() and len(sink.messages) == 9


def test_smtp_down_before_the_start_marks_nothing_sent(env):
    add_members(env.url, people(5))
    with pytest.raises(TransportDown) as caught:
        env.send(SmtpTransport("smtp://127.0.0.1:9"))
    assert "unreachable" in str(caught.value) and "AARSHJUL_SMTP_URL" in str(caught.value)
    campaign, _ = env.campaign()
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        assert counts(session, "test-org", campaign.key) == {"pending": 5}
    engine.dispose()


def test_a_wrong_password_is_a_clear_error(env, smtp_sink):
    sink = smtp_sink(auth=("board", "s3cret"))
    add_members(env.url, people(2))
    with pytest.raises(TransportDown) as caught:
        env.send(SmtpTransport(sink.url.replace("s3cret", "wrong") + "?insecure_auth=true"))
    assert not caught.value.transient and "refused the login" in str(caught.value)


def test_a_template_error_stops_the_edition_before_anything_is_sent(env, smtp_sink):
    from dataclasses import replace

    from aarshjul.tasks.mail_render import TemplateProblem

    sink = smtp_sink()
    add_members(env.url, people(3))
    campaign, audience = env.campaign()
    campaign = replace(campaign, subject="{{ no_such_field }}")
    with pytest.raises(TemplateProblem) as caught:
        env.send(SmtpTransport(sink.url), campaign, audience)
    assert "no_such_field" in str(caught.value) and sink.messages == []


def test_unsubscribe_is_honoured_by_the_next_send(env, smtp_sink, tmp_path):
    from aarshjul.db.ledger import record_unsubscribe
    from aarshjul.domain.messages import read_token

    sink = smtp_sink()
    add_members(env.url, people(4))
    env.send(SmtpTransport(sink.url))
    url = str(sink.by_recipient()["m2@example.org"][0].parsed()["List-Unsubscribe"]).strip().split(">")[0][1:]
    org, audience, member = read_token(env.secret, url.rsplit("/", 1)[1])
    assert (org, audience, member) == ("test-org", "nyhetsbrev", "00002")
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        assert record_unsubscribe(session, org, audience, member, NOW, "web")
    engine.dispose()
    (env.files.folder / "content" / "nyhetsbrev" / "2025-04.md").write_text("April.", encoding="utf-8")
    campaign, aud = env.campaign(edition="2025-04")
    prepared, _, _ = env.send(SmtpTransport(sink.url), campaign, aud)
    assert prepared.skipped_unsubscribed == 1 and prepared.added == 3


def test_outbox_transport_writes_eml_files(env, tmp_path):
    add_members(env.url, people(3))
    env.send(OutboxTransport(tmp_path / "outbox"))
    files = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert len(files) == 3
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.strict)
    assert msg["Subject"] == "Nyhetsbrev – mars 2025"


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import date
    sys.path.insert(0, {tests!r})
    from test_mail import MailEnv
    from conftest import PlanFiles
    from pathlib import Path
    from aarshjul.tasks.mail_transport import SmtpTransport
    class Files(PlanFiles):
        def __init__(self, folder):
            self.folder = Path(folder)
    env = MailEnv(Files({folder!r}), Path({tmp!r}), {url!r})
    env.secret = bytes.fromhex(Path({tmp!r}, "secret.key").read_text().strip())
    prepared, results, state = env.send(SmtpTransport({smtp!r}), batch=25)
    print("DONE", state, "in_doubt", sum(r.in_doubt for r in results))
""")


def test_a_sender_killed_mid_edition_then_run_again_sends_everyone_once(env, smtp_sink, tmp_path):
    sink = smtp_sink()
    add_members(env.url, people(300))
    script = KILL_SCRIPT.format(tests=str(ROOT / "tests"), folder=str(env.files.folder), tmp=str(tmp_path),
                                url=env.url, smtp=sink.url)
    # Slow the server down a little so the kill lands mid-edition.
    import aarshjul  # noqa: F401

    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    deadline = time.monotonic() + 60
    while len(sink.messages) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)  # a message whose DATA was on the wire at the kill is counted before we look
    before = len(sink.messages)
    assert 0 < before < 300, f"the kill should land mid-edition ({before} sent)"
    campaign, _ = env.campaign()
    engine = make_engine(env.url)
    with session_scope(engine) as session:
        at_kill = counts(session, "test-org", campaign.key)
    engine.dispose()
    in_flight = at_kill.get("sending", 0)  # the batch claimed when the kill landed (batches of 25, all full)
    assert in_flight in (0, 25) and at_kill.get("sent", 0) + in_flight + at_kill.get("pending", 0) == 300, at_kill
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    assert again.returncode == 0, again.stderr
    assert "DONE {'sent': 300}" in again.stdout
    assert f"in_doubt {in_flight}\n" in again.stdout  # exactly the rows the killed run left in 'sending'
    ids: dict[str, set[str]] = {}
    for m in sink.messages:
        ids.setdefault(m.to[0], set()).add(m.parsed()["Message-ID"])
    assert len(ids) == 300  # none missing
    assert all(len(v) == 1 for v in ids.values())  # one distinct Message-ID each
    duplicates = len(sink.messages) - 300
    # the only duplicates: messages of the in-flight batch that had left before the kill (sent again, same Message-ID)
    assert duplicates == before - at_kill.get("sent", 0) and 0 <= duplicates <= in_flight
