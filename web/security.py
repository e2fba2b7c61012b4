"""What makes the web service safe by default, as small pure-ASGI layers and helpers.

    Headers        every answer carries Referrer-Policy: no-referrer (a token in the
                   address never leaks to another site), X-Content-Type-Options: nosniff,
                   X-Frame-Options: DENY and a strict Content-Security-Policy (nothing but
                   our own style sheet, forms posting to ourselves, no scripts, no frames)
    BodyLimit      a request body over `max_body` bytes is refused with 413 before it is
                   read (Content-Length) or as soon as it grows past it (chunked)
    RateLimit      per client address, token buckets on the token endpoints (/avmeld/,
                   /svar/): a generous one for every request, a strict one for requests
                   refused (400, 403); 429 with Retry-After when either is empty
    AccessLog      one line per request with the path's tokens replaced by `…`, the
                   status and the time taken; no client address, no query string
    FormTokens     CSRF protection without sessions or cookies: a form carries a token
                   signed (HMAC-SHA256, a key derived from the installation's secret) over
                   its purpose, the capability token in its address and the time it was
                   made; a POST without a valid one is refused with 403

The one-click unsubscribe POST of RFC 8058 carries no form token (a mail provider sends
it): it is accepted for its body `List-Unsubscribe=One-Click`, the address's token being
the capability; see web/app.py.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, MutableMapping

from aarshjul.domain.i18n import _

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'none'; style-src 'self'{styles}; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

# the paths whose segments after the first are secrets, and so never logged
_SECRET_PATH = re.compile(r"^/(avmeld|svar|calendars)/([^/]+)(/.*)?$")

access_log = logging.getLogger("aarshjul.web.access")


def redact(path: str) -> str:
    """A path as the access log shows it: /avmeld/…, /svar/…, /calendars/…/medlemmer.ics.
    The public feed (/calendars/offentlig.ics) has no token and is shown as it is."""
    m = _SECRET_PATH.match(path)
    if not m:
        return path
    first, rest = m.group(1), m.group(3) or ""
    if first == "calendars" and not rest:  # calendars/offentlig.ics: no token in it
        return path
    if first == "calendars":
        return f"/calendars/…{rest}"
    return f"/{first}/…" + ("/" + rest.rsplit("/", 1)[-1] if rest else "")


def csp(style_hashes: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy; an inline <style> is allowed only by its hash (the
    published index.html has one)."""
    return CSP.format(styles="".join(f" 'sha256-{h}'" for h in style_hashes))


BASE_HEADERS = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]


class Headers:
    """Adds the security headers to every answer (a CSP unless the app set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.default_csp = csp().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in BASE_HEADERS if h[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.default_csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a request body larger than `max_body` bytes, said in `lang` (the organisation's)."""

    def __init__(self, app: ASGIApp, max_body: int = 16 * 1024, lang: str | None = None) -> None:
        self.app, self.max_body = app, max_body
        self.too_big = _(lang, "The request is too large.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    too_big = True
                if too_big:
                    await plain(send, 413, self.too_big)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooBig()
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooBig:
            if not started:
                await plain(send, 413, self.too_big)


class _TooBig(Exception):
    pass


class RateLimit:
    """Token buckets per client address for the paths starting with one of `prefixes`:
    every request draws from one (`burst` at once, then `per_minute` a minute), and a
    request answered 400 or 403 (a bad token, a forged form) also from a stricter one
    (`fail_burst`, then `fail_per_minute`). An address with either empty gets 429 with
    Retry-After. So a mail provider sending many members' one-click POSTs from one
    address is not held up, while one trying tokens is after a few. The address is the
    one uvicorn puts in the scope: behind a reverse proxy, the forwarded one when the
    proxy is trusted (--forwarded-allow-ips). The tables are bounded (least recently
    seen dropped). The 429's words are in `lang` (the organisation's)."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = ("/avmeld/", "/svar/"), per_minute: float = 120,
                 burst: int = 60, fail_per_minute: float = 10, fail_burst: int = 10,
                 max_clients: int = 100_000, lang: str | None = None) -> None:
        self.app, self.prefixes = app, prefixes
        self.too_many = _(lang, "Too many requests. Wait a little and try again.")
        self.all = _Buckets(per_minute, burst, max_clients)
        self.failed = _Buckets(fail_per_minute, fail_burst, max_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        wait = max(self.failed.peek(client, now), self.all.take(client, now))
        if wait:
            await plain(send, 429, self.too_many,
                        [(b"retry-after", str(max(1, round(wait))).encode())])
            return

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 403):
                self.failed.take(client, time.monotonic())
            await send(message)

        await self.app(scope, receive, noting)


class _Buckets:
    """A token bucket per key: `burst` tokens, refilled at `per_minute`."""

    def __init__(self, per_minute: float, burst: int, max_clients: int) -> None:
        self.rate, self.burst, self.max_clients = per_minute / 60.0, float(burst), max_clients
        self.levels: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        level, last = self.levels.pop(key, (self.burst, now))
        return min(self.burst, level + (now - last) * self.rate)

    def _store(self, key: str, level: float, now: float) -> None:
        self.levels[key] = (level, now)
        while len(self.levels) > self.max_clients:
            self.levels.popitem(last=False)

    def peek(self, key: str, now: float) -> float:
        """0 when a token is there, else the seconds until one is (nothing taken)."""
        with self.lock:
            level = self._level(key, now)
            self._store(key, level, now)
            return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, key: str, now: float) -> float:
        """Take a token: 0 when there was one, else the seconds until there is."""
        with self.lock:
            level = self._level(key, now)
            wait = 0.0
            if level >= 1:
                level -= 1
            else:
                wait = (1 - level) / self.rate
            self._store(key, level, now)
            return wait


class AccessLog:
    """One line per request, without tokens or client addresses:
    `GET /avmeld/… 200 3.1 ms`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 0

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            access_log.info("%s %s %d %.1f ms", scope["method"], redact(scope["path"]), status or 500,
                            (time.perf_counter() - start) * 1000)


class FormTokens:
    """Signed form tokens (CSRF): `issued.signature`, valid for `max_age` seconds, bound
    to a purpose (unsubscribe, resubscribe, answer) and to the address's capability token."""

    def __init__(self, secret: bytes, max_age: int = 4 * 3600) -> None:
        self.key = hmac.new(secret, b"aarshjul web form token v1", hashlib.sha256).digest()
        self.max_age = max_age

    def _sign(self, purpose: str, bound: str, issued: int) -> str:
        return hmac.new(self.key, f"{purpose}\0{bound}\0{issued}".encode(), hashlib.sha256).hexdigest()[:32]

    def make(self, purpose: str, bound: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        return f"{issued}.{self._sign(purpose, bound, issued)}"

    def check(self, token: str | None, purpose: str, bound: str, now: float | None = None) -> bool:
        if not token or "." not in token:
            return False
        issued_text, signature = token.split(".", 1)
        if not issued_text.isdigit():
            return False
        issued = int(issued_text)
        age = (now if now is not None else time.time()) - issued
        if not -60 <= age <= self.max_age:
            return False
        return hmac.compare_digest(signature, self._sign(purpose, bound, issued))
