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
from .cli_kit import out

import typer

bounces_app = typer.Typer(help="Bounces: read the bounce mailbox, suspend addresses that do not work.",
                          no_args_is_help=True)
undeliverable_cli = typer.Typer()  # its command joins `members` (cli.py)


@bounces_app.command("process")
def process(plan: kit.Plan = None, lang: kit.Lang = None) -> None:
    """Read the bounce mailbox once: record each report, suspend addresses, file the reports away."""
    kit.start_prefect()
    from .domain.campaigns import mail_config
    from .tasks.bounces import mailbox_from_settings

    lang, path = kit.lang(lang), kit.plan_path(plan)
    nb = lang == "nb"
    p = kit.load(path)
    if mail_config(p).bounces is None:
        kit.fail(f"{p.files[0]}: e-postfilen har ingen `bounces:` (bounces.address), så ingen melding har en "
                 "returadresse å lese rapporter etter" if nb else
                 f"{p.files[0]}: the mail file has no `bounces:` section (bounces.address)")
    mailbox_from_settings()  # AARSHJUL_BOUNCE_IMAP_URL unset or malformed: exit 2 now
    kit.not_busy(["process-bounces"], p.organisation.id)
    from .flows.bounces import process_bounces

    run = kit.run_flow(process_bounces, plan_path=str(path))
    if nb:
        kit.ok(f"{run.read} meldinger lest: {run.hard} harde, {run.soft} myke, {run.other} andre, {run.stale} "
               f"foreldet, {run.again} lest før; {run.unknown} ukjente latt ligge; {run.moved} flyttet")
    else:
        kit.ok(f"{run.read} messages read: {run.hard} hard, {run.soft} soft, {run.other} other, {run.stale} stale, "
               f"{run.again} seen before; {run.unknown} unknown left alone; {run.moved} moved")
    if run.suspended:
        kit.warn((f"{len(run.suspended)} adresser suspendert (medlem " if nb else
                  f"{len(run.suspended)} addresses suspended (member ") + ", ".join(run.suspended) + ")"
                 + (f"; {run.skipped} ventende brev hoppes over" if nb else f"; {run.skipped} pending letters skipped"))
    if run.lifted:
        out.print(f"{run.lifted} suspensjoner opphevet (ny adresse)" if nb else
                  f"{run.lifted} suspensions lifted (a new address)")


@undeliverable_cli.command("undeliverable")
def undeliverable(plan: kit.Plan = None, format: kit.Format = "table") -> None:
    """Members whose address is suspended after bounces, by branch: fix them in the register."""
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
        out.print("Ingen adresser er suspendert.")
        return
    names, word = {b: p.bodies[b].name for b in p.branches()}, p.branch_word
    table = kit.table(f"Medlemmer uten virkende e-postadresse ({len(rows)})",
                      (word.singular.capitalize(), "Medlemsnummer", "Årsak", "Status", "Siden", "Harde", "Myke"))
    for r in rows:
        table.add_row(names.get(r.branch, r.branch) if r.branch else f"(uten {word.singular})", r.number,
                      "hard retur" if r.reason == "hard" else r.reason.replace("soft", "myke returer"),
                      r.status or "", r.since.date().isoformat(), str(r.hard), str(r.soft))
    out.print(table)
    per_branch = Counter(r.branch for r in rows)
    out.print(f"Per {word.singular}: " + ", ".join(f"{names.get(b, b) if b else f'(uten {word.singular})'} {n}"
                                                  for b, n in sorted(per_branch.items())))
    out.print(f"{word.definite.capitalize()} retter adressen i medlemsregisteret; neste import med ny adresse "
              "opphever suspensjonen.")
