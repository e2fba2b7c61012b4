"""Writing the calendar feeds and the web page to the site folder.

Layout under AARSHJUL_SITE_DIR (default var/site):

    index.html                          the public web calendar
    calendars/offentlig.ics             the public feed
    calendars/<token>/<feed>.ics        every other feed, under its secret token

A file is rewritten only when its content changed (atomically: a temporary file
renamed into place), and a token folder that no longer belongs to a feed (after
`aarshjul calendars rotate`) is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import aarshjul.templates
from aarshjul.domain.feeds import Entry, feeds, select
from aarshjul.domain.ics import feed_calendar
from aarshjul.domain.plan import Plan
from aarshjul.domain.site import page_context

TEMPLATES = Path(aarshjul.templates.__file__).parent


@dataclass
class SiteResult:
    written: list[str] = field(default_factory=list)  # relative paths rewritten
    unchanged: int = 0
    feeds: dict[str, int] = field(default_factory=dict)  # feed id -> events in it
    index: Path | None = None


def feed_path(feed_id: str, public: bool, tokens: dict[str, str]) -> str:
    return f"calendars/{feed_id}.ics" if public else f"calendars/{tokens[feed_id]}/{feed_id}.ics"


def write_site(plan: Plan, entries: list[Entry], tokens: dict[str, str], site_dir: Path, now: datetime,
               today: date, site_url: str | None = None) -> SiteResult:
    result = SiteResult()
    links = []
    for feed in feeds(plan):
        chosen = select(feed, entries, now)
        rel = feed_path(feed.id, feed.public, tokens)
        _write(site_dir, rel, feed_calendar(plan, feed, chosen, site_url).to_ical(), result)
        result.feeds[feed.id] = len(chosen)
        if feed.public:
            href = f"{site_url.rstrip('/')}/{rel}" if site_url else rel
            subscribe = "webcal://" + href.split("://", 1)[1] if href.startswith("http") else href
            links.append({"name": feed.name, "href": href, "subscribe": subscribe})
    _prune_tokens(site_dir / "calendars", set(tokens.values()))
    html = _env().get_template("site/index.html.j2").render(page_context(plan, entries, today, links, site_url))
    _write(site_dir, "index.html", html.encode("utf-8"), result)
    result.index = site_dir / "index.html"
    return result


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def _write(site_dir: Path, rel: str, content: bytes, result: SiteResult) -> None:
    path = site_dir / rel
    if path.exists() and path.read_bytes() == content:
        result.unchanged += 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    result.written.append(rel)


def _prune_tokens(calendars: Path, tokens: set[str]) -> None:
    if not calendars.exists():
        return
    for child in calendars.iterdir():
        if child.is_dir() and child.name not in tokens:
            shutil.rmtree(child)
