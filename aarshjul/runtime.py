"""How the CLI's acting commands (run, publish, newsletter send, reminders send) run a flow.

    start_prefect()                 start the temporary server now, if one will be needed
    run_flow(flow, **parameters)    the flow's result, run through Prefect

A command at hand is a short-lived flow run in the foreground, so it runs without the
flow-run heartbeat: the heartbeat exists to detect runs whose process died unseen, and
costs about a second at the end of every run (its thread is joined). Deployments served
by `aarshjul serve` keep it: there it is what marks a crashed run as crashed.

With a Prefect server configured (PREFECT_API_URL, in the environment or the active
Prefect profile) the run goes there and shows in its UI. Without one, the command starts
a temporary Prefect API server of its own, as Prefect itself would, but

- as soon as the command knows it will act (`start_prefect()`), so the server's start-up
  (2-6 s) overlaps the command's own imports and checks instead of following them;
- with two minutes to start, so a loaded machine makes a command slow, not failed;
- tied to this process: it stops when the command ends, and a watchdog in the server
  process stops it when this process dies without cleaning up (SIGKILL, OOM), so
  killed commands never leave servers behind.

The temporary server keeps its runs in Prefect's database in PREFECT_HOME, where a
`prefect server start` later shows them. Read-only commands never come here.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

STARTUP_TIMEOUT_SECONDS = 120

# Run in the server process: stop when the parent (the aarshjul command) is gone, then
# run uvicorn exactly as Prefect's own temporary server does.
_SERVER = """
import os, sys, threading, time, runpy
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["uvicorn"] + sys.argv[1:]
runpy.run_module("uvicorn", run_name="__main__")
"""


def prefect_defaults() -> None:
    """No telemetry or update checks unless the admin asks for them."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, read without
    importing Prefect (run_flow checks again with Prefect's own settings)."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    import tomllib

    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


class TemporaryServer:
    """Prefect's API server in a child process on a free loopback port, for one command."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        from importlib.util import find_spec

        spec = find_spec("prefect")  # located, not imported: importing Prefect takes a second
        assert spec is not None and spec.origin is not None, "Prefect is installed with aarshjul"
        app_dir = str(Path(spec.origin).parent.parent)
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, "--app-dir", app_dir, "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        atexit.register(self.stop)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        import httpx

        from .domain.errors import ServiceError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                detail = (self.process.stderr.read() if self.process.stderr else b"").decode("utf-8", "replace")
                raise ServiceError(f"Prefect's temporary server stopped while starting (exit status "
                                   f"{self.process.returncode}): {detail.strip().splitlines()[-1:] or ''}; "
                                   "set PREFECT_API_URL to a running Prefect server instead")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"Prefect's temporary server did not start within {timeout:.0f} s; the machine may be "
                           "overloaded: try again, or set PREFECT_API_URL to a running Prefect server")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_server: TemporaryServer | None = None


def start_prefect() -> None:
    """Start the temporary server now when this command will need one (no server is
    configured and Prefect's temporary servers are allowed), so it starts while the
    command reads the plan and looks at its locks."""
    global _server
    prefect_defaults()
    allowed = os.environ.get("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true").lower() not in ("0", "false", "no")
    if _server is None and allowed and not _configured_api_url():
        _server = TemporaryServer()


def run_flow(flow: Callable[..., Any], **parameters: Any) -> Any:
    """Run one flow (a Prefect `@flow` object) for a command at hand and return its result."""
    prefect_defaults()
    from prefect.settings import (PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                                  PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings)

    settings: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if PREFECT_API_URL.value() is None:
        start_prefect()
    server = _server
    if server is not None and PREFECT_API_URL.value() is None:
        server.wait_ready()
        settings[PREFECT_API_URL] = server.url
    else:  # configured some other way (prefect.toml, .env): Prefect's own rules apply
        settings[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = max(
            STARTUP_TIMEOUT_SECONDS, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    with temporary_settings(settings):
        return flow(**parameters)
    # The server stops at exit (atexit, registered when it started: after Prefect's log and
    # event workers have drained, which register later and so run first).


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
