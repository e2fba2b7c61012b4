"""Sending campaigns through the delivery ledger, as Prefect tasks.

    prepare_campaign   recipients into the ledger, rows in doubt recovered, every message rendered once
    send_batch         ledger batches, each committed as it is done, up to TASK_RECIPIENTS
                       recipients in one task run (few task runs per edition: at most one
                       per 100 recipients plus the prepare task)
    send_now           a small campaign (a list to one branch) prepared and sent inside a running task
    log_edition_sent   a sent edition counts for its measure in the completion log

The ledger, not Prefect's cache, decides what was sent (no task here caches).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from aarshjul.db.audiences import audience_candidates
from aarshjul.db.completions import log_completion
from aarshjul.db.ledger import sent_campaigns
from aarshjul.db.session import transaction
from aarshjul.domain.campaigns import Campaign, Limits
from aarshjul.domain.editions import Edition
from aarshjul.domain.expand import expand
from aarshjul.domain.i18n import ngettext
from aarshjul.domain.plan import Plan
from aarshjul.settings import get_settings, per_organisation
from aarshjul.tasks.mail_transport import transport_from_settings
from aarshjul.tasks.mailer import BatchResult, Mailer, Prepared, secret_key


def mailer(session: Session, limits: Limits) -> Mailer:
    """A Mailer over the transport the settings choose (SMTP, or the outbox folder), with
    mail.yaml's limits."""
    s = get_settings()
    outbox = per_organisation(s.outbox_dir, limits.organisation)
    assert outbox is not None  # outbox_dir is a str setting, so it is one with {organisation} filled in
    return Mailer(session, transport_from_settings(s.smtp_url, Path(outbox)), secret_key(s.secret_key_file),
                  rate_per_second=limits.rate_per_second, max_failures_in_a_row=limits.max_failures_in_a_row,
                  retry_delay=s.mail_retry_delay,
                  max_failure_ratio=limits.max_failure_ratio)


TASK_RECIPIENTS = 1000  # recipients one send-batch task run sends, in ledger batches of mail.yaml's batch_size


def send_batches(m: Mailer, campaign: Campaign, first_batch: int, batch_size: int,
                 most: int | None = None) -> BatchResult:
    """Ledger batches from `first_batch` on, each committed when done, until `most`
    recipients were claimed or none is left to send now; `batches` says how many."""
    totals = BatchResult()
    while True:
        result = m.send_batch(campaign, batch_size, first_batch + totals.batches)
        totals.add(result)
        totals.batches += 1
        if result.claimed == 0 or result.claimed == result.retry_later:
            totals.done = True
            return totals
        if most and totals.claimed >= most:
            return totals


def send_now(session: Session, limits: Limits, campaign: Campaign, candidates: list[tuple[str, str | None]]) -> int:
    """Prepare and send a small campaign in the calling task; returns how many were sent."""
    m = mailer(session, limits)
    try:
        m.prepare(campaign, candidates)
        return send_batches(m, campaign, 1, limits.batch_size).sent
    finally:
        m.close()


@task(name="prepare-campaign", cache_policy=NO_CACHE)
def prepare_campaign(campaign: Campaign, audience: dict[str, Any] | None, contacts: list[tuple[str, str | None]] | None,
                     limits: Limits) -> Prepared:
    """Recipients into the ledger (an audience of members, or bodies' contact addresses),
    rows in doubt recovered, every message rendered once."""
    with transaction(get_settings().database_url) as session:
        suspended: list[str] = []  # members left out because their address bounced (filled as candidates are read)
        candidates = contacts if contacts is not None else \
            audience_candidates(session, campaign.organisation, audience or {}, suspended)
        prepared = mailer(session, limits).prepare(campaign, candidates)
        prepared.skipped_suspended = len(suspended)
        return prepared


@task(name="send-batch", cache_policy=NO_CACHE)
def send_batch(campaign: Campaign, batch_no: int, limits: Limits) -> BatchResult:
    """Ledger batches from `batch_no` on, up to TASK_RECIPIENTS recipients, each batch's
    outcomes committed before the next is claimed; `batches` says how many were sent."""
    with transaction(get_settings().database_url) as session:
        m = mailer(session, limits)
        try:
            return send_batches(m, campaign, batch_no, limits.batch_size, TASK_RECIPIENTS)
        finally:
            m.close()


@task(name="read-invited", cache_policy=NO_CACHE)
def invited_campaigns(organisation: str) -> set[str]:
    """The invitation campaigns already in the ledger."""
    with transaction(get_settings().database_url) as session:
        return sent_campaigns(session, organisation, "invite/")


@task(name="log-edition-sent", cache_policy=NO_CACHE)
def log_edition_sent(plan: Plan, measure: str, edition: Edition, today: date, sent: int) -> None:
    """A sent edition counts for its measure: for the occurrence of the measure's own
    series on the edition's day when there is one (1.7/2026-02-26), else for the measure."""
    occurrence = f"{measure}/{edition.day.isoformat()}"
    keys = {o.key for o in expand(plan, edition.day, edition.day) if o.measure == measure}
    key = occurrence if occurrence in keys else None
    with transaction(get_settings().database_url) as session:
        log_completion(session, plan.organisation.id, measure, key or f"{measure}@{edition.key}", today,
                       datetime.now(timezone.utc), occurrence_key=key,
                       note=ngettext(plan.organisation.locale, "{key}: sent to {n} recipient",
                                     "{key}: sent to {n} recipients", sent, key=edition.key), source="flow")
