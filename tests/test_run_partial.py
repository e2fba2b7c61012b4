"""One part of the main job failing does not keep back the others: with the CalDAV server
down, `run` still writes the feeds and sends the mail due today, then fails with the
CalDAV error (exit 3) for the admin to see."""

from __future__ import annotations

from datetime import date

import pytest

from caldav_servers import free_port

PINNED = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-26"\n    start: "18:00"\n    place: Folkets hus\n'


def test_calendars_down_still_sends_the_mail_due_today_then_fails(prefect_harness, monkeypatch, tmp_path, files):
    from aarshjul.domain.errors import CaldavError
    from aarshjul.flows.run import run_all
    from aarshjul.settings import get_settings

    files.write("schedule.yaml", PINNED)
    outbox, site = tmp_path / "outbox", tmp_path / "site"
    for name, value in {"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AARSHJUL_OUTBOX_DIR": str(outbox),
                        "AARSHJUL_SITE_DIR": str(site), "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "k"),
                        "AARSHJUL_CALDAV_URL": f"http://127.0.0.1:{free_port()}/dav/",  # nothing listens there
                        "AARSHJUL_CALDAV_RETRIES": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(CaldavError) as failed:
            run_all(plan_path=str(files.plan), today=date(2025, 6, 5))
    finally:
        get_settings.cache_clear()
    assert failed.value.exit_status == 3
    assert (site / "calendars" / "offentlig.ics").exists()  # the feeds were written before CalDAV was tried
    sent = sorted(p.parent.name for p in outbox.rglob("*.eml"))
    assert sent == ["reminder_1.2_2025_1_lead-21", "reminder_1.3_2025-H1_unscheduled-30",
                    "reminder_1.3_2025-H1_unscheduled-30"], sent
