"""The report flows' I/O, as Prefect tasks: gathering the year from the database, writing
the files, mailing the board the draft, and recording answers to "was it held?"."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from aarshjul.db.completions import record_completion, recorded_keys
from aarshjul.db.report import load_report
from aarshjul.db.session import transaction
from aarshjul.domain.campaigns import board_of, body_contacts, limits, report_draft_campaign
from aarshjul.domain.completion import default_day
from aarshjul.domain.confirm import passed
from aarshjul.domain.expand import Occurrence, expand
from aarshjul.domain.plan import Plan
from aarshjul.domain.report import Report
from aarshjul.domain.targets import load_targets, targets_path
from aarshjul.settings import get_settings
from aarshjul.tasks.plan_io import transient_error
from aarshjul.tasks.report_render import render_markdown, write_report
from aarshjul.tasks.sending import send_now


@task(name="gather-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=transient_error)
def gather_report(plan: Plan, year: int, today: date) -> Report:
    """Read the completion log, comments, targets' numbers and follow-ups; build the report."""
    targets = load_targets(targets_path(plan), plan)
    with transaction(get_settings().database_url) as session:
        return load_report(session, plan, targets, year, today)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_files(report: Report, formats: list[str], out_dir: str, organisation: str) -> dict[str, str]:
    return {fmt: str(path) for fmt, path in write_report(report, formats, Path(out_dir), organisation).items()}


@task(name="mail-report-draft", cache_policy=NO_CACHE)
def mail_draft(plan: Plan, report: Report, today: date, files: dict[str, str]) -> int:
    """E-mail the board the draft (the Markdown report as the message, and where the HTML
    and PDF are), once a day at most; nothing when the plan has no mail configuration."""
    board = board_of(plan)
    if not plan.mail or board is None:
        return 0
    campaign = report_draft_campaign(plan, board, report.year, today, render_markdown(report), sorted(files.values()))
    with transaction(get_settings().database_url) as session:
        return send_now(session, limits(plan), campaign, body_contacts(plan, [board]))


@task(name="find-passed-occurrences", cache_policy=NO_CACHE)
def passed_occurrences(plan: Plan, today: date, days: int) -> list[Occurrence]:
    """Scheduled occurrences that ended in the `days` days before today and have nothing in the log."""
    with transaction(get_settings().database_url) as session:
        known = recorded_keys(session, plan.organisation.id)
    first = today - dt.timedelta(days=days)
    return passed(expand(plan, first, today), today, first, known)


@task(name="mail-confirm-links", cache_policy=NO_CACHE)
def mail_confirm_links(plan: Plan, occurrences: list[Occurrence], today: date) -> int:
    """Mail each holder of a responsible body's role (found as the invitations find them)
    the occurrences that passed with nothing recorded, each with a personal answer link to
    `aarshjul web` (AARSHJUL_SITE_URL/svar/TOKEN); returns how many were sent. A role
    holder asked in the last 7 days is not asked again unless something new has passed
    (domain/confirm.py to_remind): a weekly reminder, not a daily one. Nothing
    without mail.yaml or AARSHJUL_SITE_URL (the links need the service's address)."""
    from aarshjul.db.audiences import audience_candidates
    from aarshjul.db.confirm import last_asked
    from aarshjul.domain.confirm import (AnswerLink, answer_expiry, answer_token, confirm_campaign, confirm_items,
                                         recipients_by_member, to_remind)
    from aarshjul.settings import per_organisation
    from aarshjul.tasks.mailer import secret_key

    settings = get_settings()
    site_url = per_organisation(settings.site_url, plan.organisation.id)
    if not occurrences or not plan.mail or not site_url:
        if occurrences:
            get_run_logger().warning("no answer links mailed: %s is not set",
                                     "mail.yaml" if not plan.mail else "AARSHJUL_SITE_URL")
        return 0
    secret = secret_key(settings.secret_key_file)
    expires = answer_expiry(today)
    org = plan.organisation.id
    sent = skipped = 0
    with transaction(settings.database_url) as session:
        asked = last_asked(session, org)
        bodies = sorted({b for o in occurrences for b in o.bodies})
        addresses: dict[str, str | None] = {}
        holders: dict[str, list[str]] = {}
        for body in bodies:
            for number, address in audience_candidates(session, org, {"role": body}):
                holders.setdefault(body, []).append(number)
                addresses[number] = address
        for member, mine in recipients_by_member(occurrences, holders).items():
            if not to_remind(mine, asked.get(member), today):
                skipped += 1  # asked this week already, and nothing new since
                continue
            base = site_url.rstrip("/") + "/svar/"
            links = {o.key: base + answer_token(secret, AnswerLink(org, o.key, member, expires)) for o in mine}
            their_bodies = [b for b in bodies if member in holders.get(b, [])]
            campaign = confirm_campaign(plan, member, confirm_items(plan, mine, links), their_bodies, today, expires)
            sent += send_now(session, limits(plan), campaign, [(member, addresses[member])])
    get_run_logger().info("answer links mailed to %d role holders (%d messages sent, %d asked this week already)",
                          len({m for ms in holders.values() for m in ms}) - skipped, sent, skipped)
    return sent


def is_recorded(organisation: str, key: str) -> bool:
    with transaction(get_settings().database_url) as session:
        return key in recorded_keys(session, organisation)


@task(name="record-answer", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=transient_error)
def record_answer(plan: Plan, occ: Occurrence, answer: dict[str, Any], today: date) -> str:
    """Store the answer as a completion (source 'ui'); returns the outcome."""
    outcome = "held" if answer["held"] else "not_held"
    with transaction(get_settings().database_url) as session:
        record_completion(session, plan.organisation.id, occ.measure, occ.key,
                          answer["date"] or default_day(occ, today), datetime.now(timezone.utc),
                          outcome=outcome, occurrence_key=occ.key,
                          attendance=answer["attendance"] if outcome == "held" else None,
                          note=(answer["note"] or "").strip() or None, evidence_url=answer["evidence_url"],
                          source="ui")
    return outcome
