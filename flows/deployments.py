"""The deployments in prefect.yaml, as objects `serve` can run.

prefect.yaml is the one place where schedules live: `prefect deploy --all` reads it for
a server with workers, and `aarshjul serve` reads it here to run everything from one
process on one machine.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def read_deployments(path: Path = ROOT / "prefect.yaml") -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def runner_deployments(plan_path: str | None = None, path: Path = ROOT / "prefect.yaml") -> list:
    """RunnerDeployments for prefect.serve, one per entry of prefect.yaml (plan_path overrides)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint

    out = []
    for d in read_deployments(path):
        flow = load_flow_from_entrypoint(str(path.parent / d["entrypoint"]))
        parameters = dict(d.get("parameters", {}))
        if plan_path and "plan_path" in parameters:
            parameters["plan_path"] = plan_path
        limit = d.get("concurrency_limit")
        out.append(flow.to_deployment(
            name=d["name"], description=d.get("description"), parameters=parameters,
            schedules=[CronSchedule(cron=s["cron"], timezone=s["timezone"]) for s in d.get("schedules", [])],
            concurrency_limit=ConcurrencyLimitConfig(
                limit=limit["limit"], collision_strategy=ConcurrencyLimitStrategy(limit["collision_strategy"]))
            if limit else None,
            tags=["aarshjul"]))
    return out
