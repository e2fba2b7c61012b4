"""How the CLI's acting commands (run, publish, newsletter send, reminders send) run a flow.

    run_flow(flow, **parameters)   the flow's result, run through Prefect

Read-only commands never come here (they never import Prefect).
"""

from __future__ import annotations

import os
from typing import Any, Callable


def prefect_defaults() -> None:
    """No telemetry or update checks unless the admin asks for them."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def run_flow(flow: Callable[..., Any], **parameters: Any) -> Any:
    """Run one flow (a Prefect `@flow` object) for a command at hand and return its result."""
    prefect_defaults()
    return flow(**parameters)
