"""Real CalDAV servers on loopback for the tests, and a proxy that counts requests.

Fixtures (import them into conftest.py)::

    from caldav_servers import radicale, xandikos, caldav_server, counting_proxy  # noqa: F401

- ``radicale`` / ``xandikos``: a running :class:`Server` with storage under the
  test's ``tmp_path``, stopped at teardown.  ``caldav_server`` is either one
  (ids ``radicale`` and ``xandikos``).
- ``counting_proxy``: a factory, ``proxy = counting_proxy(server)``, giving a
  :class:`CountingProxy` that is closed at teardown.  ``CountingProxy(server)``
  also works directly (then close it yourself, or use it as a context manager).

A missing server package skips the test, or fails it when ``CI == "true"``.

Server layout (``Server.url`` is what ``caldav.DAVClient(url=..., username=...,
password=...).principal()`` works with, i.e. ``AARSHJUL_CALDAV_URL``)

- Radicale 3.x: ``url = http://127.0.0.1:PORT/``, Basic auth ``board``/``secret``
  (plain htpasswd file), rights ``owner_only``.  Principal ``/board/``, which is
  also the calendar home: ``make_calendar(cal_id="x")`` creates ``/board/x/``.
  No calendar exists at first.  ``[storage] strict_preconditions = True`` is set
  when the installed Radicale has it (3.5+; 3.9 does): a PUT over an existing
  item *without* If-Match is then refused with 412.
- Xandikos: ``url = http://127.0.0.1:PORT/``, no auth (username/password None).
  Principal ``/user/``, calendar home ``/user/calendars/``; ``--defaults``
  creates ``/user/calendars/calendar/`` (and ``/user/contacts/addressbook/``).

Conditional requests, as measured by tests/test_caldav_servers.py
(Radicale 3.9.0 with strict_preconditions, Xandikos 0.4.10)::

    request                                Radicale          Xandikos
    PUT new, If-None-Match: *              201 + ETag        201 + ETag
    same again, If-None-Match: *           412               412
    PUT, If-Match: <current etag>          204 + new ETag    204 + new ETag
    PUT, If-Match: "wrong" or an old etag  412               412
    PUT existing, If-Match: *              204               204
    PUT missing, If-Match: <etag> or *     412               412
    PUT existing, no precondition          412 (strict)      204 (overwrites)
    PUT same UID under another name        409 no-uid-conflict  412 no-uid-conflict
    DELETE, If-Match: "wrong"              412               412
    DELETE, If-Match: <current etag>       200               204

Both send an ETag header on every successful PUT (201 and 204), equal to what a
following GET returns, so a client can keep it without re-reading.  Xandikos
also sends a Schedule-Tag on PUT; Radicale does not.  Radicale answers the
first unauthenticated request with 401 (one extra PROPFIND per new client)
unless the client is made with ``auth_type="basic"``.

Conditional requests through the caldav library 3.6

- ``DAVClient.put(url, body, headers=None) -> DAVResponse`` sends exactly the
  given headers (plus the client's defaults).  A 412 does NOT raise: check
  ``response.status`` (int); ``response.headers`` is case-insensitive, the new
  ETag is ``response.headers["ETag"]``.  Only 401/403 raise
  (``AuthorizationError``), 429/503 raise ``RateLimitError``.  The same holds
  for ``DAVClient.delete(url, headers=None)`` and
  ``DAVClient.request(url, method="GET", body="", headers=None)``.  Send
  ``Content-Type: text/calendar; charset=utf-8`` on a PUT yourself.
- ``Calendar.add_event(ical, no_overwrite=False, no_create=False,
  increase_seqno=True)`` (``save_event`` is a deprecated alias) PUTs to
  ``<calendar url><quoted UID>.ics``.  Plain, it sends no condition: one PUT.
  ``no_overwrite=True`` sends ``If-None-Match: *`` (412 -> ``ConsistencyError``);
  with the default feature set it first searches for the UID (one REPORT;
  also ConsistencyError if found), which ``features="radicale"`` /
  ``"xandikos"`` on DAVClient skip.  ``no_create=True`` sends ``If-Match: *``.
- ``CalendarObjectResource.save(no_overwrite=False, no_create=False,
  increase_seqno=True, precondition="auto", raw_data=...)``: with a cached
  tag (from the PUT response, ``load()``, or the getetag of a
  ``search()``/``events()`` result; ``obj.etag``, ``obj.schedule_tag``) the
  PUT is conditional; the PUT's response tags replace the cached ones.
  ``precondition="auto"`` prefers the Schedule-Tag: on Xandikos that sends
  ``If-Schedule-Tag-Match``, not ``If-Match``.  For sync, pass
  ``precondition="etag"``, which sends ``If-Match: <etag>``; a 412 raises
  ``caldav.lib.error.ETagMismatchError``.  ``no_create=True`` with no tag
  cached sends ``If-Match: *`` (412 -> ConsistencyError).  Pass
  ``increase_seqno=False`` when syncing, or every save bumps SEQUENCE;
  ``save(raw_data=bytes)`` PUTs the bytes verbatim.
- ``CalendarObjectResource.delete(if_match=False, precondition="auto")``:
  ``if_match=True`` sends the cached tag (same precedence as save; use
  ``precondition="etag"``), a string is sent verbatim as ``If-Match``; 412
  raises ETagMismatchError, 404 NotFoundError.  Without it, DELETE is
  unconditional and a 404 counts as success.
- Pitfall: the bundled ``features="radicale"`` profile (measured on Radicale
  3.8) says ``If-Match: *`` is unsupported, so ``no_create=True`` searches and
  then PUTs with no condition, which strict_preconditions refuses (PutError).
  Radicale 3.9 handles ``If-Match: *``; keep the default features or
  override ``"save-load.mutable.if-match-wildcard": {"support": "full"}``.
"""

from __future__ import annotations

import atexit
import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest

RADICALE_USER = "board"
RADICALE_PASSWORD = "secret"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

_running: set[Server] = set()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)
class Server:
    """A CalDAV server subprocess; ``start()`` again reuses the same port and storage."""

    name: str
    url: str
    username: str | None
    password: str | None
    command: list[str]
    storage: Path
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return urlsplit(self.url).port

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username else None

    def start(self) -> Server:
        if self.process is not None and self.process.poll() is None:
            return self
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        _running.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_up():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {self.url}:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        _running.discard(self)
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()

    def is_up(self) -> bool:
        """True if our process runs and the port answers HTTP (any status)."""
        if self.process is None or self.process.poll() is not None:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("OPTIONS", "/")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop()


def _radicale_has_option(section: str, option: str) -> bool:
    from radicale import config

    return option in config.DEFAULT_CONFIG_SCHEMA.get(section, {})


def start_radicale(tmp_path: Path) -> Server:
    """Radicale on a free loopback port, storage and config in ``tmp_path``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    users = tmp_path / "users"
    users.write_text(f"{RADICALE_USER}:{RADICALE_PASSWORD}\n")
    strict = "strict_preconditions = True\n" if _radicale_has_option("storage", "strict_preconditions") else ""
    config = tmp_path / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\ndelay = 0\n"
        "[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {tmp_path / 'collections'}\n{strict}"
        "[web]\ntype = none\n"
        "[logging]\nlevel = info\n"
    )
    server = Server(
        name="radicale",
        url=f"http://127.0.0.1:{port}/",
        username=RADICALE_USER,
        password=RADICALE_PASSWORD,
        command=[sys.executable, "-m", "radicale", "--config", str(config)],
        storage=tmp_path / "collections",
        log_path=tmp_path / "radicale.log",
    )
    return server.start()


def start_xandikos(tmp_path: Path) -> Server:
    """Xandikos on a free loopback port with a default principal and calendar; no auth."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = tmp_path / "data"
    server = Server(
        name="xandikos",
        url=f"http://127.0.0.1:{port}/",
        username=None,
        password=None,
        command=[
            sys.executable, "-m", "xandikos.web",
            "--directory", str(storage),
            "--state-dir", str(tmp_path / "state"),
            "--defaults",
            "--listen-address", "127.0.0.1",
            "--port", str(port),
            "--no-detect-systemd",
        ],
        storage=storage,
        log_path=tmp_path / "xandikos.log",
    )
    return server.start()


# --- counting proxy -------------------------------------------------------------

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
}


class Recorded(NamedTuple):
    method: str
    path: str
    status: int
    headers: http.client.HTTPMessage  # the request's headers; lookups ignore case


class CountingProxy:
    """A transparent HTTP reverse proxy on loopback that records every request.

    ``target`` is a :class:`Server` or a base URL.  Paths are forwarded
    unchanged and the client's Host header is kept, so whatever absolute URL the
    server builds points back at the proxy; Location headers naming the target
    are rewritten too.  If the target is down, the proxy answers 502.

    ``requests`` lists a :class:`Recorded` (method, path, status, headers) per
    request; ``count("PUT")``, ``methods()`` and ``reset()`` read and clear it.
    ``url`` is the target's base URL through the proxy; ``url_for(url)`` maps
    any URL on the target.
    """

    def __init__(self, target: Server | str):
        self.target_url = target.url if isinstance(target, Server) else target
        parts = urlsplit(self.target_url)
        self.target_origin = f"{parts.scheme}://{parts.netloc}"
        self.target_host, self.target_port = parts.hostname, parts.port or 80
        self.requests: list[Recorded] = []
        self.refuse: set[str] = set()  # methods answered 501 Not Implemented, as a server without them would
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The target's base URL, through the proxy."""
        return self.url_for(self.target_url)

    def url_for(self, server_url: str) -> str:
        parts = urlsplit(server_url)
        if f"{parts.scheme}://{parts.netloc}" != self.target_origin:
            raise ValueError(f"{server_url} is not on {self.target_origin}")
        proxy = urlsplit(self.origin)
        return urlunsplit((proxy.scheme, proxy.netloc, parts.path, parts.query, parts.fragment))

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if method is None or r.method == method.upper())

    def methods(self) -> list[str]:
        with self._lock:
            return [r.method for r in self.requests]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(STOP_TIMEOUT)

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _record(self, method: str, path: str, status: int, headers: http.client.HTTPMessage) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, status, headers))


def _make_handler(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __getattr__(self, name: str):
            if name.startswith("do_"):  # every method, including WebDAV/CalDAV ones
                return self._forward
            raise AttributeError(name)

        def log_message(self, format, *args) -> None:
            pass

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self) -> None:
            body = self._read_body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("PUT", "POST", "PROPFIND", "REPORT", "PROPPATCH", "MKCALENDAR"):
                headers["Content-Length"] = str(len(body))
            if self.command in proxy.refuse:
                proxy._record(self.command, self.path, 501, self.headers)
                self.send_response_only(501, "Not Implemented")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            upstream = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                status, reason = response.status, response.reason
                response_headers = response.getheaders()
                response_body = response.read()
            except OSError as exc:
                status, reason, response_headers = 502, "Bad Gateway", [("Content-Type", "text/plain")]
                response_body = f"proxy: {proxy.target_origin} unreachable: {exc}".encode()
            finally:
                upstream.close()
            proxy._record(self.command, self.path, status, self.headers)

            self.send_response_only(status, reason)
            length = str(len(response_body))
            for name, value in response_headers:
                lower = name.lower()
                if lower == "content-length" and self.command == "HEAD":
                    length = value
                elif lower in ("location", "content-location") and value.startswith(proxy.target_origin):
                    self.send_header(name, proxy.origin + value[len(proxy.target_origin):])
                elif lower not in HOP_BY_HOP:
                    self.send_header(name, value)
            if status >= 200 and status not in (204, 304):
                self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(response_body)

    return Handler


# --- pytest fixtures ------------------------------------------------------------


def _require(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        reason = f"CalDAV server package {package!r} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def radicale(tmp_path):
    _require("radicale")
    server = start_radicale(tmp_path / "radicale")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def xandikos(tmp_path):
    _require("xandikos")
    server = start_xandikos(tmp_path / "xandikos")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request) -> Server:
    return request.getfixturevalue(request.param)


@pytest.fixture
def counting_proxy():
    """Factory: ``proxy = counting_proxy(server)``; every proxy is closed at teardown."""
    proxies: list[CountingProxy] = []

    def make(target: Server | str) -> CountingProxy:
        proxies.append(CountingProxy(target))
        return proxies[-1]

    try:
        yield make
    finally:
        for proxy in proxies:
            proxy.close()
