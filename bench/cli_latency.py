"""Benchmark: how long the acting commands take at hand, with and without a Prefect server,
against `aarshjul agenda` (read-only, no Prefect) on the same plan, in the same run.

    .venv/bin/python bench/cli_latency.py

Each command runs as a user runs it (`.venv/bin/aarshjul ...`, a new process), on the
bundled plan, best of 3, after one warm-up. "without server": no PREFECT_API_URL, so
Prefect starts a temporary server for the command. "with server": a Prefect server this
benchmark starts on loopback (SQLite in a temporary folder). Goals (issue 10): at most
3 s plus the work without a server, at most 1.5 s plus the work with one; here "the work"
is approximated by `aarshjul agenda`'s time (loading and expanding the plan), so the
extra column is the command's time minus agenda's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prefect_server import prefect_server  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
AARSHJUL = str(Path(sys.executable).parent / "aarshjul")
TODAY = "2026-11-29"
RUNS = 3
COMMANDS = {
    "agenda": ["agenda"],
    "run": ["run"],
    "publish": ["publish"],
    "newsletter send": ["newsletter", "send", "hva-skjer"],
    "reminders send": ["reminders", "send"],
}


def timed(args: list[str], env: dict) -> float:
    best = float("inf")
    for i in range(RUNS + 1):
        start = time.perf_counter()
        done = subprocess.run([AARSHJUL, *args, "--today", TODAY], env=env, capture_output=True, text=True,
                              timeout=300)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"aarshjul {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        if i:  # the first is a warm-up (database created, feeds written the first time)
            best = min(best, elapsed)
    return best


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    base = {**os.environ, "AARSHJUL_PLAN": str(ROOT / "config" / "plan.yaml"),
            "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp / 'a.db'}", "AARSHJUL_SITE_DIR": str(tmp / "site"),
            "AARSHJUL_OUTBOX_DIR": str(tmp / "outbox"), "AARSHJUL_SECRET_KEY_FILE": str(tmp / "secret.key"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(tmp / "prefect")}
    base.pop("PREFECT_API_URL", None)
    rows = []
    with prefect_server(base) as api:
        with_server = {**base, "PREFECT_API_URL": api}
        agenda = timed(COMMANDS["agenda"], base)
        for name, args in COMMANDS.items():
            if name == "agenda":
                continue
            rows.append((name, timed(args, base), timed(args, with_server)))
    print(f"{'command':<18}{'no server':>11}{'extra':>8}{'with server':>13}{'extra':>8}")
    print(f"{'agenda':<18}{agenda:>10.2f}s{'':>8}{agenda:>12.2f}s")
    for name, without, with_ in rows:
        print(f"{name:<18}{without:>10.2f}s{without - agenda:>7.2f}s{with_:>12.2f}s{with_ - agenda:>7.2f}s")
    print("goals: extra <= 3 s without a server, <= 1.5 s with one")


if __name__ == "__main__":
    main()
