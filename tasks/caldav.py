"""CalDAV: each body's calendar on a CalDAV server, kept in step with the agenda.

`CaldavTarget` is a small client over the `caldav` library that makes the conditional
requests itself (RFC 4791 §5.3.2, RFC 7232): create with `If-None-Match: *`, update
and delete with `If-Match: <etag>`. A 412 answer means someone changed the event on
the server since our last push: that is recorded as a conflict for the board, never
overwritten. `push_calendars` plans with domain.sync, writes, and records each
result in the database right after the write.

Server problems become CaldavError naming the server and the setting to check; the
Prefect task retries only those that may pass (not a refused login). A user and
password written into AARSHJUL_CALDAV_URL (https://user:pw@host/dav/) are taken out of
the URL before the client sees it and sent as the login instead, so no URL the client
builds, no href stored in the database and no message carries the password; every
message is also scrubbed of the password as it is and as percent-encoded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import CaldavCalendar, CaldavEvent
from aarshjul.domain.errors import CaldavError
from aarshjul.domain.feeds import Entry, feeds, select as select_entries
from aarshjul.domain.ics import event_calendar
from aarshjul.domain.plan import Plan
from aarshjul.domain.sync import Action, Desired, Pushed, plan_sync, server_changes

if TYPE_CHECKING:
    from caldav.davclient import DAVClient

ICS = {"Content-Type": "text/calendar; charset=utf-8"}
COMPONENTS = ("VEVENT",)  # what a body's calendar is made to hold
NO_SYNC = ""  # the sync token stored for a calendar whose server does not do sync-collection

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CalendarCounts:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    deleted: int = 0
    unchanged: int = 0
    conflicts: int = 0
    new_conflicts: list[str] = field(default_factory=list)
    proposed: list[str] = field(default_factory=list)  # of those, placeholders moved to a date: proposed pins
    components: list[str] = field(default_factory=lambda: list(COMPONENTS))  # what the calendar accepts

    @property
    def wrongly_made(self) -> bool:
        """Made to hold more than events (tasks, journals): apps may show it as a task list."""
        return set(self.components) != set(COMPONENTS)

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deleted


class CaldavTarget:
    """One CalDAV account: find or create calendars, and conditional PUT/DELETE/GET."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: int = 30) -> None:
        from caldav.davclient import DAVClient  # what caldav.DAVClient loads lazily, typed

        url, username, password = split_credentials(url, username, password)
        self.url = url  # without credentials: safe to show and to store
        self._secrets = sorted({p for p in (password, quote(password or "", safe=""), quote(password or ""))
                                if p}, key=len, reverse=True)
        self.client: DAVClient = DAVClient(url=url, username=username, password=password,
                                           auth_type="basic" if username else None, timeout=timeout)
        # A caldav Principal. Any: caldav types its methods as "result or coroutine" (one
        # class for the sync and async clients), though a DAVClient's are always sync.
        self._principal: Any = None

    def scrub(self, text: str) -> str:
        """`text` without the password, in any form it may take in a URL."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _call(self, what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        from caldav.lib import error

        try:
            return fn(*args, **kwargs)
        except error.AuthorizationError as exc:
            reason = self.scrub(str(exc.reason if hasattr(exc, "reason") else exc))
            raise CaldavError(f"CalDAV server {self.url} refused the login ({reason}); "
                              "check AARSHJUL_CALDAV_USERNAME and AARSHJUL_CALDAV_PASSWORD", transient=False) from None
        except error.DAVError as exc:
            raise CaldavError(f"CalDAV server {self.url}: {self.scrub(what)} failed ({self.scrub(str(exc))}); "
                              "check that the server is up and that AARSHJUL_CALDAV_URL points at it") from None
        except Exception as exc:  # connection refused, DNS, TLS, timeouts (niquests)
            raise CaldavError(f"CalDAV server {self.url} is unreachable: {self.scrub(what)} failed "
                              f"({type(exc).__name__}: {self.scrub(str(exc))}); check AARSHJUL_CALDAV_URL") from None

    def _fail(self, what: str, exc: BaseException) -> NoReturn:
        """`exc` as the CaldavError `_call` makes of it."""
        self._call(what, _raise, exc)
        raise AssertionError("unreachable: _call raised")  # pragma: no cover

    def calendar_url(self, cal_id: str, name: str) -> tuple[str, list[str]]:
        """The URL of calendar `cal_id` and the components it accepts. A missing one is
        created for events only (supported-calendar-component-set VEVENT, RFC 4791
        §5.2.3), so that no app shows it as a task list; an existing one is used as it
        is, and what it accepts is read (one PROPFIND) to report one created otherwise."""
        if self._principal is None:
            self._principal = self._call("finding the principal", self.client.principal)
        for cal in self._call("listing calendars", self._principal.calendars):
            if str(cal.url).rstrip("/").endswith("/" + cal_id):
                found = self._call(f"reading what calendar {cal_id} accepts", cal.get_supported_components)
                return str(cal.url), sorted(str(c).upper() for c in found)
        cal = self._call(f"creating calendar {cal_id}", self._principal.make_calendar, name=name, cal_id=cal_id,
                         supported_calendar_component_set=list(COMPONENTS))
        return str(cal.url), list(COMPONENTS)

    def put(self, href: str, body: bytes, etag: str | None) -> tuple[int, str | None]:
        headers = {**ICS, **({"If-Match": etag} if etag else {"If-None-Match": "*"})}
        response = self._call(f"PUT {href}", self.client.put, href, body.decode("utf-8"), headers)
        return response.status, response.headers.get("ETag")

    def delete(self, href: str, etag: str | None) -> int:
        response = self._call(f"DELETE {href}", self.client.delete, href, {"If-Match": etag} if etag else {})
        return response.status

    def etag(self, href: str) -> str | None:
        """The server's current ETag, or None when the event is not there."""
        response = self._call(f"GET {href}", self.client.request, href, "GET")
        return response.headers.get("ETag") if response.status < 300 else None

    def get(self, href: str) -> tuple[str | None, str | None]:
        """(the server's ETag, its iCalendar text) of an event, or (None, None) when it is gone."""
        response = self._call(f"GET {href}", self.client.request, href, "GET")
        if response.status >= 300:
            return None, None
        raw = response.raw if isinstance(response.raw, bytes) else str(response.raw).encode()
        return response.headers.get("ETag"), raw.decode("utf-8", "replace")

    def observe(self, url: str, token: str | None) -> Observed:
        """What changed in the calendar at `url` since sync token `token`, in one request:
        a sync-collection REPORT (RFC 6578 §3.2) where the server supports it (without a
        token, or with one it no longer knows, it lists every event), else one Depth-1
        PROPFIND of the ETags (RFC 4918 §9.1), which lists every event. A server found
        without sync-collection is remembered as such (token NO_SYNC): PROPFIND at once."""
        from caldav.elements import dav
        from caldav.collection import Calendar
        from caldav.lib import error

        # Any: caldav types its methods as "result or coroutine" (one class for the sync and
        # async clients), though a DAVClient's are always sync
        cal: Any = Calendar(client=self.client, url=url)
        for attempt in () if token == NO_SYNC else (token, None) if token else (None,):
            try:
                found = cal.get_objects_by_sync_token(sync_token=attempt, load_objects=False,
                                                      disable_fallback=True)
            except error.AuthorizationError as exc:
                preconditions = getattr(exc, "preconditions", ())
                if dav.ValidSyncToken.tag in preconditions:  # token expired: list all
                    continue
                if dav.SupportedReport.tag in preconditions:  # no sync-collection here
                    break
                self._fail(f"REPORT {url}", exc)
            except error.NotFoundError:
                raise CalendarGone(url) from None
            except error.DAVError as exc:
                status = getattr(exc, "status", None)
                if status is not None and (500 <= status != 501):  # the server failing: try again later
                    self._fail(f"REPORT {url}", exc)
                break  # no sync-collection (400, 403, 405, 501, …): the PROPFIND below
            except Exception as exc:
                self._fail(f"REPORT {url}", exc)
            else:
                deleted = {_path(str(u)) for u in found.deleted_urls}
                etags = {_path(str(o.url)): o.props.get(dav.GetEtag.tag) for o in found.objects
                         if _path(str(o.url)) not in deleted}
                return Observed(str(found.sync_token) if found.sync_token else None, etags, deleted,
                                complete=attempt is None and not found.truncated)
        try:
            response = cal._query_properties([dav.GetEtag()], 1)
        except error.NotFoundError:
            raise CalendarGone(url) from None
        except Exception as exc:
            self._fail(f"PROPFIND {url}", exc)
        props = response.expand_simple_props([dav.GetEtag()])
        base = _path(url).rstrip("/")
        etags = {_path(str(cal.url.join(href))): p.get(dav.GetEtag.tag) for href, p in props.items()
                 if _path(str(cal.url.join(href))).rstrip("/") != base}
        return Observed(NO_SYNC, etags, set(), complete=True)


@dataclass(frozen=True)
class Observed:
    """A calendar as one request saw it: the new sync token, the ETag of each event
    listed (path -> ETag), the paths reported deleted, and whether the listing is
    complete (every event of the calendar, so one missing from it is gone)."""

    token: str | None
    etags: dict[str, str | None]
    deleted: set[str]
    complete: bool


class CalendarGone(Exception):
    """The calendar at this URL is not on the server any more (someone deleted it)."""


def _raise(exc: BaseException) -> None:
    raise exc


def _path(url: str) -> str:
    """An href or URL as the path it names, unquoted, to compare one with the other."""
    return unquote(urlsplit(url).path)


def split_credentials(url: str, username: str | None, password: str | None
                      ) -> tuple[str, str | None, str | None]:
    """(the URL without user and password, the user, the password): those in the URL are
    used where the settings give none."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, username, password
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, secret = userinfo.partition(":")
    return (urlunsplit(parts._replace(netloc=host)), username or unquote(user) or None,
            password or (unquote(secret) if secret else None))


def desired_events(plan: Plan, entries: list[Entry] | dict[str, list[Entry]], body: str, now: datetime,
                   site_url: str | None = None) -> dict[str, Desired]:
    """The events of a body's calendar, each as its own VCALENDAR with a content hash:
    the body feed's entries (db.calendars.feed_entries; a retired feed's while it has
    any), or those selected from a list."""
    if isinstance(entries, dict):
        chosen = entries.get(body, [])
    else:
        chosen = select_entries(next(f for f in feeds(plan) if f.id == body), entries, now)
    out: dict[str, Desired] = {}
    for entry in chosen:
        ics = event_calendar(plan, entry, site_url).to_ical()
        out[entry.occurrence.uid] = Desired(entry.occurrence.uid, entry.occurrence.key, ics,
                                            hashlib.sha256(ics).hexdigest()[:32], entry.cancelled,
                                            entry.occurrence.start is None and not entry.cancelled)
    return out


def calendar_id(plan: Plan, body: str) -> str:
    return f"{plan.organisation.id}-{body}"


def push_calendars(session: Session, target: CaldavTarget, plan: Plan,
                   entries: list[Entry] | dict[str, list[Entry]], now: datetime,
                   site_url: str | None = None) -> dict[str, CalendarCounts]:
    """Bring every body's CalDAV calendar in step; commit after each write.

    First each calendar we pushed to before is looked at in one request (`observe`):
    an event a person edited or deleted there since our last push is recorded as a
    conflict at once (its server copy kept for `aarshjul calendars conflicts`) and left
    alone; then only what the plan changed is written. A publish with nothing changed
    makes one REPORT (or PROPFIND) per calendar and no write.

    The calendar of a body taken out of organisation.yaml (with `entries` per feed, as
    feed_entries gives them) gets its events as CANCELLED for the grace period, like
    any feed of it, and then they are deleted; the calendar itself is left on the server
    (and left alone once nothing of ours is in it)."""
    results: dict[str, CalendarCounts] = {}
    org = plan.organisation.id
    known = {c.calendar: c for c in session.scalars(select(CaldavCalendar).where(
        CaldavCalendar.organisation == org))}
    rows_of: dict[str, dict[str, CaldavEvent]] = {}
    for r in session.scalars(select(CaldavEvent).where(CaldavEvent.organisation == org)):
        rows_of.setdefault(r.calendar, {})[r.uid] = r
    for body, info in plan.bodies.items():
        desired = desired_events(plan, entries, body, now, site_url)
        results[body] = _push_calendar(session, target, plan, body, info.calendar or info.name, desired,
                                       rows_of.get(body, {}), known.get(body), now)
    if isinstance(entries, dict):  # retired calendars: only with the feeds' memory to say what they showed
        for body in sorted(set(rows_of) - set(plan.bodies)):
            rows = rows_of[body]
            desired = desired_events(plan, entries, body, now, site_url)
            if not desired and all(r.gone for r in rows.values()):
                continue  # its grace period is over and nothing of ours is left there
            results[body] = _push_calendar(session, target, plan, body, f"{plan.organisation.name} – {body}",
                                           desired, rows, known.get(body), now, retired=True)
    return results


def _push_calendar(session: Session, target: CaldavTarget, plan: Plan, body: str, name: str,
                   desired: dict[str, Desired], rows: dict[str, CaldavEvent], cal: CaldavCalendar | None,
                   now: datetime, retired: bool = False) -> CalendarCounts:
    """One body's calendar in step (see push_calendars). A retired body's calendar deleted
    on the server is not made again: its events are taken as gone."""
    org = plan.organisation.id
    counts = CalendarCounts()
    if rows:
        if cal is None:
            cal = _found(session, target, plan, body, name)
        try:
            _learn(target, cal, rows, now, counts)
        except CalendarGone:  # deleted on the server: made again, and every event in it reported deleted
            session.delete(cal)
            session.flush()
            if retired:  # nobody wants the cancellations of a body gone from the plan there any more
                for row in rows.values():
                    row.gone = True
                session.commit()
                return counts
            cal = _found(session, target, plan, body, name)
            _learn(target, cal, rows, now, counts)
        session.commit()
        counts.proposed = [uid for uid in counts.new_conflicts if _proposes(plan, desired.get(uid), rows[uid])]
    if cal is not None and cal.components:
        counts.components = cal.components.split(",")
    pushed = {uid: Pushed(uid, r.href, r.etag, r.content_hash, r.conflict_at is not None, r.gone)
              for uid, r in rows.items()}
    sync = plan_sync(desired, pushed)
    counts.unchanged, counts.conflicts = sync.unchanged, len(sync.conflicts)
    if not sync.actions:
        return counts  # nothing to write
    if cal is None:
        cal = _found(session, target, plan, body, name)
        counts.components = cal.components.split(",") if cal.components else list(COMPONENTS)
    base = cal.url
    for action in sync.actions:
        _apply(session, target, base, org, body, action, rows.get(action.uid), counts, now)
        session.commit()
    return counts


def _proposes(plan: Plan, want: Desired | None, row: CaldavEvent) -> bool:
    """A placeholder a person moved to a date or time: a proposed pin."""
    if want is None or not want.placeholder or not row.server_ics or row.conflict_etag is None:
        return False
    return any(c.field in ("date", "time") for c in server_changes(row.pushed_ics, row.server_ics, plan.tz))


def _found(session: Session, target: CaldavTarget, plan: Plan, body: str, name: str) -> CaldavCalendar:
    """The body's calendar found (or made) on the server, and remembered with what it accepts."""
    url, components = target.calendar_url(calendar_id(plan, body), name)
    cal = CaldavCalendar(organisation=plan.organisation.id, calendar=body, url=url, components=",".join(components))
    session.add(cal)
    return cal


def _learn(target: CaldavTarget, cal: CaldavCalendar, rows: dict[str, CaldavEvent], now: datetime,
           counts: CalendarCounts) -> None:
    """Record what people did to our events on the server since the last look: an edit
    (another ETag than the one our write got) or a delete is a conflict, with the server's
    copy (None: deleted) kept to compare field by field. Our own writes since then carry
    the ETags we recorded and are not changes."""
    seen = target.observe(cal.url, cal.sync_token)
    for row in rows.values():
        if row.gone:
            continue
        path = _path(row.href)
        if path in seen.deleted or (seen.complete and path not in seen.etags):
            if row.conflict_at is None and "STATUS:CANCELLED" in (row.pushed_ics or ""):
                row.gone = True  # a cancelled event deleted by hand: what the grace period would do
                continue
            if row.conflict_at is None or row.conflict_etag is not None or row.server_ics is not None:
                _conflict(row, None, now, counts)
                row.server_ics = None
            continue
        if path not in seen.etags:
            continue  # not changed since the token
        etag = seen.etags[path]
        if row.conflict_at is None and (etag is None or etag == row.etag):
            continue  # our own write, or unchanged
        if row.conflict_at is None and row.etag is None:
            row.etag = etag  # a write whose answer carried no ETag: this is ours
            continue
        if row.conflict_at is not None and etag == row.conflict_etag:
            continue  # the conflict we know
        server_etag, text = target.get(row.href)
        if text is None:
            _conflict(row, None, now, counts)
            row.server_ics = None
            continue
        if row.conflict_at is None:
            _conflict(row, server_etag or etag, now, counts)
        else:
            row.conflict_etag = server_etag or etag
        row.server_ics = text
    cal.sync_token = seen.token


def _apply(session: Session, target: CaldavTarget, base: str, org: str, body: str, action: Action,
           row: CaldavEvent | None, counts: CalendarCounts, now: datetime) -> None:
    if action.kind == "delete":
        # plan_sync deletes only what was pushed, i.e. what has a row
        assert row is not None, f"delete of {action.uid} without a stored row"
        status = target.delete(row.href, row.etag)
        if status == 412:
            _server_conflict(target, row, now, counts)
        else:  # 2xx, or 404: already gone
            row.gone = True
            counts.deleted += 1
        return
    want = action.desired
    # plan_sync creates and updates only what is desired
    assert want is not None, f"{action.kind} of {action.uid} without a desired event"
    href = row.href if row else urljoin(base if base.endswith("/") else base + "/", f"{want.uid}.ics")
    etag = row.etag if row and not row.gone else None
    status, new_etag = target.put(href, want.ics, etag)
    if status == 412 and etag is None:
        # Already there though we have no record of it (a run that died before it could
        # record its write): adopt it, and update it in place with its current ETag.
        current = target.etag(href)
        status, new_etag = target.put(href, want.ics, current) if current else (status, None)
    if status == 412:
        if row is None:
            row = _new_row(session, org, body, want, href, now)
        _server_conflict(target, row, now, counts)
        return
    if status >= 300:
        raise CaldavError(f"CalDAV server {target.url}: PUT {target.scrub(href)} answered {status}",
                          transient=status >= 500)
    if row is None:
        row = _new_row(session, org, body, want, href, now)
    created = action.kind == "create"
    row.href, row.etag, row.content_hash, row.pushed_at, row.gone = href, new_etag, want.hash, now, False
    row.pushed_ics = want.ics.decode("utf-8")
    row.key = want.key
    if created:
        counts.created += 1
    else:
        counts.updated += 1
    if want.cancelled:
        counts.cancelled += 1


def _new_row(session: Session, org: str, body: str, want: Desired, href: str, now: datetime) -> CaldavEvent:
    row = CaldavEvent(organisation=org, calendar=body, uid=want.uid, key=want.key, href=href, etag=None,
                      content_hash="", pushed_at=now, gone=False)
    session.add(row)
    return row


def _server_conflict(target: CaldavTarget, row: CaldavEvent, now: datetime, counts: CalendarCounts) -> None:
    """A write refused with 412: someone changed the event; keep their copy to compare."""
    etag, text = target.get(row.href)
    _conflict(row, etag, now, counts)
    row.server_ics = text


def _conflict(row: CaldavEvent, server_etag: str | None, now: datetime, counts: CalendarCounts) -> None:
    row.conflict_at, row.conflict_etag = now, server_etag
    counts.conflicts += 1
    counts.new_conflicts.append(row.uid)
