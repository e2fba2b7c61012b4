"""Members in the database: the import upsert, counts, new-member follow-ups, forgetting.

`import_members` is an upsert keyed by (organisation, member number), like
`store_agenda`: a new number is added; one whose imported values changed (their hash,
Member.row_hash, differs) is updated; the same values again change nothing; an active
member no longer in the export is marked `left` (left_at = today), never deleted, and
comes back as active if a later export has them again. All of it happens in the
caller's session, so one `session_scope` makes the import one transaction.

Marking members as left is guarded twice, because a damaged file must not empty the
register: an export with damaged rows (more or fewer cells than the header, see
domain/members_csv.py) marks nobody as left (`ImportResult.left_withheld` says how many
it would have), and one that would mark more than half of the active members is
refused (TooManyLeft) unless the caller allows it. Both are decided before anything is
written.

The import streams: members are read from the export and written in batches of
BATCH, new ones with one INSERT per batch, so memory does not grow with the file (a
50 MB export once took 2 GB; see bench/member_import.py).

After the upsert the same call

- creates a FollowUp for every active member who joined within the last `follow_up_days`
  and has none yet (the plan's promise: the measure whose `on_event` cadence has
  `event: member_joined`, its `within_days`; none when the plan makes no such promise);
- stores MemberCount rows for `today`, per branch and "" for members without one.

Forgotten members (`forget_member`) keep their number, branch, dates and status, for
the anonymous counts; an export that still lists them does not bring names, e-mail,
phone or postcode back.

Nothing here prints or logs personal data; results carry member numbers and counts.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, cast

from sqlalchemy import CursorResult, Select, and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..domain.errors import AarshjulError, BadInput, Number, nearest
from ..domain.i18n import Msg
from ..domain.members_csv import Export, MemberRow, RowIssue
from ..domain.postcodes import FORGOTTEN, NO_POSTCODE, NO_TABLE, Assignment, PostcodeTable, assign, not_in_table
from .models import Delivery, FollowUp, Member, MemberCount

BATCH = 500  # members read, looked up and written at a time
PERSONAL = ("first_name", "last_name", "email", "phone", "postcode")
IMPORTED = (*PERSONAL, "joined", "dues_paid", "activist", "branch", "branch_source", "roles")


class MemberNotFound(BadInput):
    """A member number that is not in the database."""

    def __init__(self, number: str, known: Iterable[str] = ()):
        self.number = number
        close = nearest(number, known)
        message = (Msg("unknown member number {number!r}: not in the database; did you mean {names}?",
                       number=number, names=close) if close else
                   Msg("unknown member number {number!r}: not in the database; check the number, or import the "
                       "member list first (aarshjul members import FILE.csv)", number=number))
        super().__init__(message)


class TooManyLeft(BadInput):
    """An export that would mark most members as left is probably the wrong file."""


@dataclass(frozen=True)
class Unassigned:
    """A member without a branch, and why: for the board, by number (no names)."""

    number: str
    postcode: str | None
    reason: str


@dataclass
class ImportResult:
    """What an import did. rows_read == new + updated + unchanged + skipped + duplicates."""

    rows_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    left: int = 0
    skipped: int = 0
    duplicates: int = 0
    warnings: int = 0
    left_withheld: int = 0  # not marked as left because the export has damaged rows
    forgotten_kept: int = 0  # forgotten members still in the export: not brought back
    follow_ups: int = 0  # follow-ups created
    issues: tuple[RowIssue, ...] = ()
    unassigned: list[Unassigned] = field(default_factory=list)
    counts: list[MemberCount] = field(default_factory=list)

    @property
    def without_branch(self) -> int:
        return len(self.unassigned)

    @property
    def members(self) -> int:
        return self.new + self.updated + self.unchanged


# --- import ------------------------------------------------------------------------------


def import_members(session: Session, organisation: str, export: Export, table: PostcodeTable | None,
                   branches: Iterable[str], today: date, now: datetime, *, follow_up_days: int | None,
                   max_left_share: float | None = 0.5, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Upsert the export's members, mark the missing as left, then follow-ups and counts.

    branches: every branch id of the organisation (for the counts, zeros included).
    max_left_share: refuse (TooManyLeft, nothing written) when more than this share of
    the active members, and more than 10, would be marked as left; None: no limit.
    An export with damaged rows (export.damaged) marks nobody as left.
    progress: called with 1 after each member, for a progress bar.
    follow_up_days: the plan's `within_days` for new members (Plan.within_days("member_joined"));
    None: the plan promises no follow-up, and none is created.
    """
    result = ImportResult(rows_read=export.rows_read, skipped=export.skipped, duplicates=export.duplicates,
                          warnings=export.warnings, issues=export.issues)
    numbers = getattr(export.members, "numbers", None)
    if numbers is None:
        numbers = {row.number for row in export.members}
    active = 0
    gone: list[str] = []
    for number in session.scalars(select(Member.number).where(Member.organisation == organisation,
                                                              Member.status == "active")
                                  .execution_options(yield_per=10_000)):
        active += 1
        if number not in numbers and number not in export.skipped_numbers:
            gone.append(number)
    leaving = len(gone)
    if export.damaged:
        result.left_withheld, gone = leaving, []
    elif max_left_share is not None and leaving > max(10, max_left_share * active):
        raise TooManyLeft(
            Msg("the export would mark {leaving} of {active} active members as left; is it the whole member list "
                "(not a selection)? Nothing is saved. If it is right, import with --allow-many-left",
                leaving=Number(leaving), active=Number(active)))
    batch: list[MemberRow] = []
    for row in export.members:
        batch.append(row)
        if len(batch) == BATCH:
            _upsert(session, organisation, batch, table, now, result, progress)
            batch = []
    if batch:
        _upsert(session, organisation, batch, table, now, result, progress)
    for at in range(0, len(gone), BATCH):
        session.execute(update(Member).where(Member.organisation == organisation,
                                             Member.number.in_(gone[at:at + BATCH]))
                        .values(status="left", left_at=today, updated_at=now))
    result.left = len(gone)
    session.flush()
    if follow_up_days is not None:
        result.follow_ups = create_follow_ups(session, organisation, today, follow_up_days)
    result.counts = record_counts(session, organisation, today, branches)
    return result


def _upsert(session: Session, organisation: str, rows: list[MemberRow], table: PostcodeTable | None,
            now: datetime, result: ImportResult, progress: Callable[[int], None] | None) -> None:
    """One batch: look the members up, update the changed, insert the new, flush."""
    existing = {m.number: m for m in session.scalars(select(Member).where(
        Member.organisation == organisation, Member.number.in_([row.number for row in rows])))}
    new: list[dict[str, Any]] = []
    for row in rows:
        member = existing.get(row.number)
        forgotten = False
        if member is not None and member.forgotten_at is not None:
            forgotten = True
            # Keep them forgotten: ignore the export's personal values, including the
            # postcode (so not used for the branch either); keep the stored branch
            # unless the export names one.
            assignment = (Assignment(row.branch, "export") if row.branch else
                          Assignment(member.branch, member.branch_source, None if member.branch else FORGOTTEN))
            result.forgotten_kept += 1
        else:
            assignment = assign(row.branch, row.postcode, table)
        values = _values(row, assignment, forgotten)
        digest = row_hash(row.number, values)
        if member is None:
            new.append(dict(organisation=organisation, number=row.number, status="active", left_at=None,
                            first_seen=now, updated_at=now, row_hash=digest, forgotten_at=None, **values))
            result.new += 1
        elif member.row_hash != digest or member.status != "active":
            for name, value in values.items():
                setattr(member, name, value)
            member.status, member.left_at, member.row_hash, member.updated_at = "active", None, digest, now
            result.updated += 1
        else:
            result.unchanged += 1
        if assignment.branch is None:
            result.unassigned.append(Unassigned(row.number, None if forgotten else row.postcode,
                                                assignment.reason or NO_POSTCODE))
        if progress:
            progress(1)
    if new:
        session.execute(insert(Member), new)
    session.flush()


def _values(row: MemberRow, assignment: Assignment, forgotten: bool) -> dict[str, Any]:
    values = dict(first_name=row.first_name, last_name=row.last_name, email=row.email, phone=row.phone,
                  postcode=row.postcode, joined=row.joined, dues_paid=row.dues_paid, activist=row.activist,
                  branch=assignment.branch, branch_source=assignment.source, roles=row.roles)
    if forgotten:
        values.update({name: None for name in PERSONAL})
    return values


def row_hash(number: str, values: dict[str, Any]) -> str:
    """SHA-256 of the imported values (dates as ISO text): equal values, equal hash."""
    data = [number, *(values[name].isoformat() if isinstance(values[name], date) else values[name]
                      for name in IMPORTED)]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def _member_values(m: Member) -> dict[str, Any]:
    return {name: getattr(m, name) for name in IMPORTED}


# --- branches ------------------------------------------------------------------------------


def unassigned_members(session: Session, organisation: str, table: PostcodeTable | None) -> list[Unassigned]:
    """Active members without a branch, with today's reason (the table may have changed)."""
    rows = session.scalars(select(Member).where(Member.organisation == organisation, Member.status == "active",
                                                Member.branch.is_(None)).order_by(Member.number))
    out = []
    for m in rows:
        if m.forgotten_at is not None:
            reason = FORGOTTEN
        elif not m.postcode:
            reason = NO_POSTCODE
        elif table is None:
            reason = NO_TABLE
        elif (branch := table.lookup(m.postcode)) is None:
            reason = not_in_table(m.postcode)
        else:
            reason = Msg("postcode {postcode} now belongs to {branch}; import the member list again",
                         postcode=m.postcode, branch=branch)
        out.append(Unassigned(m.number, None if m.forgotten_at else m.postcode, reason))
    return out


# --- counts ------------------------------------------------------------------------------


def record_counts(session: Session, organisation: str, today: date, branches: Iterable[str]) -> list[MemberCount]:
    """Store today's counts per branch ("" for none), replacing any from an earlier import today.

    members: active members; activists: active members marked as activists;
    new: members who joined after the previous import date, up to today;
    left: members marked as left after the previous import date, up to today.
    Without a previous import the window starts on 1 January of today's year.
    """
    previous = session.scalar(select(func.max(MemberCount.on_date)).where(
        MemberCount.organisation == organisation, MemberCount.on_date < today))
    since = previous or date(today.year, 1, 1) - timedelta(days=1)
    tally: dict[str, dict[str, int]] = {b: dict(members=0, new=0, left=0, activists=0) for b in ("", *branches)}
    members = select(Member.branch, Member.status, Member.activist, Member.joined, Member.left_at).where(
        Member.organisation == organisation).execution_options(yield_per=10_000)  # columns, streamed
    for branch, status, activist, joined, left_at in session.execute(members):
        t = tally.setdefault(branch or "", dict(members=0, new=0, left=0, activists=0))
        if status == "active":
            t["members"] += 1
            t["activists"] += bool(activist)
        if joined and since < joined <= today:
            t["new"] += 1
        if status == "left" and left_at and since < left_at <= today:
            t["left"] += 1
    session.execute(delete(MemberCount).where(MemberCount.organisation == organisation,
                                              MemberCount.on_date == today))
    rows = [MemberCount(organisation=organisation, on_date=today, branch=b, **t) for b, t in sorted(tally.items())]
    session.add_all(rows)
    session.flush()
    return rows


def member_counts(session: Session, organisation: str) -> list[MemberCount]:
    """Every stored count, oldest first, branch by branch."""
    return list(session.scalars(select(MemberCount).where(MemberCount.organisation == organisation)
                                .order_by(MemberCount.on_date, MemberCount.branch)))


# --- follow-ups (the plan's member_joined promise) ------------------------------------------


def create_follow_ups(session: Session, organisation: str, today: date, within_days: int) -> int:
    """A FollowUp (due = joined + within_days) for every active member who joined in the
    last `within_days` days and has none; open follow-ups move with their member's branch.
    Returns how many were created."""
    # Only the members concerned are loaded (not every active member: an import of
    # half a million members once held them all in memory here).
    moving = select(FollowUp, Member.branch).join(Member, and_(
        Member.organisation == FollowUp.organisation, Member.number == FollowUp.member_number)).where(
        FollowUp.organisation == organisation, FollowUp.contacted_on.is_(None), Member.status == "active",
        func.coalesce(FollowUp.branch, "") != func.coalesce(Member.branch, ""))
    for f, branch in session.execute(moving).all():
        f.branch = branch
    has_one = select(FollowUp.id).where(FollowUp.organisation == organisation,
                                        FollowUp.member_number == Member.number).exists()
    new = session.execute(select(Member.number, Member.branch, Member.joined).where(
        Member.organisation == organisation, Member.status == "active", Member.forgotten_at.is_(None),
        Member.joined >= today - timedelta(days=within_days), Member.joined <= today, ~has_one)).all()
    for number, branch, joined in new:
        assert joined is not None  # the query's `Member.joined >= ...` leaves out members without one
        session.add(FollowUp(organisation=organisation, member_number=number, branch=branch, joined=joined,
                             due=joined + timedelta(days=within_days)))
    session.flush()
    return len(new)


def _open(organisation: str, today: date) -> Select[FollowUp]:
    active = select(Member.number).where(Member.organisation == organisation, Member.status == "active",
                                         Member.forgotten_at.is_(None))  # who asked to be forgotten is not chased
    return select(FollowUp).where(FollowUp.organisation == organisation, FollowUp.contacted_on.is_(None),
                                  FollowUp.joined <= today, FollowUp.member_number.in_(active))


def open_follow_ups(session: Session, organisation: str, today: date) -> dict[str, list[FollowUp]]:
    """Active new members not yet contacted (and not forgotten), by branch ("" for none),
    earliest due first."""
    out: dict[str, list[FollowUp]] = defaultdict(list)
    for f in session.scalars(_open(organisation, today).order_by(FollowUp.due, FollowUp.member_number)):
        out[f.branch or ""].append(f)
    return dict(sorted(out.items()))


def overdue_follow_ups(session: Session, organisation: str, today: date) -> list[FollowUp]:
    """Open follow-ups whose due date has passed and that are not yet escalated."""
    return list(session.scalars(_open(organisation, today).where(FollowUp.due < today,
                                                                 FollowUp.escalated_on.is_(None))
                                .order_by(func.coalesce(FollowUp.branch, ""), FollowUp.due,
                                          FollowUp.member_number)))


def mark_escalated(session: Session, organisation: str, numbers: Iterable[str], today: date) -> int:
    """Record that these overdue follow-ups were escalated (to the board) today; returns how many."""
    numbers = list(numbers)
    if not numbers:
        return 0
    # an UPDATE's result is a CursorResult (with rowcount); Session.execute is typed as any Result
    done = cast("CursorResult[Any]", session.execute(update(FollowUp).where(
        FollowUp.organisation == organisation, FollowUp.member_number.in_(numbers),
        FollowUp.escalated_on.is_(None), FollowUp.contacted_on.is_(None)).values(escalated_on=today)))
    return done.rowcount


def record_contact(session: Session, organisation: str, number: str, on: date, by: str | None = None,
                   note: str | None = None, *, within_days: int | None = None) -> FollowUp:
    """A new member was contacted. A member who joined before the import began tracking
    them gets a follow-up now (due `within_days` after joining: the plan's promise), so
    the contact still counts."""
    member = session.scalar(select(Member).where(Member.organisation == organisation, Member.number == number))
    if member is None:
        known = session.scalars(select(Member.number).where(Member.organisation == organisation))
        raise MemberNotFound(number, known)
    f = session.scalar(select(FollowUp).where(FollowUp.organisation == organisation,
                                              FollowUp.member_number == number))
    if f is None:
        if member.joined is None:
            raise AarshjulError(Msg("member {number} has no date of joining in the database; the contact cannot be "
                                    "tied to a follow-up of new members", number=number))
        if within_days is None:
            raise AarshjulError(Msg("member {number} has no follow-up, and the plan promises no follow-up of new "
                                    "members (a measure with `on_event`, `event: member_joined`)", number=number))
        f = FollowUp(organisation=organisation, member_number=number, branch=member.branch, joined=member.joined,
                     due=member.joined + timedelta(days=within_days))
        session.add(f)
    if on < f.joined:
        raise AarshjulError(Msg("the contact date {on} is before member {number} joined ({joined})",
                                on=on.isoformat(), number=number, joined=f.joined.isoformat()))
    f.contacted_on, f.contacted_by, f.note = on, by, note
    session.flush()
    return f


@dataclass(frozen=True)
class ContactRate:
    """New members in a year and how many were contacted by their follow-up's due date."""

    new: int
    contacted: int

    @property
    def share(self) -> float | None:
        return self.contacted / self.new if self.new else None


@dataclass(frozen=True)
class ContactRates:
    per_branch: dict[str, ContactRate]  # "" for members without a branch
    total: ContactRate


def contact_rate(session: Session, organisation: str, year: int) -> ContactRates:
    """Per branch and in total: members who joined in `year` (whatever their status now),
    and those of them contacted by their follow-up's due date (joined + the plan's
    `within_days` when the follow-up was made). The branch is the follow-up's (the
    branch responsible then), else the member's."""
    follow = {f.member_number: f for f in session.scalars(
        select(FollowUp).where(FollowUp.organisation == organisation))}
    new: dict[str, int] = defaultdict(int)
    contacted: dict[str, int] = defaultdict(int)
    members = session.scalars(select(Member).where(
        Member.organisation == organisation, Member.joined >= date(year, 1, 1), Member.joined <= date(year, 12, 31)))
    for m in members:
        assert m.joined is not None  # the query's date range on `joined` leaves out members without one
        f = follow.get(m.number)
        branch = (f.branch if f is not None else m.branch) or ""
        new[branch] += 1
        if f is not None and f.contacted_on is not None and f.contacted_on <= f.due:
            contacted[branch] += 1
    per = {b: ContactRate(new[b], contacted[b]) for b in sorted(new)}
    return ContactRates(per, ContactRate(sum(new.values()), sum(contacted.values())))


# --- privacy ------------------------------------------------------------------------------


def forget_member(session: Session, organisation: str, number: str, now: datetime) -> tuple[Member, bool]:
    """Blank a member's personal data for good; returns (member, was already forgotten).

    Blanked: first and last name, e-mail, phone, postcode; the follow-up's note; the
    address of their rows in the delivery ledger. Kept, for the anonymous counts:
    number, branch, joined, status, activist, dues, roles. A later import that still
    lists them does not bring the personal data back. Their letters in the outbox are
    found by their ledger rows (ledger.letters) and removed by the caller, once this is
    committed (`aarshjul members forget`).
    """
    member = session.scalar(select(Member).where(Member.organisation == organisation, Member.number == number))
    if member is None:
        known = session.scalars(select(Member.number).where(Member.organisation == organisation))
        raise MemberNotFound(number, known)
    already = member.forgotten_at is not None
    for name in PERSONAL:
        setattr(member, name, None)
    member.forgotten_at = member.forgotten_at or now
    member.row_hash = row_hash(number, _member_values(member))
    member.updated_at = now
    session.execute(update(FollowUp).where(FollowUp.organisation == organisation, FollowUp.member_number == number)
                    .values(note=None))
    session.execute(update(Delivery).where(Delivery.organisation == organisation, Delivery.recipient == number)
                    .values(address=None))
    session.flush()
    return member, already
