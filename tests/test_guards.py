"""Guards the README's test command runs: the layers (import-linter), ruff, mypy, and a CI
run in which nothing may be skipped.

The subpackages live in the top-level folders the design card names (domain/, db/,
tasks/, flows/) and are installed as aarshjul.domain, … by setuptools' package-dir, which
import-linter and mypy cannot follow; so both run on a copy laid out as installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

BIN = Path(sys.executable).parent
SUBPACKAGES = ("domain", "db", "tasks", "flows", "templates", "web")


def installed_layout(into: Path) -> Path:
    """A copy of the package as it is installed: aarshjul/ with domain/, db/, … inside."""
    pkg = into / "aarshjul"
    shutil.copytree(ROOT / "aarshjul", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for name in SUBPACKAGES:
        shutil.copytree(ROOT / name, pkg / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return installed_layout(tmp_path_factory.mktemp("installed"))


def tool(name: str, *args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(cwd), "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([str(BIN / name), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def readable(output: str, layout: Path) -> str:
    """Paths in the copy back to the checkout's: aarshjul/domain/x.py -> domain/x.py."""
    for name in SUBPACKAGES:
        output = output.replace(f"aarshjul/{name}/", f"{name}/")
    return output.replace(str(layout) + "/", "")


def test_every_cli_module_is_in_the_top_layer():
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    top = next(line for line in config.splitlines() if "aarshjul.cli :" in line)
    missing = [p.stem for p in (ROOT / "aarshjul").glob("cli*.py") if f"aarshjul.{p.stem}" not in top.split('"')[1]]
    assert not missing, f"add to the CLI layer of [tool.importlinter] in pyproject.toml: {missing}"


def test_the_layers_hold(layout):
    result = tool("lint-imports", "--no-logo", "--no-cache", cwd=layout)
    assert result.returncode == 0, readable(result.stdout + result.stderr, layout)
    assert "0 broken" in result.stdout


def test_the_layer_guard_sees_a_relative_import_upwards(tmp_path):
    """The guard that used to skip relative imports: domain/ importing flows/ must fail."""
    copy = installed_layout(tmp_path)
    gaps = copy / "aarshjul" / "domain" / "gaps.py"
    gaps.write_text(gaps.read_text(encoding="utf-8") + "\nfrom ..flows import run  # noqa\n", encoding="utf-8")
    result = tool("lint-imports", "--no-logo", "--no-cache", cwd=copy)
    assert result.returncode != 0 and "aarshjul.domain.gaps -> aarshjul.flows.run" in result.stdout, result.stdout


def test_ruff():
    result = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "aarshjul", "domain", "db", "tasks", "flows",
                             "tests", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy(layout):
    result = tool(sys.executable, "-m", "mypy", "--no-incremental", "aarshjul", cwd=layout, timeout=900)
    assert result.returncode == 0, readable(result.stdout + result.stderr, layout)


def test_a_skipped_test_fails_a_ci_run(tmp_path):
    """CI=true turns every skip ("needs chromium", "needs PostgreSQL", …) into a failed run."""
    (tmp_path / "test_x.py").write_text(textwrap.dedent("""
        import pytest

        def test_runs():
            pass

        def test_needs_something():
            pytest.skip("needs something this machine lacks")
    """), encoding="utf-8")

    def run(ci: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "ci_no_skips",
                               str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "CI": ci, "PYTHONPATH": str(ROOT / "tests")})

    local, ci = run(""), run("true")
    assert local.returncode == 0, local.stdout
    assert ci.returncode == 1 and "needs something this machine lacks" in ci.stdout, ci.stdout
