"""Run summaries as Prefect artifacts, with stable keys (one per chapter).

Counts, keys and member numbers only: no names, no addresses. Call from inside a flow
or task run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from aarshjul.db.agenda import StoreCounts
from aarshjul.domain.gaps import Gap
from aarshjul.domain.i18n import N_, _, ngettext
from aarshjul.domain.plan import Plan
from aarshjul.domain.results import Delivery

if TYPE_CHECKING:
    from aarshjul.tasks.caldav import CalendarCounts


def _key(*parts: object) -> str:
    return "-".join(str(p) for p in parts).replace("_", "-").lower()


def agenda_summary(org: str, title: str, year: int, counts: StoreCounts, gaps: list[Gap], lang: str) -> None:
    """What the agenda store did and the year's gaps, in the organisation's language `lang`."""
    rows = [(_(lang, "occurrences"), counts.total), (_(lang, "new"), counts.new), (_(lang, "changed"), counts.changed),
            (_(lang, "unchanged"), counts.unchanged), (_(lang, "removed"), counts.removed),
            (_(lang, "gaps in {year}", year=year), len(gaps))]
    create_markdown_artifact(
        key=f"agenda-{org}", description=_(lang, "Agenda stored for {title}", title=title),
        markdown=f"# {title}\n\n| | |\n|---|---|\n" + "".join(f"| {label} | {n} |\n" for label, n in rows))
    create_table_artifact(
        key=f"gaps-{org}-{year}", description=_(lang, "Gaps in {year}", year=year),
        table=[{"measure": g.measure, "title": g.title, "window": g.window, "body": g.body or "",
                "required": g.required, "pinned": g.pinned, "held": g.held, "missing": g.missing,
                "closes": g.closes.isoformat(), "overdue": g.overdue} for g in gaps] or [{"gaps": 0}])


def calendars_summary(org: str, written: int, unchanged: int, feeds: Mapping[str, int],
                      caldav: Mapping[str, CalendarCounts], lang: str) -> None:
    """Each feed's events and what CalDAV did, in the organisation's language `lang`."""
    heads = [_(lang, w) for w in (N_("calendar"), N_("events in feed"), N_("created"), N_("updated"),
                                  N_("cancelled"), N_("deleted"), N_("unchanged"), N_("conflicts"))]
    lines = [_(lang, "# Calendars"), "", "| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for feed, n in feeds.items():
        c = caldav.get(feed)
        cells = [str(n)] + ([str(c.created), str(c.updated), str(c.cancelled), str(c.deleted), str(c.unchanged),
                              str(c.conflicts)] if c else ["–"] * 6)
        lines.append(f"| {feed} | " + " | ".join(cells) + " |")
    lines += ["", ngettext(lang, "{n} file written", "{n} files written", written) + ", " +
              _(lang, "{n} unchanged", n=unchanged) + "."]
    create_markdown_artifact(key=f"calendars-{org}", description=_(lang, "Calendars published"),
                             markdown="\n".join(lines))


MAIL_COLUMNS = ["campaign", "added", "pending", "sent", "failed", "unknown", "in_doubt", "retry_later",
                "skipped_unsubscribed", "skipped_invalid", "skipped_duplicate", "skipped_suspended"]


def mail_summary(plan: Plan, name: str, summaries: list[Delivery]) -> None:
    lines = ["| " + " | ".join(MAIL_COLUMNS) + " |", "|" + "---|" * len(MAIL_COLUMNS)]
    for s in summaries:
        lines.append("| " + " | ".join(str(getattr(s, k)) for k in MAIL_COLUMNS) + " |")
    create_markdown_artifact(key=_key(name, plan.organisation.id),
                             markdown="\n".join(lines) if summaries else _(plan.organisation.locale, "Nothing due."),
                             description=_(plan.organisation.locale, "Mail: {name}", name=name))


# The counts of the follow-up and bounce flows, by field name (domain/results.py, domain/bounces.py)
COUNT_LABELS = {
    "branches_notified": N_("branches notified"), "members_listed": N_("members listed"),
    "escalated": N_("escalated to the board"), "reminded": N_("members reminded"),
    "branch_lists": N_("branch lists sent"), "read": N_("messages read"), "hard": N_("hard bounces"),
    "soft": N_("soft bounces"), "other": N_("ours, no failure"), "unknown": N_("not ours, left alone"),
    "stale": N_("no ledger row any more"), "again": N_("recorded before"), "suspended": N_("addresses suspended"),
    "skipped": N_("pending letters skipped"), "lifted": N_("suspensions lifted"), "moved": N_("reports moved"),
}


def counts_summary(key: str, description: str, counts: Mapping[str, int], lang: str) -> None:
    """A table of counts; `description` a msgid, both said in the organisation's language `lang`."""
    rows = "".join(f"| {_(lang, COUNT_LABELS[k]) if k in COUNT_LABELS else k} | {v} |\n" for k, v in counts.items())
    create_markdown_artifact(key=key, description=_(lang, description), markdown=f"| | {_(lang, 'count')} |\n"
                             "|---|---:|\n" + rows)


def report_summary(org: str, year: int, title: str, markdown: str, status_rows: list[dict[str, Any]],
                   lang: str) -> None:
    """The yearly report and its status table; described in the organisation's language `lang`."""
    create_markdown_artifact(key=f"yearly-report-{year}-{org}", markdown=markdown,
                             description=_(lang, "Yearly report {year}: {title}", year=year, title=title))
    create_table_artifact(key=f"yearly-report-status-{year}-{org}", table=status_rows,
                          description=_(lang, "Status per measure in {year}", year=year))


def confirmations_summary(org: str, today: date, days: int, waiting: int, counts: Mapping[str, int],
                          lang: str) -> None:
    """What the confirm flow asked and recorded, in the organisation's language `lang`."""
    rows = [(ngettext(lang, "occurrences with nothing recorded (last {n} day)",
                      "occurrences with nothing recorded (last {n} days)", days), waiting),
            (_(lang, "recorded as held"), counts["held"]), (_(lang, "recorded as not held"), counts["not_held"]),
            (_(lang, "answer later"), counts["later"]), (_(lang, "recorded meanwhile"), counts["recorded_meanwhile"])]
    lines = [_(lang, "# Confirmations {day}", day=today.isoformat()), "", f"| | {_(lang, 'count')} |", "|---|---:|",
             *(f"| {label} | {n} |" for label, n in rows)]
    create_markdown_artifact(key=f"confirmations-{org}", markdown="\n".join(lines),
                             description=_(lang, "Confirmations of held occurrences"))
