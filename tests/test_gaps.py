"""Gap analysis: quotas not met and deadlines passed."""

from __future__ import annotations

from datetime import date

from aarshjul.domain.expand import expand
from aarshjul.domain.gaps import find_gaps


def gaps_2025(plan, today, held=frozenset()):
    return find_gaps(expand(plan, date(2025, 1, 1), date(2025, 12, 31)), today, held)


def test_quota_partly_pinned(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/1":\n    date: "2025-04-10"\n    start: "18:00"\n')
    gaps = {(g.measure, g.window, g.body): g for g in gaps_2025(files.load(), date(2025, 5, 1))}
    g = gaps[("1.2", "2025", None)]
    assert (g.required, g.pinned, g.held, g.missing) == (2, 1, 0, 1)
    assert g.closes == date(2025, 12, 31) and not g.overdue
    assert g.keys == ("1.2/2025/2",) and g.title == "Møter for nye medlemmer"


def test_held_slots_count_and_a_cancelled_one_does_not(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.3/2025-H1":\n    status: cancelled\n')
    plan = files.load()
    gaps = {(g.measure, g.window): g for g in gaps_2025(plan, date(2025, 7, 15), held={"1.2/2025/1", "1.2/2025/2"})}
    assert ("1.2", "2025") not in gaps  # both held
    h1 = gaps[("1.3", "2025-H1")]
    assert h1.missing == 1 and h1.overdue  # cancelled and the half-year is over
    assert not gaps[("1.3", "2025-H2")].overdue


def test_per_branch_quota_gaps_name_the_branch(minimal):
    gaps = [g for g in gaps_2025(minimal, date(2025, 2, 1)) if g.measure == "2.1"]
    assert [g.body for g in gaps] == ["nord", "sor"]


def test_overdue_deadline(minimal):
    assert not [g for g in gaps_2025(minimal, date(2025, 12, 31)) if g.kind == "overdue"]
    overdue = [g for g in gaps_2025(minimal, date(2026, 1, 1)) if g.kind == "overdue"]
    assert [(g.measure, g.closes) for g in overdue] == [("1.1", date(2025, 12, 31))]
    assert not [g for g in gaps_2025(minimal, date(2026, 1, 1), held={"1.1/2025"}) if g.kind == "overdue"]
