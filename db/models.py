"""The database: what aarshjul remembers between runs.

    occurrences   the agenda as last stored: one row per (organisation, key), with a
                  content hash and a revision that rises on every change (a calendar's
                  SEQUENCE), kept with status 'removed' when the plan drops it
    completions   what was done: held / not held / cancelled, with date, attendance,
                  note and evidence; one row per (organisation, ref)

Times are stored in UTC; dates are local dates of the organisation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, DateTime, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class OccurrenceRow(Base):
    __tablename__ = "occurrences"
    __table_args__ = (UniqueConstraint("organisation", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    uid: Mapped[str] = mapped_column(String(64), index=True)
    measure: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # scheduled | unscheduled | cancelled | removed
    all_day: Mapped[bool]
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # Occurrence.to_dict() as stored
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Completion(Base):
    __tablename__ = "completions"
    __table_args__ = (
        UniqueConstraint("organisation", "ref"),
        CheckConstraint("attendance IS NULL OR attendance >= 0", name="attendance_not_negative"),
        CheckConstraint("outcome IN ('held', 'not_held', 'cancelled')", name="outcome_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(200))  # occurrence key, or measure@date[#what]
    measure: Mapped[str] = mapped_column(String(16), index=True)
    occurrence_key: Mapped[str | None] = mapped_column(String(160))
    outcome: Mapped[str] = mapped_column(String(16))
    on_date: Mapped[date | None] = mapped_column(Date)
    attendance: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="cli")  # cli | flow | ui
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # revoked (`aarshjul revoke`): kept in the log, read as not recorded; its ref gets a
    # `!revoked-ID` suffix so that the ref is free for a new record (issue 14 item 10)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(120))


class FeedToken(Base):
    """The secret path segment of a non-public feed: stable across runs, rotatable."""

    __tablename__ = "feed_tokens"
    __table_args__ = (UniqueConstraint("organisation", "feed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    feed: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaldavEvent(Base):
    """What we last pushed to a CalDAV calendar, to write only what changed.

    A conflict is recorded when the server's copy changed since our last push (an
    ETag mismatch): the event is then left alone until the board resolves it.
    """

    __tablename__ = "caldav_events"
    __table_args__ = (UniqueConstraint("organisation", "calendar", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(64))  # the body id
    uid: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    href: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    conflict_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conflict_etag: Mapped[str | None] = mapped_column(String(200))
    gone: Mapped[bool] = mapped_column(default=False)  # deleted from the server after its grace period
    pushed_ics: Mapped[str | None] = mapped_column(Text)  # what we last pushed, to compare a person's edit with
    server_ics: Mapped[str | None] = mapped_column(Text)  # the server's copy when in conflict (None: deleted)


# --- members (issue: Members) ------------------------------------------------------------


class Member(Base):
    """A member as last imported from the register. Personal data lives only here.

    `forget` blanks the personal columns (names, e-mail, phone, postcode) and sets
    forgotten_at, keeping the anonymous facts the counts need (branch, joined, status).
    """

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("organisation", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))  # medlemsnummer
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    postcode: Mapped[str | None] = mapped_column(String(8))
    joined: Mapped[date | None] = mapped_column(Date)
    dues_paid: Mapped[bool | None]
    activist: Mapped[bool] = mapped_column(default=False)
    branch: Mapped[str | None] = mapped_column(String(64), index=True)  # a body id
    branch_source: Mapped[str | None] = mapped_column(String(16))  # export | postcode
    roles: Mapped[str | None] = mapped_column(String(200))  # comma-separated body ids (styret, au, …)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | left
    left_at: Mapped[date | None] = mapped_column(Date)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    row_hash: Mapped[str] = mapped_column(String(64))  # of the imported fields: unchanged rows are skipped
    forgotten_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MemberCount(Base):
    """Counts per branch per import date, for the report's progress towards the targets."""

    __tablename__ = "member_counts"
    __table_args__ = (UniqueConstraint("organisation", "on_date", "branch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    on_date: Mapped[date] = mapped_column(Date)
    branch: Mapped[str] = mapped_column(String(64))  # a body id, or "" for members without a branch
    members: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
    left: Mapped[int] = mapped_column(Integer)
    activists: Mapped[int] = mapped_column(Integer)


class FollowUp(Base):
    """A new member to be contacted by their branch by `due` (the plan's member_joined promise)."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("organisation", "member_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    member_number: Mapped[str] = mapped_column(String(32))
    branch: Mapped[str | None] = mapped_column(String(64))
    joined: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    contacted_on: Mapped[date | None] = mapped_column(Date)
    contacted_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    escalated_on: Mapped[date | None] = mapped_column(Date)


# --- mail (issue: Mail) ----------------------------------------------------------------------


class Delivery(Base):
    """The delivery ledger: one row per (campaign, recipient). The ledger, not Prefect's
    cache, decides what was sent.

    state: pending -> sending -> sent | failed | unknown. A row left in 'sending' by a
    killed process is 'in doubt': it is not sent again, and is reported.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("organisation", "campaign", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str] = mapped_column(String(160), index=True)  # medlemsbrev/2026-02, reminder/1.5/2026/2/21
    recipient: Mapped[str] = mapped_column(String(254))  # a member number, or a body's contact address
    address: Mapped[str | None] = mapped_column(String(254))  # lower-cased; blanked when a member is forgotten
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Unsubscribe(Base):
    """A recipient who left an audience's mailing list (RFC 8058 one-click or the CLI)."""

    __tablename__ = "unsubscribes"
    __table_args__ = (UniqueConstraint("organisation", "audience", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))  # member number
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))  # web | mailto | cli


# --- report (issue: Completion log and yearly report) -------------------------------------


class KpiMeasurement(Base):
    """A measured value of a target (KPI) on a date: from the members data or recorded by hand."""

    __tablename__ = "kpi_measurements"
    __table_args__ = (UniqueConstraint("organisation", "name", "on_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    on_date: Mapped[date] = mapped_column(Date)
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(16))  # cli | members | flow
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeasureComment(Base):
    """The board's own words on a measure for a year's report: what the log cannot know."""

    __tablename__ = "measure_comments"
    __table_args__ = (UniqueConstraint("organisation", "measure", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    measure: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RunLock(Base):
    """Who holds a run lock on PostgreSQL, for people only (db/locks.py): the lock itself
    is an advisory lock that dies with its holder; a killed holder's row is replaced by
    the next holder's and decides nothing."""

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # send-newsletter:bergen-sv
    holder: Mapped[str] = mapped_column(String(200))  # host:pid
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- calendars: feed memory and CalDAV collection state (issue 11) -------------------------


class FeedItem(Base):
    """What a feed last showed of an occurrence, so that an occurrence leaving the feed
    for any reason is published there as cancelled for the grace period (domain/feeds.py)."""

    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("organisation", "feed", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    feed: Mapped[str] = mapped_column(String(64))
    uid: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Occurrence as the feed last showed it
    sequence: Mapped[int] = mapped_column(Integer)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: still in the feed


class CaldavCalendar(Base):
    """A body's calendar on the CalDAV server: its URL and the RFC 6578 sync token of our last look."""

    __tablename__ = "caldav_calendars"
    __table_args__ = (UniqueConstraint("organisation", "calendar"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    sync_token: Mapped[str | None] = mapped_column(Text)
    components: Mapped[str | None] = mapped_column(String(200))  # what it accepts, "VEVENT" when made by us


# --- bounces (issue 12 item 3) --------------------------------------------------------------


class Bounce(Base):
    """One bounce report about one message (a ledger row), read from the bounce mailbox.
    The same report read twice (a run stopped before it moved it) is recorded once."""

    __tablename__ = "bounces"
    __table_args__ = (UniqueConstraint("organisation", "report", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    report: Mapped[str] = mapped_column(String(64))  # SHA-256 of the report's bytes
    delivery_id: Mapped[int] = mapped_column(Integer, index=True)  # the ledger row the VERP token names
    campaign: Mapped[str] = mapped_column(String(160))
    recipient: Mapped[str] = mapped_column(String(254), index=True)  # a member number, or a body id
    address_digest: Mapped[str] = mapped_column(String(64))  # domain/bounces.address_digest of the address sent to
    kind: Mapped[str] = mapped_column(String(8))  # hard | soft | other
    status: Mapped[str | None] = mapped_column(String(16))  # the DSN's Status, 5.1.1
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Suspension(Base):
    """A member's address that bounced hard, or softly too often: no mail goes to it while
    the member's address is the one that bounced (an import with another lifts it)."""

    __tablename__ = "suspensions"
    __table_args__ = (UniqueConstraint("organisation", "member", "address_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    member: Mapped[str] = mapped_column(String(32), index=True)  # member number
    address_digest: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # hard | soft 3/30d
    status: Mapped[str | None] = mapped_column(String(16))  # the DSN Status that decided it
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the address changed


class BounceMailbox(Base):
    """How far the bounce mailbox was read: the highest IMAP UID examined in a folder while
    its UIDVALIDITY holds, so mail that is not ours (left where it is) is read once."""

    __tablename__ = "bounce_mailboxes"
    __table_args__ = (UniqueConstraint("organisation", "mailbox"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64))
    mailbox: Mapped[str] = mapped_column(String(300))  # imaps://host:993/INBOX (no user, no password)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # RFC 9051 2.3.1.1: 32-bit unsigned
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
