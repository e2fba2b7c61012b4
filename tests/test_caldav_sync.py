"""CalDAV sync against real servers (Radicale with strict preconditions, and Xandikos)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import icalendar
import pytest

from aarshjul.db.agenda import store_agenda
from aarshjul.db.calendars import feed_entries
from aarshjul.db.migrate import upgrade
from aarshjul.db.session import make_engine, session_scope
from aarshjul.domain.expand import expand
from aarshjul.db.caldav import conflicts, resolve
from aarshjul.tasks.caldav import CaldavError, CaldavTarget, push_calendars

T0 = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
PIN = 'occurrences:\n  "1.2/2025/1":\n    date: "{day}"\n    start: "18:00"\n    end: "20:00"\n{extra}'


class Sync:
    """Plan files + database + a CalDAV server behind a counting proxy."""

    def __init__(self, files, tmp_path, server, proxy):
        self.files, self.server, self.proxy = files, server, proxy
        self.url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.files.write("schedule.yaml", PIN.format(day="2025-03-30", extra=""))

    def target(self) -> CaldavTarget:
        return CaldavTarget(self.proxy.url, self.server.username, self.server.password, timeout=5)

    def run(self, now=T0):
        plan = self.files.load()
        self.plan = plan
        with session_scope(self.engine) as session:
            store_agenda(session, plan.organisation.id, expand(plan), now)
            stored = feed_entries(session, plan, now)
        self.proxy.reset()
        with session_scope(self.engine) as session:
            return push_calendars(session, self.target(), plan, stored, now)

    def server_calendar(self, body: str):
        """(client, calendar) straight at the server, as a person's calendar app sees it."""
        import caldav

        client = caldav.DAVClient(url=self.server.url, username=self.server.username,
                                  password=self.server.password)
        cal = next(c for c in client.principal().calendars() if str(c.url).rstrip("/").endswith(f"test-org-{body}"))
        return client, cal

    def server_events(self, body: str) -> dict[str, icalendar.Event]:
        _, cal = self.server_calendar(body)
        out = {}
        for obj in cal.events():
            obj.load()
            for ev in icalendar.Calendar.from_ical(obj.data).walk("VEVENT"):
                assert str(ev["UID"]) not in out, "duplicate UID on the server"
                out[str(ev["UID"])] = ev
        return out

    def uid(self, key: str) -> str:
        return next(o.uid for o in expand(self.files.load()) if o.key == key)


@pytest.fixture
def sync(files, tmp_path, caldav_server, counting_proxy):
    s = Sync(files, tmp_path, caldav_server, counting_proxy(caldav_server))
    yield s
    s.engine.dispose()


def total(counts, field):
    return sum(getattr(c, field) for c in counts.values())


def test_first_sync_then_a_no_op_sync_writes_nothing(sync):
    first = sync.run()
    created = total(first, "created")
    assert created > 30 and sync.proxy.count("PUT") == created
    assert sync.proxy.count("MKCALENDAR") == 4  # styret, bystyregruppen, nord, sor
    on_server = sync.server_events("styret")
    assert len(on_server) == first["styret"].created
    meeting = on_server[sync.uid("1.2/2025/1")]
    assert meeting["DTSTART"].dt == datetime(2025, 3, 30, 18, 0, tzinfo=sync.plan.tz)
    assert meeting["DTSTART"].params["TZID"] == "Europe/Oslo"

    again = sync.run(T0 + timedelta(hours=1))
    # one sync-collection REPORT per calendar (RFC 6578), no write, no GET
    assert sorted(r.method for r in sync.proxy.requests) == ["REPORT"] * 4
    assert all(r.status == 207 for r in sync.proxy.requests)
    assert total(again, "unchanged") == created and total(again, "created") == 0


def test_a_moved_date_is_one_put_with_a_higher_sequence(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    sync.files.write("schedule.yaml", PIN.format(day="2025-04-02", extra=""))
    counts = sync.run(T0 + timedelta(days=1))
    assert sync.proxy.count("PUT") == 1 and total(counts, "updated") == 1
    put = next(r for r in sync.proxy.requests if r.method == "PUT")
    assert put.headers.get("If-Match") and not put.headers.get("If-None-Match")
    ev = sync.server_events("styret")[uid]
    assert ev["SEQUENCE"] == 1 and ev["DTSTART"].dt.date() == date(2025, 4, 2)


def test_a_cancellation_is_published_as_cancelled(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    sync.files.write("schedule.yaml", PIN.format(day="2025-03-30", extra="    status: cancelled\n"))
    counts = sync.run(T0 + timedelta(days=1))
    assert sync.proxy.count("PUT") == 1 and total(counts, "cancelled") == 1
    assert str(sync.server_events("styret")[uid]["STATUS"]) == "CANCELLED"
    # kept until the grace period (60 days) after its date (2025-03-30) ends, then deleted from the server
    assert total(sync.run(datetime(2025, 5, 29, 12, tzinfo=timezone.utc)), "deleted") == 0
    later = sync.run(datetime(2025, 5, 30, 12, tzinfo=timezone.utc))
    assert total(later, "deleted") == 1 and sync.proxy.count("DELETE") == 1
    assert uid not in sync.server_events("styret")


def test_a_persons_edit_on_the_server_is_a_conflict_not_an_overwrite(sync):
    sync.run()
    uid = sync.uid("1.2/2025/1")
    client, cal = sync.server_calendar("styret")
    obj = cal.event_by_uid(uid)
    obj.load()
    edited = obj.data.replace("LOCATION:", "X-NOTE:") if "LOCATION:" in obj.data else obj.data.replace(
        "SUMMARY:", "LOCATION:Styrerommet\r\nSUMMARY:", 1)
    response = client.put(str(obj.url), edited, {"Content-Type": "text/calendar; charset=utf-8", "If-Match": obj.etag})
    assert response.status in (200, 201, 204)

    sync.files.write("schedule.yaml", PIN.format(day="2025-04-02", extra=""))
    counts = sync.run(T0 + timedelta(days=1))
    assert total(counts, "conflicts") == 1 and total(counts, "updated") == 0
    assert "Styrerommet" in str(sync.server_events("styret")[uid].get("LOCATION", ""))  # kept
    with session_scope(sync.engine) as session:
        listed = conflicts(session, "test-org")
        assert [(r.calendar, r.key) for r in listed] == [("styret", "1.2/2025/1")]

    counts = sync.run(T0 + timedelta(days=2))  # still left alone, and still reported
    assert sync.proxy.count("PUT") == 0 and total(counts, "conflicts") == 1

    with session_scope(sync.engine) as session:
        resolve(session, "test-org", uid, "ours")
    counts = sync.run(T0 + timedelta(days=3))
    assert total(counts, "updated") == 1 and total(counts, "conflicts") == 0
    ev = sync.server_events("styret")[uid]
    assert ev["DTSTART"].dt.date() == date(2025, 4, 2) and "LOCATION" not in ev


def test_server_down_then_back_catches_up_without_duplicates(sync):
    sync.run()
    sync.files.write("schedule.yaml", PIN.format(day="2025-04-02", extra="    place: Folkets hus\n"))
    sync.server.stop()
    with pytest.raises(CaldavError) as caught:
        sync.run(T0 + timedelta(days=1))
    assert caught.value.transient and sync.proxy.url.split("//")[1] in str(caught.value)
    assert "AARSHJUL_CALDAV_URL" in str(caught.value)
    sync.server.start()
    counts = sync.run(T0 + timedelta(days=2))
    assert total(counts, "updated") == 1 and total(counts, "created") == 0
    events = sync.server_events("styret")  # asserts no duplicate UIDs
    assert str(events[sync.uid("1.2/2025/1")]["LOCATION"]) == "Folkets hus"


def test_a_lost_record_is_adopted_not_duplicated(sync):
    """A run that wrote to the server but died before recording it: the next run adopts."""
    sync.run()
    with session_scope(sync.engine) as session:
        from sqlalchemy import delete

        from aarshjul.db.models import CaldavEvent

        session.execute(delete(CaldavEvent).where(CaldavEvent.key == "1.2/2025/1"))
    counts = sync.run(T0 + timedelta(hours=1))
    assert total(counts, "created") == 1 and total(counts, "conflicts") == 0
    # adopted: the create is refused (412, it is there), then one update If-Match the server's current ETag
    puts = [(r.status, r.headers.get("If-None-Match"), bool(r.headers.get("If-Match")))
            for r in sync.proxy.requests if r.method == "PUT"]
    assert puts == [(412, "*", False), (204, None, True)] and sync.proxy.count("GET") == 1
    assert len([u for u in sync.server_events("styret") if u == sync.uid("1.2/2025/1")]) == 1


def test_a_wrong_password_is_not_retried(files, tmp_path, radicale, counting_proxy):
    s = Sync(files, tmp_path, radicale, counting_proxy(radicale))
    s.server.password = "wrong"
    try:
        with pytest.raises(CaldavError) as caught:
            s.run()
        assert not caught.value.transient and "AARSHJUL_CALDAV_PASSWORD" in str(caught.value)
        assert [(r.method, r.status) for r in s.proxy.requests] == [("PROPFIND", 401)]  # asked once, not again
        # and the Prefect task's retry condition refuses it (tests/test_caldav_faults.py runs it through Prefect)
        from aarshjul.tasks.calendars import retry_caldav

        class Failed:
            def result(self):
                raise caught.value

        assert retry_caldav(None, None, Failed()) is False
    finally:
        s.engine.dispose()
