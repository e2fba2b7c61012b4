"""Writing the calendar feeds and the web page to the site folder.

Layout under AARSHJUL_SITE_DIR (default var/site):

    index.html                          the public web calendar
    calendars/offentlig.ics             the public feed
    calendars/<token>/<feed>.ics        every other feed, under its secret token
    calendars/index.html, calendars/<token>/index.html
                                        empty, so a web server that lists folders
                                        (autoindex) shows nothing of the tokens
    .aarshjul-manifest.json             what the last publish wrote, as hashes

A file is rewritten only when its content changed (atomically: a temporary file
renamed into place). What an earlier publish wrote and this one does not (a token
folder after `aarshjul calendars rotate`) is removed; nothing else ever is. The
manifest names those files by the SHA-256 of their path, so serving it
reveals no token. Symlinks are never followed: one under calendars/ is left alone,
and a path aarshjul must write through a symlinked folder is refused.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from jinja2 import StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

import aarshjul.templates
from aarshjul.domain.errors import AarshjulError, ServiceError
from aarshjul.domain.feeds import PUBLIC, Entry, Feed, feeds, select
from aarshjul.domain.ics import feed_calendar
from aarshjul.domain.plan import Plan
from aarshjul.domain.site import page_context
from aarshjul.tasks.templates import install_i18n, loader

TEMPLATES = Path(aarshjul.templates.__file__).parent
MANIFEST = ".aarshjul-manifest.json"
GUARD = b""  # the content of the index.html that hides a folder's listing


@dataclass
class SiteResult:
    written: list[str] = field(default_factory=list)  # relative paths rewritten
    unchanged: int = 0
    feeds: dict[str, int] = field(default_factory=dict)  # feed id -> events in it
    index: Path | None = None


def feed_path(feed_id: str, public: bool, tokens: dict[str, str]) -> str:
    return f"calendars/{feed_id}.ics" if public else f"calendars/{tokens[feed_id]}/{feed_id}.ics"


def write_site(plan: Plan, entries: list[Entry] | dict[str, list[Entry]], tokens: dict[str, str], site_dir: Path,
               now: datetime, today: date, site_url: str | None = None, retired: Sequence[Feed] = ()) -> SiteResult:
    """Every feed, the page and the manifest into `site_dir` (AARSHJUL_SITE_DIR). `entries`
    is each feed's entries (db.calendars.feed_entries: with what each feed showed before,
    so that nothing vanishes), or the stored agenda as a list, selected per feed. A site
    folder that cannot be used ends in one line naming AARSHJUL_SITE_DIR and the path:
    exit 2 when the setting or the folder must be fixed (a file where the folder should
    be, no permission, a read-only or virtual file system), exit 3 (ServiceError) when
    storage fails (disk full, I/O error). Each file is replaced atomically, so what is
    served is the old file or the new one. `retired` feeds (a body gone from the plan,
    domain.feeds.retired_feed) are written too, under their tokens, while they have entries."""
    check_site_dir(site_dir)
    try:
        return _write_site(plan, entries, tokens, site_dir, now, today, site_url, retired)
    except OSError as exc:
        raise _site_error(site_dir, exc) from None


STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO}  # storage failing, not a setting to fix


def check_site_dir(site_dir: Path) -> None:
    """The site folder, or the nearest part of its path that exists, must be a folder (the
    acting commands look before Prefect starts, so a wrong setting is reported at once)."""
    for path in (site_dir, *site_dir.parents):
        try:
            mode = os.stat(path).st_mode  # the site folder itself may be a symlink the operator made
        except (FileNotFoundError, NotADirectoryError):  # missing, or under a file: look further up
            continue
        except OSError as exc:
            raise _site_error(site_dir, exc) from None
        if not stat.S_ISDIR(mode):
            what = "is a file, not a folder" if path == site_dir else f"cannot be made: {path} is a file, not a folder"
            raise AarshjulError(f"AARSHJUL_SITE_DIR {site_dir} {what}; set AARSHJUL_SITE_DIR to a folder "
                                "(it is created if missing) and publish again")
        return


def _site_error(site_dir: Path, exc: OSError) -> AarshjulError:
    """An OSError in the site folder as one line naming AARSHJUL_SITE_DIR and the path."""
    where = str(exc.filename) if exc.filename else None
    if where and where.endswith(".tmp"):  # a temporary file: the folder it was to be made in
        where = str(Path(where).parent)
    reason = exc.strerror or type(exc).__name__
    place = f"{where}: {reason}" if where else reason
    if exc.errno in STORAGE_ERRNOS:
        return ServiceError(f"cannot write the site to AARSHJUL_SITE_DIR {site_dir}: {place}; files already "
                            "written are whole, the next publish catches up")
    return AarshjulError(f"cannot write the site to AARSHJUL_SITE_DIR {site_dir}: {place}; make it a folder "
                         "aarshjul can write to (or set AARSHJUL_SITE_DIR to one) and publish again")


def _write_site(plan: Plan, entries: list[Entry] | dict[str, list[Entry]], tokens: dict[str, str], site_dir: Path,
                now: datetime, today: date, site_url: str | None, retired: Sequence[Feed] = ()) -> SiteResult:
    result = SiteResult()
    per_feed = entries if isinstance(entries, dict) else {f.id: select(f, entries, now) for f in feeds(plan)}
    links = []
    owned: set[str] = set()  # every file this publish writes, relative to site_dir
    folders: set[str] = {"calendars"}
    for feed in (*feeds(plan), *retired):
        chosen = per_feed[feed.id]
        rel = feed_path(feed.id, feed.public, tokens)
        _write(site_dir, rel, feed_calendar(plan, feed, chosen, site_url).to_ical(), result)
        owned.add(rel)
        folders.add(rel.rsplit("/", 1)[0])
        result.feeds[feed.id] = len(chosen)
        if feed.public:
            href = f"{site_url.rstrip('/')}/{rel}" if site_url else rel
            subscribe = "webcal://" + href.split("://", 1)[1] if href.startswith("http") else href
            links.append({"name": feed.name, "href": href, "subscribe": subscribe})
    for folder in sorted(folders):  # no listing of calendars/ or of any token folder
        _write(site_dir, f"{folder}/index.html", GUARD, None)
        owned.add(f"{folder}/index.html")
    page = page_context(plan, per_feed[PUBLIC], today, links, site_url)
    html = _env(plan.templates, plan.organisation.locale).get_template("site/index.html.j2").render(page)
    _write(site_dir, "index.html", html.encode("utf-8"), result)
    owned.add("index.html")
    previous = _read_manifest(site_dir)
    _prune(site_dir, previous, owned, folders)
    _write(site_dir, MANIFEST, _manifest(owned, folders), None)
    result.index = site_dir / "index.html"
    return result


def _env(overrides: Path | None = None, lang: str | None = "nb") -> ImmutableSandboxedEnvironment:
    """The organisation's templates folder (if any) over the bundled one, sandboxed, its
    words from the catalogs in the organisation's language."""
    env = ImmutableSandboxedEnvironment(loader=loader(overrides), undefined=StrictUndefined,
                                        autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                                        lstrip_blocks=True)
    return install_i18n(env, lang)


def _check_folders(site_dir: Path, rel: str) -> None:
    """Refuse to write through a symlinked folder below the site folder (the site folder
    itself may be a link the operator made)."""
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        folder = site_dir.joinpath(*parts[:i])
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise AarshjulError(f"{folder} is {'a symlink' if stat.S_ISLNK(mode) else 'not a folder'}; "
                                f"aarshjul writes only into folders of its own under {site_dir}: remove it "
                                "and publish again")


def _write(site_dir: Path, rel: str, content: bytes, result: SiteResult | None) -> None:
    """`content` at site_dir/rel, if it differs; `result` counts it (None: not counted)."""
    _check_folders(site_dir, rel)
    path = site_dir / rel
    try:
        same = stat.S_ISREG(os.lstat(path).st_mode) and path.read_bytes() == content  # a symlink is replaced
    except FileNotFoundError:
        same = False
    if same:
        if result is not None:
            result.unchanged += 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if result is not None:
        result.written.append(rel)


# --- the manifest: what the last publish wrote ---------------------------------------------


def _hash(rel: str) -> str:
    """A path as the manifest names it: the SHA-256 of the path; the token in it (192
    bits) cannot be recovered, so the manifest may be served with the site."""
    return hashlib.sha256(f"aarshjul-site\0{rel}".encode()).hexdigest()


def _manifest(files: set[str], folders: set[str]) -> bytes:
    return (json.dumps({"version": 1, "files": sorted(_hash(f) for f in files),
                        "folders": sorted(_hash(f) for f in folders)}, indent=0) + "\n").encode()


def _read_manifest(site_dir: Path) -> tuple[set[str], set[str]]:
    """(file hashes, folder hashes) the last publish wrote; empty when there is no
    readable manifest (a site from before manifests: then nothing is removed)."""
    path = site_dir / MANIFEST
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return set(), set()
        data = json.loads(path.read_text(encoding="utf-8"))
        return set(map(str, data.get("files", []))), set(map(str, data.get("folders", [])))
    except (OSError, ValueError, AttributeError, TypeError):
        return set(), set()


def _prune(site_dir: Path, previous: tuple[set[str], set[str]], owned: set[str], folders: set[str]) -> None:
    """Remove what the last publish wrote and this one did not: regular files by their
    hash in the manifest, then their folders if empty. Walks calendars/ without
    following a symlink; leaves every symlink and every file it did not write."""
    old_files, old_folders = previous
    keep_files, keep_folders = {_hash(f) for f in owned}, {_hash(f) for f in folders}
    calendars = site_dir / "calendars"
    if not (old_files or old_folders) or calendars.is_symlink() or not calendars.is_dir():
        return
    emptied: list[Path] = []
    for top, dirnames, filenames in os.walk(calendars, followlinks=False):
        here = Path(top)
        for name in filenames:
            path = here / name
            h = _hash(path.relative_to(site_dir).as_posix())
            if h in old_files and h not in keep_files and stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
        for name in dirnames:
            path = here / name
            h = _hash(path.relative_to(site_dir).as_posix())
            if h in old_folders and h not in keep_folders and not path.is_symlink():
                emptied.append(path)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()  # only if empty: a file someone else put there stays, and so does its folder
        except OSError:
            pass
