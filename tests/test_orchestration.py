"""Orchestration for real: a Prefect server (on PostgreSQL where configured), `aarshjul
serve` registering every deployment, a scheduled flow run through it, and the UI in
headless Chromium listing the deployments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from conftest import POSTGRES_URL, ROOT, postgres_required
from test_site_browser import CHROMIUM, OUTPUT

pytestmark = pytest.mark.prefect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefect_server(tmp_path):
    """`prefect server start` on loopback: its database on PostgreSQL (a fresh one) when
    AARSHJUL_TEST_POSTGRES_URL is set, else SQLite under tmp_path."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "true", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    dbname = None
    if POSTGRES_URL:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(POSTGRES_URL)
        dbname = f"prefect_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = base.set(
            drivername="postgresql+asyncpg", database=dbname).render_as_string(hide_password=False)
    elif postgres_required():
        pytest.fail("CI must set AARSHJUL_TEST_POSTGRES_URL: the Prefect server runs on PostgreSQL there")
    port = free_port()
    env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{port}/api"  # the UI's own calls go here
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the Prefect server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
    if proc.poll() is not None:
        pytest.fail("the Prefect server exited:\n" + (tmp_path / "server.log").read_text()[-3000:])
    yield {"api": api, "ui": f"http://127.0.0.1:{port}", "env": env, "postgres": dbname is not None}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()
    if dbname:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def test_serve_registers_every_deployment_runs_a_flow_and_the_ui_lists_them(prefect_server, tmp_path):
    import yaml

    api = prefect_server["api"]
    env = {**prefect_server["env"], "PREFECT_API_URL": api, "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "AARSHJUL_SITE_DIR": str(tmp_path / "site"), "AARSHJUL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "AARSHJUL_SECRET_KEY_FILE": str(tmp_path / "secret.key")}
    expected = {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    serve_log = open(tmp_path / "serve.log", "w")

    def start_serve():
        return subprocess.Popen([sys.executable, "-m", "aarshjul", "serve"], cwd=ROOT, env=env, stdout=serve_log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def stop_serve(proc):
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    def scheduled_runs(client, deployment_id: str) -> list:
        client.post(f"/deployments/{deployment_id}/schedule", json={"min_runs": 5, "max_runs": 5})
        return client.post("/flow_runs/filter", json={
            "deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}).json()

    serve = start_serve()
    try:
        with httpx.Client(base_url=api, timeout=10) as client:
            deadline = time.monotonic() + 120
            deployments = []
            while time.monotonic() < deadline:
                deployments = client.post("/deployments/filter", json={}).json()
                if {d["name"] for d in deployments} >= expected:
                    break
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(1)
            assert {d["name"] for d in deployments} == expected
            # Redeploying (serve stopped and started again) must not duplicate scheduled runs.
            reminders = next(d for d in deployments if d["name"] == "send-reminders")
            before = scheduled_runs(client, reminders["id"])
            assert len(before) == 5
            stop_serve(serve)
            serve = start_serve()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                d = client.get(f"/deployments/{reminders['id']}").json()
                if not d.get("paused") and d.get("status") == "READY":
                    break
                time.sleep(1)
            after = scheduled_runs(client, reminders["id"])
            assert len(after) == 5, [r["expected_start_time"] for r in after]
            assert len({r["expected_start_time"] for r in after}) == 5
            for d in deployments:
                [schedule] = d["schedules"]
                assert schedule["schedule"]["timezone"] == "Europe/Oslo"
                assert d["concurrency_limit"] == 1 or (d.get("global_concurrency_limit") or {}).get("limit") == 1
            sync = next(d for d in deployments if d["name"] == "sync-plan")
            run = client.post(f"/deployments/{sync['id']}/create_flow_run", json={}).json()
            deadline = time.monotonic() + 180
            state = None
            while time.monotonic() < deadline:
                got = client.get(f"/flow_runs/{run['id']}").json()
                if not got.get("state"):  # seen once: a transient error answer from the busy test server
                    time.sleep(1)
                    continue
                state = got["state"]["type"]
                if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    break
                time.sleep(1)
            assert state == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
            artifacts = client.post("/artifacts/filter", json={"artifacts": {"key": {"any_": ["agenda-bergen-sv"]}}}).json()
            assert artifacts and "forekomster" in artifacts[0]["data"]
        if CHROMIUM:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(prefect_server["ui"] + "/deployments")
                page.get_by_text("publish-calendars").first.wait_for(timeout=60_000)
                for name in expected:
                    assert page.get_by_text(name).count() >= 1, name
                OUTPUT.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(OUTPUT / "prefect-ui-deployments.png"), full_page=True)
                browser.close()
        elif os.environ.get("CI") == "true":
            pytest.fail("CI must install Debian's chromium")
    finally:
        stop_serve(serve)
        serve_log.close()


def test_a_deployment_runs_through_a_process_worker(prefect_server, tmp_path):
    """What `prefect deploy` and `prefect worker start --pool aarshjul` do beyond one machine."""
    api = prefect_server["api"]
    env = {**prefect_server["env"], "PREFECT_API_URL": api, "AARSHJUL_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
           "AARSHJUL_SITE_DIR": str(tmp_path / "site")}
    subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", "aarshjul", "--type", "process"],
                   env=env, check=True, capture_output=True)
    deploy = ("import sys\nfrom prefect import flow\n"
              "f = flow.from_source(source=sys.argv[1], entrypoint='flows/plan.py:sync_plan')\n"
              "print(f.deploy(name='sync-plan', work_pool_name='aarshjul', print_next_steps=False,"
              " parameters={'plan_path': sys.argv[2]}))\n")
    out = subprocess.run([sys.executable, "-c", deploy, str(ROOT), str(ROOT / "config" / "plan.yaml")], env=env,
                         check=True, capture_output=True, text=True)
    deployment_id = out.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=api, timeout=10) as client:
        run = client.post(f"/deployments/{deployment_id}/create_flow_run", json={}).json()
        worker = subprocess.run([sys.executable, "-m", "prefect", "worker", "start", "--pool", "aarshjul",
                                 "--run-once"], env=env, capture_output=True, text=True, timeout=300)
        state = client.get(f"/flow_runs/{run['id']}").json()["state"]["type"]
        assert state == "COMPLETED", worker.stdout[-3000:] + worker.stderr[-3000:]
        artifacts = client.post("/artifacts/filter",
                                json={"artifacts": {"key": {"any_": ["agenda-bergen-sv"]}}}).json()
    assert artifacts and "| forekomster | 170 |" in artifacts[0]["data"]
