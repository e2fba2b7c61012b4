"""Campaigns: what one mailing says and to whom, built from the plan without any I/O.

A `Campaign` is all a batch needs to build its messages, and holds no personal data:
the recipients are chosen later, in the ledger. Subjects are *template source* fixed
here (or a newsletter's `subject:` from mail.yaml); the plan's own text (titles, body
names, places) goes into `context` as values and is never compiled as a template.

    newsletter_campaign    an edition of a newsletter (its text read by the caller)
    reminder_campaign      to a responsible body, before an obligation falls due
    invitation_campaigns   iMIP invitations, updates and cancellations for bodies' meetings
    body_campaign          any other message to bodies' contact addresses
    dues_campaign, follow_up_campaign, follow_up_overdue_campaign, dues_list_campaign,
    report_draft_campaign  the member flows' and the report's messages
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import i18n
from .editions import DIGEST_DAYS, Edition, digest_events, month_name
from .errors import AarshjulError, EditionEmpty, EditionNotReady, NotFound, Number
from .expand import Occurrence, expand
from .feeds import Entry
from .mail_model import MailFile, Newsletter
from .plan import Plan
from .reminders import Reminder
from .subjects import fixed_subject, followup_overdue_subject

INVITE_AHEAD_DAYS = 60


@dataclass(frozen=True)
class Campaign:
    """All a batch needs to build its messages; no personal data."""

    organisation: str
    key: str  # the ledger's campaign: medlemsbrev/2026-02, reminder/1.5/2026/2/lead-7
    audience: str | None  # for unsubscribe; None for messages one cannot unsubscribe from (reminders)
    template: str
    subject: str  # template source from this module or mail.yaml; values come from `context`
    context: dict[str, Any]  # shared by every recipient
    from_name: str
    from_address: str
    domain: str
    reply_to: str | None = None
    list_name: str | None = None
    unsubscribe_url: str | None = None  # with {token}
    unsubscribe_mailto: str | None = None
    recipient_kind: str = "member"  # member (recipient = member number) | body (recipient = body id)
    recipient_names: dict[str, str] = field(default_factory=dict)  # for bodies: id -> display name
    calendar: bytes | None = None  # an iMIP invitation to attach
    calendar_method: str | None = None
    templates: str | None = None  # the organisation's templates folder, over the bundled ones (Plan.templates)
    bounce_address: str | None = None  # mail.yaml bounces.address: each message's MAIL FROM is its VERP form


@dataclass(frozen=True)
class Limits:
    """How fast and how patiently to send (from mail.yaml)."""

    organisation: str
    rate_per_second: float = 50.0
    max_failures_in_a_row: int = 20
    batch_size: int = 200
    max_failure_ratio: float = 0.5


def mail_config(plan: Plan) -> MailFile:
    """The plan's mail configuration; an error naming the plan file when it has none."""
    if not plan.mail:
        raise AarshjulError(i18n.Msg("{file} names no mail file (add `mail: mail.yaml`)", file=str(plan.files[0])))
    return plan.mail


def limits(plan: Plan) -> Limits:
    m = mail_config(plan)
    return Limits(plan.organisation.id, m.rate_per_second, m.max_failures_in_a_row, m.batch_size,
                  m.max_failure_ratio)


def find_newsletter(plan: Plan, ident: str) -> Newsletter:
    newsletters = mail_config(plan).newsletters
    for n in newsletters:
        if n.id == ident:
            return n
    raise NotFound("newsletter", ident, [n.id for n in newsletters])


def when(o: Occurrence, lang: str) -> str:
    """'12. mars 2026 kl. 18:00', or 'innen 30. juni 2026' for a slot not yet scheduled
    ('12 March 2026 at 18:00', 'by 30 June 2026')."""
    if o.start is None:
        return i18n._(lang, "by {day}", day=i18n.day(o.window_end, lang))
    text = i18n.day(o.start, lang)
    # a timed occurrence starts at a datetime; an all-day one on a date
    return text if o.all_day or not isinstance(o.start, datetime) \
        else i18n._(lang, "{day} at {time}", day=text, time=i18n.clock(o.start, lang))


# --- newsletters ------------------------------------------------------------------------------


def content_path(plan: Plan, n: Newsletter, edition: Edition) -> Path | None:
    """Where an edition's text is written (None for newsletters built from the agenda)."""
    if not n.content:
        return None
    return plan.folder / n.content.replace("{edition}", edition.key.rsplit("/", 1)[-1])


def newsletter_campaign(plan: Plan, n: Newsletter, edition: Edition, today: date,
                        content: str | None = None, allow_empty: bool = False) -> Campaign:
    """An edition; `content` is the edition's Markdown text when the newsletter has one
    (EditionNotReady when it should and does not). A branch's digest with no events is
    not sent (EditionEmpty, saying so) unless `allow_empty` (a preview)."""
    mail, lang = mail_config(plan), plan.organisation.locale
    context: dict[str, Any] = {"organisation": plan.organisation.name, "newsletter": n.name, "lang": lang,
                     "month": month_name(edition.day, lang), "edition": edition.key}
    if n.content:
        if content is None:
            raise EditionNotReady(i18n.Msg("{edition}: the text {path} is not written yet; the letter is not sent",
                                           edition=edition.key, path=str(content_path(plan, n, edition))))
        from markdown_it import MarkdownIt

        context["content_html"] = MarkdownIt("commonmark", {"html": False}).render(content)
        context["content_text"] = content.strip()
    if edition.branch:
        occ = expand(plan, today, None)
        context["branch_name"] = plan.bodies[edition.branch].name
        context["events"] = [{"title": o.title, "when": when(o, lang), "place": o.place,
                              "bodies": ", ".join(plan.body_name(b) for b in o.bodies)}
                             for o in digest_events(occ, edition.branch, today)]
        if not context["events"] and not allow_empty:
            raise EditionEmpty(i18n.Msg("{edition}: nothing to report in the next {weeks} weeks; the overview is "
                                        "not sent", edition=edition.key, weeks=Number(DIGEST_DAYS // 7)))
    sender = plan.bodies[n.sender] if n.sender else None
    return Campaign(
        organisation=plan.organisation.id, key=edition.key, audience=edition.audience, template=n.template,
        subject=n.subject, context=context,
        from_name=f"{mail.sender.name} – {sender.name}" if sender else mail.sender.name,
        from_address=mail.sender.address, domain=mail.sender.domain, bounce_address=mail.bounce_address,
        reply_to=sender.contact if sender else None, list_name=n.name,
        unsubscribe_url=mail.unsubscribe.url, unsubscribe_mailto=mail.unsubscribe.mailto,
        templates=str(plan.templates))


def newsletter_audience(n: Newsletter, edition: Edition) -> dict[str, Any]:
    """Who an edition goes to: the branch's members for a branch edition, else the newsletter's audience."""
    return {"branch": edition.branch} if edition.branch else n.audience.model_dump(exclude_defaults=True)


# --- messages to bodies ----------------------------------------------------------------------

def reminder_campaign(plan: Plan, r: Reminder) -> Campaign:
    lang, o = plan.organisation.locale, r.occurrence
    measure = plan.measure(o.measure)
    if r.kind == "lead" and o.place:
        message = i18n._(lang, "{title} is scheduled for {when}, {place}.", title=o.title, when=when(o, lang),
                         place=o.place)
    elif r.kind == "lead":
        message = i18n._(lang, "{title} is scheduled for {when}.", title=o.title, when=when(o, lang))
    elif r.kind == "unscheduled":
        message = i18n._(lang, "The plan requires this by {day}, {in_days}, but no date is set. "
                               "Set a date in schedule.yaml.", day=i18n.day(o.window_end, lang),
                         in_days=in_days(r.days, lang))
    else:
        message = i18n._(lang, "The deadline was {day}, and nothing is recorded as done. "
                               "Record it, or explain why it was not done.", day=i18n.day(o.span.end, lang))
    return body_campaign(plan, r.campaign, "reminder", fixed_subject(f"reminder_{r.kind}", lang),
                         {"days": r.days, "in_days": in_days(r.days, lang).capitalize(), "title": o.title,
                          "message": message, "measure": measure.number, "measure_text": measure.text,
                          "bodies": ", ".join(plan.body_name(b) for b in o.bodies),
                          "key": o.key}, list(o.bodies))


def in_days(days: int, lang: str | None = i18n.DEFAULT) -> str:
    """'om 9 dager', 'i morgen', 'i dag' ('in 9 days', 'tomorrow', 'today'): how far ahead,
    from the days really left."""
    if days <= 0:
        return i18n._(lang, "today")
    if days == 1:
        return i18n._(lang, "tomorrow")
    return i18n.ngettext(lang, "in {n} day", "in {n} days", days)


def body_campaign(plan: Plan, key: str, template: str, subject: str, context: dict[str, Any],
                  bodies: list[str]) -> Campaign:
    """A message to bodies' contact addresses. `subject` is a fixed template whose
    values come from `context` (never text from the plan or the register)."""
    mail = mail_config(plan)
    return Campaign(organisation=plan.organisation.id, key=key, audience=None, template=template, subject=subject,
                    context={"organisation": plan.organisation.name, "lang": plan.organisation.locale, **context},
                    from_name=i18n._(plan.organisation.locale, "{sender} – the annual plan", sender=mail.sender.name),
                    from_address=mail.sender.address,
                    domain=mail.sender.domain, bounce_address=mail.bounce_address, recipient_kind="body",
                    recipient_names={b: plan.bodies[b].name for b in bodies}, templates=str(plan.templates))


def body_contacts(plan: Plan, bodies: Iterable[str]) -> list[tuple[str, str | None]]:
    """(body id, its contact address): the recipients of a message to bodies."""
    return [(b, plan.bodies[b].contact) for b in bodies]


def invitation_campaigns(plan: Plan, entries: list[Entry], today: date, invited: set[str],
                         versions: dict[tuple[str, str], Occurrence] | None = None,
                         former: dict[str, tuple[str, str]] | None = None) -> list[tuple[Campaign, str]]:
    """(campaign, body) for each meeting of a body in the next 60 days whose current
    revision has not been sent: a REQUEST (SEQUENCE = revision), or a CANCEL (key
    ending in /cancel) to a body that was invited and is no longer: the meeting
    cancelled or removed from the plan, its pin removed (back to unscheduled), or the
    body taken off it. `invited` holds the campaign keys already in the ledger;
    `versions` ((uid, body) -> the occurrence as last invited, db.calendars.invited_versions)
    gives a CANCEL the date and time people have in their calendars (UID and SEQUENCE
    are the occurrence's current ones). A body taken out of the plan, whose organizer
    (address, name) is in `former`, gets its CANCELs too, from that organizer."""
    from .ics import invitation

    mail, lang = mail_config(plan), plan.organisation.locale
    out: list[tuple[Campaign, str]] = []
    for e in entries:
        o = e.occurrence
        sent = sorted((k for k in invited if k.startswith(f"invite/{o.uid}/")),
                      key=lambda k: (int(k.split("/")[3]) if k.split("/")[3].isdigit() else -1, k.endswith("/cancel")))
        last = {k.split("/")[2]: k for k in sent}  # body -> its latest invitation or cancellation
        gone = e.cancelled or o.start is None
        for body in (*o.bodies, *sorted(set(last) - set(o.bodies))):
            prefix = f"invite/{o.uid}/{body}/"
            shown = e  # what this body's people are sent: for a CANCEL, what they have
            if gone or body not in o.bodies:  # a CANCEL to those invited, once
                was = (versions or {}).get((o.uid, body))
                if was is not None:
                    shown = Entry(was, e.sequence, e.created, e.modified, removed=True, reason=e.reason)
                if body not in last or last[body].endswith("/cancel") or body not in {*plan.bodies, *(former or {})} \
                        or (shown.occurrence.start is not None and shown.occurrence.span.end < today):
                    continue
                key, method = f"{prefix}{e.sequence}/cancel", "CANCEL"
                if f"{prefix}{e.sequence}" in invited:
                    continue  # cancelled before this rule (its key had no /cancel)
            else:
                if o.all_day or not (today <= o.span.start <= today + timedelta(days=INVITE_AHEAD_DAYS)):
                    continue
                key, method = f"{prefix}{e.sequence}", "REQUEST"
                if key in invited:
                    continue
            contact, name = ((plan.bodies[body].contact, plan.bodies[body].name) if body in plan.bodies
                             else (former or {})[body])
            ics = invitation(plan, shown, method, contact, name)
            measure = plan.measure(o.measure)
            # "Endret:" only after an earlier invitation to this body (a first one at a later revision is new to them)
            changed = method == "REQUEST" and any(k.startswith(prefix) for k in invited)
            prefix_word = (i18n._(lang, "Cancelled:") + " " if method == "CANCEL"
                           else i18n._(lang, "Changed:") + " " if changed else "")
            out.append((Campaign(
                organisation=plan.organisation.id, key=key, audience=None, template="invitation",
                subject="{{ prefix_word }}{{ title }} – {{ when }}",
                context={"organisation": plan.organisation.name, "lang": lang, "title": shown.occurrence.title,
                         "prefix_word": prefix_word, "when": when(shown.occurrence, lang),
                         "place": shown.occurrence.place, "note": shown.occurrence.note,
                         "reason": e.reason if method == "CANCEL" else None,
                         "cancelled": method == "CANCEL", "sequence": e.sequence, "measure": measure.number,
                         "measure_text": measure.text, "body_name": name, "changed": changed},
                from_name=f"{mail.sender.name} – {name}", from_address=mail.sender.address,
                domain=mail.sender.domain, bounce_address=mail.bounce_address, reply_to=contact,
                calendar=ics, calendar_method=method, templates=str(plan.templates)), body))
    return out


# --- the member flows' and the report's messages ------------------------------------------------


def _promise(plan: Plan, event: str) -> dict[str, Any]:
    """The plan's promise an event drives, for a template: its measure number and days,
    and the organisation's word for a branch."""
    m = plan.driven_by(event)
    word = plan.branch_word
    return {"measure": m.number if m else None, "within_days": plan.within_days(event),
            "branch_word": {"singular": word.singular, "plural": word.plural, "definite": word.definite,
                            "definite_plural": word.definite_plural or word.plural}}


def follow_up_campaign(plan: Plan, branch: str, week: str, rows: list[dict[str, Any]]) -> Campaign:
    """A branch's weekly list of new members to call (rows: number, name, phone, joined, due)."""
    return body_campaign(plan, f"followup/{branch}/{week}", "followup",
                         fixed_subject("followup", plan.organisation.locale),
                         {"branch_name": plan.bodies[branch].name, "members": rows,
                          **_promise(plan, "member_joined")}, [branch])


def follow_up_overdue_campaign(plan: Plan, board: str, today: date, by_branch: dict[str, list[str]]) -> Campaign:
    """To the board: new members not contacted in time, as counts and member numbers per branch."""
    without = i18n._(plan.organisation.locale, "Without {branch}", branch=plan.branch_word.singular)
    branches = [{"name": plan.bodies[b].name if b in plan.bodies else without, "count": len(n), "numbers": n}
                for b, n in sorted(by_branch.items())]
    count = sum(len(n) for n in by_branch.values())
    return body_campaign(plan, f"followup-overdue/{today.isoformat()}", "followup_overdue",
                         followup_overdue_subject(plan.organisation.locale, count),
                         {"count": count, "branches": branches, **_promise(plan, "member_joined")}, [board])


def dues_campaign(plan: Plan, year: int) -> Campaign:
    """The yearly reminder to members with unpaid dues."""
    mail = mail_config(plan)
    return Campaign(
        organisation=plan.organisation.id, key=f"kontingent/{year}", audience=None, template="dues",
        subject=fixed_subject("dues", plan.organisation.locale),
        context={"organisation": plan.organisation.name, "lang": plan.organisation.locale, "year": year,
                 **_promise(plan, "dues_unpaid")},
        from_name=mail.sender.name, from_address=mail.sender.address, domain=mail.sender.domain,
        bounce_address=mail.bounce_address,
        reply_to=mail.sender.address, templates=str(plan.templates))


def dues_list_campaign(plan: Plan, branch: str, today: date, rows: list[dict[str, Any]]) -> Campaign:
    """A branch's monthly list of members with unpaid dues (rows: number, name, phone)."""
    return body_campaign(plan, f"kontingent-liste/{branch}/{today:%Y-%m}", "dues_list",
                         fixed_subject("dues_list", plan.organisation.locale),
                         {"branch_name": plan.bodies[branch].name, "members": rows, "year": today.year,
                          "month": month_name(today, plan.organisation.locale), **_promise(plan, "dues_unpaid")},
                         [branch])


def report_draft_campaign(plan: Plan, board: str, year: int, today: date, markdown: str,
                          files: list[str]) -> Campaign:
    return body_campaign(plan, f"yearly-report/{year}/{today.isoformat()}", "report_draft",
                         fixed_subject("report_draft", plan.organisation.locale),
                         {"year": year, "markdown": markdown, "files": files},
                         [board])


def board_of(plan: Plan) -> str | None:
    """The body of kind 'board', if the organisation has one."""
    return next((b for b, body in plan.bodies.items() if body.kind == "board"), None)
