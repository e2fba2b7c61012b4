"""Mail flows: newsletter editions, reminders and invitations, each delivered once through the ledger."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from aarshjul.domain.campaigns import (Campaign, Limits, body_contacts, content_path, find_newsletter,
                                       invitation_campaigns, limits, mail_config, newsletter_audience,
                                       newsletter_campaign, reminder_campaign)
from aarshjul.domain.editions import due_editions, parse_edition
from aarshjul.domain.errors import EditionNotReady, EditionPaused
from aarshjul.domain.expand import expand
from aarshjul.domain.plan import Plan
from aarshjul.domain.reminders import due_reminders
from aarshjul.domain.results import Delivery, DueMail
from aarshjul.flows.guard import single_run
from aarshjul.settings import get_settings
from aarshjul.tasks.artifacts import mail_summary
from aarshjul.tasks.calendars import read_invited_versions, read_invitees, record_invitation
from aarshjul.tasks.mailer import BatchResult, Prepared
from aarshjul.tasks.plan_io import by_reference, read_entries, read_held, read_plan
from aarshjul.tasks.mail_render import read_edition_text
from aarshjul.tasks.sending import invited_campaigns, log_edition_sent, prepare_campaign, send_batch


def send_campaign(campaign: Campaign, limits: Limits, audience: dict[str, Any] | None = None,
                  contacts: list[tuple[str, str | None]] | None = None) -> Delivery:
    """Prepare the campaign, then send batch after batch until none is left (or the rest must
    wait). A paused edition is a result, not the end of the run: the other campaigns of the
    day still go, and the pause (with its counts) is in the result for the CLI to report."""
    prepared = prepare_campaign(campaign, audience, contacts, limits)
    totals = BatchResult()
    batch_no = 1
    while prepared.pending:  # nobody to send to (an empty branch): no batch task at all
        try:  # one task run sends several ledger batches (tasks/sending.py TASK_RECIPIENTS)
            result = send_batch(campaign, batch_no, limits)
        except EditionPaused as exc:
            get_run_logger().warning("%s", exc)
            run = getattr(exc, "run", None)  # this run's tally over every batch (tasks/mailer.py Paused)
            if run is not None:
                totals.sent, totals.failed, totals.unknown = run.sent, len(run.refused), run.unknown
            return _delivery(campaign, prepared, totals, paused=str(exc))
        totals.add(result)
        batch_no += result.batches
        if result.done:
            break
    if totals.reasons:  # kinds and counts only, never an address
        get_run_logger().warning("%s: %d failed (%s)", campaign.key, totals.failed,
                                 ", ".join(f"{n} {reason}" for reason, n in sorted(totals.reasons.items())))
    return _delivery(campaign, prepared, totals)


def _delivery(campaign: Campaign, prepared: Prepared, totals: BatchResult, paused: str | None = None) -> Delivery:
    return Delivery(campaign=campaign.key, added=prepared.added, pending=prepared.pending,
                    in_doubt=prepared.in_doubt, sent=totals.sent, failed=totals.failed,
                    unknown=totals.unknown, retry_later=totals.retry_later,
                    skipped_unsubscribed=prepared.skipped_unsubscribed + totals.unsubscribed,
                    skipped_invalid=prepared.skipped_invalid + totals.forgotten,
                    skipped_duplicate=prepared.skipped_duplicate,
                    # left out of the audience (suspended before), and rows suspended while it was sent
                    skipped_suspended=prepared.skipped_suspended + max(0, totals.skipped_rows - prepared.skipped_rows),
                    failed_reasons=dict(totals.reasons),
                    paused=paused)


@flow(name="send-newsletter", log_prints=False)
def send_newsletter(newsletter: str, edition: str | None = None, plan_path: str = "config/plan.yaml",
                    today: date | None = None, force: bool = False) -> list[Delivery]:
    """Send an edition of a newsletter (the one due today, unless named; one the plan does
    not schedule only with `force`); see `newsletter_editions`."""
    return newsletter_editions(read_plan(plan_path), newsletter, edition, today or date.today(), force)


def newsletter_editions(plan: Plan, newsletter: str, edition: str | None, today: date,
                        force: bool = False) -> list[Delivery]:
    """Send an edition of a newsletter (the one due today, unless named) to its audience,
    once: recipients already in the ledger are not sent again."""
    logger = get_run_logger()
    n = find_newsletter(plan, newsletter)
    editions = parse_edition(plan, n, edition, force) if edition else due_editions(plan, n, today)
    if not editions:
        logger.info("%s: no edition due on %s", n.id, today)
        return []
    summaries: list[Delivery] = []
    with single_run("send-newsletter", plan):
        for ed in editions:
            try:
                campaign = newsletter_campaign(plan, n, ed, today, read_edition_text(content_path(plan, n, ed)))
            except EditionNotReady as exc:
                logger.warning("%s", exc)
                summaries.append(Delivery(campaign=ed.key, not_ready=exc.say(plan.organisation.locale)))
                continue
            summary = send_campaign(campaign, limits(plan), audience=newsletter_audience(n, ed))
            logger.info("%s: %d sent, %d failed, %d unknown, %d in doubt, %d unsubscribed, %d invalid, "
                        "%d suspended after bounces", ed.key, summary.sent, summary.failed, summary.unknown,
                        summary.in_doubt, summary.skipped_unsubscribed, summary.skipped_invalid,
                        summary.skipped_suspended)
            if n.measure and summary.sent:
                log_edition_sent(by_reference(plan), n.measure, ed, today, summary.sent)
            summaries.append(summary)
    mail_summary(plan, f"newsletter-{n.id}", summaries)
    return summaries


@flow(name="send-reminders", log_prints=False)
def send_reminders(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[Delivery]:
    """Remind each responsible body of what falls due; see `reminders`."""
    return reminders(read_plan(plan_path), today or date.today())


def reminders(plan: Plan, today: date) -> list[Delivery]:
    """Remind each responsible body of what falls due: meetings ahead, slots not yet
    scheduled as their window closes, deadlines passed. Each reminder goes once."""
    with single_run("send-reminders", plan):
        held = read_held(get_settings().database_url, plan.organisation.id)
        due = due_reminders(expand(plan), today, mail_config(plan).reminders, held)
        summaries = [send_campaign(reminder_campaign(plan, r), limits(plan),
                                   contacts=body_contacts(plan, r.occurrence.bodies)) for r in due]
    get_run_logger().info("%d reminders due, %d messages sent", len(due), sum(s.sent for s in summaries))
    mail_summary(plan, "reminders", summaries)
    return summaries


@flow(name="send-invitations", log_prints=False)
def send_invitations(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[Delivery]:
    """Invite each body's members to its meetings; see `invitations`."""
    return invitations(read_plan(plan_path), today or date.today())


def invitations(plan: Plan, today: date) -> list[Delivery]:
    """Invite each body's members (those holding its role) to its meetings in the next
    60 days, by iMIP with the feeds' UID; a moved meeting sends an update with a higher
    SEQUENCE, a cancelled one a CANCEL."""
    if mail_config(plan).invitations == "off":
        return []
    with single_run("send-invitations", plan):
        entries = read_entries(get_settings().database_url, plan.organisation.id, plan.tz)
        invited = invited_campaigns(plan.organisation.id)
        by_uid, org = {e.occurrence.uid: e for e in entries}, plan.organisation.id
        summaries = []
        for c, body in invitation_campaigns(plan, entries, today, invited, *read_invited_versions(by_reference(plan))):
            uid = c.key.split("/")[1]  # invite/<uid>/<body>/<sequence>[/cancel]
            if c.calendar_method == "CANCEL":  # to everyone the ledger says was invited, not the role's holders now
                summaries.append(send_campaign(c, limits(plan), contacts=read_invitees(org, uid, body)))
                continue
            summaries.append(send_campaign(c, limits(plan), audience={"role": body}))
            if summaries[-1].sent or summaries[-1].unknown:  # what they now have, for a CANCEL to carry
                record_invitation(org, body, by_reference(by_uid[uid]),
                                  (plan.bodies[body].contact, plan.bodies[body].name))
    get_run_logger().info("%d invitations and updates, %d messages sent", len(summaries),
                          sum(s.sent for s in summaries))
    mail_summary(plan, "invitations", summaries)
    return summaries


@flow(name="send-mail", log_prints=False)
def send_due_mail(plan_path: str = "config/plan.yaml", today: date | None = None) -> DueMail:
    """Everything due today; see `send_due`."""
    return send_due(read_plan(plan_path), today or date.today())


def send_due(plan: Plan, today: date) -> DueMail:
    """Everything due today: each newsletter's edition, the reminders, the invitations."""
    return DueMail(newsletters=[s for n in mail_config(plan).newsletters
                                for s in newsletter_editions(plan, n.id, None, today)],
                   reminders=reminders(plan, today), invitations=invitations(plan, today))


@flow(name="send-newsletters", log_prints=False)
def send_due_newsletters(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[Delivery]:
    """The edition of each newsletter that is due today, if any."""
    plan, today = read_plan(plan_path), today or date.today()
    return [s for n in mail_config(plan).newsletters for s in newsletter_editions(plan, n.id, None, today)]
