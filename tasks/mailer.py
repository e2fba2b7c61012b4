"""Sending a campaign (a newsletter edition, or a reminder) through the ledger.

    prepare     the recipients into the ledger (pending), rows in doubt recovered, rows
                of members who unsubscribed since they were added (an edition half-sent,
                then resumed) marked 'unsubscribed', and every pending recipient's
                message rendered once, so a template error stops the edition before
                anything leaves
    send_batch  drop rows of members who unsubscribed meanwhile, claim the next batch
                (committed as 'sending'), send it over one connection at the configured
                rate, record each outcome, commit

What a failure means for the edition:

    a recipient refused        a 5xx at RCPT or DATA, or an address that cannot be sent
                               (a non-ASCII local part): that row 'failed', the edition goes on;
                               a domain in Unicode is sent as IDNA (xn--)
    a 4xx                      retried with backoff on a fresh connection; still refused: the
                               row stays pending for the next run (at RCPT: says nothing about
                               the server, like a refusal)
    the mail server failing    the sender refused (5xx at MAIL FROM: it would be refused for
                               everyone), 4xx at MAIL FROM or DATA, a 421, the connection lost:
                               the row stays pending (lost after DATA: 'unknown', never sent
                               again automatically). `max_failures_in_a_row` of these in a row
                               pause the edition; TransportDown (connect or login failed)
                               ends it at once
    an implausible ratio       more than `max_failure_ratio` of at least `ratio_after` (50)
                               recipients answered for in this run refused: the edition
                               pauses, and this run's refusals go back to pending (so many
                               refusals are more likely ours, a relay that refuses us, than
                               theirs)

A run is the batches numbered from 1 (a flow, `send_now`): its tally lives in this
process (`RUNS`). A pause raises `Paused` (an EditionPaused, exit 3) after the batch's
outcomes are committed, its message carrying this run's counts and the edition's, so the
summary is printed, never lost. Only counts and member numbers reach logs and artifacts.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.headerregistry import Address
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeGuard

from sqlalchemy.orm import Session

from aarshjul.db import ledger
from aarshjul.db.audiences import member_names
from aarshjul.domain.bounces import envelope_sender
from aarshjul.domain.campaigns import Campaign
from aarshjul.domain.errors import AarshjulError, EditionPaused, TransportDown
from aarshjul.domain.ics import with_attendee
from aarshjul.domain.messages import Envelope, compose, message_id, unsubscribe_token
from aarshjul.tasks.files import sync_folder
from aarshjul.tasks.mail_render import Renderer
from aarshjul.tasks.mail_transport import Outcome, RateLimiter, Transport

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Prepared:
    added: int = 0
    in_doubt: int = 0
    pending: int = 0
    skipped_unsubscribed: int = 0
    skipped_invalid: int = 0
    skipped_duplicate: int = 0


MAX_FAILURE_RATIO = 0.5  # mail.yaml's default: more than half of a run's recipients refused is implausible
RATIO_AFTER = 50  # the ratio is judged once this many recipients were answered for in a run
STATES = {"sent": "sent", "failed": "failed", "unknown": "unknown", "retry": "pending", "held": "pending"}


@dataclass
class RunTally:
    """One run of a campaign, over its batches: what the ratio and the streak are judged on."""

    sent: int = 0
    refused: dict[int, str] = field(default_factory=dict)  # row id -> the server's answer
    unknown: int = 0
    waiting: set[int] = field(default_factory=set)  # rows left pending by a 4xx or a server failure
    transport_in_a_row: int = 0

    @property
    def answered(self) -> int:
        """Recipients the server answered for: sent or refused."""
        return self.sent + len(self.refused)

    def summary(self) -> str:
        return (f"{self.sent} sent, {len(self.refused)} refused, {self.unknown} unknown, "
                f"{len(self.waiting)} left pending")


class _Runs:
    """This process's tally of each campaign's current run; a run starts at batch 1."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[tuple[str, str], RunTally] = {}

    def get(self, organisation: str, campaign: str, batch_no: int) -> RunTally:
        with self.lock:
            key = (organisation, campaign)
            if batch_no <= 1 or key not in self.runs:
                self.runs[key] = RunTally()
            return self.runs[key]


RUNS = _Runs()


class Paused(EditionPaused):
    """The edition paused: the mail server failed too often in a row, or too many of this
    run's recipients were refused. `run` is this run's tally, `edition` the ledger's counts
    of the whole edition after the pause; both are in the message."""

    def __init__(self, message: str, run: RunTally | None = None, edition: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.run = run or RunTally()
        self.edition = dict(edition or {})

    def __reduce__(self) -> tuple[Any, ...]:  # kept whole when Prefect stores or copies the exception
        return (type(self), (str(self), self.run, self.edition))


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retry_later: int = 0
    in_doubt: int = 0
    unsubscribed: int = 0  # rows dropped because their member unsubscribed during the run


KEY_BYTES = 32  # the least a secret key may have: 256 bits


def secret_key(path: Path) -> bytes:
    """The installation's secret (it keys the unsubscribe tokens), created once.

    A key file that is empty, shorter than 32 bytes or not hexadecimal is refused with a
    message naming the file (an empty key would let anyone forge tokens). A new key is
    written to a temporary file (0600) in the same folder, synced, and linked into place
    only if no other process made one meanwhile, so the file is never seen half-written
    and two first runs agree on one key."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return _create_key(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise AarshjulError(f"{path} (AARSHJUL_SECRET_KEY_FILE): cannot read the secret key "
                            f"({type(exc).__name__}); {_KEY_HINT}") from None
    return _parse_key(path, text)


_KEY_HINT = ("put 64 hexadecimal digits in it (python3 -c 'import secrets; print(secrets.token_hex(32))'), "
             "or remove it to have a new key made (links in letters already sent then stop working)")


def _parse_key(path: Path, text: str) -> bytes:
    text = text.strip()
    if not text:
        raise AarshjulError(f"{path} (AARSHJUL_SECRET_KEY_FILE): the secret key is empty; {_KEY_HINT}")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AarshjulError(f"{path} (AARSHJUL_SECRET_KEY_FILE): the secret key is not hexadecimal; "
                            f"{_KEY_HINT}") from None
    if len(key) < KEY_BYTES:
        raise AarshjulError(f"{path} (AARSHJUL_SECRET_KEY_FILE): the secret key has {len(key)} bytes, "
                            f"fewer than {KEY_BYTES}; {_KEY_HINT}")
    return key


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(KEY_BYTES) + "\n"
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process made the key first: then that one is used
        except FileExistsError:
            return _parse_key(path, path.read_text(encoding="ascii"))
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
        sync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(text)



_RATIO = "too many refusals:"
_RATIO_NOTE = "refused while this run refused an implausible share (max_failure_ratio): tried again next run"


def smtp_address(address: str) -> str:
    """The address as it goes on the wire: a domain in Unicode as IDNA (xn--); ValueError,
    with a reason that names no address, for one that cannot be sent (empty, a non-ASCII
    local part, which needs SMTPUTF8, a domain IDNA refuses)."""
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError("no address (a forgotten member, or none in the register)")
    if not local.isascii():
        raise ValueError("the address's local part is not ASCII, which needs SMTPUTF8 (not used): "
                         "the register must give this member another address")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("the address's domain is not a valid international domain name (IDNA)") from None
    return f"{local}@{domain}"


def valid_address(address: str | None) -> TypeGuard[str]:
    if not address or not _EMAIL.match(address):
        return False
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return False
    return True


def screen(candidates: Iterable[tuple[str, str | None]], unsubscribed: set[str], result: Prepared,
           left: set[str] | None = None) -> Iterator[tuple[str, str]]:
    """Recipients worth a row: valid address, not unsubscribed, one per address (case folded).
    The unsubscribed candidates are counted, and collected in `left` when given."""
    seen: set[str] = set()
    for recipient, address in candidates:
        if recipient in unsubscribed:
            result.skipped_unsubscribed += 1
            if left is not None:
                left.add(recipient)
            continue
        if not valid_address(address):
            result.skipped_invalid += 1
            continue
        folded = address.strip().lower()
        if folded in seen:
            result.skipped_duplicate += 1
            continue
        seen.add(folded)
        yield recipient, folded


class Mailer:
    def __init__(self, session: Session, transport: Transport, secret: bytes, rate_per_second: float = 50.0,
                 max_failures_in_a_row: int = 20, retries: int = 3, retry_delay: float = 1.0,
                 max_failure_ratio: float = MAX_FAILURE_RATIO, ratio_after: int = RATIO_AFTER) -> None:
        self.session = session
        self.transport = transport
        self.secret = secret
        self.limiter = RateLimiter(rate_per_second)
        self.max_failures = max_failures_in_a_row  # failures of the mail server in a row, not of recipients
        self.max_ratio = max_failure_ratio
        self.ratio_after = ratio_after
        self.retries = retries
        self.retry_delay = retry_delay

    # --- prepare -----------------------------------------------------------------------

    def prepare(self, c: Campaign, candidates: Iterable[tuple[str, str | None]]) -> Prepared:
        now = datetime.now(timezone.utc)
        result = Prepared()
        blocked = ledger.unsubscribed(self.session, c.organisation, c.audience) if c.audience else set()
        left: set[str] = set()
        recipients = screen(candidates, blocked, result, left)
        result.added = ledger.ensure_rows(self.session, c.organisation, c.key, recipients,
                                          lambda r: message_id(c.organisation, c.key, r, c.domain), now)
        if c.audience:  # rows added before their member unsubscribed: never sent, counted once
            dropped = ledger.drop_unsubscribed(self.session, c.organisation, c.key, c.audience, now,
                                               states=("pending", "sending"))
            result.skipped_unsubscribed += len(set(dropped) - left)
        result.in_doubt = ledger.recover(self.session, c.organisation, c.key, now)
        self.session.commit()
        renderer = Renderer(c.template, c.subject, c.templates)
        chunk: list[str] = []
        for row in ledger.pending(self.session, c.organisation, c.key):
            chunk.append(row.recipient)
            if len(chunk) == ledger.CHUNK:
                result.pending += self._render_all(c, renderer, chunk)
                chunk = []
        result.pending += self._render_all(c, renderer, chunk)
        return result

    def _render_all(self, c: Campaign, renderer: Renderer, recipients: list[str]) -> int:
        names = _Names(self.session, c, recipients)
        for recipient in recipients:
            renderer.render(self._context(c, recipient, names), who=recipient)
        return len(recipients)

    # --- send ----------------------------------------------------------------------------

    def send_batch(self, c: Campaign, size: int, batch_no: int) -> BatchResult:
        """Send the next batch; a run numbers its batches from 1. Raises Paused (after the
        batch's outcomes are committed) when the edition must wait, TransportDown when the
        mail server cannot be reached or refuses the login; both name the counts."""
        result = BatchResult()
        run = RUNS.get(c.organisation, c.key, batch_no)
        if c.audience:  # an unsubscribe recorded while this edition is being sent
            result.unsubscribed = len(ledger.drop_unsubscribed(self.session, c.organisation, c.key, c.audience,
                                                               datetime.now(timezone.utc)))
        rows = ledger.claim_batch(self.session, c.organisation, c.key, size, batch_no, datetime.now(timezone.utc))
        result.claimed = len(rows)
        if not rows:
            return result
        renderer = Renderer(c.template, c.subject, c.templates)
        names = _Names(self.session, c, [r.recipient for r in rows])
        outcomes: dict[int, tuple[str, str]] = {}
        pause: str | None = None
        try:
            self.transport.open()
            for row in rows:
                result.in_doubt += row.in_doubt
                outcome = self._attempt(c, renderer, row, names)
                state = STATES[outcome.state]
                outcomes[row.id] = (state, outcome.detail)
                tally = "retry_later" if state == "pending" else state
                setattr(result, tally, getattr(result, tally) + 1)
                pause = self._judge(run, row.id, outcome)
                if pause:
                    break
        except TransportDown as exc:
            self._finish(rows, outcomes)
            raise TransportDown(f"{exc}; {self._summary(c, run)}", transient=exc.transient) from None
        except BaseException:
            self._finish(rows, outcomes)
            raise
        if pause and run.refused and pause.startswith(_RATIO):  # this run's refusals are not trusted
            for row_id, detail in run.refused.items():
                outcomes[row_id] = ("pending", f"{_RATIO_NOTE}; the server said: {detail}")
            result.failed -= sum(1 for row in rows if row.id in run.refused)
            result.retry_later += sum(1 for row in rows if row.id in run.refused)
            run.waiting.update(run.refused)
            run.refused.clear()
        self._finish(rows, outcomes)
        if pause:
            raise Paused(f"{c.key}: paused, {pause}; {self._summary(c, run)}", run,
                         ledger.counts(self.session, c.organisation, c.key))
        return result

    def _attempt(self, c: Campaign, renderer: Renderer, row: ledger.Row, names: "_Names") -> Outcome:
        """One recipient: the address as the server takes it, the message, the delivery."""
        try:
            address = smtp_address(row.address)
        except ValueError as exc:
            return Outcome("failed", str(exc))
        try:
            raw = self._message(c, renderer, row, names, address)
        except (ValueError, UnicodeError) as exc:  # this address or name cannot go in a header
            return Outcome("failed", f"the message could not be built for this recipient ({type(exc).__name__})")
        sender = envelope_sender(self.secret, c.organisation, row.id, c.bounce_address, c.from_address)  # VERP
        return self._deliver(raw, sender, address, row.message_id, c.key)

    def _judge(self, run: RunTally, row_id: int, outcome: Outcome) -> str | None:
        """Count the outcome in the run; the reason to pause, if the run must."""
        run.waiting.discard(row_id)
        if outcome.transport:
            run.transport_in_a_row += 1
            if outcome.state == "unknown":
                run.unknown += 1
            else:
                run.waiting.add(row_id)
            if run.transport_in_a_row >= self.max_failures:
                return (f"{run.transport_in_a_row} failures of the mail server in a row (max_failures_in_a_row), "
                        f"the last: {outcome.detail}; the recipients are not to blame, their rows stay pending")
            return None
        run.transport_in_a_row = 0  # the server answered for this recipient
        if outcome.state == "sent":
            run.sent += 1
        elif outcome.state == "failed":
            run.refused[row_id] = outcome.detail
        else:  # a 4xx for this recipient: pending; like a refusal, it says nothing of the server
            run.waiting.add(row_id)
            return None
        if run.answered >= self.ratio_after and len(run.refused) > self.max_ratio * run.answered:
            return (f"{_RATIO} {len(run.refused)} of {run.answered} recipients refused in this run, more than "
                    f"max_failure_ratio {self.max_ratio:g}; the last: {outcome.detail}; so many refusals are more "
                    "likely a fault of ours than of theirs, so they go back to pending for the next run")
        return None

    def _finish(self, rows: list[ledger.Row], outcomes: dict[int, tuple[str, str]]) -> None:
        for row in rows:  # not attempted (a pause, or the mail server went away): back to pending
            outcomes.setdefault(row.id, ("pending", ""))
        ledger.finish(self.session, outcomes, datetime.now(timezone.utc))

    def _summary(self, c: Campaign, run: RunTally) -> str:
        edition = ledger.counts(self.session, c.organisation, c.key)
        return (f"this run: {run.summary()}; the edition: "
                + ", ".join(f"{n} {state}" for state, n in sorted(edition.items())))

    def _deliver(self, raw: bytes, sender: str, recipient: str, message_id: str, campaign: str) -> Outcome:
        outcome = Outcome("retry")
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            outcome = self.transport.send(raw, sender, recipient, message_id, campaign)
            if outcome.state != "retry":
                return outcome
            if attempt < self.retries:
                time.sleep(self.retry_delay * 2 ** attempt)
        return outcome

    # --- building messages ------------------------------------------------------------------

    def _context(self, c: Campaign, recipient: str, names: "_Names") -> dict[str, Any]:
        first = names.first(recipient)
        context = {**c.context, "first_name": first}
        if c.audience:
            if c.unsubscribe_url is None:  # newsletter_campaign sets both; a campaign built otherwise may not
                raise ValueError(f"{c.key}: sent to audience {c.audience!r}, which one can leave, "
                                 "but has no unsubscribe URL")
            context["unsubscribe_url"] = c.unsubscribe_url.replace("{token}", self._token(c, c.audience, recipient))
        return context

    def _token(self, c: Campaign, audience: str, recipient: str) -> str:
        return unsubscribe_token(self.secret, c.organisation, audience, recipient)

    def _message(self, c: Campaign, renderer: Renderer, row: ledger.Row, names: "_Names", address: str) -> bytes:
        context = self._context(c, row.recipient, names)
        subject, text, html = renderer.render(context, who=row.recipient)
        token = self._token(c, c.audience, row.recipient) if c.audience else None
        list_id = f"{c.list_name} <{c.audience.replace('/', '.')}.{c.domain}>" if c.audience and c.list_name else None
        mailto = f"{c.unsubscribe_mailto}?subject=unsubscribe%20{token}" if token and c.unsubscribe_mailto else None
        env = Envelope(
            from_name=c.from_name, from_address=c.from_address, to_name=names.full(row.recipient),
            to_address=address, subject=subject, message_id=row.message_id, date=datetime.now(timezone.utc),
            reply_to=c.reply_to,
            list_id=list_id, unsubscribe_url=context.get("unsubscribe_url"), unsubscribe_mailto=mailto,
        )
        calendar = with_attendee(c.calendar, address, names.full(row.recipient)) if c.calendar else None
        return compose(env, text, html, calendar, c.calendar_method)


class _Names:
    """Recipients' names, looked up in batches (members) or from the campaign (bodies)."""

    def __init__(self, session: Session, c: Campaign, recipients: list[str] | None = None) -> None:
        self.session, self.c = session, c
        self.cache: dict[str, tuple[str, str]] = {}
        if c.recipient_kind == "member" and recipients:
            self._load(recipients)

    def _load(self, numbers: list[str]) -> None:
        self.cache.update(member_names(self.session, self.c.organisation, numbers))

    def _get(self, recipient: str) -> tuple[str, str]:
        if self.c.recipient_kind == "body":
            return self.c.recipient_names.get(recipient, recipient), ""
        if recipient not in self.cache:
            self._load([recipient])
        return self.cache.get(recipient, ("", ""))

    def first(self, recipient: str) -> str:
        return self._get(recipient)[0]

    def full(self, recipient: str) -> str:
        first, last = self._get(recipient)
        return f"{first} {last}".strip()
