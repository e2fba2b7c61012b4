"""The delivery ledger: what was sent, to whom, exactly once.

One row per (organisation, campaign, recipient), UNIQUE, with a deterministic
Message-ID. States: pending -> sending -> sent | failed | unknown, and
pending -> unsubscribed (the recipient left the audience before the row was sent),
pending -> forgotten (the member was forgotten, `members forget`: no address is left).

    ensure_rows     add a pending row for each recipient not yet in the ledger
    recover         rows left in 'sending' by a process that died: back to pending,
                    marked in doubt (they are sent again with the same Message-ID)
    drop_unsubscribed  pending rows (in doubt or not) whose recipient has unsubscribed
                    since the row was added: marked 'unsubscribed', never sent
    drop_forgotten  pending rows without an address (a forgotten member): marked
                    'forgotten', never sent (never to an empty address)
    claim_batch     the next pending rows, marked 'sending' and committed before any
                    message leaves, so a crash leaves at most that batch in doubt
    finish          record each row's outcome; committed per batch
    letters         a recipient's (campaign, Message-ID) pairs: where their letters are
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.engine import Row as ResultRow
from sqlalchemy.orm import Session

from .models import Delivery, Unsubscribe

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

IN_DOUBT = "in doubt: the previous run stopped during this batch; sent again with the same Message-ID"
UNSUBSCRIBED = "unsubscribed"  # the state of a row whose recipient left the audience before it was sent
DROPPED = "unsubscribed before it was sent"
DROPPED_IN_DOUBT = "unsubscribed before it was sent again (the run that stopped may have sent it once)"
CHUNK = 500
FORGOTTEN = "forgotten"  # the state of a row whose member was forgotten before it was sent
NO_ADDRESS = "the member was forgotten (members forget) before it was sent: no address"


@dataclass(frozen=True)
class Row:
    id: int
    recipient: str
    address: str
    message_id: str
    in_doubt: bool


def _insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    """INSERT in the session's dialect, which has ON CONFLICT DO NOTHING."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(Delivery)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(Delivery)


def ensure_rows(session: Session, organisation: str, campaign: str, recipients: Iterable[tuple[str, str]],
                message_id: Callable[[str], str], now: datetime) -> int:
    """Add pending rows for (recipient, address) pairs not in the ledger; return how many."""
    before = _count(session, organisation, campaign)
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        if chunk:
            # executemany of one cached statement (SQLAlchemy batches it as insertmanyvalues);
            # .values(chunk) compiled a new statement of 5,000 parameters for every chunk
            session.execute(_insert(session).on_conflict_do_nothing(
                index_elements=["organisation", "campaign", "recipient"]), list(chunk))
            chunk.clear()

    for recipient, address in recipients:
        chunk.append(dict(organisation=organisation, campaign=campaign, recipient=recipient, address=address,
                          message_id=message_id(recipient), state="pending", attempts=0, created_at=now,
                          updated_at=now))
        if len(chunk) >= CHUNK:
            flush()
    flush()
    session.flush()
    return _count(session, organisation, campaign) - before


def _count(session: Session, organisation: str, campaign: str) -> int:
    return session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign)).scalar_one()


def recover(session: Session, organisation: str, campaign: str, now: datetime) -> int:
    """Rows a killed run left in 'sending' go back to pending, marked in doubt."""
    # an UPDATE's result is a CursorResult (with rowcount); Session.execute is typed as any Result
    result = cast("CursorResult[Any]", session.execute(update(Delivery).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state == "sending")
        .values(state="pending", error=IN_DOUBT, updated_at=now)))
    return result.rowcount or 0


def pending(session: Session, organisation: str, campaign: str, batch: int = CHUNK
            ) -> Iterator[ResultRow[int, str, str | None]]:
    """Every pending row, in order, streamed in chunks (for rendering checks)."""
    last = 0
    while True:
        rows = session.execute(select(Delivery.id, Delivery.recipient, Delivery.address).where(
            Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state == "pending",
            Delivery.id > last).order_by(Delivery.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def drop_unsubscribed(session: Session, organisation: str, campaign: str, audience: str, now: datetime,
                      states: tuple[str, ...] = ("pending",)) -> list[str]:
    """Rows not yet sent whose recipient has unsubscribed from `audience` since the row was
    added (an edition half-sent, then resumed) are marked 'unsubscribed' and never sent.

    `states`: ("pending",) while a run sends; ("pending", "sending") before `recover`,
    when a 'sending' row can only be one a dead run left in doubt. A row in doubt keeps
    that fact in its detail. Returns the recipients dropped."""
    left = select(Unsubscribe.recipient).where(Unsubscribe.organisation == organisation,
                                               Unsubscribe.audience == audience)
    rows = session.execute(select(Delivery.id, Delivery.recipient, Delivery.state, Delivery.error).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state.in_(states),
        Delivery.recipient.in_(left))).all()
    if rows:
        session.execute(update(Delivery), [
            {"id": r.id, "state": UNSUBSCRIBED, "updated_at": now,
             "error": DROPPED_IN_DOUBT if r.state == "sending" or r.error == IN_DOUBT else DROPPED} for r in rows])
        session.flush()
    return [r.recipient for r in rows]


def drop_forgotten(session: Session, organisation: str, campaign: str, now: datetime,
                   states: tuple[str, ...] = ("pending",)) -> int:
    """Rows not yet sent whose address was blanked (a forgotten member) are marked
    'forgotten' and never sent; `states` as for drop_unsubscribed. Returns how many."""
    result = cast("CursorResult[Any]", session.execute(update(Delivery).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state.in_(states),
        (Delivery.address.is_(None)) | (Delivery.address == "")).values(state=FORGOTTEN, error=NO_ADDRESS,
                                                                         updated_at=now)))
    return result.rowcount or 0


def first_pending(session: Session, organisation: str, campaign: str) -> str | None:
    """The recipient of the first pending row (whose message prepare renders as a check)."""
    return session.scalar(select(Delivery.recipient).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state == "pending")
        .order_by(Delivery.id).limit(1))


def claim_batch(session: Session, organisation: str, campaign: str, size: int, batch_no: int,
                now: datetime) -> list[Row]:
    """The next `size` pending rows, marked 'sending' and committed (with whatever the
    session holds, such as rows drop_unsubscribed just marked)."""
    rows = session.execute(select(Delivery.id, Delivery.recipient, Delivery.address, Delivery.message_id,
                                  Delivery.error).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign, Delivery.state == "pending")
        .order_by(Delivery.id).limit(size)).all()
    claimed = [Row(r.id, r.recipient, r.address or "", r.message_id, r.error == IN_DOUBT) for r in rows]
    if claimed:  # one UPDATE for the batch
        session.execute(update(Delivery).where(Delivery.id.in_([r.id for r in claimed]))
                        .values(state="sending", batch=batch_no, updated_at=now, attempts=Delivery.attempts + 1)
                        .execution_options(synchronize_session=False))
    session.commit()
    return claimed


def finish(session: Session, outcomes: dict[int, tuple[str, str]], now: datetime) -> None:
    """outcomes: row id -> (state, detail)."""
    if outcomes:  # one executemany: an UPDATE by primary key for each row
        session.execute(update(Delivery), [{"id": row_id, "state": state, "error": detail or None, "updated_at": now}
                                           for row_id, (state, detail) in outcomes.items()])
    session.commit()


def letters(session: Session, organisation: str, recipient: str) -> list[tuple[str, str]]:
    """(campaign, Message-ID) of every row of `recipient` (a member number): what names the
    files of their letters in the outbox (tasks/mail_transport.outbox_file)."""
    return [(r.campaign, r.message_id) for r in session.execute(select(Delivery.campaign, Delivery.message_id).where(
        Delivery.organisation == organisation, Delivery.recipient == recipient).order_by(Delivery.id))]


def counts(session: Session, organisation: str, campaign: str) -> dict[str, int]:
    rows = session.execute(select(Delivery.state, func.count()).where(
        Delivery.organisation == organisation, Delivery.campaign == campaign).group_by(Delivery.state)).all()
    return {state: n for state, n in rows}


def sent_campaigns(session: Session, organisation: str, prefix: str) -> set[str]:
    """Campaigns starting with `prefix` that have at least one row."""
    return set(session.scalars(select(Delivery.campaign).where(
        Delivery.organisation == organisation, Delivery.campaign.like(prefix + "%")).distinct()))


def unsubscribed(session: Session, organisation: str, audience: str) -> set[str]:
    return set(session.scalars(select(Unsubscribe.recipient).where(
        Unsubscribe.organisation == organisation, Unsubscribe.audience == audience)))


def record_unsubscribe(session: Session, organisation: str, audience: str, recipient: str, now: datetime,
                       source: str) -> bool:
    """True if new; unsubscribing twice is harmless."""
    exists = session.scalar(select(Unsubscribe.id).where(
        Unsubscribe.organisation == organisation, Unsubscribe.audience == audience,
        Unsubscribe.recipient == recipient))
    if exists:
        return False
    session.add(Unsubscribe(organisation=organisation, audience=audience, recipient=recipient, at=now,
                            source=source))
    session.flush()
    return True
