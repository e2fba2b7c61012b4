"""A body taken out of organisation.yaml altogether (issue 11 item 2): its feed keeps
answering at the same URL, under the name it had, with everything it showed CANCELLED
(SEQUENCE raised) for the grace period, and its CalDAV calendar gets the cancellations
as updates, not deletes; after the grace period the feed goes and the events are deleted."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
from test_caldav_sync import T0 as SYNC_T0
from test_caldav_sync import Sync

from aarshjul.db.migrate import upgrade
from aarshjul.db.session import make_engine, session_scope
from aarshjul.db.agenda import store_agenda
from aarshjul.domain.expand import expand
from aarshjul.tasks.calendars import write_feeds

T0 = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
AFTER_GRACE = datetime(2027, 3, 2, 12, tzinfo=timezone.utc)  # the last gathering's window ends 2026-12-31
BODY_LINE = "  bystyregruppen: {name: Bystyregruppen, kind: council_group, contact: bg@example.org}\n"


def remove_the_body(files) -> None:
    """bystyregruppen out of organisation.yaml, and so out of the measure and the mail file."""
    files.edit("organisation.yaml", BODY_LINE, "")
    files.edit("plan.yaml", "bodies: [styret, bystyregruppen]", "bodies: [styret]")
    files.edit("mail.yaml", "sender: bystyregruppen", "sender: styret")


class Site:
    """Plan files, a SQLite database and a site folder, published as the write-site task does."""

    def __init__(self, files, tmp_path: Path):
        self.files = files
        self.url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        self.dir = tmp_path / "site"
        upgrade(self.url)
        self.engine = make_engine(self.url)

    def publish(self, now=T0):
        plan = self.files.load()
        with session_scope(self.engine) as session:
            store_agenda(session, plan.organisation.id, expand(plan), now)
        return write_feeds(self.url, plan, self.dir, now, date(2025, 1, 10), "https://example.org/kalender")

    def private(self, feed: str) -> list[Path]:
        return sorted((self.dir / "calendars").glob(f"*/{feed}.ics"))


@pytest.fixture
def site(files, tmp_path):
    s = Site(files, tmp_path)
    yield s
    s.engine.dispose()


def events(path: Path) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


def test_the_feed_of_a_removed_body_keeps_its_url_with_every_event_cancelled_for_the_grace_period(site):
    site.publish()
    [path] = site.private("bystyregruppen")
    before = events(path)
    assert len(before) == 4 and all(e["SEQUENCE"] == 0 for e in before.values())
    name = str(icalendar.Calendar.from_ical(path.read_bytes())["X-WR-CALNAME"])
    assert name == "Testlaget – Bystyregruppen"

    remove_the_body(site.files)
    site.publish(T0 + timedelta(days=1))
    assert site.private("bystyregruppen") == [path]  # the same URL (its token) still answers
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    assert str(cal["X-WR-CALNAME"]) == name  # the name people subscribed to
    after = events(path)
    assert set(after) == set(before)
    for uid, ev in after.items():
        assert str(ev["STATUS"]) == "CANCELLED" and ev["SEQUENCE"] == 1, uid
        assert ev["DTSTART"].dt == before[uid]["DTSTART"].dt  # as it was shown
    content = path.read_bytes()
    again = site.publish(T0 + timedelta(days=2))
    assert path.read_bytes() == content and not any("bystyregruppen" in w for w in again.written)
    site.publish(datetime(2027, 2, 27, 12, tzinfo=timezone.utc))  # within 60 days of the last one's end
    assert len(events(path)) == 1
    site.publish(AFTER_GRACE)
    assert site.private("bystyregruppen") == []  # then the feed goes


def test_a_removed_bodys_events_stay_in_the_other_feeds_unharmed(site):
    site.publish()
    remove_the_body(site.files)
    site.publish(T0 + timedelta(days=1))
    [board] = site.private("styret")
    gathering = [e for e in events(board).values() if "Samling" in str(e["SUMMARY"])]
    assert len(gathering) == 4 and all(str(e["STATUS"]) == "TENTATIVE" for e in gathering)


def test_caldav_the_calendar_of_a_removed_body_gets_its_events_cancelled_then_deleted(files, tmp_path,
                                                                                     caldav_server, counting_proxy):
    sync = Sync(files, tmp_path, caldav_server, counting_proxy(caldav_server))
    try:
        sync.run()
        gathering = set(sync.server_events("bystyregruppen"))
        assert len(gathering) == 4
        remove_the_body(files)
        counts = sync.run(SYNC_T0 + timedelta(days=1))
        assert counts["bystyregruppen"].cancelled == 4 and counts["bystyregruppen"].updated == 4
        assert sync.proxy.count("DELETE") == 0
        on_server = sync.server_events("bystyregruppen")
        assert set(on_server) == gathering
        assert all(str(e["STATUS"]) == "CANCELLED" and e["SEQUENCE"] == 1 for e in on_server.values())
        quiet = sync.run(SYNC_T0 + timedelta(days=2))
        assert quiet["bystyregruppen"].writes == 0 and sync.proxy.count("PUT") == 0
        late = sync.run(AFTER_GRACE)
        assert late["bystyregruppen"].deleted == 4 and sync.server_events("bystyregruppen") == {}
        done = sync.run(AFTER_GRACE + timedelta(days=1))
        assert "bystyregruppen" not in done  # nothing of ours left there: not looked at any more
    finally:
        sync.engine.dispose()


def test_the_removed_bodys_feed_url_answers_over_http_until_the_grace_period_ends(site, tmp_path):
    import httpx
    from web_server import WebServer

    site.publish()
    [path] = site.private("bystyregruppen")
    url_path = "/" + path.relative_to(site.dir).as_posix()
    server = WebServer({"AARSHJUL_DATABASE_URL": site.url, "AARSHJUL_PLAN": str(site.files.plan),
                        "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
                        "AARSHJUL_SITE_DIR": str(site.dir)}, tmp_path)
    try:
        assert httpx.get(server.url + url_path).status_code == 200
        remove_the_body(site.files)
        site.publish(T0 + timedelta(days=1))
        answer = httpx.get(server.url + url_path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
        cancelled = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")
        assert len(cancelled) == 4 and {str(e["STATUS"]) for e in cancelled} == {"CANCELLED"}
        site.publish(AFTER_GRACE)
        assert httpx.get(server.url + url_path).status_code == 404
    finally:
        server.stop()
