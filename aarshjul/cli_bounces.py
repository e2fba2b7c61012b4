"""Bounces: `aarshjul bounces process` and `aarshjul members undeliverable`.

    bounces process          read the bounce mailbox once (the process-bounces flow, a Prefect run)
    members undeliverable    members whose address is suspended after bounces, branch by branch

`process` checks the plan's `bounces:` section and AARSHJUL_BOUNCE_IMAP_URL before Prefect
starts (a mistake exits 2), and exits 75 while another pass holds the lock; an unreachable
mailbox or a refused login exits 3. `undeliverable` is read-only and never imports Prefect.
Output names members by number, never by address. Registered in cli.py: `bounces` as a
group, `undeliverable` among the `members` commands.
"""

from __future__ import annotations

from collections import Counter

from . import cli_kit as kit
from .domain.i18n import N_
from .cli_kit import out

import typer

bounces_app = typer.Typer(help=N_("Bounces: read the bounce mailbox, suspend addresses that do not work."),
                          no_args_is_help=True)
undeliverable_cli = typer.Typer()  # its command joins `members` (cli.py)


@bounces_app.command("process", help=N_(
     "Read the bounce mailbox once: record each report, suspend addresses, file the reports away."))
def process(plan: kit.Plan = None, lang: kit.Lang = None) -> None:
    kit.start_prefect()
    from .domain.campaigns import mail_config
    from .tasks.bounces import mailbox_from_settings

    path = kit.plan_path(plan)
    p = kit.load(path)
    if mail_config(p).bounces is None:
        kit.fail(kit.tr("{file}: the mail file has no `bounces:` section (bounces.address), so no message has a "
                        "return address to read reports from", file=p.files[0]))
    mailbox_from_settings()  # AARSHJUL_BOUNCE_IMAP_URL unset or malformed: exit 2 now
    kit.not_busy(["process-bounces"], p.organisation.id)
    from .flows.bounces import process_bounces

    run = kit.run_flow(process_bounces, plan_path=str(path))
    kit.ok(kit.tr("{read} messages read: {hard} hard, {soft} soft, {other} other, {stale} stale, {again} seen "
                  "before; {unknown} unknown left alone; {moved} moved", read=run.read, hard=run.hard, soft=run.soft,
                  other=run.other, stale=run.stale, again=run.again, unknown=run.unknown, moved=run.moved))
    if run.suspended:
        kit.warn(kit.tr("{n} addresses suspended (member {members}); {skipped} pending letters skipped",
                        n=len(run.suspended), members=", ".join(run.suspended), skipped=run.skipped))
    if run.lifted:
        out.print(kit.tr("{n} suspensions lifted (a new address)", n=run.lifted))


@undeliverable_cli.command("undeliverable", help=N_(
     "Members whose address is suspended after bounces, by branch: fix them in the register."))
def undeliverable(plan: kit.Plan = None, format: kit.Format = "table") -> None:
    from .db.bounces import undeliverable as listed
    from .domain.load import load_plan

    p = load_plan(kit.plan_path(plan))
    rows = []
    with kit.existing_session() as session:
        if session is not None:
            rows = listed(session, p.organisation.id)
    if format != "table":  # json, or plain lines (cli_kit.Listing)
        listing = kit.Listing("", [kit.Column(k, k) for k in ("branch", "number", "reason", "since")])
        for r in rows:
            listing.add(r.branch or "", r.number, r.reason, r.since.date().isoformat(),
                        record={"branch": r.branch or None, "number": r.number, "reason": r.reason, "status": r.status,
                                "since": r.since.date().isoformat(), "hard": r.hard, "soft": r.soft})
        listing.print(format)
        return
    if not rows:
        out.print(kit.tr("No address is suspended."))
        return
    names, word = {b: p.bodies[b].name for b in p.branches()}, kit.branch_word(p)
    without = kit.tr("(without a {group})", group=word.singular)
    table = kit.table(kit.tr("Members without a working e-mail address ({n})", n=len(rows)),
                      (word.singular.capitalize(), kit.tr("Member number"), kit.tr("Reason"), kit.tr("Status"),
                       kit.tr("Since"), kit.tr("Hard"), kit.tr("Soft")))
    for r in rows:
        table.add_row(names.get(r.branch, r.branch) if r.branch else without, r.number,
                      kit.tr("hard bounce") if r.reason == "hard" else r.reason.replace("soft", kit.tr("soft bounces")),
                      r.status or "", r.since.date().isoformat(), str(r.hard), str(r.soft))
    out.print(table)
    per_branch = Counter(r.branch for r in rows)
    out.print(kit.tr("Per {group}: {counts}", group=word.singular, counts=", ".join(
        f"{names.get(b, b) if b else without} {n}" for b, n in sorted(per_branch.items()))))
    out.print(kit.tr("{group} corrects the address in the member register; the next import with a new address "
                     "lifts the suspension.", group=word.definite.capitalize()))
