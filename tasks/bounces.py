"""The bounce mailbox: read over IMAP, each report recorded, processed ones filed away.

    AARSHJUL_BOUNCE_IMAP_URL                      where the reports arrive (a secret: it holds a password)
      imaps://user:pass@host:993/INBOX            IMAP over TLS
      imap://user:pass@host:143/INBOX?starttls=true
                                                  STARTTLS, then LOGIN
      imap://user:pass@127.0.0.1:143/INBOX?insecure_auth=true
                                                  LOGIN without TLS: refused unless asked for like
                                                  this (a server on this machine), as for SMTP

    ImapMailbox     the folder: list, fetch without marking anything read (BODY.PEEK), move
    process         one pass: every message classified (domain/bounces.classify); one whose
                    VERP token is ours is recorded (db/bounces.record) and, once that is
                    committed, moved to mail.yaml's `bounces.folder` (default
                    aarshjul-behandlet), never deleted; any other message is left as it was,
                    unread, and not read again: the highest UID examined is kept (per
                    folder and UIDVALIDITY, db/bounces.read_up_to). A pass stopped between
                    the commit and the move finds the report again next time: it is known
                    by its digest and counted once.
    process_bounce_mailbox   the @task

Errors: the mailbox unreachable, or refusing the login, raise MailboxDown (a TransportDown,
exit 3) naming AARSHJUL_BOUNCE_IMAP_URL without its password. Nothing personal is logged:
counts and member numbers.
"""

from __future__ import annotations

import socket
import ssl
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prefect import task
from prefect.cache_policies import NO_CACHE

from aarshjul.db import bounces as db_bounces
from aarshjul.db.session import transaction
from aarshjul.domain.bounces import BounceConfig, BounceRun, classify, read_bounce_token
from aarshjul.domain.errors import AarshjulError, TransportDown
from aarshjul.settings import get_settings, redact_url

CHUNK = 100  # messages fetched, recorded and moved at a time
SETTING = "AARSHJUL_BOUNCE_IMAP_URL"


class MailboxDown(TransportDown):
    """The bounce mailbox (IMAP) cannot be reached, or refused the login: nothing was read."""


def _yes(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0].lower() in ("1", "true", "yes")


class ImapMailbox:
    """One IMAP folder, opened with LOGIN over TLS (or STARTTLS); the URL from the settings."""

    def __init__(self, url: str, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise AarshjulError(f"{SETTING}: not a URL (imaps://user:password@host:993/INBOX)") from None
        self.safe = redact_url(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise AarshjulError(f"{SETTING} {self.safe!r} is not an imap:// or imaps:// URL "
                                "(imaps://user:password@host:993/INBOX)")
        if not parts.username or parts.password is None:
            raise AarshjulError(f"{SETTING} {self.safe!r} names no user and password (imaps://user:password@host/INBOX)")
        query = parse_qs(parts.query)
        self.tls, self.starttls = parts.scheme == "imaps", _yes(query, "starttls")
        if not (self.tls or self.starttls or _yes(query, "insecure_auth")):
            raise AarshjulError(
                f"{SETTING} {self.safe!r} logs in without TLS, so the password would cross the network readable: "
                "use imaps://…:993 or add ?starttls=true (or, for a server on this machine only, ?insecure_auth=true)")
        self.host, self.port = parts.hostname, port or (993 if self.tls else 143)
        self.user, self.password = unquote(parts.username), unquote(parts.password)
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"
        self.timeout, self.context = timeout, ssl_context
        self.description = f"{parts.scheme}://{self.host}:{self.port}/{self.folder}"
        self.client: Any = None
        self.uidvalidity = 0  # the folder's UIDVALIDITY, once opened

    def open(self) -> None:
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        context = self.context or ssl.create_default_context()
        try:
            client = IMAPClient(self.host, port=self.port, ssl=self.tls, ssl_context=context if self.tls else None,
                                timeout=self.timeout)
            if self.starttls:
                client.starttls(context)
        except (OSError, IMAPClientError, socket.timeout) as exc:
            raise MailboxDown(f"the bounce mailbox {self.description} is unreachable ({type(exc).__name__}); "
                              f"check {SETTING}") from None
        try:
            client.login(self.user, self.password)
        except LoginError:
            raise MailboxDown(f"the bounce mailbox {self.description} refused the login; check the user and password "
                              f"in {SETTING}", transient=False) from None
        except (OSError, IMAPClientError) as exc:
            raise MailboxDown(f"the bounce mailbox {self.description} failed at login ({type(exc).__name__})") from None
        self.client = client
        try:
            selected = client.select_folder(self.folder)
            self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        except IMAPClientError:
            self.close()
            raise MailboxDown(f"the bounce mailbox has no folder {self.folder!r}; check the path of {SETTING}",
                              transient=False) from None

    def uids(self, after: int = 0) -> list[int]:
        """The UIDs above `after`, ascending (`n:*` names the highest UID even below n)."""
        return sorted(u for u in self.client.search(["UID", f"{after + 1}:*"]) if u > after)

    def fetch(self, uids: list[int]) -> dict[int, bytes]:
        """The messages' bytes, fetched with BODY.PEEK[] so none is marked as read."""
        if not uids:
            return {}
        fetched = self.client.fetch(uids, [b"BODY.PEEK[]"])
        return {uid: data[b"BODY[]"] for uid, data in fetched.items() if b"BODY[]" in data}

    def move(self, uids: list[int], folder: str) -> int:
        """Move the messages to `folder` (made if missing): MOVE (RFC 6851) where the server
        has it, else COPY, then \\Deleted and an expunge of exactly these (UIDPLUS)."""
        if not uids:
            return 0
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        if self.client.has_capability("MOVE"):
            self.client.move(uids, folder)
        else:
            self.client.copy(uids, folder)
            self.client.add_flags(uids, [b"\\Deleted"])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(uids)
            else:
                self.client.expunge()
        return len(uids)

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # already gone: nothing to close
                pass
        self.client = None


def process(mailbox: ImapMailbox, database_url: str, organisation: str, config: BounceConfig, secret: bytes,
            now: datetime | None = None) -> BounceRun:
    """One pass over the mailbox folder (see the module docstring)."""
    from imapclient.exceptions import IMAPClientError

    run = BounceRun()
    mailbox.open()
    try:
        with transaction(database_url) as session:
            run.lifted = db_bounces.lift_changed(session, organisation, now or datetime.now(timezone.utc))
            after = db_bounces.read_up_to(session, organisation, mailbox.description, mailbox.uidvalidity)
        uids = mailbox.uids(after)
        run.read = len(uids)
        for at in range(0, len(uids), CHUNK):
            chunk = uids[at:at + CHUNK]
            raws = mailbox.fetch(chunk)
            done: list[int] = []
            with transaction(database_url) as session:
                for uid, raw in raws.items():
                    if _one(session, raw, organisation, config, secret, now or datetime.now(timezone.utc), run):
                        done.append(uid)
            run.moved += mailbox.move(done, config.folder)  # after the commit: a stop between reads them again
            with transaction(database_url) as session:  # after the move: what is left here was not ours
                db_bounces.mark_read(session, organisation, mailbox.description, mailbox.uidvalidity, chunk[-1],
                                     now or datetime.now(timezone.utc))
    except (OSError, IMAPClientError, socket.timeout) as exc:
        raise MailboxDown(f"the bounce mailbox {mailbox.description} failed ({type(exc).__name__}); what was "
                          f"recorded is kept, the rest is read next time: {run.summary()}") from None
    finally:
        mailbox.close()
    return run


def _one(session: Any, raw: bytes, organisation: str, config: BounceConfig, secret: bytes, now: datetime,
         run: BounceRun) -> bool:
    """Record one message; True when it is ours (to be moved), False to leave it alone."""
    report = classify(raw, config.address)
    row_id = next((i for i in (read_bounce_token(secret, organisation, t) for t in report.tokens) if i is not None),
                  None)
    if row_id is None:
        run.unknown += 1
        return False
    row = db_bounces.delivery(session, organisation, row_id)
    if row is None:
        run.stale += 1
        return True
    recorded = db_bounces.record(session, organisation, report, row, config, now)
    if not recorded.new:
        run.again += 1
        return True
    setattr(run, recorded.kind, getattr(run, recorded.kind) + 1)
    if recorded.suspended:
        run.suspended.append(recorded.recipient)
        run.skipped += recorded.skipped
    return True


def mailbox_from_settings() -> ImapMailbox:
    url = get_settings().bounce_imap_url
    if url is None:
        raise AarshjulError(f"{SETTING} is not set: the bounce mailbox, e.g. imaps://user:password@host:993/INBOX")
    return ImapMailbox(url.get_secret_value())


@task(name="process-bounce-mailbox", cache_policy=NO_CACHE)
def process_bounce_mailbox(organisation: str, config: BounceConfig) -> BounceRun:
    """Read the bounce mailbox once: reports recorded, addresses suspended, reports filed away."""
    from aarshjul.tasks.mailer import secret_key

    s = get_settings()
    return process(mailbox_from_settings(), s.database_url, organisation, config, secret_key(Path(s.secret_key_file)))
