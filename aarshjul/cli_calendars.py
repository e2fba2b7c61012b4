"""Calendars: `aarshjul publish` and `aarshjul calendars urls | rotate | conflicts | resolve`.

    publish                     the feeds and the web page (and CalDAV), a Prefect flow run
    calendars urls              where every feed is published, private ones under their token
    calendars rotate FEED       a private feed's new secret address
    calendars conflicts         CalDAV events edited on the server, left alone until resolved
    calendars resolve UID       --keep ours (push the plan's version) or theirs (keep the server's)

Only `publish` imports Prefect.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import cli_kit as kit
from .domain.i18n import N_
from .domain import i18n
from .domain.errors import NotFound
from .domain.results import Published
from .settings import get_settings, per_organisation

if TYPE_CHECKING:
    from .domain.plan import Plan as PlanT
    from .domain.sync import Proposal

publish_cli = typer.Typer()
cal_app = typer.Typer(help=N_("Calendar feeds: their addresses, token rotation, CalDAV conflicts."),
                      no_args_is_help=True)


@publish_cli.command(help=N_("Publish the calendar feeds and the web page (a Prefect flow run)."))
def publish(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None) -> None:
    kit.start_prefect()
    lang, day, path = kit.lang(lang), kit.today(today), kit.plan_path(plan)
    organisation = kit.load(path).organisation.id
    kit.check_site(organisation)
    kit.not_busy(["publish-calendars"], organisation)
    from .flows.calendars import publish_calendars

    print_publish(kit.run_flow(publish_calendars, plan_path=str(path), today=day), lang)


def print_publish(s: Published, lang: str) -> None:
    _ = i18n._
    kit.ok(_(lang, "{plan}: {occurrences} occurrences stored ({new} new, {changed} changed, {removed} removed); "
                   "{gaps} gaps in {year}", plan=s.plan, occurrences=s.occurrences, new=s.new, changed=s.changed,
             removed=s.removed, gaps=s.gaps, year=s.year))
    kit.say(f"  database: {s.database}")
    kit.say("  " + _(lang, "web page: {site} ({feeds} feeds, {files} files written)", site=s.site,
                     feeds=len(s.feeds), files=s.files_written))
    if s.caldav:
        total = {k: sum(int(c.get(k, 0)) for c in s.caldav.values())
                 for k in ("created", "updated", "cancelled", "deleted", "unchanged", "conflicts")}
        new = sum(len(c.get("new_conflicts", [])) for c in s.caldav.values())
        kit.say("  " + _(lang, "CalDAV: {created} created, {updated} updated, {cancelled} cancelled, "
                               "{deleted} deleted, {unchanged} unchanged", **total))
        for body, c in s.caldav.items():
            components = list(c.get("components", ["VEVENT"]))
            if set(components) != {"VEVENT"}:
                kit.warn(f"CalDAV: {body}: " + _(
                    lang, "the calendar was made for {components}, not for events only; apps may show it as a task "
                          "list. It is left as it is; make it anew for VEVENT only on the server if that matters",
                    components=", ".join(components)))
        if total["conflicts"]:
            what = _(lang, "{n} events edited or deleted by people on the CalDAV server", n=total["conflicts"])
            fresh = " " + _(lang, "({n} new)", n=new) if new else ""
            kit.warn(f"{what}{fresh}; aarshjul calendars conflicts")
        proposed = sum(len(c.get("proposed", [])) for c in s.caldav.values())
        if proposed:
            kit.warn(_(lang, "{n} proposed dates for meetings not yet scheduled; accept with `aarshjul calendars "
                             "resolve UID --keep theirs`", n=proposed))


@cal_app.command("urls", help=N_("Where each feed is published (the private ones under their secret tokens)."))
def calendars_urls(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
                   format: kit.Format = "table") -> None:
    from .db.calendars import feed_tokens
    from .domain.feeds import feeds
    from .tasks.site import feed_path

    lang = kit.lang(lang)
    p = kit.load(plan)
    settings = get_settings()
    with kit.session() as session:
        tokens = feed_tokens(session, p.organisation.id, [f.id for f in feeds(p) if not f.public],
                             datetime.now().astimezone())
    base = per_organisation(settings.site_url or settings.site_dir, p.organisation.id).rstrip("/")
    listing = kit.Listing(kit.tr("Calendar feeds"), [
        kit.Column("feed", "feed", ident=True), kit.Column("name", kit.tr("name")),
        kit.Column("url", "url", ident=True)])
    for f in feeds(p):
        listing.add(f.id, f.name, f"{base}/{feed_path(f.id, f.public, tokens)}",
                    record={"feed": f.id, "name": f.name, "public": f.public,
                            "url": f"{base}/{feed_path(f.id, f.public, tokens)}"})
    listing.print(format if format != "table" else "lines")  # an address on a line of its own, never cut


@cal_app.command("rotate", help=N_("Give a feed a new secret address; the old one stops working at the next publish."))
def calendars_rotate(feed: Annotated[str, typer.Argument(help=N_("The feed id (a body id or medlemmer)."))],
                     plan: kit.Plan = None, today: kit.Today = None) -> None:
    from .db.calendars import rotate_token
    from .domain.feeds import feeds

    p = kit.load(plan)
    private = [f.id for f in feeds(p) if not f.public]
    if feed not in private:
        raise NotFound("private feed", feed, private)
    with kit.session() as session:
        rotate_token(session, p.organisation.id, feed, datetime.now().astimezone())
    kit.ok(kit.tr("{feed}: a new address; run `aarshjul publish` and share the new link (`aarshjul calendars urls`).",
                  feed=feed))


# what changed on the server, and in which field (domain/sync.py's names), in words
CONFLICT_WORDS = {"edited": i18n.N_("edited"), "deleted": i18n.N_("deleted"), "proposed": i18n.N_("proposed"),
                  "date": i18n.N_("date"), "time": i18n.N_("time"), "place": i18n.N_("place"),
                  "title": i18n.N_("title")}


@cal_app.command("conflicts", help=N_(
     "Events someone changed on the CalDAV server since our last push, left alone until resolved."))
def calendars_conflicts(plan: kit.Plan = None, today: kit.Today = None, lang: kit.Lang = None,
                        format: kit.Format = "table") -> None:
    from .db.caldav import conflict_details

    lang = kit.lang(lang)
    p = kit.load(plan)
    words = {k: i18n._(lang, v) for k, v in CONFLICT_WORDS.items()}
    with kit.session() as session:
        rows = conflict_details(session, p.organisation.id, p.tz)
        listing = kit.Listing(kit.tr("CalDAV conflicts"), [
            kit.Column("calendar", kit.tr("calendar"), ident=True), kit.Column("key", kit.tr("key"), ident=True),
            kit.Column("uid", "uid", ident=True), kit.Column("since", kit.tr("since")),
            kit.Column("server", "server"), kit.Column("changes", kit.tr("changes"))],
            empty=kit.tr("No conflicts."))
        for c in rows:
            r = c.row
            assert r.conflict_at is not None  # conflicts() returns only the rows with a conflict_at
            shown = "; ".join(f"{words.get(ch.field, ch.field)}: {ch.ours or '–'} → {ch.theirs or '–'}"
                              for ch in c.changes if ch.field != "deleted")
            listing.add(r.calendar, r.key, r.uid, i18n.day(r.conflict_at, lang), words.get(c.kind, c.kind), shown,
                        record={"calendar": r.calendar, "key": r.key, "uid": r.uid, "since": r.conflict_at.isoformat(),
                                "server": c.kind,
                                "changes": [{"field": ch.field, "ours": ch.ours, "theirs": ch.theirs}
                                            for ch in c.changes],
                                "proposal": None if c.proposal is None else {
                                    "date": c.proposal.date.isoformat(),
                                    "start": c.proposal.start.strftime("%H:%M") if c.proposal.start else None,
                                    "end": c.proposal.end.strftime("%H:%M") if c.proposal.end else None,
                                    "place": c.proposal.place}})
    listing.print(format)
    if rows and format == "table":
        kit.say("aarshjul calendars resolve UID --keep ours|theirs")


@cal_app.command("resolve", help=N_("Resolve a CalDAV conflict."))
def calendars_resolve(
    uid: Annotated[str, typer.Argument(help=N_("The event's UID (see `aarshjul calendars conflicts`)."))],
    keep: Annotated[str, kit.choice("--keep", ("ours", "theirs"), N_("ours: the plan's version is pushed again; "
                                                                  "theirs: the server's version stays (a date "
                                                                  "proposed for a placeholder becomes its pin)"))],
    plan: kit.Plan = None, today: kit.Today = None,
) -> None:
    from datetime import timezone

    from .db.caldav import conflicts, one_conflict, resolve
    from .db.calendars import feed_entries
    from .tasks.caldav import desired_events

    p = kit.load(plan)
    with kit.session() as session:
        found = one_conflict(session, p.organisation.id, uid, p.tz)
        if not found:
            raise NotFound("conflict", uid, [r.uid for r in conflicts(session, p.organisation.id)])
        proposed = next((c for c in found if c.proposal is not None), None)
        if keep == "theirs" and proposed is not None:
            pinned = _pin_proposal(kit.plan_path(plan), p, uid, proposed.row.key, proposed.proposal)
            resolve(session, p.organisation.id, uid, "ours")  # the plan, now with the pin, is pushed again
            kit.ok(kit.tr("{uid}: {key} {pinned}; the calendars show it as scheduled from the next publish",
                          uid=uid, key=proposed.row.key, pinned=pinned))
            return
        hashes: dict[str, str] = {}
        if keep == "theirs":  # the plan's version now counts as pushed: the server's stays until it changes
            now = datetime.now(timezone.utc)
            stored = feed_entries(session, p, now, remember=False)
            site_url = per_organisation(get_settings().site_url, p.organisation.id)
            for c in found:
                want = desired_events(p, stored, c.row.calendar, now, site_url).get(uid)
                if want is not None:
                    hashes[c.row.calendar] = want.hash
        resolve(session, p.organisation.id, uid, keep, hashes)
    kit.ok(f"{uid}: {keep}; " + (kit.tr("takes effect at the next publish") if keep == "ours" else kit.tr("resolved")))


def _pin_proposal(plan_path: Path, p: PlanT, uid: str, key: str, prop: Proposal | None) -> str:
    """Write the date (and times, place) a person gave a placeholder on the server into
    schedule.yaml as the pin of `key`, validated like any pin; refused with the reason,
    nothing written, when it is not a valid pin. Returns the pin in words."""
    from .domain.errors import BadInput, PlanError
    from .domain.i18n import Msg
    from .domain.load import load_plan
    from .domain.sync import check_proposal
    from .tasks.schedule_file import replace_file, schedule_path, with_pin

    assert prop is not None  # only proposals are pinned
    reasons = check_proposal(p, key, prop)
    when = prop.date.isoformat() + (f" {prop.start:%H:%M}" if prop.start else "") + \
        (f"–{prop.end:%H:%M}" if prop.start and prop.end else "")
    if reasons:
        raise BadInput(Msg("{uid} ({key}): {when} from the CalDAV server cannot be its pin: {reasons}; nothing "
                           "written (move it in the calendar app and publish, or resolve with --keep ours)",
                           uid=uid, key=key, when=when, reasons=reasons))
    path = schedule_path(plan_path)
    before = path.read_text(encoding="utf-8") if path.exists() else None
    replace_file(path, with_pin(before or "", key, prop))
    try:
        load_plan(plan_path)
    except PlanError as exc:
        if before is None:
            path.unlink()
        else:
            replace_file(path, before)
        raise BadInput(Msg("{uid} ({key}): {when} from the CalDAV server cannot be its pin: {reason}; nothing "
                           "written", uid=uid, key=key, when=when,
                           reason=(exc.problems[0] if exc.problems else str(exc).splitlines()[0]))) from None
    return kit.tr("pinned to {when} in {path}", when=when, path=path)
