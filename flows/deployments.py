"""The deployments in prefect.yaml, as objects `serve` can run.

prefect.yaml is the one place where schedules live: `prefect deploy --all` reads it for
a server with workers, and `aarshjul serve` reads it here to run everything from one
process on one machine, for one chapter or for every chapter in a chapters file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml


if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

ROOT = Path(__file__).resolve().parent.parent


def read_deployments(path: Path = ROOT / "prefect.yaml") -> list[dict[str, Any]]:
    deployments: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]
    return deployments


def read_chapters(path: Path) -> list[str]:
    """Plan paths from a chapters file: `chapters: [{plan: PATH}, …]`, paths relative to
    the chapters file (domain/load.py's load_chapters; a mistake is a PlanError with its line)."""
    from aarshjul.domain.load import load_chapters

    return [str(p) for p in load_chapters(path)]


def runner_deployments(plan_paths: list[str] | None = None,
                       path: Path = ROOT / "prefect.yaml") -> list[RunnerDeployment]:
    """RunnerDeployments for prefect.serve: each entry of prefect.yaml for each chapter's
    plan, named `<deployment>-<organisation>` when there is more than one chapter."""
    from prefect.flows import load_flow_from_entrypoint

    from aarshjul.domain.load import load_plan

    chapters: list[tuple[str | None, str | None]] = \
        [(p, load_plan(p).organisation.id) for p in plan_paths] if plan_paths else [(None, None)]
    out = []
    for d in read_deployments(path):
        flow: Flow[..., Any] = load_flow_from_entrypoint(str(path.parent / d["entrypoint"]))
        for plan_path, org in chapters:
            parameters = dict(d.get("parameters", {}))
            if plan_path and "plan_path" in parameters:
                parameters["plan_path"] = plan_path
            out.append(_to_deployment(flow, d, f"{d['name']}-{org}" if len(chapters) > 1 else d["name"], parameters))
    return out


def _to_deployment(flow: Flow[..., Any], d: dict[str, Any], name: str, parameters: dict[str, Any]
                   ) -> RunnerDeployment:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule

    limit = d.get("concurrency_limit")
    # Prefect types to_deployment as "the deployment or a coroutine" (one function for sync
    # and async callers); called from sync code, as here, it is the deployment.
    deployment: RunnerDeployment = flow.to_deployment(  # type: ignore[assignment]
        name=name, description=d.get("description"), parameters=parameters, tags=["aarshjul"],
        schedules=[CronSchedule(cron=s["cron"], timezone=s["timezone"]) for s in d.get("schedules", [])],
        concurrency_limit=ConcurrencyLimitConfig(
            limit=limit["limit"], collision_strategy=ConcurrencyLimitStrategy(limit["collision_strategy"]))
        if limit else None)
    return deployment
