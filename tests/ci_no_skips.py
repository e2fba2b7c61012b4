"""A pytest plugin: under CI (CI=true) a skipped test fails the run, so a green CI means
every test ran, whatever a test's own skip condition (a missing browser, poppler, Pango,
PostgreSQL, a CalDAV server package). Loaded by conftest.py."""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        lines = [f"  {r.nodeid}: {r.longrepr[2] if isinstance(r.longrepr, tuple) else r.longrepr}" for r in skipped]
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; CI must run every test:", red=True)
        for line in lines:
            reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
