"""Bounces in the database: reports recorded once, addresses suspended, and lifted.

    record          one report about one ledger row: a Bounce row (once per report and
                    row), and a Suspension when the rules of domain/bounces.suspension say
                    so; the member's pending ledger rows are then marked 'skipped'
    in_force        member number -> the digests of their suspended addresses
    without_suspended  (number, address) candidates less those whose address is suspended:
                    what db/audiences.py hands the mailer
    lift_changed    suspensions of members whose address has changed since (a later
                    import): marked lifted
    undeliverable   the suspended members, branch by branch, for the branch to fix
    read_up_to, mark_read   the highest IMAP UID examined per mailbox folder (and its
                    UIDVALIDITY): mail that is not ours stays in the folder and is read once

A suspension holds an address, not a member: it is in force while it is not lifted and
the member's current address is the one that bounced (compared by digest, so the address
is not stored twice). An import that gives the member another address lifts it at once
(the next mail goes to the new address); `lift_changed` records when.

Nothing here logs; results carry member numbers, body ids and counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from ..domain.bounces import BounceConfig, Report, address_digest, suspension
from .models import Bounce, BounceMailbox, Delivery, Member, Suspension

SKIPPED = "skipped"  # the ledger state of a row not sent because its address is suspended
SKIPPED_DETAIL = "not sent: the address is suspended after bounces (aarshjul members undeliverable)"


@dataclass(frozen=True)
class Recorded:
    """What one report did to the database."""

    kind: str  # hard | soft | other
    recipient: str  # member number or body id
    member: bool  # the recipient is a member (a body's contact address is never suspended)
    new: bool  # False: this report was recorded before (read again after a stop)
    suspended: bool  # this report suspended the address
    skipped: int = 0  # pending ledger rows marked 'skipped'


def delivery(session: Session, organisation: str, delivery_id: int) -> Delivery | None:
    row = session.get(Delivery, delivery_id)
    return row if row is not None and row.organisation == organisation else None


def record(session: Session, organisation: str, report: Report, row: Delivery, config: BounceConfig,
           now: datetime) -> Recorded:
    """Record `report` about ledger row `row`; suspend the address when the rules say so."""
    digest = address_digest(organisation, row.address or "")
    member = session.scalar(select(Member.number).where(Member.organisation == organisation,
                                                        Member.number == row.recipient)) is not None
    seen = session.scalar(select(Bounce.id).where(Bounce.organisation == organisation,
                                                  Bounce.report == report.report_id, Bounce.delivery_id == row.id))
    if seen is not None:
        return Recorded(report.kind, row.recipient, member, new=False, suspended=False)
    session.add(Bounce(organisation=organisation, report=report.report_id, delivery_id=row.id, campaign=row.campaign,
                       recipient=row.recipient, address_digest=digest, kind=report.kind, status=report.status,
                       at=now))
    session.flush()
    if not member or not row.address:  # a body's contact, or a member forgotten since
        return Recorded(report.kind, row.recipient, member, new=True, suspended=False)
    soft = session.scalar(select(func.count(func.distinct(Bounce.delivery_id))).where(
        Bounce.organisation == organisation, Bounce.recipient == row.recipient, Bounce.address_digest == digest,
        Bounce.kind == "soft", Bounce.at >= now - timedelta(days=config.soft_days))) or 0
    reason = suspension(report.kind, soft, config)
    if reason is None:
        return Recorded(report.kind, row.recipient, True, new=True, suspended=False)
    existing = session.scalar(select(Suspension).where(
        Suspension.organisation == organisation, Suspension.member == row.recipient,
        Suspension.address_digest == digest))
    if existing is None:
        session.add(Suspension(organisation=organisation, member=row.recipient, address_digest=digest, reason=reason,
                               status=report.status, since=now))
    elif existing.lifted_at is not None:  # the address came back, and bounces again
        existing.lifted_at, existing.reason, existing.status, existing.since = None, reason, report.status, now
    else:
        return Recorded(report.kind, row.recipient, True, new=True, suspended=False)
    session.flush()
    skipped = skip_pending(session, organisation, row.recipient, {digest}, now)
    return Recorded(report.kind, row.recipient, True, new=True, suspended=True, skipped=skipped)


def skip_pending(session: Session, organisation: str, member: str, digests: set[str], now: datetime) -> int:
    """The member's pending ledger rows to a suspended address: 'skipped', with the reason."""
    rows = session.execute(select(Delivery.id, Delivery.address).where(
        Delivery.organisation == organisation, Delivery.recipient == member, Delivery.state == "pending")).all()
    ids = [r.id for r in rows if r.address and address_digest(organisation, r.address) in digests]
    if ids:
        session.execute(update(Delivery), [{"id": i, "state": SKIPPED, "error": SKIPPED_DETAIL, "updated_at": now}
                                           for i in ids])
        session.flush()
    return len(ids)


def in_force(session: Session, organisation: str) -> dict[str, set[str]]:
    """member number -> digests of their addresses suspended and not lifted."""
    out: dict[str, set[str]] = {}
    for number, digest in session.execute(select(Suspension.member, Suspension.address_digest).where(
            Suspension.organisation == organisation, Suspension.lifted_at.is_(None))):
        out.setdefault(number, set()).add(digest)
    return out


def without_suspended(session: Session, organisation: str, candidates: Iterable[tuple[str, str | None]],
                      left_out: list[str] | None = None) -> Iterator[tuple[str, str | None]]:
    """The candidates (member number, address) whose address is not suspended; the
    numbers of those left out are appended to `left_out` when given (a send's summary
    counts them). The suspensions are read at the call, before the candidates are (they
    may be a query's rows streamed from the same connection)."""
    suspended = in_force(session, organisation)

    def keep() -> Iterator[tuple[str, str | None]]:
        for number, address in candidates:
            if number in suspended and address and address_digest(organisation, address) in suspended[number]:
                if left_out is not None:
                    left_out.append(number)
                continue
            yield number, address

    return keep()


def lift_changed(session: Session, organisation: str, now: datetime) -> int:
    """Mark lifted the suspensions whose member has another address now (or none: forgotten,
    or gone from the register). Returns how many."""
    current: dict[str, str | None] = {number: email for number, email in session.execute(select(
        Member.number, Member.email).where(
        Member.organisation == organisation,
        Member.number.in_(select(Suspension.member).where(Suspension.organisation == organisation,
                                                          Suspension.lifted_at.is_(None)))))}
    lifted = [s.id for s in session.scalars(select(Suspension).where(
        Suspension.organisation == organisation, Suspension.lifted_at.is_(None)))
        if not current.get(s.member) or address_digest(organisation, current[s.member] or "") != s.address_digest]
    if not lifted:
        return 0
    result = cast("CursorResult[Any]", session.execute(
        update(Suspension).where(Suspension.id.in_(lifted)).values(lifted_at=now)))
    session.flush()
    return result.rowcount or 0


@dataclass(frozen=True)
class Undeliverable:
    """A member whose address is suspended: by number, never by address."""

    branch: str  # "" for none
    number: str
    reason: str  # hard | soft 3/30d
    status: str | None
    since: datetime
    hard: int  # hard bounces of this address
    soft: int  # soft bounces of this address


def undeliverable(session: Session, organisation: str) -> list[Undeliverable]:
    """Active members whose current address is suspended, branch by branch, by number."""
    rows = session.execute(select(Suspension, Member.branch, Member.email).join(
        Member, (Member.organisation == Suspension.organisation) & (Member.number == Suspension.member)).where(
        Suspension.organisation == organisation, Suspension.lifted_at.is_(None), Member.status == "active",
        Member.forgotten_at.is_(None))).all()
    counts: dict[tuple[str, str, str], int] = {}
    for recipient, digest, kind, n in session.execute(
            select(Bounce.recipient, Bounce.address_digest, Bounce.kind, func.count()).where(
                Bounce.organisation == organisation).group_by(Bounce.recipient, Bounce.address_digest, Bounce.kind)):
        counts[(recipient, digest, kind)] = n
    out = [Undeliverable(branch or "", s.member, s.reason, s.status, s.since,
                         counts.get((s.member, s.address_digest, "hard"), 0),
                         counts.get((s.member, s.address_digest, "soft"), 0))
           for s, branch, email in rows if email and address_digest(organisation, email) == s.address_digest]
    return sorted(out, key=lambda u: (u.branch, u.number))


# --- how far the mailbox was read ----------------------------------------------------------


def read_up_to(session: Session, organisation: str, mailbox: str, uidvalidity: int) -> int:
    """The highest UID examined in `mailbox` (imaps://host:993/INBOX, no password) while its
    UIDVALIDITY is `uidvalidity`; 0 when never read, or when the folder was made anew."""
    row = session.scalar(select(BounceMailbox).where(BounceMailbox.organisation == organisation,
                                                     BounceMailbox.mailbox == mailbox))
    return row.last_uid if row is not None and row.uidvalidity == uidvalidity else 0


def mark_read(session: Session, organisation: str, mailbox: str, uidvalidity: int, last_uid: int,
              now: datetime) -> None:
    row = session.scalar(select(BounceMailbox).where(BounceMailbox.organisation == organisation,
                                                     BounceMailbox.mailbox == mailbox))
    if row is None:
        session.add(BounceMailbox(organisation=organisation, mailbox=mailbox, uidvalidity=uidvalidity,
                                  last_uid=last_uid, updated_at=now))
    elif row.uidvalidity != uidvalidity or last_uid > row.last_uid:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, now
    session.flush()
