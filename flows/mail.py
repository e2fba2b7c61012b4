"""Mail flows: newsletter editions and reminders, each delivered once through the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from datetime import date, datetime, timedelta, timezone

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from aarshjul.db.completions import log_completion
from aarshjul.db.audiences import audience_candidates
from aarshjul.db.session import transaction
from aarshjul.db.agenda import held_keys
from aarshjul.domain import i18n
from aarshjul.domain.editions import Edition, digest_events, due_editions, month_name, parse_edition
from aarshjul.domain.errors import AarshjulError, NotFound
from aarshjul.domain.expand import expand
from aarshjul.domain.mail_model import Newsletter
from aarshjul.domain.plan import Plan
from aarshjul.domain.reminders import Reminder, due_reminders
from aarshjul.flows.guard import single_run
from aarshjul.settings import get_settings, per_organisation
from aarshjul.tasks.mail_render import compile_subject
from aarshjul.tasks.mail_transport import transport_from_settings
from aarshjul.tasks.mailer import BatchResult, Campaign, Mailer, Prepared, secret_key
from aarshjul.tasks.plan_io import read_plan


class EditionNotReady(AarshjulError):
    """The edition's content file is not written yet: nothing is sent."""


@dataclass(frozen=True)
class Limits:
    """How fast and how patiently to send (from mail.yaml)."""

    organisation: str
    rate_per_second: float = 50.0
    max_failures_in_a_row: int = 20
    batch_size: int = 200


def _limits(plan: Plan) -> Limits:
    m = _mail(plan)
    return Limits(plan.organisation.id, m.rate_per_second, m.max_failures_in_a_row, m.batch_size)


def _mailer(session, limits: Limits) -> Mailer:
    s = get_settings()
    outbox = Path(per_organisation(s.outbox_dir, limits.organisation))
    return Mailer(session, transport_from_settings(s.smtp_url, outbox), secret_key(s.secret_key_file),
                  rate_per_second=limits.rate_per_second, max_failures_in_a_row=limits.max_failures_in_a_row,
                  retry_delay=s.mail_retry_delay)


def _mail(plan: Plan):
    if not plan.mail:
        raise AarshjulError(f"{plan.files[0]} names no mail file (add `mail: mail.yaml`)")
    return plan.mail


# --- building campaigns (no personal data) ------------------------------------------------


def newsletter_campaign(plan: Plan, n: Newsletter, edition: Edition, today: date) -> Campaign:
    mail, lang = _mail(plan), plan.organisation.locale
    context = {"organisation": plan.organisation.name, "newsletter": n.name, "lang": lang,
               "month": month_name(edition.day, lang), "edition": edition.key}
    if n.content:
        path = plan.folder / n.content.replace("{edition}", edition.key.rsplit("/", 1)[-1])
        if not path.exists():
            raise EditionNotReady(f"{edition.key}: teksten {path} er ikke skrevet ennå; brevet sendes ikke")
        from markdown_it import MarkdownIt

        source = path.read_text(encoding="utf-8")
        context["content_html"] = MarkdownIt("commonmark", {"html": False}).render(source)
        context["content_text"] = source.strip()
    if edition.branch:
        occ = expand(plan, today, None)
        context["branch_name"] = plan.bodies[edition.branch].name
        context["events"] = [{"title": o.title, "when": _when(o, lang), "place": o.place,
                              "bodies": ", ".join(plan.body_name(b) for b in o.bodies)}
                             for o in digest_events(occ, edition.branch, today)]
    sender = plan.bodies[n.sender] if n.sender else None
    return Campaign(
        organisation=plan.organisation.id, key=edition.key, audience=edition.audience, template=n.template,
        subject=n.subject, context=context,
        from_name=f"{mail.sender.name} – {sender.name}" if sender else mail.sender.name,
        from_address=mail.sender.address, domain=mail.sender.domain,
        reply_to=sender.contact if sender else None, list_name=n.name,
        unsubscribe_url=mail.unsubscribe.url, unsubscribe_mailto=mail.unsubscribe.mailto)


def reminder_campaign(plan: Plan, r: Reminder) -> Campaign:
    mail, lang, o = _mail(plan), plan.organisation.locale, r.occurrence
    measure = plan.measure(o.measure)
    # Fixed subjects; the plan's text goes in as values (never as template source).
    if r.kind == "lead":
        subject = "Om {{ days }} dager: {{ title }}"
        message = f"{o.title} er satt opp {_when(o, lang)}{', ' + o.place if o.place else ''}."
    elif r.kind == "unscheduled":
        subject = "Ikke berammet: {{ title }}"
        message = (f"Arbeidsplanen krever dette innen {i18n.day(o.window_end, lang)}, om {r.days} dager, "
                   f"men ingen dato er satt. Sett en dato i schedule.yaml.")
    else:
        subject = "Fristen er passert: {{ title }}"
        message = (f"Fristen var {i18n.day(o.span.end, lang)}, og ingen gjennomføring er registrert. "
                   f"Registrer den, eller forklar hvorfor den ikke ble gjennomført.")
    values = {"days": r.days, "title": o.title}
    headline = compile_subject(subject).render(values)
    return Campaign(
        organisation=plan.organisation.id, key=r.campaign, audience=None, template="reminder",
        subject=subject, context={"organisation": plan.organisation.name, "lang": lang, "headline": headline,
                                  "message": message, "measure": measure.number, "measure_text": measure.text,
                                  "bodies": ", ".join(plan.body_name(b) for b in o.bodies), "key": o.key,
                                  **values},
        from_name=f"{mail.sender.name} – årshjulet", from_address=mail.sender.address, domain=mail.sender.domain,
        recipient_kind="body", recipient_names={b: plan.bodies[b].name for b in o.bodies})


def _when(o, lang: str) -> str:
    if o.start is None:
        return f"innen {i18n.day(o.window_end, lang)}"
    text = i18n.day(o.start, lang)
    return text if o.all_day else f"{text} kl. {i18n.clock(o.start, lang)}"


def body_campaign(plan: Plan, key: str, template: str, subject: str, context: dict, bodies: list[str]) -> Campaign:
    """A message to bodies' contact addresses. `subject` is a fixed template whose
    values come from `context` (never text from the plan or the register)."""
    mail = _mail(plan)
    return Campaign(organisation=plan.organisation.id, key=key, audience=None, template=template, subject=subject,
                    context={"organisation": plan.organisation.name, "lang": plan.organisation.locale, **context},
                    from_name=f"{mail.sender.name} – årshjulet", from_address=mail.sender.address,
                    domain=mail.sender.domain, recipient_kind="body",
                    recipient_names={b: plan.bodies[b].name for b in bodies})


def send_now(plan: Plan, session, campaign: Campaign, candidates: list[tuple[str, str | None]]) -> int:
    """Prepare and send a small campaign in this task; returns how many were sent."""
    limits = _limits(plan)
    mailer = _mailer(session, limits)
    try:
        mailer.prepare(campaign, candidates)
        sent, batch = 0, 0
        while True:
            batch += 1
            result = mailer.send_batch(campaign, limits.batch_size, batch)
            sent += result.sent
            if result.claimed == 0 or result.claimed == result.retry_later:
                return sent
    finally:
        mailer.transport.close()


# --- tasks ----------------------------------------------------------------------------------


@task(name="prepare-campaign", cache_policy=NO_CACHE)
def prepare(campaign: Campaign, audience: dict | None, contacts: list[tuple[str, str]] | None,
            limits: Limits) -> Prepared:
    """Recipients into the ledger (an audience of members, or bodies' contact addresses),
    rows in doubt recovered, every message rendered once."""
    with transaction(get_settings().database_url) as session:
        candidates = contacts if contacts is not None else \
            audience_candidates(session, campaign.organisation, audience)
        return _mailer(session, limits).prepare(campaign, candidates)


@task(name="send-batch", cache_policy=NO_CACHE)
def send_batch(campaign: Campaign, batch_no: int, limits: Limits) -> BatchResult:
    """One batch over one connection; outcomes committed before returning."""
    with transaction(get_settings().database_url) as session:
        mailer = _mailer(session, limits)
        try:
            return mailer.send_batch(campaign, limits.batch_size, batch_no)
        finally:
            mailer.transport.close()


def _send(campaign: Campaign, limits: Limits, audience: dict | None = None,
          contacts: list[tuple[str, str]] | None = None) -> dict:
    prepared = prepare(campaign, audience, contacts, limits)
    totals = BatchResult()
    batch_no = 0
    while prepared.pending:  # nobody to send to (an empty branch): no batch task at all
        batch_no += 1
        result = send_batch(campaign, batch_no, limits)
        for name in vars(totals):
            setattr(totals, name, getattr(totals, name) + getattr(result, name))
        if result.claimed == 0 or result.claimed == result.retry_later:
            break
    return {"campaign": campaign.key, **{k: v for k, v in vars(prepared).items()},
            **{k: v for k, v in vars(totals).items() if k != "claimed"}}


# --- flows ------------------------------------------------------------------------------------


@flow(name="send-newsletter", log_prints=False)
@single_run("send-newsletter", empty=list)
def send_newsletter(newsletter: str, edition: str | None = None, plan_path: str = "config/plan.yaml",
                    today: date | None = None) -> list[dict]:
    """Send an edition of a newsletter (the one due today, unless named) to its audience,
    once: recipients already in the ledger are not sent again."""
    logger = get_run_logger()
    today = today or date.today()
    plan = read_plan(plan_path)
    n = _newsletter(plan, newsletter)
    editions = parse_edition(plan, n, edition) if edition else due_editions(plan, n, today)
    if not editions:
        logger.info("%s: no edition due on %s", n.id, today)
        return []
    summaries = []
    for ed in editions:
        try:
            campaign = newsletter_campaign(plan, n, ed, today)
        except EditionNotReady as exc:
            logger.warning("%s", exc)
            summaries.append({"campaign": ed.key, "not_ready": str(exc)})
            continue
        audience = {"branch": ed.branch} if ed.branch else n.audience.model_dump(exclude_defaults=True)
        summary = _send(campaign, _limits(plan), audience=audience)
        logger.info("%s: %d sent, %d failed, %d unknown, %d in doubt, %d unsubscribed, %d invalid",
                    ed.key, summary["sent"], summary["failed"], summary["unknown"], summary["in_doubt"],
                    summary["skipped_unsubscribed"], summary["skipped_invalid"])
        if n.measure and summary["sent"]:
            _log_sent(plan, n.measure, ed, today, summary)
        summaries.append(summary)
    _artifact(plan, f"newsletter-{n.id}", summaries)
    return summaries


@flow(name="send-reminders", log_prints=False)
@single_run("send-reminders", empty=list)
def send_reminders(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[dict]:
    """Remind each responsible body of what falls due: meetings ahead, slots not yet
    scheduled as their window closes, deadlines passed. Each reminder goes once."""
    logger = get_run_logger()
    today = today or date.today()
    plan = read_plan(plan_path)
    mail = _mail(plan)
    with transaction(get_settings().database_url) as session:
        held = held_keys(session, plan.organisation.id)
    reminders = due_reminders(expand(plan), today, mail.reminders, held)
    summaries = [_send(reminder_campaign(plan, r), _limits(plan),
                       contacts=[(b, plan.bodies[b].contact) for b in r.occurrence.bodies]) for r in reminders]
    logger.info("%d reminders due, %d messages sent", len(reminders), sum(s["sent"] for s in summaries))
    _artifact(plan, "reminders", summaries)
    return summaries


INVITE_AHEAD_DAYS = 60


def invitation_campaigns(plan: Plan, entries: list, today: date, invited: set[str]) -> list[tuple[Campaign, str]]:
    """(campaign, body) for each meeting of a body in the next 60 days whose current
    revision has not been sent: a REQUEST (SEQUENCE = revision), or a CANCEL for a
    meeting that was invited to and then cancelled. `invited` holds the campaign keys
    already in the ledger."""
    from aarshjul.domain.ics import invitation

    mail, lang = _mail(plan), plan.organisation.locale
    out = []
    for e in entries:
        o = e.occurrence
        if o.start is None or o.all_day or not (today <= o.span.start <= today + timedelta(days=INVITE_AHEAD_DAYS)):
            continue
        for body in o.bodies:
            prefix = f"invite/{o.uid}/{body}/"
            key = f"{prefix}{e.sequence}"
            if key in invited:
                continue
            if e.cancelled and not any(k.startswith(prefix) for k in invited):
                continue  # never invited: nothing to cancel
            method = "CANCEL" if e.cancelled else "REQUEST"
            info = plan.bodies[body]
            ics = invitation(plan, e, method, info.contact, info.name)
            measure = plan.measure(o.measure)
            prefix_word = "Avlyst: " if e.cancelled else ("Endret: " if e.sequence else "")
            when = _when(o, lang)
            out.append((Campaign(
                organisation=plan.organisation.id, key=key, audience=None, template="invitation",
                subject="{{ prefix_word }}{{ title }} – {{ when }}",
                context={"organisation": plan.organisation.name, "lang": lang, "title": o.title,
                         "prefix_word": prefix_word, "when": when, "place": o.place, "note": o.note, "cancelled": e.cancelled,
                         "sequence": e.sequence, "measure": measure.number, "measure_text": measure.text,
                         "body_name": info.name},
                from_name=f"{mail.sender.name} – {info.name}", from_address=mail.sender.address,
                domain=mail.sender.domain, reply_to=info.contact, calendar=ics, calendar_method=method), body))
    return out


@flow(name="send-invitations", log_prints=False)
@single_run("send-invitations", empty=list)
def send_invitations(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[dict]:
    """Invite each body's members (those holding its role) to its meetings in the next
    60 days, by iMIP with the feeds' UID; a moved meeting sends an update with a higher
    SEQUENCE, a cancelled one a CANCEL."""
    from aarshjul.db.calendars import entries as stored_entries
    from aarshjul.db.ledger import sent_campaigns

    today = today or date.today()
    plan = read_plan(plan_path)
    if _mail(plan).invitations == "off":
        return []
    with transaction(get_settings().database_url) as session:
        entries = stored_entries(session, plan.organisation.id, plan.tz)
        invited = sent_campaigns(session, plan.organisation.id, "invite/")
    summaries = [_send(c, _limits(plan), audience={"role": body})
                 for c, body in invitation_campaigns(plan, entries, today, invited)]
    get_run_logger().info("%d invitations and updates, %d messages sent", len(summaries),
                          sum(s["sent"] for s in summaries))
    _artifact(plan, "invitations", summaries)
    return summaries


@flow(name="send-newsletters", log_prints=False)
def send_due_newsletters(plan_path: str = "config/plan.yaml", today: date | None = None) -> list[dict]:
    """The edition of each newsletter that is due today, if any."""
    today = today or date.today()
    plan = read_plan(plan_path)
    return [s for n in _mail(plan).newsletters for s in send_newsletter.fn(n.id, None, plan_path, today)]


@flow(name="send-mail", log_prints=False)
def send_due_mail(plan_path: str = "config/plan.yaml", today: date | None = None) -> dict:
    """Everything due today: each newsletter's edition, the reminders, the invitations."""
    today = today or date.today()
    out = {"newsletters": send_due_newsletters.fn(plan_path, today)}
    out["reminders"] = send_reminders.fn(plan_path, today)
    out["invitations"] = send_invitations.fn(plan_path, today)
    return out


def _newsletter(plan: Plan, ident: str) -> Newsletter:
    for n in _mail(plan).newsletters:
        if n.id == ident:
            return n
    raise NotFound("newsletter", ident, [n.id for n in plan.mail.newsletters])


def _log_sent(plan: Plan, measure: str, edition: Edition, today: date, summary: dict) -> None:
    """A sent edition counts for its measure: for the occurrence of the measure's own
    series on the edition's day when there is one (1.7/2026-02-26), else for the measure."""
    occurrence = f"{measure}/{edition.day.isoformat()}"
    keys = {o.key for o in expand(plan, edition.day, edition.day) if o.measure == measure}
    key = occurrence if occurrence in keys else None
    with transaction(get_settings().database_url) as session:
        log_completion(session, plan.organisation.id, measure, key or f"{measure}@{edition.key}", today,
                       datetime.now(timezone.utc), occurrence_key=key,
                       note=f"{edition.key}: sendt til {summary['sent']} mottakere", source="flow")


def _artifact(plan: Plan, name: str, summaries: list[dict]) -> None:
    keys = ["campaign", "added", "pending", "sent", "failed", "unknown", "in_doubt", "retry_later",
            "skipped_unsubscribed", "skipped_invalid", "skipped_duplicate"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for s in summaries:
        lines.append("| " + " | ".join(str(s.get(k, "")) for k in keys) + " |")
    create_markdown_artifact(key=f"{name}-{plan.organisation.id}".replace("_", "-").lower(),
                             markdown="\n".join(lines) if summaries else "Nothing due.",
                             description=f"Mail: {name}")
