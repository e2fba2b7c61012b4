"""How an acting command runs its flow without a configured Prefect server: a temporary
server of its own, started early, stopped with the command, and never left behind by a
command that was killed (issue 15 item 10: `kill -9` left ~200 MB servers accumulating)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import DATA

AARSHJUL = str(Path(sys.executable).parent / "aarshjul")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect"), "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
            "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}


def test_a_killed_command_leaves_no_prefect_server_behind(tmp_path):
    plan = str(DATA / "minimal" / "plan.yaml")
    command = subprocess.Popen([AARSHJUL, "publish", "--plan", plan, "--today", "2025-05-01"],
                               env=command_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        servers: list[int] = []
        while time.monotonic() < deadline and not servers:
            servers = children(command.pid)
            time.sleep(0.05)
        assert servers, "the command started no temporary server"
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in servers):  # the watchdog looks twice a second
        time.sleep(0.1)
    left = [p for p in servers if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, "the temporary Prefect server outlived the killed command"


def test_a_command_stops_its_server_when_it_ends(tmp_path):
    plan = str(DATA / "minimal" / "plan.yaml")
    done = subprocess.run([AARSHJUL, "publish", "--plan", plan, "--today", "2025-05-01"], env=command_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Error logging to API" not in done.stderr  # the logs reached the server before it stopped
    assert (tmp_path / "site" / "index.html").exists()
    assert not with_home(tmp_path / "prefect"), "a process of this command outlived it"


def with_home(home: Path) -> list[int]:
    """Live processes started with PREFECT_HOME=home (the command and its server)."""
    marker = f"PREFECT_HOME={home}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes() and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
