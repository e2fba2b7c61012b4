"""Benchmark: CalDAV sync of about 1,000 events against a real Radicale on loopback.

Prints requests and seconds for the first sync, a sync with nothing changed, a sync
with one changed event, and one after a person edited an event on the server, and the
no-op sync's time as a ratio to the first sync's, measured in the same run. Goals: the
no-op sync makes zero PUTs (one sync-collection REPORT per calendar) and takes at most
0.1x the first sync's time; one change makes one PUT; a person's edit is seen with zero PUTs.

    .venv/bin/python bench/caldav_sync.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from caldav_servers import CountingProxy, start_radicale  # noqa: E402
from feed_build import big_plan  # noqa: E402

from aarshjul.db.agenda import store_agenda  # noqa: E402
from aarshjul.db.calendars import feed_entries  # noqa: E402
from aarshjul.db.migrate import upgrade  # noqa: E402
from aarshjul.db.session import make_engine, session_scope  # noqa: E402
from aarshjul.domain.expand import expand  # noqa: E402
from aarshjul.domain.load import load_plan  # noqa: E402
from aarshjul.tasks.caldav import CaldavTarget, push_calendars  # noqa: E402

T0 = datetime(2025, 1, 10, tzinfo=timezone.utc)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = big_plan(tmp / "plan")
        server = start_radicale(tmp / "radicale")
        proxy = CountingProxy(server)
        url = f"sqlite:///{tmp / 'db.sqlite'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            def sync(p, now):
                with session_scope(engine) as session:
                    store_agenda(session, p.organisation.id, expand(p), now)
                    stored = feed_entries(session, p, now)
                proxy.reset()
                start = time.perf_counter()
                with session_scope(engine) as session:
                    counts = push_calendars(session, CaldavTarget(proxy.url, server.username, server.password),
                                            p, stored, now)
                return time.perf_counter() - start, len(proxy.requests), proxy.count("PUT"), counts

            first = sync(plan, T0)
            noop = sync(plan, T0 + timedelta(hours=1))
            (tmp / "plan" / "schedule.yaml").write_text(
                'occurrences:\n  "1.2/2025/1":\n    date: "2025-03-30"\n    start: "18:00"\n', encoding="utf-8")
            one = sync(load_plan(tmp / "plan" / "plan.yaml"), T0 + timedelta(hours=2))
            import caldav

            client = caldav.DAVClient(url=server.url, username=server.username, password=server.password)
            cal = next(iter(client.principal().calendars()))
            obj = next(iter(cal.events()))
            obj.load()
            client.put(str(obj.url), obj.data.replace("SUMMARY:", "LOCATION:Styrerommet\r\nSUMMARY:", 1),
                       {"Content-Type": "text/calendar; charset=utf-8", "If-Match": obj.etag})
            edited = sync(load_plan(tmp / "plan" / "plan.yaml"), T0 + timedelta(hours=3))
        finally:
            engine.dispose()
            proxy.close()
            server.stop()
    events = sum(c.created for c in first[3].values())
    print(f"events pushed:      {events}")
    for name, (secs, requests, puts, _) in (("first sync", first), ("no-op sync", noop), ("1-change sync", one),
                                            ("person's edit", edited)):
        print(f"{name:14s} {secs:8.3f} s  {requests:5d} requests  {puts:5d} PUTs")
    print(f"no-op / first:      {noop[0] / first[0]:.4f}x  (goal <= 0.1x, zero PUTs: {noop[2] == 0})")
    print(f"1-change PUTs:      {one[2]}  (goal 1)")
    seen = sum(len(c.new_conflicts) for c in edited[3].values())
    print(f"person's edit:      {seen} conflict seen, {edited[2]} PUTs  (goal 1 seen, 0 PUTs)")


if __name__ == "__main__":
    main()
