"""What the flows return: typed, and free of personal data (counts, keys and file names).

    AgendaStored     sync-plan: the plan's occurrences stored, and the year's gaps
    Published        publish-calendars: AgendaStored, plus the site and the CalDAV push
    Delivery         one campaign through the ledger (a newsletter edition, a reminder, …)
    DueMail          send-mail: the deliveries of one day, by kind
    RunResult        aarshjul-run: Published, plus DueMail (None with --no-mail)
    FollowUps        follow-up-new-members (the plan's member_joined measure)
    DuesFollowUp     follow-up-dues
    ReportWritten    yearly-report
    Confirmations    confirm-occurrences

Plain frozen dataclasses: the CLI prints them, Prefect keeps them as the runs' results,
and tests read them by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AgendaStored:
    plan: str  # the plan's title
    organisation: str
    occurrences: int
    new: int
    changed: int
    unchanged: int
    removed: int
    gaps: int
    year: int  # the year the gaps are counted in
    database: str  # the database URL, without its password


@dataclass(frozen=True)
class Published(AgendaStored):
    site: str  # the page, index.html
    files_written: int
    feeds: dict[str, int]  # feed id -> events in it
    caldav: dict[str, dict[str, Any]]  # body -> its calendar's counts (created, updated, …)


@dataclass(frozen=True)
class Delivery:
    """One campaign through the delivery ledger: who was added to it this run, and what
    became of the messages sent; `not_ready` when its text is not written yet, `paused`
    when the mail server failed again and again or too many recipients were refused."""

    campaign: str
    added: int = 0
    pending: int = 0
    in_doubt: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retry_later: int = 0
    skipped_unsubscribed: int = 0
    skipped_invalid: int = 0
    skipped_duplicate: int = 0
    skipped_suspended: int = 0  # members whose address is suspended after bounces (db/bounces.py)
    not_ready: str | None = None
    paused: str | None = None  # why the edition paused (the rest stays pending for the next run)
    failed_reasons: dict[str, int] = field(default_factory=dict)  # failed rows by kind ("no SMTPUTF8": 1)


@dataclass(frozen=True)
class DueMail:
    newsletters: list[Delivery] = field(default_factory=list)
    reminders: list[Delivery] = field(default_factory=list)
    invitations: list[Delivery] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult(Published):
    mail: DueMail | None = None


@dataclass(frozen=True)
class FollowUps:
    branches_notified: int = 0
    members_listed: int = 0
    escalated: int = 0


@dataclass(frozen=True)
class DuesFollowUp:
    reminded: int = 0
    branch_lists: int = 0


@dataclass(frozen=True)
class ReportWritten:
    year: int
    files: dict[str, str]  # format -> path
    counts: dict[str, int]  # status -> measures
    measures: int
    gaps: int
    draft: bool  # the year is not over yet
    mailed_to_board: int


@dataclass(frozen=True)
class Confirmations:
    waiting: int
    asked: int = 0
    held: int = 0
    not_held: int = 0
    later: int = 0
    recorded_meanwhile: int = 0
