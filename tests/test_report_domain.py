"""The report's rules, pure: statuses per cadence, a year with no data, targets, refs and input checks.

Everything here runs on the bundled plan (or the minimal one, where a schedule pin is
needed) without a database: the records are passed in, as db/report.py passes them.
"""

from __future__ import annotations

from datetime import date

import pytest

from aarshjul.domain.completion import (UnknownRef, check_attendance, check_in_period, check_not_future, check_url,
                                        dated, default_day, parse_day, resolve)
from aarshjul.domain.errors import AarshjulError, NotFound, PlanError
from aarshjul.domain.expand import expand
from aarshjul.domain.report import STATUS, Record, build_report, status_rows, status_word
from aarshjul.domain.targets import (Measurement, TargetTableError, load_targets, parse_targets, progress,
                                     targets_path)
from aarshjul.domain.yamlsource import load_yaml

AFTER = date(2026, 1, 10)  # the draft for the annual meeting, in January
MIDYEAR = date(2025, 6, 1)


def held(key: str, on: date, attendance: int | None = None, **kw) -> Record:
    return Record(key, key.split("/")[0], key, "held", on, attendance, **kw)


def outcome(key: str, what: str, note: str, on: date | None = None) -> Record:
    return Record(key, key.split("/")[0], key, what, on, None, note)


def dated_record(measure: str, on: date, what: str = "held", **kw) -> Record:
    return Record(f"{measure}@{on.isoformat()}", measure, None, what, on, **kw)


def status(plan, records, number: str, today=AFTER, year=2025, **kw) -> str:
    report = build_report(plan, year, today, records, **kw)
    return next(m for m in report.measures if m.number == number).status


# --- quota ---------------------------------------------------------------------------


def test_a_quota_with_every_slot_held_is_done(bundled):
    records = [held("1.5/2025/1", date(2025, 3, 26), 23), held("1.5/2025/2", date(2025, 10, 2), 31)]
    report = build_report(bundled, 2025, AFTER, records)
    m = next(m for m in report.measures if m.number == "1.5")
    assert (m.status, m.status_text, m.planned, m.held, m.attendance) == ("done", "gjennomført", 2, 2, 54)
    assert m.summary == "2 av 2 holdt"
    assert [line.held_on for line in m.lines] == [date(2025, 3, 26), date(2025, 10, 2)]


def test_a_quota_half_held_is_partial_once_the_year_is_over_and_ongoing_before(bundled):
    records = [held("1.5/2025/1", date(2025, 3, 26))]
    assert status(bundled, records, "1.5") == "partial"
    assert status(bundled, records, "1.5", today=MIDYEAR) == "ongoing"  # the second can still be held


def test_a_quota_with_none_held_and_a_reason_is_not_done(bundled):
    records = [outcome("1.5/2025/1", "not_held", "For få påmeldte", date(2025, 4, 1))]
    report = build_report(bundled, 2025, AFTER, records)
    m = next(m for m in report.measures if m.number == "1.5")
    assert m.status == "not_done" and m.not_held == 1
    assert [(line.state, line.reason) for line in m.lines] == [("not_held", "For få påmeldte"), ("unrecorded", None)]


def test_a_quota_with_nothing_recorded_is_unrecorded_after_the_year_and_ongoing_during_it(bundled):
    assert status(bundled, [], "1.5") == "unrecorded"
    assert status(bundled, [], "1.5", today=MIDYEAR) == "ongoing"


def test_a_half_year_quota_counts_both_halves(bundled):
    records = [held("2.8/2025-H1", date(2025, 5, 3)), outcome("2.8/2025-H2", "cancelled", "Flyttet til januar")]
    report = build_report(bundled, 2025, AFTER, records)
    m = next(m for m in report.measures if m.number == "2.8")
    assert m.status == "partial" and [line.label for line in m.lines] == ["1. halvår 2025", "2. halvår 2025"]
    assert m.lines[1].reason == "Flyttet til januar" and m.summary == "1 av 2 holdt, 1 avlyst"


def test_a_quota_for_each_branch_has_one_line_per_branch(bundled):
    keys = [o.key for o in expand(bundled) if o.measure == "2.5" and o.window_end.year == 2025]
    records = [held(k, date(2025, 9, 1)) for k in keys]
    report = build_report(bundled, 2025, AFTER, records)
    m = next(m for m in report.measures if m.number == "2.5")
    assert m.status == "done" and m.planned == 9 and "Studentlaget" in [line.label for line in m.lines]


def test_a_slot_cancelled_in_the_schedule_counts_as_cancelled_with_its_note(files):
    files.write("schedule.yaml", 'occurrences:\n  "1.2/2025/2":\n    status: cancelled\n    note: Flyttet\n')
    plan = files.load()
    report = build_report(plan, 2025, AFTER, [held("1.2/2025/1", date(2025, 2, 1))])
    m = next(m for m in report.measures if m.number == "1.2")
    assert m.status == "partial" and (m.lines[1].state, m.lines[1].reason) == ("cancelled", "Flyttet")


# --- deadline, annual, series -------------------------------------------------------


def test_a_deadline_is_done_when_held_ongoing_before_it_is_due_and_unrecorded_after(bundled):
    assert status(bundled, [held("2.13/2025", date(2025, 11, 20))], "2.13") == "done"
    assert status(bundled, [], "2.13", today=date(2025, 10, 1)) == "ongoing"
    assert status(bundled, [], "2.13") == "unrecorded"
    assert status(bundled, [outcome("2.13/2025", "not_held", "Utsatt")], "2.13") == "not_done"


def test_a_deadline_due_in_a_later_year_is_ongoing_until_done(bundled):
    assert status(bundled, [], "5.5") == "ongoing"  # due at the end of 2027
    assert status(bundled, [held("5.5/2027", date(2025, 4, 2))], "5.5") == "done"
    report = build_report(bundled, 2025, AFTER, [])
    assert [line.key for line in next(m for m in report.measures if m.number == "6.5").lines] == ["6.5/2025"]


def test_annual_dates_and_series_are_slots_of_the_year(bundled):
    annual = [held(f"3.4/2025/{d}", date(2025, 5, 1)) for d in ("kvinnedagen", "arbeidernes-dag")]
    report = build_report(bundled, 2025, AFTER, annual)
    m34 = next(m for m in report.measures if m.number == "3.4")
    assert m34.status == "partial" and m34.planned == 3 and m34.lines[2].label == "Bergen Pride"
    m17 = next(m for m in report.measures if m.number == "1.7")
    assert m17.planned == 11 and m17.lines[0].label == "januar" and m17.status == "unrecorded"


# --- standing and on_event ------------------------------------------------------------


def test_a_standing_measure_is_done_with_a_record_in_the_year_else_unrecorded(bundled):
    assert status(bundled, [dated_record("1.2", date(2025, 5, 1), attendance=40)], "1.2") == "done"
    assert status(bundled, [dated_record("1.2", date(2024, 5, 1))], "1.2") == "unrecorded"
    assert status(bundled, [dated_record("1.2", date(2025, 5, 1), "not_held", note="Ikke prioritert")],
                  "1.2") == "not_done"
    assert status(bundled, [dated_record("1.4", date(2025, 2, 1))], "1.4") == "done"  # on_event
    report = build_report(bundled, 2025, AFTER, [dated_record("1.2", date(2025, 5, 1), attendance=40)])
    m = next(m for m in report.measures if m.number == "1.2")
    assert (m.summary, m.attendance, m.done) == ("1 registrering", 40, 1)


def test_records_without_a_key_for_a_measure_with_occurrences_are_listed_but_do_not_count(bundled):
    letter = Record("1.7@medlemsbrev/2025-03", "1.7", None, "held", date(2025, 3, 27), None, "sendt til 812")
    report = build_report(bundled, 2025, AFTER, [letter])
    m = next(m for m in report.measures if m.number == "1.7")
    assert m.status == "unrecorded" and m.records == (letter,) and m.held == 0


# --- the year ------------------------------------------------------------------------


def test_a_measure_outside_its_period_is_not_applicable_and_its_comment_still_shows(bundled):
    report = build_report(bundled, 2025, AFTER, [], comments={"1.1": "Planen ble vedtatt i 2024.", "1.5": " "})
    by = {m.number: m for m in report.measures}
    assert by["1.1"].status == "not_applicable" and by["1.1"].comment == "Planen ble vedtatt i 2024."
    assert by["6.2"].status == "not_applicable"  # 2027 only
    assert by["1.5"].comment is None  # blank is no comment


def test_a_year_with_no_data_at_all(bundled):
    """Requirement: the report still builds; every measure is 'ikke registrert' or 'ikke
    aktuelt i år', except what the rules call 'pågående': deadlines due after the year."""
    report = build_report(bundled, 2025, AFTER, [], follow_ups={})
    statuses = {m.number: m.status for m in report.measures}
    ongoing = {n for n, s in statuses.items() if s == "ongoing"}
    assert set(statuses.values()) <= {"unrecorded", "not_applicable", "ongoing"}
    assert ongoing == {"3.7", "5.5"}  # both due at the end of 2027
    assert all(line.window_end.year > 2025 for n in ongoing for line in
               next(m for m in report.measures if m.number == n).lines)
    assert report.counts["unrecorded"] == 36 and report.counts["not_applicable"] == 9
    assert report.gaps and all(g.held == 0 for g in report.gaps)
    assert report.follow_up_total is not None and report.follow_up_total.new == 0
    assert len(report.goals) == 6 and sum(len(g.measures) for g in report.goals) == 47


def test_a_year_outside_the_plan_is_refused(bundled):
    with pytest.raises(AarshjulError) as refused:
        build_report(bundled, 2028, AFTER, [])
    assert "år 2028 er utenfor planperioden 2024–2027" in refused.value.say("nb")
    assert "year 2028 is outside the plan period 2024–2027" in refused.value.say("en")


def test_gaps_leave_out_what_the_log_cancelled_or_held(bundled):
    records = [held("1.5/2025/1", date(2025, 3, 1)), held("1.5/2025/2", date(2025, 9, 1)),
               outcome("2.13/2025", "cancelled", "Ikke aktuelt")]
    gaps = build_report(bundled, 2025, AFTER, records).gaps
    assert not [g for g in gaps if g.measure in ("1.5", "2.13")]
    assert [g for g in build_report(bundled, 2025, AFTER, []).gaps if g.measure == "1.5"]


def test_status_rows_carry_numbers_and_no_names(bundled):
    records = [held("1.5/2025/1", date(2025, 3, 26), 23, note="Kari Nordmann ledet"),
               dated_record("1.2", date(2025, 5, 1), attendance=40)]
    rows = status_rows(build_report(bundled, 2025, AFTER, records))
    assert len(rows) == 47 and {status_word(s, "nb") for s in STATUS} >= {r["status"] for r in rows}
    r15 = next(r for r in rows if r["tiltak"] == "1.5")
    assert (r15["planlagt"], r15["holdt"], r15["deltakere"], r15["status"]) == (2, 1, 23, "delvis gjennomført")
    assert next(r for r in rows if r["tiltak"] == "1.2")["holdt"] == 1
    assert "Kari" not in str(rows)


def test_follow_ups_list_branches_in_the_organisations_order_with_none_last(bundled):
    report = build_report(bundled, 2025, AFTER, [], follow_ups={"": (3, 1), "arna": (10, 9), "studentlaget": (4, 4)})
    assert [f.branch for f in report.follow_ups] == ["Studentlaget", "Arna SV", "(uten bydelslag)"]
    assert (report.follow_up_total.new, report.follow_up_total.contacted) == (17, 14)
    assert report.follow_ups[1].share == 0.9


# --- targets -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def targets(bundled):
    return load_targets(targets_path(bundled), bundled)


PERIOD = (date(2024, 1, 1), date(2027, 12, 31))


def test_the_bundled_targets_load_and_belong_to_the_plans_sub_goals(targets):
    assert targets.names == ["medlemmer", "andel-aktive", "aktivister", "inntekt", "kontaktet"]
    t = {t.name: t for t in targets.targets}
    assert (t["medlemmer"].subgoal, t["aktivister"].subgoal, t["inntekt"].subgoal, t["andel-aktive"].subgoal) == \
        ("1.b", "6.a", "2.c", "1.a")
    assert t["kontaktet"].measure == "1.4" and t["kontaktet"].metric == "contacted_share"
    assert {x.kind for x in targets.targets} == {"absolute", "relative", "share"}


def test_members_plus_200_from_the_first_count_ahead_or_behind_the_straight_line(targets):
    t = targets.get("medlemmer")
    points = [Measurement(date(2025, 1, 15), 1450), Measurement(date(2025, 12, 15), 1540)]
    p = progress(t, points, 2025, AFTER, PERIOD)
    assert p.baseline == points[0] and p.goals == (Measurement(date(2027, 12, 31), 1650),)
    assert p.status == "ahead" and "1\u00a0650 medlemmer" in p.detail and "31. desember 2027" in p.detail
    slow = progress(t, [points[0], Measurement(date(2025, 12, 15), 1470)], 2025, AFTER, PERIOD)
    assert slow.status == "behind" and slow.status_text == "bak skjema"


def test_activists_are_judged_at_the_election(targets):
    t = targets.get("aktivister")
    points = [Measurement(date(2025, 8, 15), 262), Measurement(date(2025, 12, 15), 180)]
    assert progress(t, points, 2025, AFTER, PERIOD).status == "reached"  # 262 before 8 September
    assert progress(t, [Measurement(date(2025, 8, 15), 240)], 2025, AFTER, PERIOD).status == "not_reached"
    p2026 = progress(t, points, 2026, date(2026, 6, 1), PERIOD)
    # 2026 is judged on the line from the 2025 goal (250 on 8 Sep 2025) to 300 on 13 Sep 2027: 257 by 15 Dec 2025
    assert p2026.status == "behind" and "målet er 300 aktivister innen 13. september 2027" in p2026.detail
    assert "burde tallet nå være 257 aktivister" in p2026.detail


def test_income_plus_25_percent_from_the_recorded_baseline(targets):
    t = targets.get("inntekt")
    points = [Measurement(date(2023, 12, 31), 180_000), Measurement(date(2025, 12, 31), 204_250)]
    p = progress(t, points, 2025, AFTER, PERIOD)
    assert p.goals[0].value == pytest.approx(225_000) and p.status == "ahead"
    assert p.show(204_250) == "204\u00a0250 kr"
    later = progress(t, points[1:], 2025, AFTER, PERIOD)  # no 2023 figure: the first one after is the baseline
    assert later.baseline == points[1] and later.goals[0].value == pytest.approx(255_312.5)


def test_shares_level_and_rising(targets):
    contacted = targets.get("kontaktet")
    assert progress(contacted, [Measurement(date(2025, 12, 31), 1.0)], 2025, AFTER, PERIOD).status == "reached"
    low = progress(contacted, [Measurement(date(2025, 12, 31), 0.56)], 2025, AFTER, PERIOD)
    assert low.status == "not_reached" and low.show(0.56) == "56 %"
    active = targets.get("andel-aktive")
    up = [Measurement(date(2025, 1, 15), 0.10), Measurement(date(2025, 12, 15), 0.13)]
    assert progress(active, up, 2025, AFTER, PERIOD).status == "rising"
    assert progress(active, up[::-1][:1] + [Measurement(date(2025, 1, 15), 0.2)], 2025, AFTER,
                    PERIOD).status == "not_rising"
    assert progress(active, [], 2025, AFTER, PERIOD).status == "no_data"


def write_targets(files, text: str):
    files.write("targets.yaml", text)
    plan = files.load()
    return parse_targets(load_yaml(files.folder / "targets.yaml"), plan)


def test_targets_yaml_mistakes_are_named_with_file_and_line(files):
    with pytest.raises(TargetTableError) as caught:
        write_targets(files, "targets:\n  - name: m\n    title: M\n    subgoal: \"1.c\"\n    kind: absolute\n"
                             "    source: members\n    metric: members\n    targets: [{date: \"2025-12-31\", value: 5}]\n"
                             "  - name: m\n    title: M\n    measure: \"1.9\"\n    kind: absolute\n    source: manual\n"
                             "    targets: [{date: \"2025-12-31\", value: 5}]\n")
    text, en = caught.value.say("nb"), caught.value.say("en")
    assert isinstance(caught.value, PlanError)
    assert "targets.yaml:4: targets[0].subgoal: planen har ikke delmål 1.c" in text and "mente du 1.a?" in text
    assert "targets.yaml:9: targets[1].name: navnet 'm' er brukt før" in text
    assert "targets.yaml:11: targets[1].measure: planen har ikke tiltak 1.9" in text
    assert "targets.yaml:4: targets[0].subgoal: the plan has no sub-goal 1.c" in en and "did you mean 1.a?" in en
    assert "targets.yaml:9: targets[1].name: the name 'm' is used before" in en and "planen" not in en


@pytest.mark.parametrize("body, message", [
    ("    kind: relative\n    source: members\n    metric: members\n    targets: [{date: \"2027-12-31\", increase: 5}]\n",
     "a relative target needs a `baseline`"),
    ("    kind: absolute\n    source: members\n    metric: member\n    targets: [{date: \"2027-12-31\", value: 5}]\n",
     "`metric` for source members is one of members, activists, active_share"),
    ("    kind: share\n    source: manual\n    level: 120\n", "120 must be at most 100"),
    ("    kind: absolute\n    source: manual\n    targets: [{date: \"2027-02-30\", value: 5}]\n", "YYYY-MM-DD"),
    ("    kind: absolute\n    source: manual\n    target: [{date: \"2027-12-31\", value: 5}]\n",
     "unknown key 'target'"),
])
def test_targets_yaml_rules(files, body, message):
    with pytest.raises(TargetTableError, match=message.replace("(", r"\(").replace("`", "`")) as caught:
        write_targets(files, "targets:\n  - name: x\n    title: X\n    subgoal: \"1.a\"\n" + body)
    assert "targets.yaml:" in str(caught.value)
    assert message not in caught.value.say("nb") and "targets.yaml:" in caught.value.say("nb")


# --- refs and input checks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def occurrences(bundled):
    return expand(bundled)


def test_refs_are_keys_or_measures_without_occurrences(bundled, occurrences):
    ref = resolve(bundled, occurrences, "1.5/2025/1")
    assert (ref.ref, ref.measure, ref.key) == ("1.5/2025/1", "1.5", "1.5/2025/1")
    standing = resolve(bundled, occurrences, "1.2")
    assert dated(standing, date(2025, 5, 1)).ref == "1.2@2025-05-01"
    at = resolve(bundled, occurrences, "1.2@2025-05-01")
    assert (at.ref, at.on) == ("1.2@2025-05-01", date(2025, 5, 1))


def test_an_unknown_key_or_measure_names_the_nearest(bundled, occurrences):
    with pytest.raises(NotFound, match=r"unknown occurrence '1.5/2025/3'; did you mean 1.5/2025/2, 1.5/2025/1") as caught:
        resolve(bundled, occurrences, "1.5/2025/3")
    assert caught.value.suggestions[0] == "1.5/2025/2"
    with pytest.raises(UnknownRef, match=r"unknown measure '1.55'; did you mean 1.5"):
        resolve(bundled, occurrences, "1.55")
    with pytest.raises(UnknownRef, match="unknown occurrence '9.9/2025'"):
        resolve(bundled, occurrences, "9.9/2025")


def test_a_measure_with_occurrences_must_be_given_by_key(bundled, occurrences):
    with pytest.raises(AarshjulError, match=r"measure 1.5 has occurrences .* 1.5/2024/1, .*`aarshjul agenda --measure 1.5`"):
        resolve(bundled, occurrences, "1.5")
    with pytest.raises(AarshjulError, match="no occurrences to cancel"):
        resolve(bundled, occurrences, "1.2", allow_measure=False)


def test_dates_are_checked(bundled):
    assert parse_day("2025-03-26", "--date") == parse_day("26.03.2025", "--date") == date(2025, 3, 26)
    with pytest.raises(AarshjulError, match="'2025-02-30' is not in the calendar"):
        parse_day("2025-02-30", "--date")
    with pytest.raises(AarshjulError, match="'i går' is not a date"):
        parse_day("i går", "--date")
    with pytest.raises(AarshjulError, match=r"2023-12-31 is outside the plan's period \(1 January 2024 – 31 December 2027\)"):
        check_in_period(bundled, date(2023, 12, 31), "--date")
    with pytest.raises(AarshjulError, match="is after today"):
        check_not_future(date(2025, 5, 2), date(2025, 5, 1), "--date")
    with pytest.raises(AarshjulError, match="cannot be negative"):
        check_attendance(-1)
    assert check_attendance(0) == 0
    with pytest.raises(AarshjulError, match="is not a web address"):
        check_url("referat.pdf")
    assert check_url(" https://example.org/r ") == "https://example.org/r"


def test_the_default_date_is_the_planned_day_unless_it_is_still_to_come(bundled, occurrences):
    letter = next(o for o in occurrences if o.key == "1.7/2025-03-27")
    assert default_day(letter, date(2025, 4, 1)) == date(2025, 3, 27)
    assert default_day(letter, date(2025, 3, 1)) == date(2025, 3, 1)
    slot = next(o for o in occurrences if o.key == "1.5/2025/1")
    assert default_day(slot, date(2025, 4, 1)) == date(2025, 4, 1)
