"""Serving the published site folder: the page, the public feed and the private feeds.

Only what the last publish wrote is served: a path is looked up in the folder's
`.aarshjul-manifest.json` (tasks/site.py writes it, naming each file by a hash of its
path) and anything else is a plain 404 that says nothing more: a token that never
existed, one rotated away (its folder pruned, or left behind by a publish before the
manifest existed), the manifest itself, a dotfile, a folder, the empty index.html that
hides a token folder from listings. So the answer to a wrong token is the same whatever
the token was.

    /, /index.html                      the web calendar
    /calendars/offentlig.ics            the public feed
    /calendars/<token>/<feed>.ics       a private feed

Each answer carries a strong ETag (a hash of the content), Last-Modified (the file's
time), Cache-Control, and `text/calendar; charset=utf-8` for feeds; a request with a
matching If-None-Match (or, without one, an If-Modified-Since not older than the file)
gets 304 with no body (RFC 9110 §13.1). Calendar apps poll every few hours, so a 304 is
the common answer: it is made from memory after two stat() calls (the manifest and the
file), without a thread hop; the content is read again only when the file changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from aarshjul.domain.i18n import _
from aarshjul.tasks.site import MANIFEST
from aarshjul.tasks.site import _hash as manifest_hash  # the manifest's own naming of a path

from .security import Receive, Scope, Send, csp

MAX_CACHED = 8 * 1024 * 1024  # larger files are read for each 200 (never seen for a feed)
_STYLE = re.compile(rb"<style[^>]*>(.*?)</style>", re.S | re.I)


@dataclass(frozen=True)
class Cached:
    stamp: tuple[int, int, int]  # (st_mtime_ns, st_size, st_ino): the file as it was read
    body: bytes
    headers: list[tuple[bytes, bytes]]  # for a 200
    not_modified: list[tuple[bytes, bytes]]  # for a 304
    etag: bytes
    mtime: int


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class SiteFiles:
    """The ASGI app that serves the site folder (GET and HEAD); its plain 404 and 405 in
    `lang` (the organisation's)."""

    def __init__(self, site_dir: Path, lang: str | None = None) -> None:
        self.site_dir = site_dir
        self.not_found = _(lang, "Not Found").encode()
        self.not_allowed = _(lang, "Method Not Allowed").encode()
        self.manifest_stamp: tuple[int, int, int] | None = None
        self.allowed: frozenset[str] = frozenset()
        self.cache: dict[str, Cached] = {}

    # --- which paths exist ----------------------------------------------------------------

    def _refresh_manifest(self) -> None:
        try:
            st = os.stat(self.site_dir / MANIFEST)
        except OSError:
            self.manifest_stamp, self.allowed, self.cache = None, frozenset(), {}
            return
        if _stamp(st) == self.manifest_stamp:
            return
        try:
            data = json.loads((self.site_dir / MANIFEST).read_text(encoding="utf-8"))
            allowed = frozenset(str(h) for h in data.get("files", []))
        except (OSError, ValueError, AttributeError):
            allowed = frozenset()
        self.manifest_stamp, self.allowed = _stamp(st), allowed
        self.cache = {rel: c for rel, c in self.cache.items() if manifest_hash(rel) in allowed}

    @staticmethod
    def relative(path: str) -> str | None:
        """The site-relative file a request path names, or None for anything not served."""
        if path in ("/", "/index.html"):
            return "index.html"
        parts = path.lstrip("/").split("/")
        if parts[0] != "calendars" or not parts[-1].endswith(".ics") or len(parts) not in (2, 3):
            return None
        if any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return None
        return "/".join(parts)

    def lookup(self, path: str) -> Cached | None:
        rel = self.relative(path)
        if rel is None:
            return None
        self._refresh_manifest()
        if manifest_hash(rel) not in self.allowed:
            return None
        full = self.site_dir / rel
        try:
            st = os.stat(full)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        cached = self.cache.get(rel)
        if cached is not None and cached.stamp == _stamp(st):
            return cached
        try:
            body = full.read_bytes()
        except OSError:
            return None
        made = self._entry(rel, body, st)
        if len(body) <= MAX_CACHED:
            self.cache[rel] = made
        return made

    @staticmethod
    def _entry(rel: str, body: bytes, st: os.stat_result) -> Cached:
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        mtime = int(st.st_mtime)
        last_modified = formatdate(mtime, usegmt=True).encode()
        if rel.endswith(".ics"):
            kind = b"text/calendar; charset=utf-8"
            # a private feed is one person's or one body's: no shared cache keeps it
            cache = b"public, max-age=900" if rel.count("/") == 1 else b"private, max-age=900"
            policy = csp()
        else:
            kind = b"text/html; charset=utf-8"
            cache = b"public, max-age=300"
            hashes = tuple(base64.b64encode(hashlib.sha256(m).digest()).decode() for m in _STYLE.findall(body))
            policy = csp(hashes)
        common = [(b"etag", etag), (b"last-modified", last_modified), (b"cache-control", cache),
                  (b"content-security-policy", policy.encode())]
        return Cached(_stamp(st), body,
                      [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *common],
                      common, etag, mtime)

    # --- answering ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8"),
                                      (b"content-length", str(len(self.not_allowed)).encode())], self.not_allowed,
                          method)
            return
        entry = self.lookup(scope["path"])
        if entry is None:
            await _answer(send, 404, [(b"content-type", b"text/plain; charset=utf-8"),
                                      (b"content-length", str(len(self.not_found)).encode())], self.not_found, method)
            return
        if _not_modified(scope, entry):
            await _answer(send, 304, entry.not_modified, b"", method)
            return
        await _answer(send, 200, entry.headers, entry.body, method)


def _not_modified(scope: Scope, entry: Cached) -> bool:
    """RFC 9110 §13.1.2 and §13.2.2: If-None-Match decides when present (a weak
    comparison: W/ is ignored, * matches); If-Modified-Since only without it."""
    since: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if value.strip() == b"*":
                return True
            return any(tag.strip().removeprefix(b"W/") == entry.etag for tag in value.split(b","))
        if name == b"if-modified-since":
            since = value
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    return when.timestamp() >= entry.mtime if when.tzinfo is not None else False


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, method: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
