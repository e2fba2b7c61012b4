"""The bounce flow: read the bounce mailbox, suspend addresses that do not work (every 15 minutes)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from aarshjul.domain.bounces import BounceRun
from aarshjul.domain.campaigns import mail_config
from aarshjul.domain.i18n import N_
from aarshjul.flows.guard import single_run
from aarshjul.settings import get_settings
from aarshjul.tasks.artifacts import counts_summary
from aarshjul.tasks.bounces import process_bounce_mailbox
from aarshjul.tasks.plan_io import read_plan


@flow(name="process-bounces", log_prints=False)
def process_bounces(plan_path: str = "config/plan.yaml") -> BounceRun:
    """Read the bounce mailbox (AARSHJUL_BOUNCE_IMAP_URL) once: each report about one of our
    messages is recorded, a hard bounce or the third soft one in 30 days suspends the
    address, and the report is moved to mail.yaml's `bounces.folder`; other mail stays.
    A chapter without a `bounces:` section or a mailbox setting reads nothing (a warning)."""
    plan = read_plan(plan_path)
    config = mail_config(plan).bounces
    if config is None or get_settings().bounce_imap_url is None:
        # a chapter that reads no bounces: the schedule's runs end cleanly, saying why
        # (`aarshjul bounces process` refuses with exit 2 before it gets here)
        get_run_logger().warning("bounces: not read, %s", "the mail file has no `bounces:` section" if config is None
                                 else "AARSHJUL_BOUNCE_IMAP_URL is not set")
        return BounceRun()
    with single_run("process-bounces", plan):
        run = process_bounce_mailbox(plan.organisation.id, config)
    get_run_logger().info("bounces: %s", run.summary())  # counts only; member numbers stay in the result
    counts_summary(f"process-bounces-{plan.organisation.id}", N_("Bounce reports"),
                   {k: v for k, v in vars(run).items() if isinstance(v, int)} | {"suspended": len(run.suspended)},
                   plan.organisation.locale)
    return run
