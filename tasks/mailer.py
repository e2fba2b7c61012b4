"""Sending a campaign (a newsletter edition, or a reminder) through the ledger.

    prepare     the recipients into the ledger (pending), rows in doubt recovered, rows
                of members who unsubscribed since they were added (an edition half-sent,
                then resumed) marked 'unsubscribed', rows of members forgotten since
                (no address) marked 'forgotten', and the first pending recipient's
                message rendered, so a template broken for everyone stops the edition
                before anything leaves
    send_batch  drop rows of members who unsubscribed or were forgotten meanwhile, claim
                the next batch (committed as 'sending'), send it at the configured rate
                over a few connections at once, each connection's thread rendering its
                next message while the others wait for the server (_Pipeline), record
                each outcome, commit once

Every recipient is tried on their own: a message that cannot be made for one (its
template fails for this member's data, an address the register got wrong, a name that
cannot go in a header) fails that row, with the reason, and the edition goes on.

Addresses: checked with email-validator (no DNS); a domain in Unicode is sent as IDNA
(xn--); a local part that is not ASCII goes with SMTPUTF8 when the server offers it (the
To header then carries it in UTF-8, RFC 6532), else that row fails, "no SMTPUTF8".

What a failure means for the edition:

    a recipient refused        a 5xx at RCPT or DATA, or an address that cannot be sent
                               (a non-ASCII local part to a server without SMTPUTF8): that
                               row 'failed', the edition goes on
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
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeGuard

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from aarshjul.db import ledger
from aarshjul.db.audiences import member_names
from aarshjul.db.bounces import SKIPPED
from aarshjul.domain.bounces import envelope_sender
from aarshjul.domain.campaigns import Campaign
from aarshjul.domain.errors import AarshjulError, EditionPaused, TemplateProblem, TransportDown
from aarshjul.domain.ics import with_attendee
from aarshjul.domain.messages import Envelope, compose, message_id, unsubscribe_token
from aarshjul.tasks.files import sync_folder
from aarshjul.tasks.mail_render import Renderer
from aarshjul.tasks.mail_transport import NO_SMTPUTF8, Outcome, RateLimiter, Transport


@dataclass
class Prepared:
    added: int = 0
    in_doubt: int = 0
    pending: int = 0
    skipped_unsubscribed: int = 0
    skipped_invalid: int = 0
    skipped_duplicate: int = 0
    skipped_suspended: int = 0  # audience members whose address is suspended after bounces: no row
    skipped_rows: int = 0  # the edition's rows 'skipped' (suspended after they were added) when prepared


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
    forgotten: int = 0  # rows skipped because their member was forgotten (no address) during the run
    reasons: dict[str, int] = field(default_factory=dict)  # the failed rows by kind ("no SMTPUTF8": 2)
    skipped_rows: int = 0  # the edition's rows 'skipped' (suspended meanwhile), read when none is left to send
    batches: int = 0  # ledger batches sent (send_batches: several in one task)
    done: bool = False  # send_batches stopped because nothing is left to send now

    def add(self, other: BatchResult) -> None:
        for name, value in vars(other).items():
            if name in ("done", "skipped_rows"):  # the latest batch's word, not a sum
                setattr(self, name, value if name == "done" else max(self.skipped_rows, value))
            elif name == "reasons":
                for reason, n in other.reasons.items():
                    self.reasons[reason] = self.reasons.get(reason, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)


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
_SENTINEL = "smtputf8-recipient@smtputf8.invalid"  # stands in for a non-ASCII address while composing


def smtp_address(address: str) -> str:
    """The address as it goes on the wire: checked (email-validator, no DNS), its domain
    in Unicode as IDNA (xn--); a local part that is not ASCII is kept (it goes with
    SMTPUTF8, when the server offers it). ValueError, with a reason that names no
    address, for one that cannot be sent (empty, malformed, a domain IDNA refuses)."""
    if not address or not address.strip():
        raise ValueError("no address (a forgotten member, or none in the register)")
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("the address is not valid (RFC 5321, IDNA): the register must give this member "
                         "another address") from None
    return f"{checked.local_part}@{checked.ascii_domain}"


def valid_address(address: str | None) -> TypeGuard[str]:
    if not address:
        return False
    try:
        smtp_address(address)
    except ValueError:
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


def _with_address(raw: bytes, address: str) -> bytes:
    """The composed message with the stand-in address in its header replaced by the real
    one, in UTF-8 (RFC 6532: a message sent with SMTPUTF8 may carry it so)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    return head.replace(_SENTINEL.encode("ascii"), address.encode("utf-8")) + sep + body


@dataclass(frozen=True)
class _Job:
    row: ledger.Row
    raw: bytes = b""
    address: str = ""
    failed: Outcome | None = None  # the message could not be made for this recipient


class Mailer:
    """Sends a campaign's batches. Over `transport.connections` connections at once (each a
    `clone()` of `transport`, in its own thread, which renders each message it sends); the
    outcomes are judged here, in the order they come, and written to the ledger once per
    batch. `close()` closes every connection."""

    def __init__(self, session: Session, transport: Transport, secret: bytes, rate_per_second: float = 50.0,
                 max_failures_in_a_row: int = 20, retries: int = 3, retry_delay: float = 1.0,
                 max_failure_ratio: float = MAX_FAILURE_RATIO, ratio_after: int = RATIO_AFTER) -> None:
        self.session = session
        self.transport = transport
        self.transports: list[Transport] = [transport]
        self.secret = secret
        self.limiter = RateLimiter(rate_per_second)
        self.max_failures = max_failures_in_a_row  # failures of the mail server in a row, not of recipients
        self.max_ratio = max_failure_ratio
        self.ratio_after = ratio_after
        self.retries = retries
        self.retry_delay = retry_delay
        self.renderers: dict[str, Renderer] = {}

    def close(self) -> None:
        for transport in self.transports:
            transport.close()

    def _renderer(self, c: Campaign) -> Renderer:
        """The campaign's templates, compiled once per Mailer (a task run): an edited
        template is read again by the next run, even in a long-running `serve`."""
        if c.key not in self.renderers:
            self.renderers[c.key] = Renderer(c.template, c.subject, c.templates)
        return self.renderers[c.key]

    def _sender(self, c: Campaign, row: ledger.Row) -> str:
        """The envelope sender (MAIL FROM) of one row's message: computed here only."""
        return envelope_sender(self.secret, c.organisation, row.id, c.bounce_address, c.from_address)  # VERP

    # --- prepare -----------------------------------------------------------------------

    def prepare(self, c: Campaign, candidates: Iterable[tuple[str, str | None]]) -> Prepared:
        """Recipients into the ledger; rows in doubt recovered; forgotten members' rows
        skipped; the first pending recipient's message rendered, so a template broken for
        everyone stops the edition before anything leaves (a message that fails for one
        recipient only fails that row when it is sent)."""
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
        result.skipped_invalid += ledger.drop_forgotten(self.session, c.organisation, c.key, now,
                                                        states=("pending", "sending"))
        result.in_doubt = ledger.recover(self.session, c.organisation, c.key, now)
        self.session.commit()
        renderer = self._renderer(c)
        first = ledger.first_pending(self.session, c.organisation, c.key)
        if first is not None:
            renderer.render(_context(c, self.secret, first, _Names(self.session, c, [first])), who=first)
        counts = ledger.counts(self.session, c.organisation, c.key)
        result.pending, result.skipped_rows = counts.get("pending", 0), counts.get(SKIPPED, 0)
        return result

    # --- send ----------------------------------------------------------------------------

    def send_batch(self, c: Campaign, size: int, batch_no: int) -> BatchResult:
        """Send the next batch; a run numbers its batches from 1. Raises Paused (after the
        batch's outcomes are committed) when the edition must wait, TransportDown when the
        mail server cannot be reached or refuses the login; both name the counts."""
        result = BatchResult()
        run = RUNS.get(c.organisation, c.key, batch_no)
        now = datetime.now(timezone.utc)
        if c.audience:  # an unsubscribe recorded while this edition is being sent
            result.unsubscribed = len(ledger.drop_unsubscribed(self.session, c.organisation, c.key, c.audience, now))
        result.forgotten = ledger.drop_forgotten(self.session, c.organisation, c.key, now)  # forgotten meanwhile
        rows = ledger.claim_batch(self.session, c.organisation, c.key, size, batch_no, now)
        result.claimed = len(rows)
        if not rows:  # the edition is done: rows suspended (db/bounces.py) while it was sent count in its summary
            result.skipped_rows = ledger.counts(self.session, c.organisation, c.key).get(SKIPPED, 0)
            return result
        names = _Names(self.session, c, [r.recipient for r in rows])  # read here: the threads never touch the db
        outcomes: dict[int, tuple[str, str]] = {}
        pause: str | None = None
        pipeline: _Pipeline | None = None

        def record(row: ledger.Row, outcome: Outcome) -> None:
            state = STATES[outcome.state]
            outcomes[row.id] = (state, outcome.detail)
            tally = "retry_later" if state == "pending" else state
            setattr(result, tally, getattr(result, tally) + 1)
            result.in_doubt += row.in_doubt

        try:
            self.transport.open()  # unreachable, or the login refused: TransportDown before any thread starts
            pipeline = _Pipeline(self, c, rows, names, lambda row_id, outcome: self._judge(run, row_id, outcome))
            for row, outcome in pipeline:
                record(row, outcome)
            pause = pipeline.pause
            rest, error = pipeline.stop()
            for row, outcome in rest:
                record(row, outcome)
            if error is not None:
                raise error
        except TransportDown as exc:
            for row, outcome in pipeline.stop()[0] if pipeline is not None else []:
                record(row, outcome)
            self._finish(rows, outcomes)
            raise TransportDown(f"{exc}; {self._summary(c, run)}", transient=exc.transient) from None
        except BaseException:
            for row, outcome in pipeline.stop()[0] if pipeline is not None else []:
                record(row, outcome)
            self._finish(rows, outcomes)
            raise
        if pause and run.refused and pause.startswith(_RATIO):  # this run's refusals are not trusted
            for row_id, detail in run.refused.items():
                outcomes[row_id] = ("pending", f"{_RATIO_NOTE}; the server said: {detail}")
            result.failed -= sum(1 for row in rows if row.id in run.refused)
            result.retry_later += sum(1 for row in rows if row.id in run.refused)
            run.waiting.update(run.refused)
            run.refused.clear()
        for state, detail in outcomes.values():
            if state == "failed":
                result.reasons[_reason(detail)] = result.reasons.get(_reason(detail), 0) + 1
        self._finish(rows, outcomes)
        if pause:
            raise Paused(f"{c.key}: paused, {pause}; {self._summary(c, run)}", run,
                         ledger.counts(self.session, c.organisation, c.key))
        return result

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

    def _deliver(self, transport: Transport, raw: bytes, sender: str, recipient: str, message_id: str,
                 campaign: str, started: Callable[[], Outcome] | None = None) -> Outcome:
        """Send, and again after a 4xx (backoff); `started`: the first attempt's outcome,
        when the caller began it (past the rate limiter already)."""
        outcome = Outcome("retry")
        for attempt in range(self.retries + 1):
            if attempt == 0 and started is not None:
                outcome = started()
            else:
                self.limiter.wait()
                outcome = transport.send(raw, sender, recipient, message_id, campaign)
            if outcome.state != "retry":
                return outcome
            if attempt < self.retries:
                time.sleep(self.retry_delay * 2 ** attempt)
        return outcome


# --- building messages (in the sending threads too: nothing below touches the database) -----------


def _context(c: Campaign, secret: bytes, recipient: str, names: "_Names",
             token: str | None = None) -> dict[str, Any]:
    """The template's context for one recipient; `token` their unsubscribe token, when
    the caller made it already."""
    context = {**c.context, "first_name": names.first(recipient)}
    if c.audience:
        if c.unsubscribe_url is None:  # newsletter_campaign sets both; a campaign built otherwise may not
            raise ValueError(f"{c.key}: sent to audience {c.audience!r}, which one can leave, "
                             "but has no unsubscribe URL")
        token = token or unsubscribe_token(secret, c.organisation, c.audience, recipient)
        context["unsubscribe_url"] = c.unsubscribe_url.replace("{token}", token)
    return context


def _message(c: Campaign, secret: bytes, renderer: Renderer, row: ledger.Row, names: "_Names",
             address: str) -> bytes:
    token = unsubscribe_token(secret, c.organisation, c.audience, row.recipient) if c.audience else None
    context = _context(c, secret, row.recipient, names, token)  # the token made once, for the link and the header
    subject, text, html = renderer.render(context, who=row.recipient)
    list_id = f"{c.list_name} <{c.audience.replace('/', '.')}.{c.domain}>" if c.audience and c.list_name else None
    mailto = f"{c.unsubscribe_mailto}?subject=unsubscribe%20{token}" if token and c.unsubscribe_mailto else None
    utf8 = not address.isascii()  # a local part in Unicode: the header carries it in UTF-8 (SMTPUTF8)
    env = Envelope(
        from_name=c.from_name, from_address=c.from_address, to_name=names.full(row.recipient),
        to_address=_SENTINEL if utf8 else address, subject=subject, message_id=row.message_id,
        date=datetime.now(timezone.utc), reply_to=c.reply_to,
        list_id=list_id, unsubscribe_url=context.get("unsubscribe_url"), unsubscribe_mailto=mailto,
    )
    calendar = with_attendee(c.calendar, address, names.full(row.recipient)) if c.calendar else None
    raw = compose(env, text, html, calendar, c.calendar_method)
    return _with_address(raw, address) if utf8 else raw


def _job(c: Campaign, secret: bytes, renderer: Renderer, row: ledger.Row, names: "_Names") -> _Job:
    """One recipient's message, or why it cannot be made: a failure of this row only."""
    try:
        address = smtp_address(row.address)
    except ValueError as exc:
        return _Job(row, failed=Outcome("failed", str(exc)))
    try:
        raw = _message(c, secret, renderer, row, names, address)
    except TemplateProblem as exc:
        return _Job(row, failed=Outcome("failed", f"the template failed for this recipient: {exc}"))
    except (ValueError, UnicodeError, LookupError) as exc:  # this address or name cannot go in a header
        return _Job(row, failed=Outcome("failed", "the message could not be built for this recipient "
                                                  f"({type(exc).__name__})"))
    return _Job(row, raw, address)


def _given(outcome: Outcome) -> Callable[[], Outcome]:
    return lambda: outcome


def _reason(detail: str) -> str:
    """A failure's kind for the run summary, without the server's variable text."""
    if detail == NO_SMTPUTF8:
        return "no SMTPUTF8"
    if detail.startswith("no address"):
        return "no address"
    if detail.startswith("the address is not valid"):
        return "invalid address"
    if detail.startswith(("the template failed", "the message could not be built")):
        return "message not built"
    return "refused by the server"


class _Pipeline:
    """One batch's messages through the connections. Each message is rendered, then sent,
    by the thread of the connection that sends it: over one connection in the calling
    thread, in turn; over several, a thread per connection takes the next row, renders
    it while the other connections wait for the server's replies, and sends it. (A thread
    that only rendered held the GIL while replies waited; rendering a message now takes a
    fraction of a millisecond, so a sender that renders lets the others go at once.)
    Each outcome is judged at once (`judge`, under a lock: the run's tally); iterating
    gives (row, outcome) as they come. When `judge` gives a reason to pause, no connection
    takes another row (with one connection, none is sent after the one that decided it;
    with more, those already taken finish) and the rest of the batch goes back to pending.
    `stop()` ends the threads and returns what was not given yet, and the first error."""

    def __init__(self, mailer: Mailer, c: Campaign, rows: list[ledger.Row], names: "_Names",
                 judge: Callable[[int, Outcome], str | None]) -> None:
        self.mailer, self.c, self.rows, self.names, self.judge = mailer, c, rows, names, judge
        self.pause: str | None = None
        self.judging = threading.Lock()
        wanted = min(getattr(mailer.transport, "connections", 1), max(1, len(rows) // 10))
        clone = getattr(mailer.transport, "clone", None)
        while clone is not None and len(mailer.transports) < wanted:
            mailer.transports.append(clone())
        self.connections = mailer.transports[:wanted] if clone is not None else [mailer.transport]
        self.renderer = mailer._renderer(c)
        self.next_row = iter(rows)
        self.taking = threading.Lock()
        self.results: queue.Queue[tuple[ledger.Row, Outcome] | BaseException | None] = queue.Queue()
        self.stopping = threading.Event()
        self.inline = len(self.connections) == 1  # one connection: rendered and sent in turn, no thread
        self.threads: list[threading.Thread] = []
        if not self.inline:
            self.threads = [threading.Thread(target=self._send, args=(t,), name=f"mail-send-{i}", daemon=True)
                            for i, t in enumerate(self.connections)]
        self.live = len(self.threads)  # senders not yet finished
        for thread in self.threads:
            thread.start()

    def _job(self, row: ledger.Row | None) -> _Job | BaseException | None:
        """Row's message (None for no row); a bug met while making it is returned, to be
        raised after the outcome of the message before it was given."""
        if row is None:
            return None
        try:
            return _job(self.c, self.mailer.secret, self.renderer, row, self.names)
        except BaseException as exc:  # noqa: BLE001 - raised by _run in its turn
            return exc

    def _run(self, transport: Transport, take: Callable[[], ledger.Row | None]
             ) -> Iterator[tuple[ledger.Row, Outcome]]:
        """One connection's messages in turn: each written out, the next one rendered while
        the server takes it (`begin`/`end`, when the transport has them), then its reply
        read; (row, outcome) as each is answered. The consumer stops when it must pause: a
        message rendered ahead is then never sent (its row goes back to pending)."""
        begin = getattr(transport, "begin", None)
        job = self._job(take())
        while job is not None:
            if isinstance(job, BaseException):
                raise job
            ahead: _Job | BaseException | None = None
            outcome = job.failed
            if outcome is None:
                sender = self.mailer._sender(self.c, job.row)
                started: Callable[[], Outcome] | None = None
                if begin is not None:
                    self.mailer.limiter.wait()
                    first = begin(job.raw, sender, job.address, job.row.message_id, self.c.key)
                    ahead = self._job(take())  # rendered while the server takes the message
                    started = transport.end if first is None else _given(first)  # type: ignore[attr-defined]
                outcome = self.mailer._deliver(transport, job.raw, sender, job.address, job.row.message_id,
                                               self.c.key, started)
            if ahead is None:
                ahead = self._job(take())
            yield job.row, outcome
            job = ahead

    def _inline(self) -> Iterator[tuple[ledger.Row, Outcome]]:
        rows = iter(self.rows)
        for row, outcome in self._run(self.connections[0], lambda: next(rows, None)):
            self.pause = self.pause or self.judge(row.id, outcome)
            yield row, outcome
            if self.pause:
                return

    def _take(self) -> ledger.Row | None:
        with self.taking:
            if self.stopping.is_set():
                return None
            return next(self.next_row, None)

    def _send(self, transport: Transport) -> None:
        try:
            for row, outcome in self._run(transport, self._take):
                with self.judging:
                    pause = self.judge(row.id, outcome)
                    if pause and self.pause is None:
                        self.pause = pause
                        self.stopping.set()
                self.results.put((row, outcome))
                if self.stopping.is_set():
                    return
        except BaseException as exc:  # TransportDown (cannot connect again), or a bug
            self.results.put(exc)
        finally:
            self.results.put(None)  # this sender is done

    def __iter__(self) -> Iterator[tuple[ledger.Row, Outcome]]:
        if self.inline:
            yield from self._inline()
            return
        while self.live:
            item = self.results.get()
            if item is None:
                self.live -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    def stop(self) -> tuple[list[tuple[ledger.Row, Outcome]], BaseException | None]:
        """(outcomes not yet given, the first error a thread met); a second call gives
        only what came since."""
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        rest: list[tuple[ledger.Row, Outcome]] = []
        error: BaseException | None = None
        while True:
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, BaseException):
                error = error or item
            elif item is not None:
                rest.append(item)
        return rest, error


class _Names:
    """Recipients' names, read in one query per batch (members) or from the campaign
    (bodies); never read again later, so the sending threads never use the session."""

    def __init__(self, session: Session, c: Campaign, recipients: list[str] | None = None) -> None:
        self.c = c
        self.cache: dict[str, tuple[str, str]] = {}
        if c.recipient_kind == "member" and recipients:
            self.cache.update(member_names(session, c.organisation, recipients))

    def _get(self, recipient: str) -> tuple[str, str]:
        if self.c.recipient_kind == "body":
            return self.c.recipient_names.get(recipient, recipient), ""
        return self.cache.get(recipient, ("", ""))

    def first(self, recipient: str) -> str:
        return self._get(recipient)[0]


    def full(self, recipient: str) -> str:
        first, last = self._get(recipient)
        return f"{first} {last}".strip()
