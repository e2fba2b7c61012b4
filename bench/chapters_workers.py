"""Benchmark: 20 chapters served by process workers, one worker against two.

Generates 20 chapter plans, starts a Prefect server (SQLite, temporary), deploys
`publish-calendars` once per chapter to a `process` work pool, and times how long it
takes until every chapter's run has completed: first with one worker, then with two
(each worker runs one flow run at a time). Prints both wall times and the speed-up
(goal: close to 2x on a 2-core machine), and checks that every chapter's site was
produced once and holds only that chapter's name.

    .venv/bin/python bench/chapters_workers.py [CHAPTERS]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from prefect_server import prefect_server  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent


def make_chapters(folder: Path, n: int) -> list[Path]:
    plans = []
    for i in range(n):
        chapter = folder / f"lag{i:02d}"
        shutil.copytree(ROOT / "tests" / "data" / "minimal", chapter)
        org = chapter / "organisation.yaml"
        org.write_text(org.read_text(encoding="utf-8").replace("id: test-org", f"id: lag-{i:02d}")
                       .replace("name: Testlaget", f"name: Lag {i:02d}"), encoding="utf-8")
        plans.append(chapter / "plan.yaml")
    return plans


def round_(api: str, env: dict, plans: list[Path], workers: int, label: str, tmp: Path) -> float:
    """Deploy one publish-calendars per chapter to a fresh pool, start `workers` workers,
    create every run at once, and return the seconds until all have completed."""
    pool = f"bench-{label}"
    env = {**env, "AARSHJUL_SITE_DIR": str(tmp / label / "{organisation}"),
           "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp / label / 'aarshjul.db'}"}
    subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", pool, "--type", "process"], env=env,
                   check=True, capture_output=True)
    code = ("import sys\nfrom prefect import flow\n"
            "f = flow.from_source(source=sys.argv[1], entrypoint='flows/calendars.py:publish_calendars')\n"
            "for p in sys.argv[3:]:\n"
            "    f.deploy(name='pc-' + p.split('/')[-2], work_pool_name=sys.argv[2], parameters={'plan_path': p},"
            " print_next_steps=False)\n")
    subprocess.run([sys.executable, "-c", code, str(ROOT), pool, *map(str, plans)], env=env, check=True,
                   capture_output=True)
    with httpx.Client(base_url=api, timeout=30) as client:
        deployments = [d for d in client.post("/deployments/filter", json={"limit": 200}).json()
                       if d["work_pool_name"] == pool]
        assert len(deployments) == len(plans), len(deployments)
        procs = [subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "1"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True) for _ in range(workers)]
        start = time.perf_counter()
        runs = []
        for d in deployments:
            response = client.post(f"/deployments/{d['id']}/create_flow_run", json={})
            assert response.status_code < 300, (response.status_code, response.text[:500])
            runs.append(response.json()["id"])
        try:
            while True:
                states = [client.get(f"/flow_runs/{r}").json()["state"]["type"] for r in runs]
                if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states):
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - start
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
    assert all(s == "COMPLETED" for s in states), states
    for plan in plans:
        org = plan.parent.name.replace("lag", "lag-")
        html = (tmp / label / org / "index.html").read_text(encoding="utf-8")
        assert f"Lag {org[-2:]}" in html and html.count("Lag ") == html.count(f"Lag {org[-2:]}"), org
    return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tmp = Path(tempfile.mkdtemp())
    plans = make_chapters(tmp / "chapters", n)
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1"}
    try:
        with prefect_server(env) as api:
            env["PREFECT_API_URL"] = api
            one = round_(api, env, plans, 1, "one", tmp)
            two = round_(api, env, plans, 2, "two", tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"chapters:         {n} (each: publish-calendars, its own site, one shared database per round)")
    print(f"one worker:       {one:7.1f} s")
    print(f"two workers:      {two:7.1f} s")
    print(f"speed-up:         {one / two:7.2f}x  (goal: close to 2x on 2 cores)")


if __name__ == "__main__":
    main()
