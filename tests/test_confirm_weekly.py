"""The board's "was it held?" mail comes at most once a week while an occurrence stays
unanswered: the first day it waits, again a week later, and at once when something new
has passed since the last mail (domain/confirm.py to_remind, tasks/report.py)."""

from __future__ import annotations

import email
from datetime import date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest

from test_web_answers import TODAY, answers_env  # noqa: F401 - the fixture, shared


def test_to_remind_first_time_weekly_and_when_something_new_passed():
    from aarshjul.domain.confirm import to_remind
    from aarshjul.domain.expand import Occurrence

    def occ(day: date) -> Occurrence:
        start = datetime.combine(day, datetime.min.time().replace(hour=18), tzinfo=ZoneInfo("Europe/Oslo"))
        return Occurrence(key=f"2.3/{day}", measure="2.3", title="Styremøte", bodies=("styret",), uid="u", goal="2",
                          kind="series", status="scheduled", all_day=False,
                          window_start=day, window_end=day, start=start, end=start + timedelta(hours=2))

    march4 = [occ(date(2025, 3, 4))]
    assert to_remind(march4, None, TODAY)
    assert not to_remind(march4, TODAY, TODAY + timedelta(days=1))
    assert not to_remind(march4, TODAY, TODAY + timedelta(days=6))
    assert to_remind(march4, TODAY, TODAY + timedelta(days=7))
    assert to_remind([*march4, occ(date(2025, 3, 11))], TODAY, date(2025, 3, 12))  # new since the last mail
    assert not to_remind([], None, TODAY)


@pytest.mark.prefect
def test_an_unanswered_occurrence_is_asked_about_weekly_not_daily(prefect_harness, answers_env, monkeypatch,
                                                                  tmp_path):
    env = answers_env
    from aarshjul.flows.report import confirm_occurrences
    from aarshjul.settings import get_settings

    for name, value in env.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AARSHJUL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("AARSHJUL_SMTP_URL", raising=False)
    get_settings.cache_clear()
    days = [TODAY + timedelta(days=n) for n in (0, 1, 2, 6, 7, 8)]
    try:
        for day in days:
            confirm_occurrences(plan_path=str(env.files.plan), today=day, ask_in_ui=False)
    finally:
        get_settings.cache_clear()
    mailed: dict[str, list[str]] = {}
    for path in sorted((tmp_path / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        mailed.setdefault(str(msg["To"]).split("<")[-1].rstrip(">"), []).append(str(msg["Date"]))
    # two role holders, each mailed on the 10th and the 17th only
    assert sorted(mailed) == ["m1@example.org", "m2@example.org"]
    assert [len(v) for v in mailed.values()] == [2, 2], mailed
