"""`aarshjul run` end to end, as a person (or cron) runs it: a real process, Prefect's
temporary server (no PREFECT_API_URL), the minimal plan, a fresh database, site and
outbox. Slow (a temporary Prefect server starts), so one test covers the whole job."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from pathlib import Path

PINNED = 'occurrences:\n  "1.2/2025/1":\n    date: "2025-06-26"\n    start: "18:00"\n    place: Folkets hus\n'


def test_run_stores_the_agenda_publishes_the_site_and_writes_the_mail_due_that_day(files, tmp_path):
    from aarshjul.domain.expand import expand

    files.write("schedule.yaml", PINNED)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AARSHJUL_"))}
    env.update({"AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'a.db'}",
                "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
                "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "var" / "secret.key"), "COLUMNS": "200"})
    script = Path(sys.executable).parent / "aarshjul"  # the installed entry point, beside this interpreter
    result = subprocess.run([str(script), "run", "--today", "2025-06-05",
                             "--plan", str(files.plan)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "✓ Testplan: 41 forekomster lagret (41 nye, 0 endret, 0 fjernet)" in result.stdout
    assert f"nettside: {tmp_path / 'site' / 'index.html'} (6 kalenderstrømmer, 7 filer skrevet)" in result.stdout
    assert f"e-post: {tmp_path / 'outbox'}" in result.stdout

    # The site: the page, the public feed, and a private feed per body and one for members, under tokens.
    site = tmp_path / "site"
    assert "<html" in (site / "index.html").read_text(encoding="utf-8").lower()
    assert (site / "calendars" / "offentlig.ics").read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")
    private = {p.name: p for p in (site / "calendars").glob("*/*.ics")}
    assert set(private) == {"styret.ics", "bystyregruppen.ics", "nord.ics", "sor.ics", "medlemmer.ics"}
    assert len({p.parent.name for p in private.values()}) == 5  # a token each
    uid = next(o.uid for o in expand(files.load()) if o.key == "1.2/2025/1")
    styret = private["styret.ics"].read_text(encoding="utf-8")
    assert f"UID:{uid}" in styret and "DTSTART;TZID=Europe/Oslo:20250626T180000" in styret

    # The outbox: the reminders due on 5 June, one .eml per recipient, nothing else.
    mails = {}
    for path in sorted((tmp_path / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.strict)
        mails.setdefault(path.parent.name, []).append((msg["To"].addresses[0].addr_spec, str(msg["Subject"])))
    assert {k: sorted(v) for k, v in mails.items()} == {
        "reminder_1.2_2025_1_lead-21": [("styret@example.org", "Om 21 dager: Møter for nye medlemmer (1/2)")],
        "reminder_1.3_2025-H1_unscheduled-30": [("bg@example.org", "Ikke berammet: Samling hvert halvår"),
                                                ("styret@example.org", "Ikke berammet: Samling hvert halvår")],
    }
    assert Path(tmp_path / "var" / "a.db").exists()
