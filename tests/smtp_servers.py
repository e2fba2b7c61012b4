"""A real SMTP server for the tests (aiosmtpd on loopback), able to fail on purpose.

    sink = SmtpSink(starttls=True, auth=("board", "secret"))
    sink.url                 the AARSHJUL_SMTP_URL to use
    sink.messages            what arrived: Received(envelope_to, raw bytes)
    sink.fail_rcpt[addr] = "550 5.1.1 no such user"     refuse one recipient
    sink.fail_data[addr] = ["451 4.3.0 try later"]      answer DATA with these, once each
    sink.drop_after_data.add(addr)                      take the message, close without a reply
    SmtpSink(smtputf8=False)                            a server that does not offer SMTPUTF8 (aiosmtpd's
                                                        Controller offers it unless told not to)
    SmtpSink(data_delay=0.2)                            slow: each DATA answered after 0.2 s (a process
                                                        sending to it can be killed mid-edition)
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from dataclasses import dataclass

import pytest


@dataclass
class Received:
    to: list[str]
    raw: bytes
    mail_from: str = ""  # the envelope sender (MAIL FROM): a VERP address, with bounces on
    mail_options: tuple[str, ...] = ()  # MAIL FROM's parameters (SMTPUTF8, BODY=8BITMIME)

    def parsed(self):
        """Parsed in strict mode: a malformed message raises."""
        return email.message_from_bytes(self.raw, policy=email.policy.strict)


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.sink.fail_rcpt:
            return self.sink.fail_rcpt[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_delay:
            import asyncio

            await asyncio.sleep(self.sink.data_delay)
        to = [a.lower() for a in envelope.rcpt_tos]
        for address in to:
            queue = self.sink.fail_data.get(address)
            if queue:
                return queue.pop(0)
        for address in to:
            if address in self.sink.drop_after_data:
                self.sink.dropped.append(Received(to, envelope.original_content or envelope.content))
                server.transport.close()
                return "250 never seen"
        with self.sink.lock:
            self.sink.messages.append(Received(to, envelope.original_content or envelope.content, envelope.mail_from,
                                               tuple(envelope.mail_options)))
        return "250 Message accepted"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    data_delay = 0.0  # seconds before each DATA is answered (a subclass with its own __init__ keeps 0)

    def __init__(self, starttls: bool = False, auth: tuple[str, str] | None = None, smtputf8: bool = True,
                 data_delay: float = 0.0):
        from aiosmtpd.controller import Controller

        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.fail_rcpt: dict[str, str] = {}
        self.fail_data: dict[str, list[str]] = {}
        self.drop_after_data: set[str] = set()
        self.data_delay = data_delay
        self.lock = threading.Lock()
        self.logins: list[str] = []
        kwargs: dict = {}
        self.client_context = None
        if starttls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_context)
            self.client_context = ssl.create_default_context()
            ca.configure_trust(self.client_context)
            kwargs.update(tls_context=server_context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=self._authenticator(auth), auth_required=True,
                          auth_require_tls=bool(starttls))
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=smtputf8, **kwargs)
        self.controller.start()
        creds = f"{auth[0]}:{auth[1]}@" if auth else ""
        self.url = f"smtp://{creds}127.0.0.1:{self.port}" + ("?starttls=true" if starttls else "")

    def _authenticator(self, auth: tuple[str, str]):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == auth
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

        return check

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for m in self.messages:
            for to in m.to:
                out.setdefault(to, []).append(m)
        return out

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_sink():
    sinks: list[SmtpSink] = []

    def make(**kwargs) -> SmtpSink:
        sink = SmtpSink(**kwargs)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()

