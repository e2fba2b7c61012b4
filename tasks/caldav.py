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
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import CaldavEvent
from aarshjul.domain.errors import CaldavError
from aarshjul.domain.feeds import Entry, feeds, select as select_entries
from aarshjul.domain.ics import event_calendar
from aarshjul.domain.plan import Plan
from aarshjul.domain.sync import Action, Desired, Pushed, plan_sync

if TYPE_CHECKING:
    from caldav.davclient import DAVClient

ICS = {"Content-Type": "text/calendar; charset=utf-8"}

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

    def calendar_url(self, cal_id: str, name: str) -> str:
        """The URL of calendar `cal_id`, created (with display name `name`) if missing."""
        if self._principal is None:
            self._principal = self._call("finding the principal", self.client.principal)
        for cal in self._call("listing calendars", self._principal.calendars):
            if str(cal.url).rstrip("/").endswith("/" + cal_id):
                return str(cal.url)
        cal = self._call(f"creating calendar {cal_id}", self._principal.make_calendar, name=name, cal_id=cal_id)
        return str(cal.url)

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
    the body feed's entries (db.calendars.feed_entries), or those selected from a list."""
    if isinstance(entries, dict):
        chosen = entries[body]
    else:
        chosen = select_entries(next(f for f in feeds(plan) if f.id == body), entries, now)
    out: dict[str, Desired] = {}
    for entry in chosen:
        ics = event_calendar(plan, entry, site_url).to_ical()
        out[entry.occurrence.uid] = Desired(entry.occurrence.uid, entry.occurrence.key, ics,
                                            hashlib.sha256(ics).hexdigest()[:32], entry.cancelled)
    return out


def calendar_id(plan: Plan, body: str) -> str:
    return f"{plan.organisation.id}-{body}"


def push_calendars(session: Session, target: CaldavTarget, plan: Plan,
                   entries: list[Entry] | dict[str, list[Entry]], now: datetime,
                   site_url: str | None = None) -> dict[str, CalendarCounts]:
    """Bring every body's CalDAV calendar in step; commit after each write."""
    results: dict[str, CalendarCounts] = {}
    org = plan.organisation.id
    for body, info in plan.bodies.items():
        desired = desired_events(plan, entries, body, now, site_url)
        rows = {r.uid: r for r in session.scalars(select(CaldavEvent).where(
            CaldavEvent.organisation == org, CaldavEvent.calendar == body))}
        pushed = {uid: Pushed(uid, r.href, r.etag, r.content_hash, r.conflict_at is not None, r.gone)
                  for uid, r in rows.items()}
        sync = plan_sync(desired, pushed)
        counts = CalendarCounts(unchanged=sync.unchanged, conflicts=len(sync.conflicts))
        results[body] = counts
        if not sync.actions:
            continue  # nothing to write: no request at all
        base = target.calendar_url(calendar_id(plan, body), info.calendar or info.name)
        for action in sync.actions:
            _apply(session, target, base, org, body, action, rows.get(action.uid), counts, now)
            session.commit()
    return results


def _apply(session: Session, target: CaldavTarget, base: str, org: str, body: str, action: Action,
           row: CaldavEvent | None, counts: CalendarCounts, now: datetime) -> None:
    if action.kind == "delete":
        # plan_sync deletes only what was pushed, i.e. what has a row
        assert row is not None, f"delete of {action.uid} without a stored row"
        status = target.delete(row.href, row.etag)
        if status == 412:
            _conflict(row, target.etag(row.href), now, counts)
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
        _conflict(row, target.etag(href), now, counts)
        return
    if status >= 300:
        raise CaldavError(f"CalDAV server {target.url}: PUT {target.scrub(href)} answered {status}",
                          transient=status >= 500)
    if row is None:
        row = _new_row(session, org, body, want, href, now)
    created = action.kind == "create"
    row.href, row.etag, row.content_hash, row.pushed_at, row.gone = href, new_etag, want.hash, now, False
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


def _conflict(row: CaldavEvent, server_etag: str | None, now: datetime, counts: CalendarCounts) -> None:
    row.conflict_at, row.conflict_etag = now, server_etag
    counts.conflicts += 1
    counts.new_conflicts.append(row.uid)
