"""Issue 14 items 1 and 5: cadences for any organisation, one key per occurrence, and the
warnings and hints of `check` about the plan and schedule files."""

from __future__ import annotations

from datetime import date

import pytest

from aarshjul.domain.errors import PlanError
from conftest import DATA


def _problems(files) -> list:
    with pytest.raises(PlanError) as caught:
        files.load()
    return caught.value.problems


def _keys(plan, number: str) -> list[str]:
    from aarshjul.domain.expand import expand

    return [o.key for o in expand(plan) if o.measure == number]


def test_the_bundled_plan_keeps_every_key_and_uid_it_had_before_the_new_cadences(bundled):
    from aarshjul.domain.expand import expand

    before = dict(line.split() for line in (DATA / "bundled-keys.txt").read_text().splitlines())
    now = {o.key: o.uid for o in expand(bundled)}
    assert now == before


@pytest.mark.parametrize("per, first, count", [
    ("quarter", "1.2/2025-Q1", 8), ("month", "1.2/2025-01", 24), ("half-year", "1.2/2025-H1", 4),
    ("year", "1.2/2025", 2), ("period", "1.2/2025-2026", 1)])
def test_a_quota_per_window_kind_gives_one_keyed_slot_per_window(files, per, first, count):
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", f"cadence: {{kind: quota, count: 1, per: {per}}}")
    keys = _keys(files.load(), "1.2")
    assert keys[0] == first and len(keys) == len(set(keys)) == count


def test_quarter_windows_are_the_calendar_quarters(files):
    from aarshjul.domain.expand import expand

    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: quarter}")
    occ = {o.key: o for o in expand(files.load()) if o.measure == "1.2"}
    q = occ["1.2/2026-Q3"]
    assert (q.window_start, q.window_end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert (occ["1.2/2025-Q1"].window_start, occ["1.2/2025-Q1"].window_end) == (date(2025, 1, 1), date(2025, 3, 31))


def test_month_windows_end_on_the_last_day_of_the_month(files):
    from aarshjul.domain.expand import expand

    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    occ = {o.key: o for o in expand(files.load()) if o.measure == "1.2"}
    assert occ["1.2/2025-02"].window_end == date(2025, 2, 28) and occ["1.2/2026-12"].window_end == date(2026, 12, 31)


def test_named_seasons_give_a_slot_per_season_and_year(files):
    from aarshjul.domain.expand import expand

    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
               'cadence: {kind: quota, count: 1, per: season, seasons: {var: "01-15/06-15", host: "08-15/12-15"}}')
    occ = {o.key: o for o in expand(files.load()) if o.measure == "1.2"}
    assert sorted(occ) == ["1.2/2025/host", "1.2/2025/var", "1.2/2026/host", "1.2/2026/var"]
    assert (occ["1.2/2026/var"].window_start, occ["1.2/2026/var"].window_end) == (date(2026, 1, 15), date(2026, 6, 15))
    assert len({o.uid for o in occ.values()}) == 4


def test_seasons_without_per_season_is_an_error_with_a_hint(files):
    line = files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
                      'cadence: {kind: quota, count: 1, per: year, seasons: {var: "01-15/06-15"}}')
    (p,) = _problems(files)
    assert p.line == line and "per: season" in p.message and p.hint


def test_regression_per_period_over_four_spans_in_a_year_is_refused_at_check_not_an_integrity_error(files):
    """The issue: four quarter spans with `per: period` gave every window the key 1.2/2025,
    `check` passed and `run` crashed with UNIQUE constraint failed."""
    line = files.edit("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2, per: year}',
                      'period: ["2025-01-01/2025-03-31", "2025-04-01/2025-06-30"]\n        bodies: [styret]\n'
                      '        cadence: {kind: quota, count: 1, per: period}')
    found = _problems(files)
    assert len(found) == 1, [str(p) for p in found]
    (p,) = found
    assert p.file.name == "plan.yaml" and p.line is not None and p.line >= line
    assert "1.2/2025" in p.message and "per: quarter" in p.hint and "kvartal" in p.hint.say("nb")


def test_regression_per_year_over_a_spring_and_an_autumn_span_is_refused(files):
    files.edit("plan.yaml", 'period: "2025-2026"\n        bodies: [styret]\n        cadence: {kind: quota, count: 2, per: year}',
               'period: ["2025-01-01/2025-06-30", "2025-08-01/2025-12-31"]\n        bodies: [styret]\n'
               '        cadence: {kind: quota, count: 2, per: year}')
    (p,) = _problems(files)
    assert "to forekomster med nøkkelen '1.2/2025/1'" in p.say("nb")


def test_regression_organisation_kommune_is_not_asked_did_you_mean_count(files):
    files.edit("organisation.yaml", "  name: Testlaget\n", "  name: Testlaget\n  kommune: Bergen\n")
    (p,) = _problems(files)
    assert p.message == "unknown key 'kommune'"
    assert "count" not in p.hint and "timezone" in p.hint


def test_a_typo_still_gets_the_nearest_key_of_its_own_model(files):
    files.edit("organisation.yaml", "  timezone: Europe/Oslo\n", "  timezone: Europe/Oslo\n  websit: https://a.example\n")
    (p,) = _problems(files)
    assert p.hint == "did you mean 'website'?"


def test_regression_unquoted_2_10_is_reported_as_write_it_in_quotes_not_a_duplicate(files):
    line = files.edit("plan.yaml", '- number: "2.1"\n', "- number: 2.10\n")
    found = _problems(files)
    assert len(found) == 1, [str(p) for p in found]
    assert found[0].line == line and "2.10" in found[0].message and "anførselstegn" in found[0].hint.say("nb")


def test_two_measures_driven_by_one_event_is_an_error(files):
    files.edit("plan.yaml", "cadence: {kind: standing}", "cadence: {kind: on_event, event: member_joined, within_days: 9}")
    found = _problems(files)
    assert found and all("member_joined" in p.message for p in found)


def test_the_driven_measure_and_its_days_come_from_the_plan(files):
    plan = files.load()
    assert plan.driven_by("member_joined").number == "2.4"
    assert plan.within_days("member_joined") == 30
    assert plan.driven_by("dues_unpaid") is None


def _pin(files, key: str, text: str) -> None:
    files.write("schedule.yaml", f'occurrences:\n  "{key}":\n{text}')


def test_a_pinned_time_the_clock_skips_is_a_warning(files):
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    _pin(files, "1.2/2026-03", '    date: "2026-03-29"\n    start: "02:30"\n')
    plan = files.load()
    (w,) = plan.warnings
    assert w.file.name == "schedule.yaml" and w.line == 4 and "finnes ikke" in w.say("nb") and "03:30" in w.message


def test_a_pinned_time_the_clock_shows_twice_is_a_warning(files):
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    _pin(files, "1.2/2026-10", '    date: "2026-10-25"\n    start: "01:00"\n    end: "02:30"\n')
    (w,) = files.load().warnings
    assert "to ganger" in w.say("nb") and w.field.endswith(".end")


def test_an_ordinary_evening_pin_gives_no_warning(files):
    _pin(files, "1.2/2026/1", '    date: "2026-03-29"\n    start: "18:00"\n')
    assert files.load().warnings == ()


def test_pins_closer_than_min_days_apart_are_a_warning(files):
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}",
               "cadence: {kind: quota, count: 2, per: year, min_days_apart: 60}")
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2026/1": {date: "2026-03-01"}\n'
                                 '  "1.2/2026/2": {date: "2026-03-20"}\n')
    (w,) = files.load().warnings
    assert "19 dagers mellomrom" in w.say("nb") and "60" in w.message and w.line == 3


def test_mail_yaml_beside_the_plan_is_read_without_a_mail_line(files):
    files.edit("plan.yaml", "mail: mail.yaml\n", "")
    assert files.load().mail is not None


def test_regression_the_bundled_schedule_comment_names_only_keys_a_pin_takes():
    """Its comment documented a `public:` key the loader rejects."""
    import re

    from aarshjul.domain.model import Pin
    from conftest import ROOT

    comment = " ".join(line.lstrip("# ") for line in (ROOT / "config" / "schedule.yaml").read_text().splitlines()
                       if line.startswith("#"))
    listed = re.search(r"optionally start/end\s+times \([^)]*\), (.*?); or mark it", comment)
    assert listed, comment
    named = re.findall(r"[a-z]+", listed.group(1).split("(")[0])
    assert set(named) - {"and"} <= set(Pin.model_fields), named


def test_the_warning_is_said_in_the_readers_language(files):
    files.edit("plan.yaml", "cadence: {kind: quota, count: 2, per: year}", "cadence: {kind: quota, count: 1, per: month}")
    _pin(files, "1.2/2026-03", '    date: "2026-03-29"\n    start: "02:30"\n')
    (w,) = files.load().warnings
    assert "does not exist" in w.say("en") and "clocks skip" in w.say("en") and "finnes ikke" not in w.say("en")
    assert "finnes ikke" in w.say("nb") and "hopper over" in w.say("nb") and "does not" not in w.say("nb")
