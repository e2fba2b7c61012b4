"""Mail: `aarshjul newsletter list | preview | send`, `reminders send`, `unsubscribe`.

    newsletter list             the newsletters in mail.yaml and their next edition
    newsletter preview ID       an edition rendered for a sample member; sends nothing
    newsletter send ID          send an edition (the one due today unless --edition), a Prefect flow run
    reminders send              the reminders due today to the responsible bodies, a Prefect flow run
    unsubscribe TOKEN           record an unsubscribe from a List-Unsubscribe link

`send` checks the plan, the newsletter and the edition before Prefect starts (a mistake
exits 2) and refuses at once, with exit status 75, while another send holds the lock.
list, preview and unsubscribe never import Prefect.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import cli_kit as kit
from .domain.i18n import N_, Msg
from .domain.results import Delivery
from .settings import get_settings

if TYPE_CHECKING:
    from .domain.mail_model import Newsletter as NewsletterConfig
    from .domain.plan import Plan

news_app = typer.Typer(help=N_("Newsletters: list, preview, send."), no_args_is_help=True)
rem_app = typer.Typer(help=N_("Reminders to the responsible bodies."), no_args_is_help=True)
unsubscribe_cli = typer.Typer()

Newsletter = Annotated[str, typer.Argument(help=N_("The newsletter id."))]


@news_app.command("list", help=N_("The newsletters in mail.yaml, with their next edition."))
def newsletter_list(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
                    format: kit.Format = "table") -> None:
    from .cli_plan import rrule_text
    from .domain.campaigns import mail_config
    from .domain.editions import edition_label, scheduled_days

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    listing = kit.Listing(kit.tr("Newsletters"), [
        kit.Column("id", "id", ident=True), kit.Column("name", kit.tr("name")),
        kit.Column("audience", kit.tr("audience")), kit.Column("schedule", kit.tr("when")),
        kit.Column("next", kit.tr("next edition"), ident=True)])
    for n in mail_config(p).newsletters:
        upcoming = scheduled_days(p, n, day, p.period.end)
        edition = f"{n.id}/{edition_label(n, upcoming[0])}" if upcoming else None
        nxt = f"{edition} ({upcoming[0].isoformat()})" if upcoming else "–"
        listing.add(n.id, n.name, audience_text(p, n, lang), rrule_text(n.schedule, lang), nxt, record={
            "id": n.id, "name": n.name, "measure": n.measure,
            "audience": n.audience.model_dump(exclude_defaults=True), "audience_text": audience_text(p, n, lang),
            "schedule": n.schedule, "schedule_text": rrule_text(n.schedule, lang), "template": n.template,
            "next_edition": edition, "next_date": upcoming[0].isoformat() if upcoming else None})
    listing.print(format)


def audience_text(p: Plan, n: NewsletterConfig, lang: str) -> str:
    """Who gets it, in words: 'alle medlemmer', 'medlemmene i Arna SV', 'hvert lag for seg'."""
    from .domain.i18n import _

    a = n.audience
    if a.all:
        return _(lang, "all members")
    if a.branch:
        return _(lang, "the members of {name}", name=p.bodies[a.branch].name if a.branch in p.bodies else a.branch)
    if a.role:
        return _(lang, "{name} (role)", name=p.bodies[a.role].name if a.role in p.bodies else a.role)
    word = kit.branch_word(p, lang)
    return _(lang, "each {group}'s members, one edition per {group}", group=word.singular)


@news_app.command("preview", help=N_(
     "Render an edition for a sample member (Ola Nordmann) and print it; sends nothing."))
def newsletter_preview(
    newsletter: Newsletter,
    edition: Annotated[Optional[str], typer.Option("--edition", help=N_("YYYY-MM (default: the next one)."))] = None,
    plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
    html: Annotated[bool, typer.Option("--html", help=N_("Print the HTML part instead of the text."))] = False,
) -> None:
    from .domain.campaigns import content_path, find_newsletter, newsletter_campaign
    from .domain.editions import editions_for, parse_edition, scheduled_days
    from .tasks.mail_render import Renderer, read_edition_text

    lang, day = kit.lang(lang), kit.today(today)
    p = kit.load(plan)
    n = find_newsletter(p, newsletter)
    if edition:
        editions = parse_edition(p, n, edition)  # BadEdition: exit 2
    else:
        upcoming = scheduled_days(p, n, day, p.period.end)
        if not upcoming:
            kit.fail(kit.tr("{newsletter} has no edition after {day}", newsletter=n.id, day=day))
        editions = editions_for(p, n, upcoming[0])
    campaign = newsletter_campaign(p, n, editions[0], day, read_edition_text(content_path(p, n, editions[0])),
                                   allow_empty=True)
    if campaign.context.get("events") == []:
        kit.err.print("! " + kit.tr("{edition}: no events to list; an empty digest is not sent", edition=campaign.key))
    assert campaign.unsubscribe_url is not None  # newsletter_campaign sets it: mail.yaml's unsubscribe.url is required
    context = {**campaign.context, "first_name": "Ola",
               "unsubscribe_url": campaign.unsubscribe_url.replace("{token}", kit.tr("PREVIEW"))}
    subject, text, html_part = Renderer(campaign.template, campaign.subject, campaign.templates).render(context)
    print(kit.tr("Subject: {subject}", subject=subject) + "\n" + kit.tr("Edition: {key}", key=campaign.key) + "\n")
    print(html_part if html else text)


@news_app.command("send", help=N_("Send an edition (a Prefect flow run); recipients who already have it are skipped."))
def newsletter_send(
    newsletter: Newsletter,
    edition: Annotated[Optional[str], typer.Option(
        "--edition", help=N_("YYYY-MM (default: the one due today)."))] = None,
    plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
    force: Annotated[bool, typer.Option("--force", help=N_("Send an edition the plan does not schedule."))] = False,
) -> None:
    kit.start_prefect()
    from .domain.campaigns import find_newsletter
    from .domain.editions import parse_edition

    lang, day, path = kit.lang(lang), kit.today(today), kit.plan_path(plan)
    p = kit.load(path)
    n = find_newsletter(p, newsletter)
    if edition:
        parse_edition(p, n, edition, force)  # a bad or unscheduled edition exits 2 here, before Prefect starts
    kit.not_busy(["send-newsletter"], p.organisation.id)
    from .flows.mail import send_newsletter

    print_mail(kit.run_flow(send_newsletter, newsletter=newsletter, edition=edition, plan_path=str(path),
                            today=day, force=force), lang)


@rem_app.command("send", help=N_("Send the reminders due today to the responsible bodies (a Prefect flow run)."))
def reminders_send(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None) -> None:
    kit.start_prefect()
    from .domain.campaigns import mail_config

    lang, day, path = kit.lang(lang), kit.today(today), kit.plan_path(plan)
    p = kit.load(path)
    mail_config(p)
    kit.not_busy(["send-reminders"], p.organisation.id)
    from .flows.mail import send_reminders

    summaries = kit.run_flow(send_reminders, plan_path=str(path), today=day)
    print_mail(summaries, lang)
    if not summaries:
        kit.say(kit.tr("No reminders due today."))


@unsubscribe_cli.command(help=N_("Record an unsubscribe (as the web endpoint would); honoured by the next send."))
def unsubscribe(token: Annotated[str, typer.Argument(help=N_("The token from a List-Unsubscribe link."))],
                plan: kit.Plan = None, today: kit.Today = None) -> None:
    from .db.ledger import record_unsubscribe
    from .domain.messages import BadToken, read_token
    from .tasks.mailer import secret_key

    p = kit.load(plan)
    try:
        org, audience, member = read_token(secret_key(get_settings().secret_key_file), token)
    except BadToken as exc:
        raise BadToken(Msg("{reason}; copy the whole token from the link", reason=exc)) from None
    if org != p.organisation.id:
        kit.fail(kit.tr("the token is for organisation {org!r}, not {ours!r}", org=org, ours=p.organisation.id))
    with kit.session() as session:
        new = record_unsubscribe(session, org, audience, member, datetime.now().astimezone(), "cli")
    kit.ok(kit.tr("member {member} is unsubscribed from {audience}", member=member, audience=audience)
           if new else kit.tr("member {member} was already unsubscribed from {audience}", member=member,
                              audience=audience))


# why rows failed (tasks/mailer.py _reason): the reasons as msgids
FAILED = {"no SMTPUTF8": N_("no SMTPUTF8"), "no address": N_("no address"), "invalid address": N_("invalid address"),
          "message not built": N_("message not built"), "refused by the server": N_("refused by the server")}


def print_mail(summaries: list[Delivery], lang: str) -> None:
    """Each delivery on a line; then, when an edition paused, EditionPaused (exit 3) after
    everything else was printed (the rest of that edition waits for the next run)."""
    from .domain.i18n import _

    paused: list[str] = []
    for s in summaries:
        if s.not_ready:
            kit.warn(s.not_ready)
            continue
        if s.paused:
            paused.append(s.campaign)
            kit.warn(f"{s.campaign}: {s.paused}")
            continue
        why = ", ".join(f"{n} {_(lang, FAILED[r]) if r in FAILED else r}" for r, n in sorted(s.failed_reasons.items()))
        why = f" ({why})" if why else ""
        kit.ok(_(lang, "{campaign}: {sent} sent, {failed} failed{why}, {unknown} unknown, {in_doubt} in doubt, "
                       "{unsubscribed} unsubscribed, {invalid} invalid address", campaign=s.campaign, sent=s.sent,
                 failed=s.failed, why=why, unknown=s.unknown, in_doubt=s.in_doubt,
                 unsubscribed=s.skipped_unsubscribed, invalid=s.skipped_invalid)
               + _(lang, ", {suspended} suspended after bounces", suspended=s.skipped_suspended))
    if paused:
        from .domain.errors import EditionPaused

        raise EditionPaused(Msg("paused, the rest waits for the next run: {editions}", editions=", ".join(paused)))
