"""Bounded work (issue 15, item 6): input that once hung `check`, grew memory without
end or crashed later is refused by `check`, with file, line, field and a hint.

Each test starts from the exact input that broke. Those that once hung or exhausted
memory run `aarshjul check` in a subprocess with a timeout, and measure its peak
memory there, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from aarshjul.domain.errors import PlanError
from conftest import ROOT

SERIES = 'rrule: "FREQ=MONTHLY;BYDAY=1TU"'  # measure 2.3 of tests/data/minimal
SERIES_FIELD = "goals[1].measures[2].cadence.rrule"

# Runs the CLI in this (child) process and reports its own peak memory on the last line
# of stderr, so nothing else the test session started is counted.
_MEASURED = """
import resource, runpy, sys
sys.argv = ["aarshjul", *sys.argv[1:]]
try:
    runpy.run_module("aarshjul", run_name="__main__")
finally:
    # VmHWM: this process's own peak; ru_maxrss would start from the parent's size (kept across exec)
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(f"\\nPEAK_KB {hwm}", file=sys.stderr)
"""


def check(plan: Path, timeout: float = 30) -> tuple[int, str, float, float]:
    """`aarshjul check --plan PLAN` in a subprocess: (exit status, output, seconds, peak MB)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _MEASURED, "check", "--plan", str(plan), "--today", "2025-06-01",
                             "--lang", "en"], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - started
    stderr, _, peak = result.stderr.rpartition("PEAK_KB ")
    return result.returncode, result.stdout + stderr, seconds, int(peak) / 1024


def problems(files) -> list:
    with pytest.raises(PlanError) as info:
        files.load()
    return info.value.problems


def only(files):
    (p,) = problems(files)
    return p


# --- RRULEs: finer than a day, INTERVAL 0 ------------------------------------------------------


@pytest.mark.parametrize("rule, says", [
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0 is not a whole number of 1 or more"),  # looped forever
    ("FREQ=SECONDLY", "FREQ=SECONDLY repeats more often than once a day"),  # grew ~17 MB/s
    ("FREQ=MINUTELY", "FREQ=MINUTELY repeats more often than once a day"),  # 2,103,966 occurrences "valid"
])
def test_a_rule_that_hung_or_exhausted_memory_is_refused_by_check_at_once(files, rule, says):
    line = files.edit("plan.yaml", SERIES, f'rrule: "{rule}"')
    status, output, seconds, peak = check(files.plan)
    assert status == 2, output
    assert f"plan.yaml:{line}: {SERIES_FIELD}: {says}" in output and "hint:" in output
    assert seconds < 30 and peak < 400, (seconds, peak)


@pytest.mark.parametrize("rule, says", [
    ("FREQ=HOURLY", "FREQ=HOURLY repeats more often than once a day"),
    ("FREQ=DAILY;BYHOUR=0,6,12,18", "BYHOUR gives several times a day"),
    ("FREQ=DAILY;BYMINUTE=0,30", "BYMINUTE gives several times a day"),
    ("FREQ=WEEKLY;BYSECOND=1", "BYSECOND gives several times a day"),
    ("FREQ=DAILY;INTERVAL=-1", "INTERVAL=-1 is not a whole number of 1 or more"),
    ("FREQ=DAILY;INTERVAL=x", "does not parse"),
    ("FREQ=WEEKLY;COUNT=0", "COUNT=0 is not a whole number of 1 or more"),
    ("INTERVAL=2", "does not parse"),
    ("FREQ=WEEKLY;BYEASTER=0", "the rule part BYEASTER is not allowed here"),
])
def test_rules_the_plan_cannot_use_are_refused_with_their_place(files, rule, says):
    line = files.edit("plan.yaml", SERIES, f'rrule: "{rule}"')
    p = only(files)
    assert p.file.name == "plan.yaml" and p.line == line and p.field == SERIES_FIELD
    assert says in p.message, p.message
    if "parse" not in says:
        assert p.hint


def test_a_rule_on_two_lines_is_refused(files):
    files.edit("plan.yaml", SERIES, r'rrule: "FREQ=WEEKLY\nRDATE:20250101"')
    assert "an RRULE is one line" in only(files).message


def test_a_newsletter_schedule_finer_than_a_day_is_refused_in_mail_yaml(files):
    text = (files.folder / "mail.yaml").read_text(encoding="utf-8")
    line = text[:text.index("schedule: FREQ=MONTHLY;BYMONTHDAY=1")].count("\n") + 1
    files.write("mail.yaml", text.replace("schedule: FREQ=MONTHLY;BYMONTHDAY=1", "schedule: FREQ=MINUTELY", 1))
    p = only(files)
    assert (p.file.name, p.line, p.field) == ("mail.yaml", line, "newsletters[0].schedule")
    assert "FREQ=MINUTELY repeats more often than once a day" in p.message


def test_an_important_date_rule_finer_than_a_day_or_with_an_interval_is_refused(files):
    files.edit("organisation.yaml", '  kvinnedagen: {name: Kvinnedagen, annual: "03-08"}',
               '  kvinnedagen: {name: Kvinnedagen, rrule: "FREQ=SECONDLY"}')
    assert "FREQ=SECONDLY" in only(files).message
    files.edit("organisation.yaml", '"FREQ=SECONDLY"', '"FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYMONTHDAY=8"')
    p = only(files)
    assert "INTERVAL does not apply" in p.message and p.file.name == "organisation.yaml" and p.line == 13


# --- rules that never give a date: dateutil would search to year 9999 each time ----------------


def test_a_rule_that_never_gives_a_date_is_refused_quickly(files):
    line = files.edit("plan.yaml", SERIES, 'rrule: "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"')
    started = time.perf_counter()
    p = only(files)
    assert time.perf_counter() - started < 2
    assert (p.line, p.field) == (line, SERIES_FIELD) and "never gives a date" in p.message
    assert "30 February" in p.hint


def test_a_rule_whose_interval_never_meets_its_days_is_refused(files):
    # every 7th day from 1 January 2025 (a Wednesday) is a Wednesday: never a Monday
    line = files.edit("plan.yaml", SERIES, 'rrule: "FREQ=DAILY;INTERVAL=7;BYDAY=MO"')
    started = time.perf_counter()
    p = only(files)
    assert time.perf_counter() - started < 2
    assert (p.line, p.field) == (line, SERIES_FIELD)
    assert "no date in 400 years from 2025-01-01" in p.message and "dtstart" in p.hint


def test_first_date_searches_a_bounded_time_and_agrees_with_dateutil():
    from dateutil.rrule import rrulestr

    from aarshjul.domain.expand import first_date

    for rule, start in [("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", datetime(2024, 1, 1)),
                        ("FREQ=MONTHLY;BYDAY=-1TH", datetime(2025, 1, 1, 18)),
                        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", datetime(1900, 1, 1)),
                        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=SU", datetime(2200, 12, 30))]:
        assert first_date(rule, start) == rrulestr(rule, dtstart=start).after(start, inc=True), rule
    started = time.perf_counter()
    assert first_date("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", datetime(2025, 1, 1)) is None
    assert first_date("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", datetime(1900, 1, 1)) is None
    assert time.perf_counter() - started < 2


# --- the cap on occurrences per measure -----------------------------------------------------------


def test_a_measure_with_more_than_1000_occurrences_is_refused_with_its_place(files):
    from aarshjul.domain.expand import MAX_OCCURRENCES

    assert MAX_OCCURRENCES == 1000
    files.edit("plan.yaml", 'period: "2025-2026"\ngoals:', 'period: "2024-2027"\ngoals:')
    line = files.edit("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: series',
                      'period: "2024-2027"\n        bodies: [styret]\n        cadence: {kind: series')
    files.edit("plan.yaml", SERIES, 'rrule: "FREQ=DAILY"')  # 1,461 days
    p = only(files)
    assert (p.file.name, p.line, p.field) == ("plan.yaml", line + 2, "goals[1].measures[2].cadence")
    assert p.message == "measure 2.3 gives more than 1,000 occurrences over its period"
    assert "FREQ=WEEKLY" in p.hint


def test_a_quota_over_many_bodies_is_capped_too(files):
    line = files.edit("plan.yaml", "cadence: {kind: quota, count: 1, per: year, each: [bydelslag]}",
                      "cadence: {kind: quota, count: 300, per: year, each: [bydelslag]}")  # 300 x 2 years x 2
    p = only(files)
    assert (p.line, p.field) == (line, "goals[1].measures[0].cadence") and "measure 2.1" in p.message


def test_expansion_itself_stops_at_the_cap_with_a_plan_error(minimal, monkeypatch):
    from aarshjul.domain import expand

    monkeypatch.setattr(expand, "MAX_OCCURRENCES", 10)
    m = minimal.measure("2.3")  # monthly over two years: 24
    with pytest.raises(expand.TooManyOccurrences) as info:
        list(expand.slots(minimal, m))
    (p,) = info.value.problems
    assert isinstance(info.value, PlanError) and info.value.measure == "2.3"
    assert p.field == "goals[1].measures[2].cadence" and p.file.name == "plan.yaml"
    with pytest.raises(expand.TooManyOccurrences):
        expand.expand(minimal)


def test_the_bundled_plan_is_far_below_the_cap(bundled):
    from aarshjul.domain.expand import MAX_OCCURRENCES, slots

    assert max(sum(1 for _ in slots(bundled, m)) for _, m in bundled.measures) <= MAX_OCCURRENCES // 4


# --- YAML anchors and aliases ------------------------------------------------------------------------

BILLION_LAUGHS = textwrap.dedent("""\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)


def test_an_alias_bomb_is_refused_by_check_with_file_and_line(files):
    text = (files.folder / "plan.yaml").read_text(encoding="utf-8")
    line = text.count("\n") + 1
    files.write("plan.yaml", text + BILLION_LAUGHS)  # took 8.5 GB in 60 s
    status, output, seconds, peak = check(files.plan)
    assert status == 2, output
    assert f"plan.yaml:{line}: an anchor (&a) is not allowed" in output and "write the value out" in output
    assert seconds < 30 and peak < 400, (seconds, peak)


def test_a_self_referencing_alias_is_refused_not_a_recursion_error(files):
    files.write("schedule.yaml", "occurrences: &loop\n  x: *loop\n")  # was a RecursionError
    p = only(files)
    assert (p.file.name, p.line, p.message) == ("schedule.yaml", 1, "an anchor (&loop) is not allowed")


@pytest.mark.parametrize("text, line, says", [
    ("occurrences:\n  \"2.3/2025-01-07\": *undefined\n", 2, "an alias (*undefined) is not allowed"),
    ("base: &base {place: Huset}\noccurrences:\n  \"2.3/2025-01-07\":\n    <<: *base\n", 1,
     "an anchor (&base) is not allowed"),
    ("occurrences:\n  \"2.3/2025-01-07\":\n    <<: *base\n", 3, "an alias (*base) is not allowed"),
    ("occurrences: " + "[" * 2000 + "]" * 2000 + "\n", 1, "values are nested more than 32 levels deep"),
])
def test_aliases_merge_keys_and_deep_nesting_are_refused(files, text, line, says):
    files.write("schedule.yaml", text)
    p = only(files)
    assert (p.file.name, p.line, p.message) == ("schedule.yaml", line, says) and p.hint


def test_no_bundled_or_test_yaml_file_uses_anchors():
    from aarshjul.domain.yamlsource import load_yaml

    for path in [*sorted((ROOT / "config").glob("*.yaml")), *sorted((ROOT / "tests" / "data").rglob("*.yaml"))]:
        load_yaml(path)


# --- years a plan may name -----------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["0001-0002", "9998-9999", "1899", "2201-H1", "0001-01-01/2025-12-31"])
def test_a_plan_period_touching_year_1_or_9999_is_refused(files, period):
    line = files.edit("plan.yaml", 'period: "2025-2026"\ngoals:', f'period: "{period}"\ngoals:')
    p = problems(files)[0]
    assert (p.file.name, p.line, p.field) == ("plan.yaml", line, "plan.period")
    assert "outside the years 1900-2200" in p.message


@pytest.mark.parametrize("edit, field", [
    (("cadence: {kind: deadline}", 'cadence: {kind: deadline, due: "9999-12-31"}'), "goals[0].measures[0].cadence.due"),
    (('start: "18:00", duration: 150}', 'start: "18:00", duration: 150, dtstart: "0001-01-01"}'),
     "goals[1].measures[2].cadence.dtstart"),
])
def test_dates_in_cadences_outside_the_years_are_refused(files, edit, field):
    files.edit("plan.yaml", *edit)
    p = problems(files)[0]
    assert p.field == field and "outside the years 1900-2200" in p.message


def test_a_pin_in_year_9999_is_refused(files):
    files.write("schedule.yaml", 'occurrences:\n  "2.3/2025-01-07":\n    date: "9999-12-31"\n')
    p = only(files)
    assert (p.file.name, p.line) == ("schedule.yaml", 3) and "outside the years" in p.message


# --- URLs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://example.org/\\r\\nX-Injected: yes",  # passed check, then crashed publish
    "https://example.org/\\nBEGIN:VEVENT",
    "https://example.org/a b",
    'https://example.org/\\"><script>',
    "https://example.org/\\u0007",
    "javascript:alert(1)",
])
def test_a_pin_url_with_line_breaks_or_control_characters_is_refused(files, url):
    files.write("schedule.yaml", f'occurrences:\n  "2.3/2025-01-07":\n    date: "2025-01-07"\n    url: "{url}"\n')
    p = only(files)
    assert (p.file.name, p.line, p.field) == ("schedule.yaml", 4, "occurrences.2.3/2025-01-07.url")
    assert p.hint and "\n" not in p.message and "\r" not in p.message


def test_a_good_pin_url_passes(files):
    files.write("schedule.yaml", 'occurrences:\n  "2.3/2025-01-07":\n    date: "2025-01-07"\n'
                                 '    url: "https://example.org/møte?id=1&x=%20#top"\n')
    plan = files.load()
    assert plan.pins["2.3/2025-01-07"].url.endswith("#top")


def test_an_organisation_website_with_a_line_break_is_refused(files):
    files.edit("organisation.yaml", "  timezone: Europe/Oslo\n",
               '  timezone: Europe/Oslo\n  website: "https://example.org\\r\\nX: y"\n')
    p = only(files)
    assert (p.file.name, p.field) == ("organisation.yaml", "organisation.website")


def test_a_plan_that_loads_expands_over_its_whole_period(files):
    """The largest valid plan shape: years at the edges of the range, a daily series
    (730 days, 2200 is no leap year) under the cap; expansion gives every date and nothing crashes."""
    files.edit("plan.yaml", 'period: "2025-2026"\ngoals:', 'period: "2199-2200"\ngoals:')
    text = (files.folder / "plan.yaml").read_text(encoding="utf-8").replace('"2025-2026"', '"2199-2200"')
    text = text.replace('period: "2025"', 'period: "2199"').replace(SERIES, 'rrule: "FREQ=DAILY"')
    files.write("plan.yaml", text)
    files.write("organisation.yaml", (files.folder / "organisation.yaml").read_text(encoding="utf-8")
                .replace("2025: 2025-06-02/2025-06-08", "2199: 2199-06-02/2199-06-08"))
    from aarshjul.domain.expand import expand

    plan = files.load()
    found = expand(plan)
    series = [o for o in found if o.measure == "2.3"]
    assert len(series) == 730 and series[-1].start.date() == date(2200, 12, 31)
