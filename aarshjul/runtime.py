"""How the CLI's acting commands (run, publish, newsletter send, reminders send) run a flow.

    run_flow(flow, **parameters)   the flow's result, run through Prefect

A command at hand is a short-lived flow run in the foreground, so it runs without the
flow-run heartbeat: the heartbeat exists to detect runs whose process died unseen, and
costs about a second at the end of every run (its thread is joined). Deployments served
by `aarshjul serve` keep it: there it is what marks a crashed run as crashed.

With no Prefect server configured (no PREFECT_API_URL), Prefect starts a temporary
server for the run and stops it afterwards; we give it two minutes to start, so that a
loaded machine makes a command slow rather than failed. Read-only commands never come
here (they never import Prefect).
"""

from __future__ import annotations

import os
from typing import Any, Callable

STARTUP_TIMEOUT_SECONDS = 120


def prefect_defaults() -> None:
    """No telemetry or update checks unless the admin asks for them."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def run_flow(flow: Callable[..., Any], **parameters: Any) -> Any:
    """Run one flow (a Prefect `@flow` object) for a command at hand and return its result."""
    prefect_defaults()
    from prefect.settings import (PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                                  PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings)

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                             PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: max(
                                 STARTUP_TIMEOUT_SECONDS, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())}):
        return flow(**parameters)
