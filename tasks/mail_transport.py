"""Transports: how a composed message leaves. SMTP, or .eml files in an outbox folder.

    AARSHJUL_SMTP_URL unset           OutboxTransport: var/outbox/<campaign>/<id>.eml (0600)
    smtp://host:25                    plain SMTP, no login
    smtp://user:pass@host:587?starttls=true
                                      STARTTLS, then AUTH
    smtps://user:pass@host:465        SMTP over TLS, then AUTH
    smtp://user:pass@host:25?insecure_auth=true
                                      AUTH over plain SMTP: refused unless asked for
                                      like this (a relay on this machine), since the
                                      password would cross the network readable
    smtp://host:25?connections=1      how many connections the mailer sends over at
                                      once (default 1; a relay that allows more: 3)

Each connection is reused across batches and reopened after an error; the mailer sends
over `connections` of them at once (`clone()`), each with its own thread. `send` is
`begin` (MAIL, RCPT, DATA and the message written out) then `end` (the server's reply to
the message): the mailer renders the next message between the two, while the server
takes this one.

Addresses: a domain in Unicode is sent as IDNA (xn--, by the mailer); a local part that
is not ASCII only with SMTPUTF8 (RFC 6531), when the server offers it after EHLO: MAIL
FROM then carries SMTPUTF8 for that message alone. A server without it refuses that one
recipient (`failed`, with the reason), nobody else. `send` returns
an Outcome; it raises only TransportDown (nothing could be sent: connect or login
failed), so the caller decides what a failure means for its ledger row. An Outcome
says whose failure it is: `transport` is true when the server or the connection failed
(a refused sender, a 421, a 4xx at MAIL FROM or DATA, the connection lost), which says
nothing about the recipient; false when the server answered for this recipient (sent,
a 5xx at RCPT or DATA, a 4xx at RCPT).

    The outbox: <outbox>/<campaign, / as _>/<Message-ID's local part>.eml, one file per
    ledger row (`outbox_file`), which is how `members forget` finds a member's letters.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from aarshjul.domain.errors import AarshjulError, TransportDown
from aarshjul.settings import redact_url


CONNECTIONS = 1  # SMTP connections sent over at once, unless AARSHJUL_SMTP_URL says ?connections=N
_DOT = re.compile(rb"(?m)^\.")  # a line starting with "." gets another (RFC 5321 §4.5.2), as smtplib does
NO_SMTPUTF8 = ("the address's local part is not ASCII, and the mail server does not offer SMTPUTF8 (RFC 6531): "
               "use a server that does, or the register must give this member another address")


@dataclass(frozen=True)
class Outcome:
    # sent | retry (4xx or connection lost before DATA: try again) | failed (5xx for this
    # recipient) | unknown (connection lost after DATA) | held (the sender refused: not this
    # recipient's fault, the row stays pending)
    state: str
    detail: str = ""
    transport: bool = False  # the server or connection failed, not this recipient


def outbox_file(folder: Path, campaign: str, message_id: str) -> Path:
    """Where OutboxTransport writes the message of one ledger row."""
    return folder / campaign.replace("/", "_") / (message_id.strip("<>").split("@")[0] + ".eml")


class Transport(Protocol):
    """What the mailer needs of a transport (SmtpTransport, OutboxTransport, or a test's fake)."""

    description: str

    connections: int

    def open(self) -> None: ...

    def send(self, raw: bytes, sender: str, recipient: str, message_id: str, campaign: str) -> Outcome: ...

    def close(self) -> None: ...

    def clone(self) -> "Transport": ...


class RateLimiter:
    """At most `per_second` sends a second, evenly spaced, over every connection (thread-safe)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:  # each caller reserves the next slot, then sleeps outside the lock
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


def remove_letters(folder: Path, letters: Iterable[tuple[str, str]]) -> int:
    """Delete the outbox files of these (campaign, Message-ID) pairs, exactly those; return
    how many there were. A folder emptied by it stays (other letters may follow)."""
    removed = 0
    for campaign, message_id in letters:
        try:
            outbox_file(folder, campaign, message_id).unlink()
        except FileNotFoundError:  # never written (SMTP), or removed already
            continue
        removed += 1
    return removed


class OutboxTransport:
    """Writes each message as an .eml file; the embedded default, and handy for review."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.description = str(self.folder)
        self.connections = 1

    def open(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def send(self, raw: bytes, sender: str, recipient: str, message_id: str, campaign: str) -> Outcome:
        path = outbox_file(self.folder, campaign, message_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # 0600: a letter is personal data
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
        return Outcome("sent")

    def close(self) -> None:
        pass

    def clone(self) -> OutboxTransport:
        return OutboxTransport(self.folder)


class SmtpTransport:
    """SMTP with one reused connection; STARTTLS, implicit TLS and AUTH as the URL says."""

    def __init__(self, url: str, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise TransportDown(f"AARSHJUL_SMTP_URL {self._safe(url)!r} is not an smtp:// or smtps:// URL",
                                transient=False)
        self.tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.host, self.port = parts.hostname, parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        insecure = query.get("insecure_auth", ["false"])[0].lower() in ("1", "true", "yes")
        if self.user and not (self.tls or self.starttls or insecure):
            raise AarshjulError(
                f"AARSHJUL_SMTP_URL {self._safe(url)!r} logs in without TLS, so the password would cross the "
                "network readable: use smtps://…:465 or add ?starttls=true (or, for a relay on this machine "
                "only, ?insecure_auth=true)")
        try:
            self.connections = max(1, int(query.get("connections", [str(CONNECTIONS)])[0]))
        except ValueError:
            raise AarshjulError(f"AARSHJUL_SMTP_URL {self._safe(url)!r}: connections= must be a whole number "
                                "(how many connections to send over at once, e.g. 3)") from None
        self.url = url
        self.timeout = timeout
        self.context = ssl_context or ssl.create_default_context()
        self.description = f"{parts.scheme}://{self.host}:{self.port}"
        self.conn: smtplib.SMTP | None = None

    @staticmethod
    def _safe(url: str) -> str:
        return redact_url(url)

    def open(self) -> None:
        self._connection()

    def clone(self) -> SmtpTransport:
        """Another connection to the same server, with the same settings (not yet open)."""
        return SmtpTransport(self.url, self.timeout, self.context)

    def _connection(self) -> smtplib.SMTP:
        """The connection, opened (and logged in) unless it is open already."""
        if self.conn is not None:
            return self.conn
        conn: smtplib.SMTP
        try:
            if self.tls:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    conn.starttls(context=self.context)
            if self.user:
                conn.login(self.user, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportDown(f"mail server {self.description} refused the login ({exc.smtp_code}); "
                                "check the user and password in AARSHJUL_SMTP_URL", transient=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportDown(f"mail server {self.description} is unreachable ({type(exc).__name__}: {exc}); "
                                "check AARSHJUL_SMTP_URL") from None
        self.conn = conn
        return conn

    def send(self, raw: bytes, sender: str, recipient: str, message_id: str, campaign: str) -> Outcome:
        """MAIL, RCPT and DATA step by step, so a dropped connection is placed exactly:
        before DATA nothing was sent (retry); after it, the server may have the message."""
        started = self.begin(raw, sender, recipient, message_id, campaign)
        return started if started is not None else self.end()

    def begin(self, raw: bytes, sender: str, recipient: str, message_id: str, campaign: str) -> Outcome | None:
        """`send` up to the message written out, its reply not read yet: None, and `end()`
        reads the reply (the caller renders the next message while the server takes this
        one); or the Outcome, when it ended before the message was sent."""
        conn = self._connection()
        stage = "mail"
        try:
            conn.ehlo_or_helo_if_needed()
            utf8 = not (recipient.isascii() and sender.isascii())
            if utf8 and not conn.has_extn("smtputf8"):  # this recipient only: never sent, not the server's fault
                return Outcome("failed", NO_SMTPUTF8)
            code, reply = conn.mail(sender, ["SMTPUTF8"] if utf8 else [])
            if code != 250:
                self._reset()
                return self._code(code, reply, stage)
            stage = "rcpt"
            try:
                code, reply = conn.rcpt(recipient)
            except UnicodeEncodeError:  # an address smtplib cannot put in a command: this one only
                self._reset()
                return Outcome("failed", NO_SMTPUTF8)
            if code not in (250, 251):
                self._reset()
                return self._code(code, reply, stage)
            stage = "data"
            conn.putcmd("data")  # smtplib's data(), in two halves: the reply to the message is read by end()
            code, reply = conn.getreply()
            if code != 354:
                self._reset()
                return self._code(code, reply, stage)
            conn.send(_DOT.sub(b"..", raw) + (b"" if raw.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            if stage == "data":
                return Outcome("unknown", f"connection lost after the message was sent, before the server "
                                          f"answered ({type(exc).__name__})", transport=True)
            return Outcome("retry", f"connection lost before the message was sent ({type(exc).__name__})",
                           transport=True)
        finally:
            if self.conn is not None:
                self.conn.command_encoding = "ascii"  # SMTPUTF8 was for that message only
        return None

    def end(self) -> Outcome:
        """The server's reply to the message `begin` wrote out."""
        conn = self.conn
        if conn is None:
            return Outcome("unknown", "connection lost after the message was sent, before the server answered",
                           transport=True)
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return Outcome("unknown", f"connection lost after the message was sent, before the server "
                                      f"answered ({type(exc).__name__})", transport=True)
        return Outcome("sent") if code == 250 else self._code(code, reply, "data")

    def _reset(self) -> None:
        if self.conn is None:  # dropped already: nothing to reset
            return
        try:
            self.conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _code(self, code: int, reason: bytes | str, stage: str) -> Outcome:
        """A refusal at MAIL (the sender: everyone's, `held`), RCPT or DATA (this recipient's)."""
        text = f"{code} " + (reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason))
        if code == 421:  # the server is closing the connection
            self._drop()
            return Outcome("retry", text, transport=True)
        if 400 <= code < 500:  # at RCPT: this recipient (greylisting, a full mailbox); else the server
            return Outcome("retry", text, transport=stage != "rcpt")
        if stage == "mail":  # the sender refused: it would be refused for every recipient
            return Outcome("held", text, transport=True)
        return Outcome("failed", text)

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except (OSError, smtplib.SMTPException):
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException, socket.timeout):
                pass
        self.conn = None


def transport_from_settings(smtp_url: str | None, outbox: Path) -> SmtpTransport | OutboxTransport:
    return SmtpTransport(smtp_url) if smtp_url else OutboxTransport(outbox)
