"""What the calendars need from the database: published entries, what each feed showed, feed tokens,
and who was invited to what (the iMIP cancellations go to them, with what they were sent)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone, tzinfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..domain.expand import Occurrence
from ..domain.feeds import Entry, Feed, Shown, feeds, publishable, retired_feed
from ..domain.plan import Plan
from .models import Completion, Delivery, FeedItem, FeedToken, OccurrenceRow

TOKEN_BYTES = 24  # 192 bits, URL-safe: far beyond guessing
IMIP = "imip/"  # feed_items under "imip/<body>": the version of each event a body's people were last invited to
ORGANIZER = "organizer"  # in an imip/ row's data: [address, name] the invitation came from
RECEIVED = ("sent", "unknown")  # ledger states of an invitation that reached (or may have reached) its recipient


def entries(session: Session, organisation: str, tz: tzinfo) -> list[Entry]:
    """Every stored occurrence, removed ones included, as a calendar entry (times in `tz`),
    with the reason given to `aarshjul cancel --reason` for a cancelled one."""
    reasons = {key: note for key, note in session.execute(select(Completion.occurrence_key, Completion.note).where(
        Completion.organisation == organisation, Completion.outcome == "cancelled",
        Completion.occurrence_key.is_not(None), Completion.revoked_at.is_(None)))}
    rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.organisation == organisation))
    return [Entry(Occurrence.from_dict(r.data, tz), r.revision, _aware(r.first_seen), _aware(r.changed_at),
                  r.status == "removed", reasons.get(r.key) if r.status == "cancelled" else None) for r in rows]


def feed_entries(session: Session, plan: Plan, now: datetime, remember: bool = True) -> dict[str, list[Entry]]:
    """Each feed's entries as of `now` (domain.feeds.publishable): what it wants, and what
    it showed before and no longer wants, as cancelled. With `remember`, what each feed
    shows is stored for the next publish (the feed files and the CalDAV push both call this).

    A feed that showed something and is not among the plan's feeds any more (its body
    taken out of organisation.yaml) is retired: its entries are all it showed, cancelled,
    until the grace period ends; then it is left out (no key in the result)."""
    org = plan.organisation.id
    stored = entries(session, org, plan.tz)
    items: dict[str, dict[str, FeedItem]] = {}
    for row in session.scalars(select(FeedItem).where(FeedItem.organisation == org)):
        items.setdefault(row.feed, {})[row.uid] = row
    out: dict[str, list[Entry]] = {}
    current = feeds(plan)
    named = {f.id for f in current}
    retired = [retired_feed(plan, fid) for fid in sorted(items) if fid not in named and not fid.startswith(IMIP)]
    for feed in (*current, *retired):
        rows = items.get(feed.id, {})
        shown = {uid: Shown(Occurrence.from_dict(r.data, plan.tz), r.sequence,
                            _aware(r.left_at) if r.left_at else None) for uid, r in rows.items()}
        chosen, memory = publishable(feed, stored, now, shown)
        if not feed.retired or chosen:
            out[feed.id] = chosen
        if remember:
            _remember(session, org, feed, rows, memory)
    session.flush()
    return out


def _remember(session: Session, org: str, feed: Feed, rows: dict[str, FeedItem], memory: dict[str, Shown]) -> None:
    """Store what `feed` shows from now on (its rows before: `rows`)."""
    for uid, old in rows.items():
        if uid not in memory:
            session.delete(old)
    for uid, was in memory.items():
        values = was.to_row()
        item = rows.get(uid)
        if item is None:
            session.add(FeedItem(organisation=org, feed=feed.id, uid=uid, **values))
        elif (item.key, item.data, item.sequence, _aware(item.left_at) if item.left_at else None) != \
                (values["key"], values["data"], values["sequence"], values["left_at"]):
            for name, value in values.items():
                setattr(item, name, value)


def retired_ids(plan: Plan, entries: dict[str, list[Entry]]) -> list[str]:
    """The feeds in `entries` (feed_entries) that are not the plan's own: retired ones."""
    named = {f.id for f in feeds(plan)}
    return [fid for fid in entries if fid not in named]


def remember_invited(session: Session, organisation: str, body: str, entry: Entry,
                     organizer: tuple[str, str] | None = None) -> None:
    """An invitation (iMIP REQUEST) to `entry` went to `body`'s people from `organizer`
    (address, name): what they now have in their calendars, for the CANCEL that may follow
    (`invited_versions`), and from whom, should the body leave the plan (`invited_organizers`)."""
    feed = IMIP + body
    row = session.scalar(select(FeedItem).where(FeedItem.organisation == organisation, FeedItem.feed == feed,
                                                FeedItem.uid == entry.occurrence.uid))
    values = Shown(entry.occurrence, entry.sequence).to_row()
    if organizer:
        values["data"] = {**values["data"], ORGANIZER: list(organizer)}
    if row is None:
        session.add(FeedItem(organisation=organisation, feed=feed, uid=entry.occurrence.uid, **values))
    elif row.sequence <= entry.sequence:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


def invited_versions(session: Session, organisation: str, tz: tzinfo) -> dict[tuple[str, str], Occurrence]:
    """(uid, body) -> the occurrence as the body's people were last invited to it."""
    rows = session.scalars(select(FeedItem).where(FeedItem.organisation == organisation,
                                                  FeedItem.feed.like(IMIP + "%")))
    return {(r.uid, r.feed[len(IMIP):]): Occurrence.from_dict({k: v for k, v in r.data.items() if k != ORGANIZER}, tz)
            for r in rows}


def invited_organizers(session: Session, organisation: str) -> dict[str, tuple[str, str]]:
    """body -> the organizer (address, name) of the last invitation its people got."""
    rows = session.scalars(select(FeedItem).where(FeedItem.organisation == organisation,
                                                  FeedItem.feed.like(IMIP + "%")).order_by(FeedItem.id))
    return {r.feed[len(IMIP):]: (r.data[ORGANIZER][0], r.data[ORGANIZER][1]) for r in rows if ORGANIZER in r.data}


def invitees(session: Session, organisation: str, uid: str, body: str) -> list[tuple[str, str | None]]:
    """Everyone an invitation from `body` to event `uid` reached (any revision) and no
    CANCEL has reached since, as the delivery ledger has it: (member number, the address
    the invitation went to), those who have left the role since included, those who hold
    it now but were never invited not. A forgotten member's address is blank, so nothing
    goes to them."""
    latest = select(Delivery.recipient, func.max(Delivery.id).label("id")).where(
        Delivery.organisation == organisation, Delivery.campaign.like(f"invite/{uid}/{body}/%"),
        Delivery.state.in_(RECEIVED)).group_by(Delivery.recipient).subquery()
    rows = session.execute(select(Delivery.recipient, Delivery.address).join(latest, Delivery.id == latest.c.id)
                           .where(Delivery.campaign.not_like("%/cancel")).order_by(Delivery.recipient))
    return [(recipient, address) for recipient, address in rows]


def feed_tokens(session: Session, organisation: str, feeds: list[str], now: datetime,
                create: bool = True) -> dict[str, str]:
    """The token of each feed, created on first use and stable after that (without
    `create`, only the feeds that have one: a retired feed keeps its URL, never gets one)."""
    known = {t.feed: t.token for t in session.scalars(
        select(FeedToken).where(FeedToken.organisation == organisation))}
    if not create:
        return {f: known[f] for f in feeds if f in known}
    for feed in feeds:
        if feed not in known:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            session.add(FeedToken(organisation=organisation, feed=feed, token=token, created_at=now))
            known[feed] = token
    session.flush()
    return {f: known[f] for f in feeds}


def rotate_token(session: Session, organisation: str, feed: str, now: datetime) -> str:
    """Replace a feed's token: the old URL stops working at the next publish."""
    session.execute(delete(FeedToken).where(FeedToken.organisation == organisation, FeedToken.feed == feed))
    session.flush()
    return feed_tokens(session, organisation, [feed], now)[feed]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
