"""Benchmark: building calendar feeds for about 1,000 events.

Prints the time to build the body's whole feed with aarshjul (selection, Norwegian
texts, VTIMEZONE, serialisation) as a ratio to a bare loop that builds the same events
with `icalendar` alone, both measured in this run (best of several repeats, since the
machine is shared and noisy). Goal: ratio <= 1.5.

    .venv/bin/python bench/feed_build.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from icalendar import Calendar, Event

from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import Entry, feeds, select
from aarshjul.domain.ics import feed_calendar
from aarshjul.domain.load import load_plan

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def big_plan(folder: Path, weekly_series: int = 10):
    """The test plan plus weekly evening meetings: about 1,000 timed events."""
    shutil.copytree(ROOT / "tests" / "data" / "minimal", folder, dirs_exist_ok=True)
    extra = "".join(f"""      - number: "3.{i}"
        title: Ukemøte {i}
        text: Et ukentlig møte.
        period: "2025-2026"
        bodies: [styret]
        cadence: {{kind: series, rrule: "FREQ=WEEKLY;BYDAY={'MO TU WE TH FR'.split()[i % 5]}", start: "19:00"}}
""" for i in range(1, weekly_series + 1))
    plan = folder / "plan.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "  - number: 3\n    title: Tredje mål\n    measures:\n" + extra,
                    encoding="utf-8")
    return load_plan(plan)


def best(fn, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plan = big_plan(Path(tmp) / "plan")
    entries = [Entry(o, 0, NOW, NOW) for o in expand(plan)]
    feed = next(f for f in feeds(plan) if f.id == "styret")
    chosen = select(feed, entries, NOW)

    def ours() -> bytes:
        return feed_calendar(plan, feed, select(feed, entries, NOW)).to_ical()

    texts = {e.occurrence.uid: (e.occurrence.title, f"Tiltak {e.occurrence.measure}: ...\nAnsvar: Styret")
             for e in chosen}

    def bare() -> bytes:
        """The same events and properties, written straight with icalendar."""
        cal = Calendar()
        for name, value in (("prodid", "-//bench//"), ("version", "2.0"), ("calscale", "GREGORIAN"),
                            ("name", feed.name), ("x-wr-calname", feed.name), ("x-wr-timezone", "Europe/Oslo")):
            cal.add(name, value)
        for e in chosen:
            o = e.occurrence
            summary, description = texts[o.uid]
            ev = Event()
            ev.add("uid", o.uid)
            ev.add("sequence", 0)
            ev.add("dtstamp", NOW)
            ev.add("created", NOW)
            ev.add("last-modified", NOW)
            start = o.start or o.window_end
            ev.add("dtstart", start)
            ev.add("dtend", o.end if o.end and not o.all_day else (start + timedelta(days=1)))
            if o.all_day or o.start is None:
                ev.add("transp", "TRANSPARENT")
            ev.add("summary", summary)
            ev.add("description", description)
            ev.add("categories", [f"Tiltak {o.measure}", o.kind])
            ev.add("class", "PRIVATE")
            ev.add("status", "CONFIRMED")
            cal.add_component(ev)
        cal.add_missing_timezones(first_date=date(2024, 1, 1), last_date=date(2028, 1, 1))
        return cal.to_ical()

    assert ours().count(b"BEGIN:VEVENT") == bare().count(b"BEGIN:VEVENT") == len(chosen)
    ours(), bare()  # warm up
    t_ours, t_bare = best(ours), best(bare)
    print(f"events in feed: {len(chosen)}")
    print(f"aarshjul feed:  {t_ours * 1000:8.1f} ms")
    print(f"bare icalendar: {t_bare * 1000:8.1f} ms")
    print(f"ratio:          {t_ours / t_bare:8.2f}x  (goal <= 1.5x)")


if __name__ == "__main__":
    sys.exit(main())
