"""SMTP faults against a real server (aiosmtpd on loopback): implicit TLS, a refused
MAIL FROM (the sender's fault: rows stay pending), a connection dropped before DATA, a 4xx that passes on the retry.

The sink of tests/smtp_servers.py does STARTTLS but not implicit TLS, and cannot refuse
MAIL FROM or drop the connection before DATA; `FaultySink` below adds those on the same
handler (aiosmtpd's Controller takes `ssl_context` for implicit TLS) and counts the
attempts the server sees per recipient, so a retry is observed, not assumed.
"""

from __future__ import annotations

import ssl
from collections import Counter

import pytest
from sqlalchemy import select

from aarshjul.db.ledger import counts
from aarshjul.db.models import Delivery
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.errors import EditionPaused, TransportDown
from aarshjul.tasks.mail_transport import SmtpTransport, transport_from_settings
from smtp_servers import SmtpSink, _free_port, _Handler
from test_mail import MailEnv, add_members, people, total


class _FaultHandler(_Handler):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.sink.mail_attempts += 1
        if self.sink.refuse_mail:
            return self.sink.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        folded = address.lower()
        self.sink.rcpt_attempts[folded] += 1
        if self.sink.drop_at_rcpt.get(folded, 0) > 0:  # close before DATA: the message never left
            self.sink.drop_at_rcpt[folded] -= 1
            server.transport.close()
            return "250 never seen"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            self.sink.data_attempts[address.lower()] += 1
        return await super().handle_DATA(server, session, envelope)


class FaultySink(SmtpSink):
    """SmtpSink's handler and counters, plus: implicit TLS (smtps://), a refused MAIL FROM,
    a connection closed at RCPT (`drop_at_rcpt[addr] = n`: the next n times)."""

    def __init__(self, implicit_tls: bool = False):
        import threading

        from aiosmtpd.controller import Controller

        self.messages, self.dropped, self.fail_rcpt, self.fail_data = [], [], {}, {}
        self.drop_after_data: set[str] = set()
        self.lock, self.logins = threading.Lock(), []
        self.refuse_mail: str | None = None
        self.mail_attempts = 0
        self.rcpt_attempts: Counter[str] = Counter()
        self.data_attempts: Counter[str] = Counter()
        self.drop_at_rcpt: dict[str, int] = {}
        self.client_context = None
        self.ca_pem = None
        kwargs: dict = {}
        if implicit_tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_context)
            self.client_context = ssl.create_default_context()
            ca.configure_trust(self.client_context)
            self.ca_pem = ca.cert_pem.bytes()
            kwargs["ssl_context"] = server_context
        self.port = _free_port()
        self.controller = Controller(_FaultHandler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        self.url = f"{'smtps' if implicit_tls else 'smtp'}://127.0.0.1:{self.port}"


@pytest.fixture
def faulty_sink():
    sinks: list[FaultySink] = []

    def make(**kwargs) -> FaultySink:
        sinks.append(FaultySink(**kwargs))
        return sinks[-1]

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def env(files, tmp_path, database_url):
    return MailEnv(files, tmp_path, database_url)


def ledger_counts(env) -> dict[str, int]:
    campaign, _ = env.campaign()
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            return counts(session, "test-org", campaign.key)
    finally:
        engine.dispose()


def test_smtps_sends_over_implicit_tls_and_verifies_the_certificate(env, faulty_sink, tmp_path, monkeypatch):
    sink = faulty_sink(implicit_tls=True)
    add_members(env.url, people(6))
    # Not trusted (the installation's default CAs): refused at the handshake, nothing sent, the row stays pending.
    with pytest.raises(TransportDown) as caught:
        env.send(SmtpTransport(sink.url))
    assert "unreachable" in str(caught.value) and "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert sink.messages == [] and ledger_counts(env) == {"pending": 6}
    # Trusted: every message over TLS, once.
    prepared, results, state = env.send(SmtpTransport(sink.url, ssl_context=sink.client_context))
    assert state == {"sent": 6} and len(sink.messages) == 6 and len(sink.by_recipient()) == 6
    # As the settings build it (AARSHJUL_SMTP_URL=smtps://…): the system's trust store, here a private CA.
    ca = tmp_path / "ca.pem"
    ca.write_bytes(sink.ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    transport = transport_from_settings(sink.url, tmp_path / "outbox")
    assert isinstance(transport, SmtpTransport) and transport.tls and transport.port == sink.port
    transport.open()
    try:
        assert isinstance(transport.conn.sock, ssl.SSLSocket)  # TLS from the first byte, no STARTTLS
    finally:
        transport.close()


def test_a_refused_mail_from_pauses_the_edition_and_fails_no_recipient(env, faulty_sink):
    """The sender refused (550 at MAIL FROM) is the sender's problem, the same for every
    recipient: after `max_failures_in_a_row` such failures the edition pauses (EditionPaused,
    exit 3) naming the 5xx and the counts, and no row is marked failed: all stay pending, and
    once the sender is fixed the next run sends every one of them. (It used to charge the
    refusal to the first five recipients as permanent failures.)"""
    sink = faulty_sink()
    sink.refuse_mail = "550 5.7.1 Sender address rejected: not owned by you"
    add_members(env.url, people(12))
    with pytest.raises(EditionPaused) as caught:
        env.send(SmtpTransport(sink.url), max_failures_in_a_row=5)
    message = str(caught.value)
    assert caught.value.exit_status == 3
    assert "5 failures of the mail server in a row" in message and "550 5.7.1 Sender address rejected" in message
    assert "this run: 0 sent, 0 refused, 0 unknown, 5 left pending; the edition: 12 pending" in message
    assert sink.messages == [] and sink.rcpt_attempts == Counter() and sink.mail_attempts == 5  # 5xx: no retry
    assert ledger_counts(env) == {"pending": 12}
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            errors = list(session.scalars(select(Delivery.error).where(Delivery.error.is_not(None))))
        assert errors == ["550 5.7.1 Sender address rejected: not owned by you"] * 5  # the reason, on pending rows
    finally:
        engine.dispose()
    sink.refuse_mail = None  # the sender fixed: the next run sends all twelve, once each
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 12} and len(sink.messages) == 12 and len(sink.by_recipient()) == 12


def test_a_connection_dropped_before_data_is_retried_and_never_counted_as_sent(env, faulty_sink):
    sink = faulty_sink()
    add_members(env.url, people(6))
    sink.drop_at_rcpt["m2@example.org"] = 1  # once: the retry on a fresh connection gets through
    sink.drop_at_rcpt["m4@example.org"] = 99  # every time: left pending for the next run
    prepared, results, state = env.send(SmtpTransport(sink.url), batch=50)
    assert state == {"sent": 5, "pending": 1}
    got = sink.by_recipient()
    assert len(got["m2@example.org"]) == 1 and sink.rcpt_attempts["m2@example.org"] == 2
    assert "m4@example.org" not in got and sink.data_attempts["m4@example.org"] == 0
    # 1 + 3 retries in each of the two batches that claimed it (the second in vain: the loop stops)
    assert sink.rcpt_attempts["m4@example.org"] == 8
    assert total(results, "sent") == 5 and total(results, "unknown") == 0 and total(results, "retry_later") == 2
    engine = make_engine(env.url)
    try:
        with session_scope(engine) as session:
            row = session.scalar(select(Delivery).where(Delivery.recipient == "00004"))
            assert row.state == "pending" and row.error.startswith("connection lost before the message was sent")
    finally:
        engine.dispose()
    # The server is fixed: the next run sends that one message, and only it.
    sink.drop_at_rcpt.clear()
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 6} and len(sink.messages) == 6 and len(sink.by_recipient()["m4@example.org"]) == 1


def test_a_4xx_that_passes_on_the_retry_is_sent_once(env, faulty_sink):
    sink = faulty_sink()
    add_members(env.url, people(4))
    sink.fail_data["m3@example.org"] = ["451 4.3.0 Try again later", "452 4.3.1 Still busy"]
    prepared, results, state = env.send(SmtpTransport(sink.url))
    assert state == {"sent": 4} and total(results, "retry_later") == 0
    assert sink.data_attempts["m3@example.org"] == 3  # refused twice, accepted the third time
    assert sink.data_attempts["m1@example.org"] == 1
    assert len(sink.by_recipient()["m3@example.org"]) == 1 and len(sink.messages) == 4
