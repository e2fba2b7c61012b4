"""Guard tests for the project's own contracts: deployments, README, layers."""

from __future__ import annotations

import ast
import inspect
import re

import pytest
import yaml

from conftest import ROOT

PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = PREFECT_YAML["deployments"]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_every_entrypoint_is_a_flow_whose_parameters_fit(deployment, monkeypatch):
    from prefect import Flow
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    signature = inspect.signature(flow.fn)
    assert set(deployment.get("parameters", {})) <= set(signature.parameters)
    flow.validate_parameters(deployment.get("parameters", {}))


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_every_schedule_parses_and_is_in_oslo_time(deployment):
    from prefect.client.schemas.schedules import CronSchedule

    assert deployment["schedules"], "every deployment runs on a schedule"
    for schedule in deployment["schedules"]:
        assert schedule["timezone"] == "Europe/Oslo"
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_every_cli_command_is_in_the_readme():
    from typer.main import get_command

    from aarshjul.cli import app

    group = get_command(app)
    names = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"{name} {s}" for s in sub] if sub else [name]
    missing = [n for n in names if f"aarshjul {n}" not in README]
    assert not missing, f"commands not in README.md: {missing}"


def test_readme_quick_start_has_exactly_two_one_line_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section, re.S)
    commands = [line for block in blocks for line in block.strip().splitlines()]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci, "CI must run the README's test command"


def test_domain_imports_nothing_above_it():
    """domain/ is pure: no Prefect, no database, no settings, no I/O libraries."""
    forbidden = ("prefect", "sqlalchemy", "alembic", "caldav", "smtplib", "aarshjul.db", "aarshjul.tasks",
                 "aarshjul.flows", "aarshjul.settings", "typer", "rich")
    for path in (ROOT / "domain").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
