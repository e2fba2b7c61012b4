"""Shared fixtures: plan files to edit, databases (SQLite and PostgreSQL), Prefect's harness."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from caldav_servers import caldav_server, counting_proxy, radicale, xandikos  # noqa: F401
from smtp_servers import smtp_sink  # noqa: F401

pytest_plugins = ["ci_no_skips"]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def yaml_texts(*paths: Path, keys: bool = False) -> Iterator[str]:
    """Every string in these YAML files (their keys too, with keys=True): the words an
    organisation wrote itself, which the language tests leave out of what they judge."""
    import yaml

    def walk(value: object) -> Iterator[str]:
        if isinstance(value, dict):
            for k, v in value.items():
                if keys:
                    yield from walk(k)
                yield from walk(v)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v)
        elif isinstance(value, str):
            yield value

    for path in paths:
        yield from walk(yaml.safe_load(path.read_text(encoding="utf-8")))
BUNDLED_PLAN = ROOT / "config" / "plan.yaml"
POSTGRES_URL = os.environ.get("AARSHJUL_TEST_POSTGRES_URL")


class PlanFiles:
    """A copy of tests/data/minimal in a temporary folder, to edit line by line."""

    def __init__(self, folder: Path):
        self.folder = folder
        shutil.copytree(DATA / "minimal", folder, dirs_exist_ok=True)

    @property
    def plan(self) -> Path:
        return self.folder / "plan.yaml"

    def edit(self, name: str, old: str, new: str) -> int:
        """Replace `old` (exactly once) in file `name`; return the 1-based line where `new` starts."""
        path = self.folder / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        index = text.index(old)
        path.write_text(text.replace(old, new), encoding="utf-8")
        return text[:index].count("\n") + 1

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text, encoding="utf-8")

    def load(self):
        from aarshjul.domain.load import load_plan

        return load_plan(self.plan)


@pytest.fixture
def files(tmp_path) -> PlanFiles:
    return PlanFiles(tmp_path / "plan")


@pytest.fixture(scope="session")
def bundled():
    from aarshjul.domain.load import load_plan

    return load_plan(BUNDLED_PLAN)


@pytest.fixture(scope="session")
def minimal():
    from aarshjul.domain.load import load_plan

    return load_plan(DATA / "minimal" / "plan.yaml")


def _postgres_database():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    name = f"aarshjul_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_required() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database at the current schema: SQLite, and PostgreSQL where configured."""
    from aarshjul.db.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'aarshjul.db'}"
        upgrade(url)
        yield url
        return
    if not POSTGRES_URL:
        if postgres_required():
            pytest.fail("CI must set AARSHJUL_TEST_POSTGRES_URL")
        pytest.skip("PostgreSQL tests need AARSHJUL_TEST_POSTGRES_URL")
    gen = _postgres_database()
    url = next(gen)
    upgrade(url)
    yield url
    gen.close()


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness: a temporary API and database for the whole session."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

