"""Benchmark: a plan of 5,000 measures, against the bundled plan's 47 in the same run.

Writes the bundled plan (config/) with its six goals repeated until there are 5,000
measures (each copy with its own goal numbers, so every key is new; the bodies,
important dates, pins and mail settings stay the bundled ones) and times, for both
plans:

    check     load_plan: parse the YAML, validate, cross-check, bound the expansion
    agenda    expand: every occurrence over the whole plan period
    feeds     every calendar feed built and serialised (select + feed_calendar + to_ical)

Prints each step's time per measure as a ratio to the bundled plan's (best of several
repeats, since the machine is shared and noisy). Work that grows linearly with the
plan gives a ratio near 1; goal: every ratio <= 2. Also prints this process's peak
memory after the big plan's steps.

Known: feeds are above the goal (2.6x at 5,000 measures) because ics.event() looks
its measure up with Plan.measure(), a linear scan, once per event: quadratic in the
plan's size (about 6 of the 15 s). A dict by number in Plan would make it linear.

    .venv/bin/python bench/big_plan.py [MEASURES]
"""

from __future__ import annotations

import copy
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from aarshjul.domain.expand import expand
from aarshjul.domain.feeds import Entry, feeds, select
from aarshjul.domain.ics import feed_calendar
from aarshjul.domain.load import load_plan

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


class _NoAliases(yaml.SafeDumper):
    """Write every value out in full: aarshjul refuses YAML anchors and aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def big_plan(folder: Path, measures: int) -> Path:
    """The bundled plan with its goals repeated until it has `measures` measures."""
    shutil.copytree(ROOT / "config", folder, dirs_exist_ok=True)
    path = folder / "plan.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    goals, count, copy_no = [], 0, 0
    while count < measures:
        for goal in data["goals"]:
            g = copy.deepcopy(goal)
            g["number"] = copy_no * len(data["goals"]) + goal["number"]
            g["measures"] = []
            for m in goal["measures"]:
                if count == measures:
                    break
                m = copy.deepcopy(m)
                m["number"] = f"{g['number']}.{str(m['number']).split('.')[1]}"
                if copy_no and m.get("cadence", {}).get("kind") == "on_event":
                    m["cadence"] = {"kind": "standing"}  # one measure per event: the first copy's
                g["measures"].append(m)
                count += 1
            goals.append(g)
        copy_no += 1
    data["goals"] = goals
    path.write_text(yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False, width=200),
                    encoding="utf-8")
    return path


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def steps(path: Path, repeats: int) -> dict[str, float]:
    plan = load_plan(path)
    occurrences = expand(plan)
    entries = [Entry(o, 0, NOW, NOW) for o in occurrences]

    def build_feeds() -> int:
        return sum(len(feed_calendar(plan, f, select(f, entries, NOW)).to_ical()) for f in feeds(plan))

    return {"check": best(lambda: load_plan(path), repeats),
            "agenda": best(lambda: expand(plan), repeats),
            "feeds": best(build_feeds, repeats),
            "measures": len(plan.measures), "occurrences": len(occurrences)}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    measures = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    base = steps(ROOT / "config" / "plan.yaml", repeats=7)
    with tempfile.TemporaryDirectory() as tmp:
        path = big_plan(Path(tmp) / "plan", measures)
        size = path.stat().st_size
        big = steps(path, repeats=2)
    print(f"bundled plan: {base['measures']} measures, {base['occurrences']} occurrences")
    print(f"big plan:     {big['measures']} measures, {big['occurrences']} occurrences, "
          f"plan.yaml {size / 2**20:.1f} MB")
    print(f"{'step':8} {'bundled':>10} {'big':>10} {'per measure, big/bundled':>26}")
    for step in ("check", "agenda", "feeds"):
        ratio = (big[step] / big["measures"]) / (base[step] / base["measures"])
        print(f"{step:8} {base[step] * 1000:8.1f} ms {big[step]:8.2f} s {ratio:25.2f}x")
    print(f"peak memory of this process: {peak_mb():.0f} MB (goal: every ratio <= 2)")


if __name__ == "__main__":
    sys.exit(main())
